import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { BootOutcome } from '../boot/vm.js';
import { testStarts } from './console-marks.js';
import { foldRepeats, type Finding, type FindingKind } from '../boot/triage.js';
import { readUntrusted } from '../common/untrusted-file.js';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { checkCounters, type CounterFinding, type SkippedCounter } from '../model/counters.js';
import { checkData } from '../model/data-oracle.js';
import { LIFETIME_PATHS, pathsOfModel, type LifetimePath, type LifetimeStats } from '../model/replay.js';
import { replayHistory, type ReplayModel } from '../model/replay-model.js';
import { probedEra, type ApiEra } from '../api/index.js';
import { firstOfEachRule, type Violation } from '../model/rules.js';
import { CUMULATIVE_COUNTER, MAX_BYTES, SampleSchema, TraceLostSchema, formatProtocolError, parseRecords, readRecords, readSuiteArtifacts, resultFor, setupErrorOf, setupFailureOf, unclaimedErrors, type SuiteArtifacts } from './protocol.js';
import { SELFTEST_RETRIES } from './profiles.js';
import { judgeSwitches } from './switches.js';
import { describeBadPage, mergeSelftestRuns, parseBlockedDumps, parseDataLog, parseTap, parseWorkloadOutput, stuckTasks, type BadPage, type BlockedTask, type GuestTestLine, type SelftestCase, type TapCase } from './results.js';
import { REQUIRED_FUNCTIONS, decodeTrace, describeMissingProbes, mergeWithDump, parseFtraceDump, parseTraceText, withGaps, type ProbePlan } from './trace-capture.js';

export type CheckVerdict = 'pass' | 'fail' | 'skipped' | 'error';

export interface CheckOutcome {
  verdict: CheckVerdict;
  reason: string;
}

export interface CoverageEntry {
  path: string;
  label: string;
  count: number;
  source: 'trace' | 'counters' | 'workload';
}

export interface TestJudgement {
  name: string;
  verdict: Verdict;
  /** the test's own outcome: workload status, wrong pages, console, selftest cases */
  workloadVerdict: Verdict;
  /** the reference model's outcome: trace conformance and the data and counter oracles */
  modelVerdict: Verdict;
  summary: string;
  durationMs?: number;
  counters?: { before: Record<string, number>; after: Record<string, number>; delta: Record<string, number> };
  /** how many times each lifetime path ran */
  coverage: CoverageEntry[];
  /** paths this test is meant to drive that never ran: a visible gap, not a silent pass */
  gaps: string[];
  badPages: BadPage[];
  badPagesTotal: number;
  violations: Violation[];
  conformance: CheckOutcome & { events?: number; inconclusiveSlots?: number };
  dataOracle: CheckOutcome & { reads?: number };
  counterOracle: CheckOutcome & { findings?: CounterFinding[]; skipped?: SkippedCounter[] };
  findings: Finding[];
  /** test_zswap's cases over its runs (more than one when a failed case was run again) */
  selftest?: { cases: SelftestCase[]; plan?: number; runs: number };
  /** zswap counters sampled once a second while the test ran */
  samples: { t: number; values: Record<string, number> }[];
  evidence: string[];
  logs: Record<string, string>;
  /** what kind of failure, when the test failed without a splat, a selftest case or wrong data: a stable key for pre-existing matching */
  failure?: 'hang' | 'panic' | 'crashed' | 'workload-exit';
}

/**
 * The paths an entry can take that the suite as a whole must drive (DESIGN.md): a path none
 * of the traced tests ran is reported as a gap of the suite. In 6.12 loads through the swap
 * cache are exclusive, so a store over a live entry (replacing it, or failing and erasing it)
 * needs a folio redirtied between zswap_store() and reclaim dropping it: a race the suite may or
 * may not hit, and says which.
 */
export const SUITE_PATHS: LifetimePath[] = ['store', 'storeReplaced', 'storeFailed', 'storeFailedOverEntry', 'loadHit', 'invalidateLive', 'writeback', 'swapoffUnuse'];

const MAX_KEPT_VIOLATIONS = 100;

/** A line of the ftrace buffer the kernel dumps on an oops: trace data, not console news. */
const DUMP_LINE = /^\s*\S+-\d+\s+\d[\w.]{5,6}\s+\d+(?:\.\d+)?(?:us)?\s*: \w+: \(/;

/** The lifetime paths each test exists to drive. */
export const EXPECTED_PATHS: Record<string, LifetimePath[]> = {
  'swap-cycle': ['store', 'loadHit', 'invalidateLive', 'storeFailed', 'swapoffUnuse', 'swapoff', 'swapon', 'free'],
  writeback: ['store', 'writeback', 'free'],
  'swapoff-race': ['store', 'loadHit', 'invalidateLive', 'writeback', 'swapoffUnuse', 'swapoff', 'swapon', 'free'],
  'selftest-zswap': ['store', 'loadHit'],
  'cpu-hotplug': ['store', 'loadHit', 'invalidateLive', 'writeback', 'free'],
  'fault-race': ['store', 'loadHit', 'invalidateLive', 'free'],
};

/** Paths a workload counts itself (not the model's lifetime paths): each test's own, a gap at 0. */
export const WORKLOAD_PATHS: Record<string, { path: string; label: string }[]> = {
  'cpu-hotplug': [{ path: 'hotplugInFlight', label: 'CPU offline/online cycles with zswap traffic in flight' }],
  'fault-race': [{ path: 'faultRaceRounds', label: 'rounds of racing faults on shared swap entries (and drops, fork+exit)' }],
};

export interface JudgeInput {
  name: string;
  line?: GuestTestLine;
  runDir: string;
  boot: BootOutcome;
  findings: Finding[];
  tracing?: { probes: ProbePlan; placed: string[]; failed: { fn: string; reason: string }[] };
  setupError?: string;
  /** the kernel failed the suite's setup (status.json `fail`, e.g. zswap could not be enabled) */
  setupFailure?: string;
  /** the host's console.log cannot be read: no finding can be ruled out, so no test can pass */
  consoleError?: string;
  /** protocol errors about this test's result record (protocol.ts resultFor): it cannot be trusted */
  recordErrors?: string[];
  /** status.json says the suite ran to its end: a test without a record is then our error */
  suiteDone?: boolean;
}

/** Size caps for the per-test files the guest writes. */
const LIMITS = { out: 64 << 20, data: 256 << 20, trace: 256 << 20, tap: 16 << 20, profile: 1 << 20, blocked: 16 << 20, console: 256 << 20 } as const;

/** Reads a guest-written file; a problem other than "missing" is recorded, the text is never guessed. */
async function guestText(file: string, maxBytes: number, problems: string[]): Promise<{ text: string; truncated: boolean } | undefined> {
  const r = await readUntrusted(file, { maxBytes });
  if (r.ok) return { text: r.text, truncated: r.truncated };
  if (!r.missing) problems.push(r.reason);
  return undefined;
}

/** Only counters present on both sides have a change; a missing one is unknown, not 0. */
function deltaOf(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (typeof before[k] === 'number') d[k] = v - before[k];
  return d;
}

/** Coverage from vmstat/debugfs alone, for a run without a trace; a path whose counter is missing is left out. */
export function coverageFromCounters(delta: Record<string, number>): CoverageEntry[] {
  // A counter that went backwards (a buggy kernel) ran its path no times we can count: 0 here,
  // and the counter oracle fails it (countersWentBackwards).
  const pos = (v: number): number => Math.max(0, v);
  const rejects = Object.entries(delta).filter(([k]) => k.startsWith('reject_'));
  const entry = (p: LifetimePath, count: number | undefined): CoverageEntry[] => (count === undefined ? [] : [{ path: p, label: LIFETIME_PATHS[p], count: pos(count), source: 'counters' }]);
  return [
    ...entry('store', delta.zswpout),
    ...entry('loadHit', delta.zswpin),
    // zswpwb is 6.8+; debugfs written_back_pages counts the same on older kernels (6.1)
    ...entry('writeback', delta.zswpwb ?? delta.written_back_pages),
    ...entry('storeFailed', rejects.length ? rejects.reduce((s, [, v]) => s + pos(v), 0) : undefined),
  ];
}

/** Counters that only ever grow: vm events and zswap's cumulative debugfs counts (not the gauges stored_pages, pool_total_size, ...). */
const MONOTONIC_COUNTER = CUMULATIVE_COUNTER;

/** Each monotonic counter that is lower after the test than before: the kernel's counters are wrong. */
export function countersWentBackwards(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after)
    .filter((k) => MONOTONIC_COUNTER.test(k) && typeof before[k] === 'number' && after[k]! < before[k]!)
    .map((k) => `${k} went backwards: ${before[k]} → ${after[k]}`);
}

function coverageFromStats(stats: LifetimeStats, model: ReplayModel): CoverageEntry[] {
  return pathsOfModel(Object.keys(LIFETIME_PATHS) as LifetimePath[], model).map((p) => ({ path: p, label: LIFETIME_PATHS[p], count: stats[p], source: 'trace' as const }));
}

/** Which model counted a coverage list: only the refcount replay (6.1) counts holderLastPut. */
function modelOfCoverage(coverage: readonly CoverageEntry[]): ReplayModel {
  return coverage.some((c) => c.path === 'holderLastPut') ? 'refcount' : 'xarray';
}

/** The suite paths (SUITE_PATHS, as the model's kernels take them) that no traced test ran. */
export function suiteGaps(coverage: readonly CoverageEntry[] | undefined): string[] {
  if (!coverage) return [];
  return pathsOfModel(SUITE_PATHS, modelOfCoverage(coverage))
    .filter((p) => (coverage.find((c) => c.path === p)?.count ?? 0) === 0)
    .map((p) => LIFETIME_PATHS[p]);
}

/** Log files for the report: regular files only, so a guest's symlink never becomes a report link. */
async function logFiles(runDir: string, name: string): Promise<Record<string, string>> {
  const logs: Record<string, string> = {};
  for (const [k, f] of [
    ['workload', `${name}.out`],
    ['reject-workload', `${name}-reject.out`],
    ['trace', `${name}.trace`],
    ['data', `${name}.data`],
    ['tap', `${name}.tap`],
    ...Array.from({ length: SELFTEST_RETRIES }, (_, i) => [`retry${i + 1}-tap`, `${name}.retry${i + 1}.tap`] as const),
  ] as const) {
    const st = await lstat(path.join(runDir, f)).catch(() => undefined);
    if (st?.isFile()) logs[k] = path.join(runDir, f);
  }
  return logs;
}

function emptyJudgement(name: string, findings: Finding[], logs: Record<string, string>): TestJudgement {
  return {
    name,
    verdict: 'pass',
    workloadVerdict: 'pass',
    modelVerdict: 'skipped',
    summary: '',
    coverage: [],
    gaps: [],
    badPages: [],
    badPagesTotal: 0,
    violations: [],
    conformance: { verdict: 'skipped', reason: 'not traced' },
    dataOracle: { verdict: 'skipped', reason: 'no data log' },
    counterOracle: { verdict: 'skipped', reason: 'no trace to count events from' },
    findings,
    samples: [],
    evidence: [],
    logs,
  };
}

const findingTitle = (f: Finding): string => `${f.title}${f.function ? ` (in ${f.function})` : ''}`;

/**
 * Judges one test from its saved artifacts. Never throws on what the guest wrote: a file that is
 * unreadable, malformed or missing where it must exist is an `error` naming it.
 */
export async function judgeTest(input: JudgeInput): Promise<TestJudgement> {
  const { name, line, runDir } = input;
  const base = emptyJudgement(name, input.findings, await logFiles(runDir, name));
  if (input.recordErrors?.length) return judgeBadRecord(input, base, input.recordErrors);
  if (!line) return judgeWithoutRecord(input, base);

  const problems: string[] = [];
  if (input.consoleError) problems.push(input.consoleError);
  await readSamples(runDir, name, base);
  base.counters = { before: line.counters_before, after: line.counters_after, delta: deltaOf(line.counters_before, line.counters_after) };
  base.durationMs = line.duration_ms;
  const workload = await judgeWorkloadOutput(runDir, name, base, problems);
  await judgeDataLogs(runDir, name, base);
  const stats = input.tracing ? await judgeTrace(input, line, base) : undefined;
  counterMonotonicity(line, base);
  recordCoverage(input, base, stats, workload.counted);
  const switched = await judgeSwitches(runDir, name);
  if (switched) {
    base.coverage.push(...switched.coverage.map((c) => ({ ...c, source: 'workload' as const })));
    base.gaps.push(...switched.gaps);
    base.evidence.push(...switched.evidence);
  }
  if (name === 'writeback') poolLimitWithoutWriteback(line, base, workload.limitWait);
  noteCounterInvariants(base, name === 'writeback');
  if (name === 'selftest-zswap') await readSelftest(runDir, base, problems);
  const stuck = line.hung ? await blockedEvidence(runDir, name, base.evidence) : [];
  base.violations = firstOfEachRule(base.violations, Infinity);
  decide(input, line, base, problems, stuck, workload);
  // A test that did not run (skipped in the guest) drove nothing: no gap is its to report.
  if (base.verdict === 'skipped') base.gaps = [];
  return base;
}

/** Pages written back in a test: zswap's own debugfs count, else the 6.8+ vm event. */
function writtenBack(delta: Record<string, number>): number | undefined {
  return delta.written_back_pages ?? delta.zswpwb;
}

/**
 * zswap over its pool limit must make room by writing entries back (shrink_worker): a writeback
 * test in which the limit was hit and nothing was written back is the kernel's failure, whatever
 * the trace says. (With memcg disabled this is the root-LRU path a NULL memcg takes.)
 */
function poolLimitWithoutWriteback(rec: GuestTestLine, base: TestJudgement, waited: WorkloadReport['limitWait']): void {
  const d = base.counters?.delta ?? {};
  const hit = d.pool_limit_hit;
  const wrote = writtenBack(d);
  if (hit === undefined || wrote === undefined || hit <= 0 || wrote > 0 || rec.status === 'error') return;
  const was = base.counterOracle.verdict === 'fail' ? `; ${base.counterOracle.reason}` : '';
  const patience = waited.ms > 0 ? `, not even with the pool kept full for ${(waited.ms / 1000).toFixed(1)} s more` : '';
  base.counterOracle = { ...base.counterOracle, verdict: 'fail', reason: `zswap hit its pool limit ${hit} time(s) and wrote nothing back${patience}${was}` };
}

/**
 * Without events to count, the counter oracle stays `skipped` (the equalities did not run), but
 * says that the invariants it could check on the counters alone ran and held.
 */
function noteCounterInvariants(base: TestJudgement, writeback: boolean): void {
  if (base.counterOracle.verdict !== 'skipped' || !base.counters || !Object.keys(base.counters.delta).length) return;
  const d = base.counters.delta;
  const wrote = writtenBack(d);
  const limit = writeback && (d.pool_limit_hit ?? 0) > 0 && wrote !== undefined ? `, and the pool limit hit ${d.pool_limit_hit} time(s) made zswap write ${wrote} page(s) back` : '';
  const held = `no cumulative counter went backwards${limit}`;
  base.counterOracle = { ...base.counterOracle, reason: `${base.counterOracle.reason}; checked on the counters alone: ${held}` };
}

/** The counter oracle also fails a kernel whose cumulative counters went backwards. */
function counterMonotonicity(rec: GuestTestLine, base: TestJudgement): void {
  const backwards = countersWentBackwards(rec.counters_before, rec.counters_after);
  if (!backwards.length) return;
  const was = base.counterOracle.verdict === 'fail' ? `; ${base.counterOracle.reason}` : '';
  base.counterOracle = { ...base.counterOracle, verdict: 'fail', reason: `${backwards.join('; ')}${was}` };
}

/** The result record is malformed or ambiguous: our protocol broke, unless the kernel visibly did. */
function judgeBadRecord(input: JudgeInput, base: TestJudgement, errors: string[]): TestJudgement {
  base.evidence.push(...errors);
  const first = input.findings[0];
  if (first) {
    base.evidence.push(first.excerpt.split('\n').slice(0, 24).join('\n'));
    return { ...base, verdict: 'fail', workloadVerdict: 'fail', summary: `kernel: ${findingTitle(first)}; and the result record cannot be trusted: ${errors.join('; ')}` };
  }
  return { ...base, verdict: 'error', workloadVerdict: 'error', modelVerdict: 'error', summary: errors.join('; ') };
}

/**
 * How long a test that left no result record ran, measured: from its start mark to its end mark
 * (or, after a panic or a hang, to the VM's end) as the host saw them on the console; a run
 * without host marks (judged from an older run directory) has the last counter sample the guest
 * took during the test, a lower bound. Undefined only when neither was recorded.
 */
export function durationWithoutRecord(boot: Pick<BootOutcome, 'testMarksMs' | 'durationMs'>, name: string, samples: readonly { t: number }[]): number | undefined {
  const marks = boot.testMarksMs ?? [];
  const startAt = marks.findIndex((m) => m.test === name && m.state === 'start');
  if (startAt >= 0) {
    const start = marks[startAt]!.atMs;
    const end = marks.slice(startAt + 1).find((m) => m.test === name || m.state === 'start')?.atMs ?? boot.durationMs;
    return Math.max(0, end - start);
  }
  const last = samples.at(-1);
  return last ? Math.round(last.t * 1000) : undefined;
}

async function judgeWithoutRecord(input: JudgeInput, base: TestJudgement): Promise<TestJudgement> {
  const { name, boot } = input;
  const first = input.findings[0];
  const consoleRead = await readUntrusted(boot.consoleLog, { maxBytes: LIMITS.console });
  if (!consoleRead.ok) {
    // Without the console nobody can say whether this test ran or what the kernel printed.
    const why = `the console cannot be read: ${consoleRead.reason}`;
    if (first) return { ...base, verdict: 'fail', workloadVerdict: 'fail', summary: `kernel: ${findingTitle(first)}; and ${why}` };
    return { ...base, verdict: 'error', workloadVerdict: 'error', modelVerdict: 'error', summary: why };
  }
  const consoleText = consoleRead.text;
  const started = testStarts(consoleText).some((m) => m.test === name);
  if (started) {
    // The guest could not report how long the test ran: the host's clock says (or the counter samples it left).
    await readSamples(input.runDir, name, base);
    base.durationMs = durationWithoutRecord(boot, name, base.samples);
  }
  if (input.setupFailure) return { ...base, verdict: 'fail', workloadVerdict: 'fail', summary: `the kernel failed the suite's setup: ${input.setupFailure}` };
  if (boot.status === 'error') {
    return { ...base, verdict: 'error', workloadVerdict: 'error', summary: started ? `did not finish: ${boot.reason}; not blamed on the kernel` : `not run: ${boot.reason}` };
  }
  if (input.setupError) return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `the guest suite could not set up: ${input.setupError}` };
  if (input.suiteDone && input.findings.length === 0) {
    return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `status.json says the suite finished, but results.jsonl has no record for ${name}` };
  }
  if (!started) {
    // A VM that stopped with no word from the kernel (QEMU or virtme-ng killed) left this test
    // untested by our side's fault: error, not a quiet skip. After a panic or a hang the kernel's
    // own failure is reported where it happened; what it kept from running is skipped.
    const silentStop = boot.status === 'crashed' && boot.findings.length === 0;
    if (silentStop) return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `not run: the VM stopped before this test with no kernel message (${boot.reason}): QEMU or virtme-ng died` };
    return { ...base, verdict: 'skipped', workloadVerdict: 'skipped', summary: `not reached: the VM ${boot.status === 'completed' ? 'ended' : `ended (${boot.status})`} before this test` };
  }
  // The trace went straight to the host: replay the history up to the crash, so the model can
  // name the events that led to it.
  if (input.tracing && base.logs.trace) {
    const partial = await replayFile(base.logs.trace, { partial: true, consoleText, era: input.tracing.probes.api ? probedEra(input.tracing.probes.api) : undefined });
    base.conformance = partial.conformance;
    base.violations.push(...partial.violations.slice(0, MAX_KEPT_VIOLATIONS));
    base.modelVerdict = partial.conformance.verdict === 'fail' ? 'fail' : partial.conformance.verdict === 'error' ? 'error' : 'skipped';
    if (partial.stats) base.coverage = coverageFromStats(partial.stats, modelOf(input));
  }
  for (const v of base.violations.slice(0, 3)) base.evidence.push(`${v.rule}: ${v.message}`);
  // The splat itself says more than the console's last lines (often the oops's ftrace dump).
  if (first) base.evidence.push(first.excerpt.split('\n').slice(0, 24).join('\n'));
  else base.evidence.push(`console tail:\n${boot.consoleTail.split('\n').filter((l) => !DUMP_LINE.test(l)).slice(-20).join('\n')}`);
  // Without a word from the kernel (no splat, no broken rule), a VM that just stopped is QEMU or
  // virtme-ng dying, or our suite breaking: not evidence against the kernel. A panic or a silent
  // guest (the watchdog's hang) is.
  if (!first && base.violations.length === 0 && (boot.status === 'crashed' || boot.status === 'completed')) {
    const what = boot.status === 'crashed' ? `the VM stopped with no kernel message (${boot.reason}): QEMU or virtme-ng died` : 'the guest suite stopped without a result (ours)';
    return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `did not finish: ${what}; not blamed on the kernel` };
  }
  // The whole-run budget ran out while the guest's heartbeat still came: the guest made progress,
  // the budget was ours and too small. Only a hang report on the console says otherwise.
  if (boot.status === 'hang' && (boot.killedBy === 'budget' || boot.killedBy === 'backstop') && boot.guestAlive === true) {
    const hang = [...input.findings, ...boot.findings].find((f) => HANG_KINDS.includes(f.kind));
    if (!hang) {
      const ours = `the run outlived its ${boot.budgetS !== undefined ? `${boot.budgetS}s ` : ''}budget while the guest was still alive (ours)`;
      if (first || base.violations.length) {
        return { ...base, verdict: 'fail', workloadVerdict: 'fail', summary: `${first ? `kernel: ${findingTitle(first)}` : `${base.violations.length} model violation(s)`}; and ${ours}` };
      }
      return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `did not finish: ${ours}` };
    }
    return { ...base, verdict: 'fail', workloadVerdict: 'fail', failure: 'hang', summary: `hang while running: the kernel reported ${findingTitle(hang)} and the run outlived its budget` };
  }
  return {
    ...base,
    verdict: 'fail',
    workloadVerdict: 'fail',
    failure: boot.status === 'panic' || boot.status === 'hang' || boot.status === 'crashed' ? boot.status : undefined,
    summary: `${boot.status === 'completed' ? 'did not finish' : boot.status} while running: ${first ? findingTitle(first) : boot.reason}`,
  };
}

/** Counter samples for the plots; a bad line is shown, not dropped, but plots never decide a verdict. */
async function readSamples(runDir: string, name: string, base: TestJudgement): Promise<void> {
  const r = await readRecords(path.join(runDir, `${name}.samples`), SampleSchema, { maxBytes: MAX_BYTES.samples });
  base.samples = r.records.map(({ record }) => ({ t: record.t_ms / 1000, values: record.counters }));
  for (const e of r.errors.slice(0, 3)) base.evidence.push(`counter samples: ${formatProtocolError(e)}`);
  if (r.errors.length > 3) base.evidence.push(`counter samples: ${r.errors.length - 3} more bad line(s)`);
}

/** What each workload run said about itself: its typed `error` event and failed swapoff/swapon calls. */
interface WorkloadReport {
  /** the `{"ev":"error"}` event of the main run (`<test>.out`) and of swap-cycle's reject run */
  error: { main?: string; reject?: string };
  /** swapoff/swapon/cpu-online events with a nonzero rc (the kernel refused) */
  swapFailures: string[];
  /** what the workload's `done` event counted of its own paths (WORKLOAD_PATHS) */
  counted: Record<string, number>;
  /** the writeback test's waits for the shrink worker over the pool limit (`limit-wait` events) */
  limitWait: { ms: number; pokes: number };
}

/** A count the guest wrote: a non-negative integer, else not trusted. */
function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** The workload's own page checks: exactly which page held which wrong data. */
async function judgeWorkloadOutput(runDir: string, name: string, base: TestJudgement, problems: string[]): Promise<WorkloadReport> {
  const report: WorkloadReport = { error: {}, swapFailures: [], counted: {}, limitWait: { ms: 0, pokes: 0 } };
  for (const [which, f] of [['main', `${name}.out`], ['reject', `${name}-reject.out`]] as const) {
    const r = await guestText(path.join(runDir, f), LIMITS.out, problems);
    if (!r) continue;
    if (r.truncated) problems.push(`${f} is over ${LIMITS.out} bytes: only its start was read`);
    const out = parseWorkloadOutput(r.text, f);
    problems.push(...out.errors.slice(0, 5));
    base.badPages.push(...out.bad);
    base.badPagesTotal += out.badTotal ?? out.bad.length;
    if (out.error) {
      report.error[which] = out.error;
      base.evidence.push(`workload error: ${out.error}`);
    }
    for (const ev of out.events) {
      if ((ev.ev === 'swapoff' || ev.ev === 'swapon') && typeof ev.rc === 'number' && ev.rc !== 0) report.swapFailures.push(`${String(ev.ev)} of ${String(ev.dev)} returned ${ev.rc}`);
      if (ev.ev === 'cpu-online' && typeof ev.rc === 'number' && ev.rc !== 0) report.swapFailures.push(`bringing cpu${String(ev.cpu)} back online returned ${ev.rc}`);
      if (ev.ev === 'done' && ev.mode === 'hotplug' && Number.isSafeInteger(ev.in_flight) && (ev.in_flight as number) >= 0) report.counted.hotplugInFlight = ev.in_flight as number;
      if (ev.ev === 'done' && ev.mode === 'faultrace' && Number.isSafeInteger(ev.rounds) && (ev.rounds as number) >= 0) report.counted.faultRaceRounds = ev.rounds as number;
      if (ev.ev === 'limit-wait' && isCount(ev.ms) && isCount(ev.pokes)) {
        report.limitWait.ms += ev.ms;
        report.limitWait.pokes += ev.pokes;
        base.evidence.push(`round ${String(ev.round)} ended over the pool limit with nothing written back: kept the pool full for ${(ev.ms / 1000).toFixed(1)} s (${ev.pokes} rejected-store pokes), and zswap wrote back ${String(ev.written_back)} page(s)`);
      }
    }
  }
  for (const b of base.badPages.slice(0, 8)) base.evidence.push(describeBadPage(b));
  return report;
}

/**
 * A nonzero exit of a workload run, mapped from zswap-stress.c's exit codes: 0 ok; 1 pages read
 * back wrong (the kernel's); 2 usage (ours); 3 die() with a typed error event, its own failure
 * (fopen of the log, mmap, calloc, fork: ours), or, without one, a swapoff/swapon the kernel
 * refused (the kernel's); 125 suite.sh could not put it in its cgroup (ours); 126/127 exec failed
 * (ours); anything else (a signal: SIGSEGV, SIGBUS, the OOM killer) the kernel's. Returns the
 * reason when the run could not run at all (ours), undefined when it is the kernel's.
 */
export function workloadCouldNotRun(rc: number, error: string | undefined): string | undefined {
  if (rc === 125) return `the workload could not run: ${error ?? 'suite.sh could not put it into its cgroup'}`;
  if (rc === 126 || rc === 127) return `the workload could not run: exec failed (exit ${rc})`;
  if (rc === 2) return `the workload could not run: usage error (exit 2)${error ? `: ${error}` : ''}`;
  if (rc === 3 && error) return `the workload could not run: ${error}`;
  return undefined;
}

/** Data oracle: every read against the model's prediction from the workload's own log. */
async function judgeDataLogs(runDir: string, name: string, base: TestJudgement): Promise<void> {
  const problems: string[] = [];
  const cut: string[] = [];
  let reads = 0;
  let mismatches = 0;
  let seen = 0;
  for (const f of [`${name}.data`, `${name}-reject.data`]) {
    const r = await guestText(path.join(runDir, f), LIMITS.data, problems);
    if (!r) continue;
    seen++;
    if (r.truncated) cut.push(`${f} is over ${LIMITS.data} bytes: only its start was checked`);
    const log = parseDataLog(r.text, f);
    // A malformed line is a read (or write) the oracle never saw: the log cannot be judged.
    if (log.errors.length) problems.push(`${log.errors.length} malformed line(s), first: ${log.errors[0]}`);
    else if (log.cutLastLine && !r.truncated) cut.push(`${f} ends in a cut line`);
    const result = checkData(log.events);
    reads += result.reads;
    mismatches += result.mismatches.length;
    base.violations.push(...result.violations.slice(0, 20));
  }
  if (mismatches) base.dataOracle = { verdict: 'fail', reason: `${mismatches} read(s) saw data other than the model predicts`, reads };
  else if (problems.length) base.dataOracle = { verdict: 'error', reason: problems.join('; '), reads };
  else if (cut.length) base.dataOracle = { verdict: 'skipped', reason: `${reads} reads saw the predicted version, but ${cut.join('; ')}`, reads };
  else if (seen) base.dataOracle = { verdict: 'pass', reason: `${reads} reads all saw the predicted version`, reads };
}

/** The replay model of the era the probes follow (the xarray one when nothing was traced). */
function modelOf(input: JudgeInput): ReplayModel {
  const api = input.tracing?.probes.api;
  return (api && probedEra(api)?.model) || 'xarray';
}

function recordCoverage(input: JudgeInput, base: TestJudgement, stats: LifetimeStats | undefined, counted: Record<string, number>): void {
  const { name } = input;
  const model = modelOf(input);
  base.coverage = stats ? coverageFromStats(stats, model) : coverageFromCounters(base.counters?.delta ?? {});
  // A workload path it did not count (no `done` event: it died) is not measured, not a gap.
  for (const w of WORKLOAD_PATHS[name] ?? []) if (counted[w.path] !== undefined) base.coverage.push({ ...w, count: counted[w.path]!, source: 'workload' });
  const expectedPaths = pathsOfModel(EXPECTED_PATHS[name] ?? [], model);
  const expected: string[] = [...expectedPaths, ...(WORKLOAD_PATHS[name] ?? []).map((w) => w.path)];
  base.gaps = expected.filter((p) => {
    const c = base.coverage.find((e) => e.path === p);
    return c !== undefined && c.count === 0;
  });
  if (!stats) {
    const unknown = expectedPaths.filter((p) => !base.coverage.some((e) => e.path === p));
    if (unknown.length) base.evidence.push(`not measurable without a trace: ${unknown.map((p) => LIFETIME_PATHS[p]).join(', ')}`);
  }
}

async function readSelftest(runDir: string, base: TestJudgement, problems: string[]): Promise<void> {
  const first = await tapCases(path.join(runDir, 'selftest-zswap.tap'), problems);
  if (!first) return;
  const retries: TapCase[][] = [];
  for (let n = 1; n <= SELFTEST_RETRIES; n++) {
    const again = await tapCases(path.join(runDir, `selftest-zswap.retry${n}.tap`), problems);
    if (!again) break;
    retries.push(again.cases);
  }
  base.selftest = { cases: mergeSelftestRuns(first.cases, retries), plan: first.plan, runs: 1 + retries.length };
  const every = retries.length ? ` (in all ${1 + retries.length} runs of test_zswap)` : '';
  for (const c of base.selftest.cases.filter((c) => c.status === 'fail')) base.evidence.push(`selftest case failed: ${c.name}${every}`);
  for (const c of base.selftest.cases.filter((c) => c.status === 'flaky')) base.evidence.push(`selftest case flaky: ${c.name} ${c.directive}`);
}

async function tapCases(file: string, problems: string[]): Promise<{ cases: TapCase[]; plan?: number } | undefined> {
  const r = await guestText(file, LIMITS.tap, problems);
  if (!r) return undefined;
  const tap = parseTap(r.text);
  // kselftest output is duplicated when a forked child flushes the parent's buffer: keep one per number.
  const byNumber = new Map<number, TapCase>();
  for (const c of tap.cases) byNumber.set(c.number, c);
  return { cases: [...byNumber.values()].sort((a, b) => a.number - b.number), plan: tap.plan };
}

/** Tasks stuck in zswap/mm across the blocked-task dumps suite.sh took when a workload ran past its budget. */
async function blockedEvidence(runDir: string, name: string, evidence: string[]): Promise<BlockedTask[]> {
  const problems: string[] = [];
  const stuck: BlockedTask[] = [];
  for (const f of [`${name}.blocked`, `${name}-reject.blocked`]) {
    const r = await guestText(path.join(runDir, f), LIMITS.blocked, problems);
    if (r) stuck.push(...stuckTasks(parseBlockedDumps(r.text)));
  }
  for (const p of problems) evidence.push(`blocked-task dump: ${p}`);
  for (const t of stuck.slice(0, 3)) evidence.push(`stuck in D state in both dumps: ${t.comm} (pid ${t.pid})\n${t.frames.slice(0, 16).join('\n')}`);
  return stuck;
}

/** Console findings that by themselves say the kernel hung. */
const HANG_KINDS: readonly FindingKind[] = ['hung task', 'soft lockup', 'hard lockup', 'RCU stall'];

/**
 * A test that ran past its budget (test_zswap's SELFTEST_TIMEOUT, a workload's TEST_TIMEOUT) is a
 * kernel `fail: hang` only with evidence that the kernel hung: a hung-task, lockup or RCU-stall
 * report on the console during the test, or a task stuck at the same place in zswap/mm code in
 * both blocked-task dumps (see stuckTasks). Without evidence the budget was ours and too small
 * (debug kernels under TCG are slow): the suite carried on and wrote this record after the
 * timeout, so the kernel was still responsive, and the verdict is `error`.
 */
export function timeoutVerdict(name: string, rec: GuestTestLine, findings: readonly Finding[], stuck: readonly BlockedTask[]): { verdict: 'fail' | 'error'; reason: string } | undefined {
  if (rec.timeout !== true && rec.hung !== true) return undefined;
  const budget = rec.timeout_s !== undefined ? `${rec.timeout_s}s` : 'time';
  const hang = findings.find((f) => HANG_KINDS.includes(f.kind));
  if (hang) return { verdict: 'fail', reason: `hang: ${name} ran past its ${budget} budget and the kernel reported ${findingTitle(hang)}` };
  const t = stuck[0];
  if (t) {
    const where = t.frames.find((f) => !/^_*(?:schedule|io_schedule|schedule_\w+|rwsem_down\w*|mutex_lock\w*|\w+_slowpath)$/.test(f)) ?? t.frames[0];
    return { verdict: 'fail', reason: `hang: ${name} ran past its ${budget} budget; ${stuck.length} task(s) stuck in D state in both blocked-task dumps, first ${t.comm} (pid ${t.pid}) in ${where}` };
  }
  return { verdict: 'error', reason: `${name} ran past its ${budget} budget (ours); the kernel was still responsive${rec.hung ? ' (no task stuck in zswap/mm in the blocked-task dumps)' : ''}` };
}

/** Trace conformance and the counter oracle; returns the replay's stats when the trace was judged. */
async function judgeTrace(input: JudgeInput, rec: GuestTestLine, base: TestJudgement): Promise<LifetimeStats | undefined> {
  const { name, runDir } = input;
  const tracing = input.tracing!;
  const era = tracing.probes.api ? probedEra(tracing.probes.api) : undefined;
  const missingRequired = [...tracing.probes.missing, ...tracing.failed].filter((m) => (REQUIRED_FUNCTIONS as readonly string[]).includes(m.fn));
  if (missingRequired.length > 0) {
    base.conformance = { verdict: 'skipped', reason: `probe(s) not placed: ${describeMissingProbes(missingRequired)}` };
    return undefined;
  }
  const problems: string[] = [];
  const trace = await guestText(path.join(runDir, `${name}.trace`), LIMITS.trace, problems);
  const incomplete = await traceCompleteness(runDir, name, problems);
  if (problems.length) {
    base.conformance = { verdict: 'error', reason: problems.join('; ') };
    base.counterOracle = { verdict: 'skipped', reason: 'the trace cannot be judged' };
    return undefined;
  }
  if (!trace) {
    base.conformance = { verdict: 'skipped', reason: 'no trace came back from the guest' };
    return undefined;
  }
  const parsed = parseTraceText(trace.text);
  const why = [
    trace.truncated ? `${name}.trace is over ${LIMITS.trace} bytes` : '',
    parsed.lost + incomplete.lost > 0 ? `${parsed.lost + incomplete.lost} event(s) lost to ring buffer overrun` : '',
    incomplete.missed.total > 0 ? `${incomplete.missed.total} probe hit(s) missed (${incomplete.missed.detail})` : '',
  ].filter(Boolean);
  if (why.length) {
    // A history with holes cannot be judged: skipping is honest, passing or failing is not.
    base.conformance = { verdict: 'skipped', reason: `history incomplete: ${why.join(', ')}`, events: parsed.events.length };
    base.counterOracle = { verdict: 'skipped', reason: `history incomplete: ${why.join(', ')}` };
    return undefined;
  }
  const replayed = safely(() => {
    const { calls } = decodeTrace(parsed.events, era?.id);
    return { calls, replay: replayHistory(calls, { window: 6 }, era?.model) };
  });
  if ('error' in replayed) {
    base.conformance = { verdict: 'error', reason: `${name}.trace cannot be decoded: ${replayed.error}`, events: parsed.events.length };
    base.counterOracle = { verdict: 'skipped', reason: 'the trace cannot be judged' };
    return undefined;
  }
  const { calls, replay } = replayed;
  // A broken kernel can break a rule a hundred thousand times: keep the first ones (the reason
  // carries the count). Spreading them all would overflow the call stack.
  base.violations.push(...replay.violations.slice(0, MAX_KEPT_VIOLATIONS));
  const inconclusiveSlots = replay.inconclusive.length;
  base.conformance = replay.violations.length
    ? { verdict: 'fail', reason: `${replay.violations.length} model violation(s), first: ${replay.violations[0]!.rule}: ${replay.violations[0]!.message}`, events: parsed.events.length, inconclusiveSlots }
    : {
        verdict: 'pass',
        reason: `${calls.length} zswap calls on ${replay.slotsChecked} slots replay through the model${inconclusiveSlots ? ` (${inconclusiveSlots} slot(s) too concurrent to decide, not blamed)` : ''}`,
        events: parsed.events.length,
        inconclusiveSlots,
      };
  base.counterOracle = counterOracle(rec, replay.stats, base.violations);
  return replay.stats;
}

/** What the guest measured about the trace's holes: lost events (trace-lost.json) and missed probe hits (kprobe_profile). */
async function traceCompleteness(runDir: string, name: string, problems: string[]): Promise<{ lost: number; missed: { total: number; detail: string } }> {
  const lostFile = await readRecords(path.join(runDir, `${name}.trace-lost.json`), TraceLostSchema, { maxBytes: MAX_BYTES.traceLost, required: true });
  problems.push(...lostFile.errors.map(formatProtocolError));
  if (lostFile.errors.length === 0 && lostFile.records.length !== 1) problems.push(`${name}.trace-lost.json: expected one record, found ${lostFile.records.length}`);
  const l = lostFile.records[0]?.record;
  const before = await guestText(path.join(runDir, `${name}.kprobe_profile.before`), LIMITS.profile, problems);
  const after = await guestText(path.join(runDir, `${name}.kprobe_profile.after`), LIMITS.profile, problems);
  // Without the after-read nobody can say whether the kernel dropped probe hits.
  if (!after) problems.push(`${name}.kprobe_profile.after is missing: cannot tell whether probe hits were missed`);
  return { lost: l ? l.overrun + l.dropped + l.unread : 0, missed: missedProbeHits(before?.text, after?.text) };
}

/** The counter oracle over the counters the guest reported; a counter missing from a sample is skipped, by name. */
function counterOracle(rec: GuestTestLine, stats: LifetimeStats, violations: Violation[]): CheckOutcome & { findings?: CounterFinding[]; skipped?: SkippedCounter[] } {
  const before = rec.counters_before;
  const after = rec.counters_after;
  // The guest reads its counters inside the traced window, so the bracket is the samples themselves.
  const c = checkCounters(before, after, stats, { bracket: { tracingOn: before, tracingOff: after } });
  violations.push(...c.violations);
  const notChecked = c.skipped.length ? `; not checked: ${c.skipped.map((s) => s.reason).join('; ')}` : '';
  if (c.violations.length) {
    const bad = c.findings.filter((f) => !f.ok).map((f) => `${f.counter} moved ${f.observed}, events say ${f.counted} (allowed ${f.max === Infinity ? `at least ${f.min}` : `${f.min}..${f.max}`})`);
    return { verdict: 'fail', reason: bad.join('; ') + notChecked, findings: c.findings, skipped: c.skipped };
  }
  if (c.findings.length === 0) return { verdict: 'skipped', reason: `no counter could be checked: ${c.skipped.map((s) => s.reason).join('; ')}`, skipped: c.skipped };
  return { verdict: 'pass', reason: `${c.findings.map((f) => f.counter).join(', ')} agree with the traced events${notChecked}`, findings: c.findings, skipped: c.skipped };
}

/** The tests that cannot do their job without zswap storing pages. */
const MUST_STORE: readonly string[] = ['swap-cycle', 'writeback', 'swapoff-race', 'cpu-hotplug', 'fault-race'];

/**
 * A test that must store pages in zswap but stored none tested nothing of zswap: `fail` (the
 * suite enabled zswap and checked it reads Y, so zswap was on), `error` when no count exists.
 */
function storedSomething(name: string, base: TestJudgement): { verdict: 'fail' | 'error'; reason: string } | undefined {
  if (!MUST_STORE.includes(name)) return undefined;
  const store = base.coverage.find((c) => c.path === 'store');
  if (!store) {
    const why = base.counters && !(typeof base.counters.before.zswpout === 'number' && typeof base.counters.after.zswpout === 'number') ? 'zswpout is missing from the counters' : 'no trace or counter counts stores';
    return { verdict: 'error', reason: `cannot tell whether zswap stored anything: ${why}` };
  }
  if (store.count > 0) return undefined;
  const how =
    store.source === 'trace'
      ? 'no zswap_store succeeded in the trace'
      : `zswpout ${base.counters?.before.zswpout ?? '?'} → ${base.counters?.after.zswpout ?? '?'}`;
  return { verdict: 'fail', reason: `zswap stored nothing: ${how} while ${name} ran with zswap enabled` };
}

/** The verdict: the workload's status, the console, the model and the oracles together. */
function decide(input: JudgeInput, rec: GuestTestLine, base: TestJudgement, problems: string[], stuck: BlockedTask[], workload: WorkloadReport): void {
  const failures: string[] = [];
  const errors: string[] = [];
  /** outcomes that changed when repeated: not blamed, never a pass */
  const flakes: string[] = [];
  let skippedWhy: string | undefined;
  const first = input.findings[0];
  if (rec.status === 'error') errors.push(rec.reason ?? 'the guest could not run this test');
  else if (rec.status === 'skip') skippedWhy = rec.reason ?? 'skipped in the guest';
  else if (rec.status === 'fail') {
    const timeout = timeoutVerdict(input.name, rec, input.findings, stuck);
    if (base.badPagesTotal) failures.push(`${base.badPagesTotal} page(s) read back wrong, first: ${describeBadPage(base.badPages[0]!)}`);
    const failedCases = base.selftest?.cases.filter((c) => c.status === 'fail') ?? [];
    const flakyCases = base.selftest?.cases.filter((c) => c.status === 'flaky') ?? [];
    const runs = base.selftest?.runs ?? 1;
    if (failedCases.length) failures.push(`selftest case(s) failed${runs > 1 ? ` in all ${runs} runs` : ''}: ${failedCases.map((c) => c.name).join(', ')}`);
    if (flakyCases.length) flakes.push(`selftest case(s) flaky: ${flakyCases.map((c) => `${c.name} (${c.directive})`).join(', ')}`);
    if (timeout) (timeout.verdict === 'fail' ? failures : errors).push(timeout.reason);
    if (timeout?.verdict === 'fail') base.failure = 'hang';
    else if (!timeout && !failures.length && !flakes.length) {
      if (base.selftest || input.name === 'selftest-zswap') {
        failures.push(`selftest exited ${rec.rc ?? '?'}`);
        base.failure = 'workload-exit';
      } else {
        // Each nonzero run: ours when it could not run at all (and the kernel said nothing), else the kernel's.
        const runs = [
          { rc: rec.rc, error: workload.error.main, label: '' },
          { rc: rec.reject_rc, error: workload.error.reject, label: 'the rejected-store run: ' },
        ].filter((r): r is { rc: number; error: string | undefined; label: string } => r.rc !== undefined && r.rc !== 0);
        for (const r of runs) {
          const ours = workloadCouldNotRun(r.rc, r.error);
          if (ours && !first) errors.push(`${r.label}${ours}`);
          else {
            const why = r.rc === 3 && !r.error && workload.swapFailures.length ? `: ${workload.swapFailures.slice(0, 3).join('; ')}` : ours ? ` (${ours})` : '';
            failures.push(`${r.label}the workload failed (exit ${r.rc})${why}`);
            base.failure = 'workload-exit';
          }
        }
        if (!runs.length) {
          failures.push(`the workload failed (exit ${rec.rc ?? '?'})`);
          base.failure = 'workload-exit';
        }
      }
    }
  }
  if (input.setupFailure) failures.push(`the kernel failed the suite's setup: ${input.setupFailure}`);
  if (first) failures.push(`kernel: ${findingTitle(first)}`);
  // Not when the run could not start or ran out of our budget: that stored nothing for our reasons.
  // "Cannot tell" is added only when nothing else already makes the test an error.
  const stored = rec.status === 'pass' || (rec.status === 'fail' && errors.length === 0) ? storedSomething(input.name, base) : undefined;
  if (stored?.verdict === 'fail') failures.push(stored.reason);
  errors.push(...problems);
  const checkErrors = [base.conformance, base.dataOracle, base.counterOracle].some((c) => c.verdict === 'error');
  if (stored?.verdict === 'error' && errors.length === 0 && failures.length === 0 && !checkErrors) errors.push(stored.reason);
  base.workloadVerdict = rec.status === 'error' ? 'error' : failures.length ? 'fail' : errors.length ? 'error' : flakes.length ? 'flaky' : skippedWhy ? 'skipped' : 'pass';
  const checks = [base.conformance, base.dataOracle, base.counterOracle];
  if (rec.status !== 'error') {
    for (const check of checks) if (check.verdict === 'fail') failures.push(check.reason);
    for (const check of checks) if (check.verdict === 'error') errors.push(check.reason);
  }
  const verdicts = checks.map((c) => c.verdict);
  base.modelVerdict = verdicts.includes('fail') ? 'fail' : verdicts.includes('error') ? 'error' : verdicts.includes('pass') ? 'pass' : 'skipped';
  for (const v of base.violations.slice(0, 5)) base.evidence.push(`${v.rule}: ${v.message}`);
  // What the kernel visibly did wrong stands even when part of the judging could not be done;
  // errors are still listed with it.
  base.verdict = rec.status === 'error' ? 'error' : failures.length ? 'fail' : errors.length ? 'error' : flakes.length ? 'flaky' : skippedWhy ? 'skipped' : 'pass';
  const reasons = [...(rec.status === 'error' ? errors : [...failures, ...errors, ...flakes]), ...(skippedWhy ? [skippedWhy] : [])];
  base.summary = reasons.length ? reasons.join('; ') : `passed${base.gaps.length ? `, but never ran: ${base.gaps.map((g) => base.coverage.find((c) => c.path === g)?.label ?? LIFETIME_PATHS[g as LifetimePath] ?? g).join(', ')}` : ''}`;
}

export interface RunJudgeInput {
  runDir: string;
  tests: readonly string[];
  boot: BootOutcome;
  /** console findings, each with the test that was running (index.ts attributeFindings) */
  findings: (Finding & { test?: string })[];
  /** when traced: the probe plan and which tests were traced */
  tracing?: { probes: ProbePlan; tests: readonly string[] };
}

export interface RunJudgement {
  tests: TestJudgement[];
  artifacts: SuiteArtifacts;
  /** protocol errors no test claims (e.g. a garbage line in results.jsonl): the run is `error` */
  suiteErrors: string[];
  /** the tests' verdicts and suiteErrors together (orphan console findings are the caller's) */
  verdict: Verdict;
}

/** Judges a whole run directory from what the guest left there: live after the boot, or offline later. */
export async function judgeRunDir(input: RunJudgeInput): Promise<RunJudgement> {
  const artifacts = await readSuiteArtifacts(input.runDir);
  const setupError = setupErrorOf(artifacts);
  const setupFailure = setupFailureOf(artifacts);
  // The host's own console capture: if it cannot be read, a panic in it would go unseen.
  const consoleRead = await readUntrusted(input.boot.consoleLog, { maxBytes: LIMITS.console });
  const consoleError = consoleRead.ok ? undefined : `the console cannot be read: ${consoleRead.reason}`;
  const tests: TestJudgement[] = [];
  for (const name of input.tests) {
    const { record, errors } = resultFor(artifacts, name);
    tests.push(
      await judgeTest({
        name,
        line: record,
        runDir: input.runDir,
        boot: input.boot,
        findings: foldRepeats(input.findings.filter((f) => f.test === name)),
        tracing: input.tracing?.tests.includes(name) ? { probes: input.tracing.probes, placed: artifacts.probes.placed, failed: artifacts.probes.failed } : undefined,
        setupError,
        setupFailure,
        consoleError,
        recordErrors: errors,
        suiteDone: artifacts.status?.state === 'done',
      }),
    );
  }
  const suiteErrors = unclaimedErrors(artifacts, input.tests);
  return { tests, artifacts, suiteErrors, verdict: combineVerdicts([...tests.map((t) => t.verdict), ...(suiteErrors.length ? (['error'] as const) : [])]) };
}

/** Counter samples as the plots want them, from `<test>.samples` text (one SampleRecord a line). */
export function parseSamples(text: string): { samples: { t: number; values: Record<string, number> }[]; errors: string[] } {
  const { records, errors } = parseRecords(text, SampleSchema, 'samples');
  return { samples: records.map(({ record }) => ({ t: record.t_ms / 1000, values: record.counters })), errors: errors.map(formatProtocolError) };
}

/** Decoding a guest's trace can meet anything: a throw becomes a reason, never an exception out of judging. */
function safely<T>(fn: () => T): T | { error: string } {
  try {
    return fn();
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Misses per probe between two reads of tracefs kprobe_profile (`event hits misses`). */
export function missedProbeHits(before?: string, after?: string): { total: number; detail: string } {
  if (!after) return { total: 0, detail: '' };
  const parse = (text?: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const line of (text ?? '').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 3 && /^\d+$/.test(f[2]!)) m.set(f[0]!, Number(f[2]));
    }
    return m;
  };
  const b = parse(before);
  const parts: string[] = [];
  let total = 0;
  for (const [event, misses] of parse(after)) {
    const d = misses - (b.get(event) ?? 0);
    if (d > 0) {
      total += d;
      parts.push(`${event} ${d}`);
    }
  }
  return { total, detail: parts.join(', ') };
}

/**
 * Replays a trace file cut short by a dying guest: calls still open at the end are pending, and
 * only violations the history up to that point proves are reported.
 */
async function replayFile(file: string, opts: { partial: boolean; consoleText?: string; era?: ApiEra }): Promise<{ conformance: CheckOutcome & { events?: number }; violations: Violation[]; stats?: LifetimeStats }> {
  const r = await readUntrusted(file, { maxBytes: LIMITS.trace });
  if (!r.ok) return { conformance: { verdict: 'error', reason: r.reason }, violations: [] };
  const parsed = parseTraceText(r.text);
  if (parsed.lost > 0) return { conformance: { verdict: 'skipped', reason: `history incomplete: ${parsed.lost} event(s) lost` }, violations: [] };
  const replayed = safely(() => {
    const merged = mergeWithDump(parsed.events, opts.consoleText ? parseFtraceDump(opts.consoleText) : []);
    // Events between the file and the oops dump never reached us: the model forgets across them.
    const calls = withGaps(decodeTrace(merged.events, opts.era?.id).calls, merged.gap ? [merged.gap] : []);
    return { calls, gap: merged.gap, replay: replayHistory(calls, { window: 6 }, opts.era?.model) };
  });
  if ('error' in replayed) return { conformance: { verdict: 'error', reason: `${path.basename(file)} cannot be decoded: ${replayed.error}` }, violations: [] };
  const { calls, gap, replay } = replayed;
  const where = opts.partial ? ' in the history up to the crash' : '';
  // Under the counter clock the gap's width is the number of events missing (a page switch
  // takes a number too, hence "up to").
  const unseen = gap ? `; up to ${gap.before - gap.after - 1} event(s) between the streamed trace and the oops dump never reached the host, and the model forgets every slot across them` : '; the rest was never recorded';
  return {
    conformance: replay.violations.length
      ? { verdict: 'fail', reason: `${replay.violations.length} model violation(s)${where}, first: ${replay.violations[0]!.rule}: ${replay.violations[0]!.message}`, events: parsed.events.length }
      : { verdict: 'skipped', reason: `the history up to the crash (${calls.length} calls) breaks no rule${unseen}`, events: parsed.events.length },
    violations: replay.violations,
    stats: replay.stats,
  };
}
