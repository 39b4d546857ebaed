import { ExitCode, type ExitCodeValue } from '../common/errors.js';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { configTag } from '../report/facts.js';
import { STAGES, type PatchReport, type RunReport } from '../report/types.js';

/**
 * The run's verdict, exit code and one-line summary, from the per-step verdicts alone. Every
 * report format renders these, so this is the one place that may say "passed", and it says so
 * only when every stage of every step (the base included) passed. Pure: tested without a kernel.
 */
export interface RunOutcome {
  verdict: Verdict;
  exitCode: ExitCodeValue;
  summary: string;
  firstBadPatch?: number;
}

export function runOutcome(steps: readonly PatchReport[], status: RunReport['status'], total: number, statusReason?: string): RunOutcome {
  const patches = steps.filter((p) => p.index > 0);
  const base = steps.find((p) => p.index === 0);
  const firstBadPatch = patches.find((p) => p.verdict === 'fail')?.index;
  const failing = patches.filter((p) => p.verdict === 'fail');
  const broken = steps.filter((p) => p.verdict === 'error');
  // With several configs each patch has a row per config: counts are of patches, not rows.
  const tested = new Set(patches.filter((p) => p.verdict !== 'skipped').map((p) => p.index)).size;
  const configs = [...new Set(steps.map((p) => p.config))];
  const incomplete = configs.some((c) => patches.filter((p) => p.config === c).length < total) || (total > 0 && !patches.length);

  if (status === 'bad-input') return { verdict: 'skipped', exitCode: ExitCode.BadInput, summary: `nothing was tested: ${statusReason ?? 'bad input'}` };
  if (status === 'crashed') {
    // A failure found before the crash still stands (exit 1); the crash is said beside it.
    const found = failing.length ? `; found before that: ${describe(failing)}` : '';
    return { verdict: failing.length ? 'fail' : 'error', exitCode: failing.length ? ExitCode.PatchFailed : ExitCode.Infrastructure, summary: `kharness could not finish: ${statusReason ?? 'unknown error'} (${tested} of ${total} patches tested)${found}`, firstBadPatch };
  }
  if (status === 'running') return { verdict: 'skipped', exitCode: ExitCode.Infrastructure, summary: `running: ${new Set(patches.map((p) => p.index)).size} of ${total} patches done`, firstBadPatch };

  let verdict = combineVerdicts(patches.map((p) => p.verdict));
  // A real failure is the run's finding even where our side broke elsewhere (both are listed).
  if (failing.length) verdict = 'fail';
  // The base is not the series' to fail, but when our side broke on it nothing can be compared.
  if (steps.some((p) => p.index === 0 && p.verdict === 'error') && verdict !== 'fail') verdict = 'error';
  if (incomplete && verdict === 'pass') verdict = 'skipped';
  if (status === 'interrupted') {
    if (verdict === 'pass') verdict = 'skipped';
    return { verdict, exitCode: ExitCode.Interrupted, summary: `interrupted (${statusReason ?? 'Ctrl-C'}): ${tested} of ${total} patches tested${failing.length ? `; ${describe(failing)}` : ''}`, firstBadPatch };
  }
  // Exit 0 says every patch passed: a run that could not test some patch (and found no failure)
  // says so with 3, never with 0.
  // Flaky (failed, then passed on retry) is not blamed, as in JUnit and KCIDB: exit 0, with the
  // counts in every report and no "passed" in the summary.
  const exitCode: ExitCodeValue = failing.length ? ExitCode.PatchFailed : verdict === 'pass' || verdict === 'flaky' ? ExitCode.Ok : ExitCode.Infrastructure;
  const parts: string[] = [];
  if (failing.length) parts.push(describe(failing));
  if (broken.length) parts.push(`could not test ${broken.map((p) => (p.index === 0 ? `the base${configTag(p)}` : `patch ${rowName(p)}`)).join(', ')}: ${broken.map((p) => p.summary).join('; ')}`);
  const untested = patches.filter((p) => p.verdict === 'skipped');
  if (untested.length) parts.push(`not tested: ${untested.map((p) => `patch ${rowName(p)} (${p.summary})`).join('; ')}`);
  if (parts.length === 0) parts.push(allPassed(steps) ? `all ${total} patch(es) passed` : `no patch of ${total} introduced a failure`);
  for (const b of steps.filter((p) => p.index === 0)) if (b.verdict !== 'pass' && b.verdict !== 'error' && b.verdict !== 'skipped') parts.push(`the base itself${configTag(b)}: ${b.verdict}: ${b.summary}`);
  if (!base || base.verdict === 'skipped') parts.push('the base was not tested');
  return { verdict, exitCode, summary: parts.join('; '), firstBadPatch };
}

function describe(ps: PatchReport[]): string {
  return ps.map((p) => `patch ${rowName(p)} ${p.verdict}: ${p.summary}`).join('; ');
}

/** `2/3`, or `2/3 [zswap-debug]` in a run of several configs. */
function rowName(p: PatchReport): string {
  return `${p.label}${configTag(p)}`;
}

/** Every stage of every step passed (a stage skipped for a stated reason, with its step passing, counts). */
export function allPassed(steps: readonly PatchReport[]): boolean {
  return steps.length > 0 && steps.every((p) => p.verdict === 'pass' && STAGES.every((s) => p.stages[s].verdict === 'pass' || p.stages[s].verdict === 'skipped'));
}
