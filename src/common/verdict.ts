/**
 * Verdicts as DESIGN.md defines them. `fail` blames the kernel or the patch; `error` blames our side
 * or the environment. The two must never be confused.
 */
export type Verdict = 'pass' | 'fail' | 'error' | 'skipped' | 'flaky';

export const VERDICT_ORDER: readonly Verdict[] = ['fail', 'error', 'flaky', 'skipped', 'pass'];

/**
 * The verdict of several results together: a failure the kernel or patch showed is the finding,
 * whatever else broke (the errors are listed beside it, not instead of it); then error (our side
 * broke, the rest cannot be trusted), then flaky. Skipped parts do not turn a pass into a skip
 * unless nothing ran at all.
 */
export function combineVerdicts(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return 'skipped';
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('error')) return 'error';
  if (verdicts.includes('flaky')) return 'flaky';
  if (verdicts.every((v) => v === 'skipped')) return 'skipped';
  return 'pass';
}
