import path from 'node:path';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import type { BuildResult } from '../build/index.js';
import { formatDiagnostic } from '../build/diagnostics.js';
import type { SuiteResult, TestJudgement } from '../guest/index.js';
import type { Finding } from '../boot/triage.js';
import { describeBadPage } from '../guest/results.js';
import { describeCall, slotName } from '../model/rules.js';
import type { PatchApplyResult } from '../tree/apply.js';
import { STAGES, type BuildDetails, type PatchReport, type StageName, type StageReport, type TestDetails } from '../report/types.js';

/**
 * Turns each stage's own result into the report's per-stage verdicts and evidence. Pure, so the
 * mapping (above all: `fail` versus `error`) is tested without a kernel.
 */

export function stage(verdict: Verdict, summary: string, evidence: string[] = [], logs: Record<string, string> = {}, durationMs?: number): StageReport {
  return { verdict, summary, evidence, logs, durationMs };
}

export const skippedStage = (why: string): StageReport => stage('skipped', why);

export function applyStage(a: PatchApplyResult | undefined, rel: (p: string) => string, logFile?: string): StageReport {
  if (!a) return stage('pass', 'the base commit');
  const logs: Record<string, string> = logFile ? { apply: rel(logFile) } : {};
  switch (a.status) {
    case 'applied':
      return stage('pass', 'applied cleanly', [], logs, a.durationMs);
    case 'applied-3way':
      return stage('pass', `applied with a 3-way merge${a.conflicts.length ? ` (plain apply failed in ${a.conflicts.map((c) => c.file).join(', ')})` : ''}`, [], logs, a.durationMs);
    case 'failed':
      return stage(
        'fail',
        `does not apply${a.conflicts.length ? `: ${a.conflicts.map((c) => c.file).join(', ')}` : ''}`,
        a.conflicts.flatMap((c) => [`conflict in ${c.file}`, ...c.hunks.map((h) => `  ${h.split('\n').slice(0, 6).join('\n  ')}`)]),
        logs,
        a.durationMs,
      );
    case 'skipped':
      return stage('skipped', 'an earlier patch did not apply', [], logs);
  }
}

export function buildStage(b: BuildResult, rel: (p: string) => string): StageReport {
  const evidence = [
    ...b.errors.slice(0, 10).map(formatDiagnostic),
    ...b.newWarnings.map((w) => `new warning: ${formatDiagnostic(w)}`),
    ...(b.checkpatch?.findings.filter((f) => f.level === 'ERROR').map((f) => `checkpatch ERROR: ${f.type ? `${f.type}: ` : ''}${f.message}${f.location ? ` (${f.location})` : ''}`) ?? []),
  ];
  if (b.checkpatch?.infraError) evidence.push(`checkpatch could not run: ${b.checkpatch.infraError}`);
  for (const d of b.sandboxDenied ?? []) evidence.push(`sandbox blocked: ${d}`);
  const logs: Record<string, string> = { build: rel(b.logPath) };
  // The tree's own test_zswap.c is part of what the build builds: a patch that breaks it fails
  // (the kernel is still booted and tested); a toolchain that cannot build it is ours.
  const st = b.selftestBuild;
  if (st && (st.verdict === 'fail' || st.verdict === 'error') && b.verdict === 'pass') {
    if (st.logPath) logs.selftest = rel(st.logPath);
    return stage(st.verdict, `the kernel built, but test_zswap did not: ${st.summary}`, [...evidence, st.summary], logs, b.durationMs);
  }
  return stage(b.verdict, b.summary, evidence, logs, b.durationMs);
}

export function buildDetails(b: BuildResult): BuildDetails {
  return {
    durationMs: b.durationMs,
    objectsBuilt: b.objectsBuilt,
    cached: b.cached,
    warningsTotal: b.warningsTotal,
    newWarnings: b.newWarnings.map((w) => ({ file: w.file, line: w.line, message: w.message, flag: w.flag })),
    errors: b.errors.map((e) => ({ file: e.file, line: e.line, message: e.message })),
    checkpatch: b.checkpatch && !b.checkpatch.infraError ? { errors: b.checkpatch.errors, warnings: b.checkpatch.warnings, checks: b.checkpatch.checks, findings: b.checkpatch.findings } : undefined,
  };
}

/** Boot fails only when the kernel never reached the suite; a later oops is the tests' finding. */
export function bootStage(b: SuiteResult['boot'], findings: Finding[], rel: (p: string) => string): StageReport {
  const logs = { console: rel(b.consoleLog) };
  if (b.status === 'error') return stage('error', b.reason, [b.consoleTail.split('\n').slice(-8).join('\n')], logs, b.durationMs);
  if (b.bootToCommandMs === undefined) {
    const f = findings[0];
    return stage('fail', `the kernel did not boot: ${f ? f.title : b.reason}`, [f ? f.excerpt : b.consoleTail.split('\n').slice(-15).join('\n')], logs, b.durationMs);
  }
  return stage('pass', `booted under ${b.accel.toUpperCase()}, suite started after ${(b.bootToCommandMs / 1000).toFixed(1)}s`, [], logs, b.bootToCommandMs);
}

export function testStage(s: SuiteResult, rel: (p: string) => string): StageReport {
  const verdict = combineVerdicts(s.tests.map((t) => t.workloadVerdict));
  const failing = s.tests.filter((t) => t.workloadVerdict === 'fail' || t.workloadVerdict === 'error');
  const orphan = s.findings.filter((f) => !f.test);
  const evidence = failing.flatMap((t) => [`${t.name}: ${t.summary}`, ...t.evidence.slice(0, 6).map((e) => `  ${e}`)]);
  for (const f of orphan) evidence.push(`kernel: ${f.title}`);
  // A test whose outcome changed when repeated within the run (a selftest case) is named too.
  const flaky = s.tests.filter((t) => t.workloadVerdict === 'flaky');
  const named = [...failing, ...flaky];
  const summary = named.length ? named.map((t) => `${t.name}: ${t.summary}`).join('; ') : `${s.tests.filter((t) => t.workloadVerdict === 'pass').length}/${s.tests.length} tests passed`;
  const logs: Record<string, string> = {};
  for (const t of s.tests) for (const [k, v] of Object.entries(t.logs)) if (k !== 'trace') logs[`${t.name}.${k}`] = rel(v);
  const duration = s.tests.reduce((sum, t) => sum + (t.durationMs ?? 0), 0);
  // A splat no test owns (a panic in swapon, before the first test) is the kernel's, whatever the
  // tests could say after it.
  const report = stage(orphan.length ? 'fail' : verdict, orphan.length && !failing.length ? `kernel: ${orphan[0]!.title}` : summary, evidence, logs, duration);
  // Flaky within the run: a selftest case's outcomes over the runs of test_zswap (the one that failed most).
  if (report.verdict === 'flaky') report.flakyCounts = flakyRuns(flaky);
  return report;
}

function flakyRuns(tests: SuiteResult['tests']): { fail: number; pass: number } | undefined {
  const runs = tests.flatMap((t) => t.selftest?.cases.flatMap((c) => (c.runs ? [c.runs] : [])) ?? []);
  return runs.reduce<{ fail: number; pass: number } | undefined>((worst, r) => (!worst || r.fail > worst.fail ? r : worst), undefined);
}

export function modelStage(s: SuiteResult, rel: (p: string) => string): StageReport {
  const verdict = combineVerdicts(s.tests.map((t) => t.modelVerdict));
  const failing = s.tests.filter((t) => t.modelVerdict === 'fail');
  const evidence: string[] = [];
  for (const t of failing) {
    for (const v of t.violations.slice(0, 3)) {
      evidence.push(`${t.name}: ${v.rule}: ${v.message}`);
      for (const e of v.events) evidence.push(`    ${describeCall(e)}`);
    }
  }
  const notJudged = s.tests.filter((t) => t.conformance.verdict === 'skipped' && t.workloadVerdict !== 'skipped');
  const summary = failing.length
    ? failing.map((t) => `${t.name}: ${[t.conformance, t.dataOracle, t.counterOracle].filter((c) => c.verdict === 'fail').map((c) => c.reason).join('; ')}`).join('; ')
    : verdict === 'skipped'
      ? `not judged: ${s.tests.map((t) => t.conformance.reason).filter((r, i, a) => a.indexOf(r) === i).join('; ')}`
      : `every traced history replays through the model${notJudged.length ? `; not traced: ${notJudged.map((t) => `${t.name} (${t.conformance.reason})`).join(', ')}` : ''}`;
  const logs: Record<string, string> = {};
  for (const t of s.tests) if (t.logs.trace) logs[`${t.name}.trace`] = rel(t.logs.trace);
  // Which zswap API the model read the trace as, and how that was decided: never assumed.
  const api = s.probes?.api;
  if (api) evidence.push(api.era ? `zswap API: ${api.era} (${api.reason})` : `zswap API not recognised: ${api.reason}`);
  return stage(verdict, summary, evidence, logs, s.judgeMs);
}

export function testDetails(t: TestJudgement): TestDetails {
  return {
    name: t.name,
    verdict: t.verdict,
    summary: t.summary,
    durationMs: t.durationMs,
    counters: t.counters,
    samples: t.samples,
    coverage: t.coverage,
    gaps: t.gaps,
    badPages: t.badPages.slice(0, 50).map((b) => ({ region: b.region, page: b.page, phase: b.phase, expectVersion: b.expectVersion, seenVersion: b.seenVersion, seenPage: b.seenPage, zero: b.zero, description: describeBadPage(b) })),
    badPagesTotal: t.badPagesTotal,
    conformance: { verdict: t.conformance.verdict, reason: t.conformance.reason, events: t.conformance.events },
    dataOracle: { verdict: t.dataOracle.verdict, reason: t.dataOracle.reason, reads: t.dataOracle.reads },
    counterOracle: { verdict: t.counterOracle.verdict, reason: t.counterOracle.reason },
    violations: t.violations.slice(0, 20).map((v) => ({ rule: v.rule, message: v.message, slot: v.slot ? slotName(v.slot) : undefined, entry: v.entry, events: v.events.map(describeCall) })),
    findings: t.findings.map((f) => ({ kind: f.kind, title: f.title, function: f.function, signature: f.signature, callTrace: f.callTrace, excerpt: f.excerpt, ...(f.repeats ? { repeats: f.repeats } : {}) })),
    selftest: t.selftest?.cases.map((c) => ({ number: c.number, name: c.name, status: c.status, directive: c.directive })),
    preExisting: [],
    failure: t.failure,
  };
}

// ---- pre-existing failures -------------------------------------------------------------------

/**
 * What failed in a patch's run, as stable keys: a failure whose key the base also has was
 * already there and is not the patch's fault.
 */
export function failureKeys(p: PatchReport): Map<StageName, Set<string>> {
  const keys = new Map<StageName, Set<string>>();
  const add = (s: StageName, k: string): void => {
    const set = keys.get(s) ?? new Set<string>();
    set.add(k);
    keys.set(s, set);
  };
  if (p.stages.build.verdict === 'fail') {
    for (const e of p.build?.errors ?? []) add('build', `error ${e.file}: ${e.message}`);
    if (!p.build?.errors.length) add('build', `build: ${p.stages.build.summary}`);
    for (const w of p.build?.newWarnings ?? []) add('build', `warning ${w.file}: ${w.message}`);
  }
  if (p.stages.boot.verdict === 'fail') add('boot', `boot: ${p.boot?.status ?? 'fail'}`);
  for (const f of p.kernelFindings ?? []) add('test', `kernel ${f.signature}`);
  for (const t of p.tests) {
    if (t.verdict !== 'fail') continue;
    for (const f of t.findings) add('test', `${t.name}: kernel ${f.signature}`);
    for (const c of t.selftest?.filter((c) => c.status === 'fail') ?? []) add('test', `${t.name}: selftest case ${c.name}`);
    if (t.badPagesTotal > 0) add('test', `${t.name}: wrong data read back`);
    if (t.findings.length === 0 && !t.selftest?.some((c) => c.status === 'fail') && t.badPagesTotal === 0 && t.failure) add('test', `${t.name}: ${t.failure}`);
    for (const v of t.violations) add('model', `${t.name}: ${v.rule}`);
  }
  return keys;
}

/**
 * Marks the failures a patch shares with the base as pre-existing. A stage whose every failure
 * is pre-existing passes (with the list shown); a stage with any new failure keeps `fail`.
 */
export function applyPreExisting(base: PatchReport, p: PatchReport): PatchReport {
  const baseKeys = failureKeys(base);
  const mine = failureKeys(p);
  const stages = { ...p.stages };
  const preExisting: string[] = [];
  for (const [name, keys] of mine) {
    const old = [...keys].filter((k) => baseKeys.get(name)?.has(k));
    if (old.length === 0) continue;
    preExisting.push(...old);
    const fresh = [...keys].filter((k) => !baseKeys.get(name)?.has(k));
    if (fresh.length === 0 && stages[name].verdict === 'fail') {
      // Not the patch's failure, but a stage that stopped the ones after it did not let them
      // test anything: that is not a pass.
      const blocked = laterStages(name).some((s) => stages[s].verdict === 'skipped');
      stages[name] = blocked
        ? { ...stages[name], verdict: 'skipped', summary: `not tested: fails as the base does (${old.join('; ')})` }
        : { ...stages[name], verdict: 'pass', summary: `only failures the base has too: ${old.join('; ')}` };
    }
  }
  // A failure without a key (nothing stable to compare) cannot be shown to be the base's: keep it.
  for (const name of unexplained(p)) if (stages[name].verdict !== p.stages[name].verdict) stages[name] = p.stages[name];
  const tests = p.tests.map((t) => ({ ...t, preExisting: preExisting.filter((k) => k.startsWith(`${t.name}:`)) }));
  const verdict = patchVerdict(stages);
  return { ...p, stages, tests, preExisting, verdict, summary: verdict === p.verdict ? p.summary : summarize(stages) };
}

/** Stages with a failing test that yields no failure key: never matched as pre-existing. */
function unexplained(p: PatchReport): StageName[] {
  const out: StageName[] = [];
  const failing = p.tests.filter((t) => t.verdict === 'fail');
  const testKeyless = failing.some((t) => t.findings.length === 0 && !t.selftest?.some((c) => c.status === 'fail') && t.badPagesTotal === 0 && !t.failure && t.violations.length === 0);
  if (p.stages.test.verdict === 'fail' && testKeyless) out.push('test');
  const modelKeyless = failing.some((t) => [t.conformance, t.dataOracle, t.counterOracle].some((c) => c.verdict === 'fail') && t.violations.length === 0);
  if (p.stages.model.verdict === 'fail' && modelKeyless) out.push('model');
  return out;
}

/** The stages after NAME, in the report's own order. */
export function laterStages(name: StageName): StageName[] {
  return STAGES.slice(STAGES.indexOf(name) + 1);
}

/** The stages without which nothing was tested: a step that skipped one of them is not a pass. */
const ESSENTIAL: readonly StageName[] = ['build', 'boot', 'test'];

export function patchVerdict(stages: Record<StageName, StageReport>): Verdict {
  const v = combineVerdicts(Object.values(stages).map((s) => s.verdict));
  if (v === 'pass' && ESSENTIAL.some((s) => stages[s].verdict === 'skipped')) return 'skipped';
  return v;
}

export function summarize(stages: Record<StageName, StageReport>): string {
  const bad = (Object.entries(stages) as [StageName, StageReport][]).filter(([, s]) => s.verdict === 'fail' || s.verdict === 'error' || s.verdict === 'flaky');
  if (bad.length) return bad.map(([n, s]) => `${n} ${s.verdict}: ${s.summary}`).join('; ');
  const skipped = ESSENTIAL.find((s) => stages[s].verdict === 'skipped');
  if (skipped) return `not tested: ${skipped} skipped (${stages[skipped].summary})`;
  return 'passed';
}

export function relativeTo(dir: string): (p: string) => string {
  return (p: string) => path.relative(dir, p);
}
