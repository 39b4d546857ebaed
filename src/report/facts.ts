import type { Verdict } from '../common/verdict.js';
import { cleanLine, plural, shortCommit } from './text.js';
import { STAGES, type AttestationInfo, type PatchReport, type RunReport, type StageName, type StageReport, type TestDetails } from './types.js';

/**
 * Read-only views of a RunReport that several renderers need. Nothing here adds information: every
 * string is either taken from the report or a fixed phrase about what the report says.
 */

export const STAGE_TITLES: Record<StageName, string> = {
  apply: 'apply',
  build: 'build',
  boot: 'boot',
  test: 'test',
  model: 'model',
};

export const VERDICT_WORDS: Record<Verdict, string> = {
  pass: 'pass',
  fail: 'FAIL',
  error: 'ERROR',
  skipped: 'skipped',
  flaky: 'flaky',
};

/** ` [zswap-debug]` for a row of a run of several configs, else empty. */
export function configTag(p: Pick<PatchReport, 'config'>): string {
  return p.config ? ` [${p.config}]` : '';
}

/** `-zswap-debug` for a row of a run of several configs, else empty: what keeps its anchor apart. */
export function configSlug(p: Pick<PatchReport, 'config'>): string {
  return p.config ? `-${p.config.toLowerCase().replace(/[^a-z0-9-]/g, '-')}` : '';
}

/** `base` or `2/3`; `2/3 [zswap-debug]` when the run tested more than one config. */
export function patchLabel(p: PatchReport, report: RunReport): string {
  const tag = configTag(p);
  if (p.index === 0) return `base${tag}`;
  if (p.label && p.label !== 'base') return `${p.label}${tag}`;
  return `${p.index}/${stepCount(report) - 1}${tag}`;
}

/** The config names the rows are built with, in row order (one, unless the run tested several). */
export function reportConfigs(report: RunReport): string[] {
  return report.environment.configs?.map((c) => c.name) ?? [report.environment.config.name];
}

/** The config a row was built with. */
export function configOf(p: PatchReport, report: RunReport): RunReport['environment']['config'] {
  const env = report.environment;
  return env.configs?.find((c) => c.name === p.config) ?? env.config;
}

/** Steps (the base and each patch), whatever the number of configs per step. */
function stepCount(report: RunReport): number {
  return new Set(report.patches.map((p) => p.index)).size;
}

/** `base 0123456789ab` or `patch 2/3: subject` (subject cleaned to one line). */
export function patchTitle(p: PatchReport, report: RunReport): string {
  if (p.index === 0) return `base ${shortCommit(p.commit ?? report.base.commit)}${configTag(p)}`;
  return `patch ${patchLabel(p, report)}: ${cleanLine(p.subject)}`;
}

/** `pass 2, fail 1` for a flaky stage; empty when no counts were recorded. */
export function flakyText(counts: StageReport['flakyCounts']): string {
  if (!counts) return '';
  const parts = (['pass', 'fail', 'error', 'skipped', 'flaky'] as const).filter((v) => (counts[v] ?? 0) > 0).map((v) => `${v} ${counts[v]}`);
  return parts.join(', ');
}

/** The verdict as a reviewer reads it in a table cell: `FAIL`, `flaky (pass 2, fail 1)`. */
export function stageCellText(stage: StageReport): string {
  const word = VERDICT_WORDS[stage.verdict];
  const counts = flakyText(stage.flakyCounts);
  return counts && stage.verdict === 'flaky' ? `${word} (${counts})` : counts ? `${word} (retries: ${counts})` : word;
}

/**
 * How a flaky result is exported to pass/fail formats (JUnit, KCIDB): a pass when at least one
 * attempt passed (flaky is not blamed), else a failure when some attempt saw the kernel fail (the
 * others broke on our side), else an error.
 */
export function flakyOutcome(stage: { verdict: Verdict; flakyCounts?: StageReport['flakyCounts'] }): Exclude<Verdict, 'flaky'> {
  if (stage.verdict !== 'flaky') return stage.verdict;
  const c = stage.flakyCounts ?? {};
  if ((c.pass ?? 0) > 0) return 'pass';
  if ((c.fail ?? 0) > 0) return 'fail';
  if ((c.error ?? 0) > 0) return 'error';
  return 'pass';
}

/** Patches 1..N (without the base). */
export function seriesPatches(report: RunReport): PatchReport[] {
  return report.patches.filter((p) => p.index > 0);
}

/** The rows of the base, one per config. */
export function baseRows(report: RunReport): PatchReport[] {
  return report.patches.filter((p) => p.index === 0);
}

/** Patches blamed for a failure (verdict fail), base excluded. */
export function failingPatches(report: RunReport): PatchReport[] {
  return seriesPatches(report).filter((p) => p.verdict === 'fail');
}

/** Patches that could not be judged because our side broke. */
export function errorPatches(report: RunReport): PatchReport[] {
  return seriesPatches(report).filter((p) => p.verdict === 'error');
}

/** Stages of a patch with a given set of verdicts, in pipeline order. */
export function stagesWith(p: PatchReport, verdicts: readonly Verdict[]): StageName[] {
  return STAGES.filter((s) => verdicts.includes(p.stages[s].verdict));
}

export function firstFailingPatch(report: RunReport): PatchReport | undefined {
  // With several configs the patch has a row per config: the one that failed.
  if (report.firstBadPatch !== undefined) {
    const rows = report.patches.filter((p) => p.index === report.firstBadPatch);
    return rows.find((p) => p.verdict === 'fail') ?? rows[0];
  }
  return failingPatches(report)[0];
}

/** The human label of a lifetime path a test never ran (the coverage entry's label, else its id). */
export function gapLabel(test: TestDetails, gap: string): string {
  return test.coverage.find((c) => c.path === gap)?.label ?? gap;
}

export function gapLabels(test: TestDetails): string[] {
  return test.gaps.map((g) => gapLabel(test, g));
}

/** Build errors as `file:line: message`. */
export function locationLine(e: { file: string; line?: number; message: string; flag?: string }): string {
  const where = e.line !== undefined ? `${e.file}:${e.line}` : e.file;
  return cleanLine(`${where}: ${e.message}${e.flag ? ` [${e.flag}]` : ''}`);
}

export function checkpatchErrors(p: PatchReport): { level: string; type: string; message: string; location?: string }[] {
  return p.build?.checkpatch?.findings.filter((f) => f.level.toUpperCase() === 'ERROR') ?? [];
}

/** Everything that makes a patch worth a details section. */
export function isNotable(p: PatchReport): boolean {
  if (p.verdict !== 'pass') return true;
  if (p.preExisting.length > 0) return true;
  if (STAGES.some((s) => p.stages[s].flakyCounts !== undefined || p.stages[s].verdict !== 'pass')) return true;
  if ((p.build?.newWarnings.length ?? 0) > 0 || checkpatchErrors(p).length > 0) return true;
  return p.tests.some((t) => t.verdict !== 'pass' || t.preExisting.length > 0 || t.findings.length > 0 || t.violations.length > 0 || t.badPagesTotal > 0);
}

/** Tests whose failure the report blames on this patch (fail, not merely pre-existing). */
export function blamedTests(p: PatchReport): TestDetails[] {
  return p.tests.filter((t) => t.verdict === 'fail');
}

/** How a step that carries another's guest results says so in a verdict cell, or undefined. */
export function reuseOf(p: PatchReport): string | undefined {
  if (!p.reusedFrom) return undefined;
  const ran = p.tests.filter((t) => !t.reusedFrom).map((t) => t.name);
  return `same kernel as ${p.reusedFrom}: results reused${ran.length ? ` but for ${ran.join(', ')}, run again` : ''}`;
}

/** Pre-existing failures of a patch: the patch's own list and its tests', without repeats. */
export function preExistingOf(p: PatchReport): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of [...p.preExisting, ...p.tests.flatMap((t) => t.preExisting.map((x) => (x.startsWith(`${t.name}`) ? x : `${t.name}: ${x}`)))]) {
    const key = cleanLine(line);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(key);
    }
  }
  return out;
}

/** Patches that never got to run because the run stopped early (interrupted, crashed, killed). */
export function notRun(report: RunReport): PatchReport[] {
  if (report.status === 'complete') return [];
  return seriesPatches(report).filter((p) => STAGES.every((s) => p.stages[s].verdict === 'skipped'));
}

/** Series patches the report has no entry for at all (a report written before the end). */
export function missingPatchNumbers(report: RunReport): number[] {
  const total = report.series.patches.length;
  const have = new Set(report.patches.map((p) => p.index));
  const out: number[] = [];
  for (let k = 1; k <= total; k++) if (!have.has(k)) out.push(k);
  return out;
}

/** The subject of the message the reply answers (cover letter, else patch 1, else the series'). */
export function replySubject(report: RunReport): { subject: string; index: number; total: number } {
  const s = report.series;
  const total = s.patches.length || Math.max(1, stepCount(report) - 1);
  if (s.cover && s.cover.messageId === s.replyTo) return { subject: s.cover.subject, index: 0, total };
  const p = s.patches.find((x) => x.messageId === s.replyTo);
  if (p) return { subject: p.subject, index: p.index, total: p.total };
  if (s.cover) return { subject: s.cover.subject, index: 0, total };
  return { subject: s.subject, index: total > 1 ? 1 : 1, total };
}

/** Who the series came from: the cover letter's author, else patch 1's. */
export function seriesAuthor(report: RunReport): { name: string; email: string } | undefined {
  return report.series.cover?.author ?? report.series.patches[0]?.author ?? seriesPatches(report)[0]?.author;
}

/** A short sentence of what a test run found: `3 wrong pages, 1 model violation, KASAN`. */
export function testProblems(t: TestDetails): string {
  const parts: string[] = [];
  if (t.findings.length) parts.push(t.findings.map((f) => f.kind).filter((k, i, a) => a.indexOf(k) === i).join(', '));
  if (t.badPagesTotal) parts.push(plural(t.badPagesTotal, 'wrong page'));
  if (t.violations.length) parts.push(plural(t.violations.length, 'model violation'));
  const failedCases = t.selftest?.filter((c) => c.status === 'fail') ?? [];
  if (failedCases.length) parts.push(`${plural(failedCases.length, 'selftest case')} failed`);
  return parts.join(', ');
}

/** The accelerator as a reviewer reads it. */
export function accelName(report: RunReport): string {
  return report.environment.accel.accel === 'kvm' ? 'KVM' : 'TCG';
}

/** `0123456789ab (base-commit from the series: ...)`. */
export function baseLine(report: RunReport): string {
  return `${shortCommit(report.base.commit)} (${cleanLine(report.base.reason)})`;
}

/** Message-IDs as written in headers and URLs: no angle brackets, no whitespace. */
export function bareMessageId(id: string): string {
  return cleanLine(id).replace(/[<>\s]+/g, '');
}

/** A message-id as a URL path element, the way lore writes it: only what a path cannot hold is escaped. */
export function msgidPath(id: string): string {
  return bareMessageId(id).replace(/[^A-Za-z0-9._~!$&'*+,;=:@-]/g, (c) => encodeURIComponent(c));
}

/** How an unfinished run is described: `interrupted`, `crashed`, ... (empty when complete). */
export function statusText(report: RunReport): string {
  switch (report.status) {
    case 'complete':
      return '';
    case 'interrupted':
      return 'interrupted';
    case 'crashed':
      return 'stopped: kharness or the environment broke outside any stage';
    case 'bad-input':
      return 'refused: bad input, nothing was tested';
    case 'running':
      return 'unfinished (written while it was still running: it was killed or is still going)';
  }
}

/** One series patch's attestation as every format shows it. */
export interface AttestationRow {
  /** "k/N" */
  label: string;
  /** the attestation's status, or 'not checked' for a patch the report has none for */
  status: AttestationInfo['status'] | 'not checked';
  summary: string;
}

/** Each series patch's attestation; empty for a report from before attestation (no patch has one). */
export function attestationRows(report: RunReport): AttestationRow[] {
  const patches = report.series.patches;
  if (!patches.some((p) => p.attestation)) return [];
  return patches.map((p) => ({
    label: `${p.index}/${p.total}`,
    status: p.attestation?.status ?? 'not checked',
    summary: p.attestation ? cleanLine(p.attestation.summary) : 'no attestation recorded',
  }));
}
