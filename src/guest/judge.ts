import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BootOutcome } from '../boot/vm.js';
import type { Finding } from '../boot/triage.js';
import type { Verdict } from '../common/verdict.js';
import { checkCounters, type CounterFinding } from '../model/counters.js';
import { checkData } from '../model/data-oracle.js';
import { LIFETIME_PATHS, replayTrace, type LifetimePath, type LifetimeStats } from '../model/replay.js';
import type { Violation } from '../model/rules.js';
import { describeBadPage, parseDataLog, parseTap, parseWorkloadOutput, toSnapshot, type BadPage, type GuestTestLine, type TapCase } from './results.js';
import { REQUIRED_FUNCTIONS, decodeTrace, mergeWithDump, parseFtraceDump, parseTraceText, withGaps, type ProbePlan } from './trace-capture.js';

export type CheckVerdict = 'pass' | 'fail' | 'skipped' | 'error';

export interface CheckOutcome {
  verdict: CheckVerdict;
  reason: string;
}

export interface CoverageEntry {
  path: string;
  label: string;
  count: number;
  source: 'trace' | 'counters';
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
  counterOracle: CheckOutcome & { findings?: CounterFinding[] };
  findings: Finding[];
  selftest?: { cases: TapCase[]; plan?: number };
  /** zswap counters sampled once a second while the test ran */
  samples: { t: number; values: Record<string, number> }[];
  evidence: string[];
  logs: Record<string, string>;
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
};

interface JudgeInput {
  name: string;
  line?: GuestTestLine;
  runDir: string;
  boot: BootOutcome;
  findings: Finding[];
  tracing?: { probes: ProbePlan; placed: string[]; failed: { fn: string; reason: string }[] };
  setupError?: string;
}

const read = async (p: string): Promise<string | undefined> => (existsSync(p) ? readFile(p, 'utf8') : undefined);

function deltaOf(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const k of Object.keys(after)) d[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return d;
}

/** Coverage from vmstat/debugfs alone, for a run without a trace. */
function coverageFromCounters(delta: Record<string, number>): CoverageEntry[] {
  const rejects = Object.entries(delta).filter(([k]) => k.startsWith('reject_')).reduce((s, [, v]) => s + v, 0);
  const entry = (p: LifetimePath, count: number): CoverageEntry => ({ path: p, label: LIFETIME_PATHS[p], count, source: 'counters' });
  return [entry('store', delta.zswpout ?? 0), entry('loadHit', delta.zswpin ?? 0), entry('writeback', delta.zswpwb ?? 0), entry('storeFailed', rejects)];
}

function coverageFromStats(stats: LifetimeStats): CoverageEntry[] {
  return (Object.keys(LIFETIME_PATHS) as LifetimePath[]).map((p) => ({ path: p, label: LIFETIME_PATHS[p], count: stats[p], source: 'trace' as const }));
}

export async function judgeTest(input: JudgeInput): Promise<TestJudgement> {
  const { name, line, runDir, boot } = input;
  const logs: Record<string, string> = {};
  for (const [k, f] of [
    ['workload', `${name}.out`],
    ['reject-workload', `${name}-reject.out`],
    ['trace', `${name}.trace`],
    ['data', `${name}.data`],
    ['tap', `${name}.tap`],
  ] as const) {
    if (existsSync(path.join(runDir, f))) logs[k] = path.join(runDir, f);
  }
  const evidence: string[] = [];
  const violations: Violation[] = [];
  const base: TestJudgement = {
    name,
    verdict: 'pass',
    workloadVerdict: 'pass',
    modelVerdict: 'skipped',
    summary: '',
    coverage: [],
    gaps: [],
    badPages: [],
    badPagesTotal: 0,
    violations,
    conformance: { verdict: 'skipped', reason: 'not traced' },
    dataOracle: { verdict: 'skipped', reason: 'no data log' },
    counterOracle: { verdict: 'skipped', reason: 'no trace to count events from' },
    findings: input.findings,
    samples: [],
    evidence,
    logs,
  };

  if (!line) {
    const consoleText = await readFile(boot.consoleLog, 'utf8').catch(() => '');
    const started = consoleText.includes(`kharness-guest: test ${name}: start`);
    if (boot.status === 'error') return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `not run: ${boot.reason}` };
    if (input.setupError) {
      return { ...base, verdict: 'error', workloadVerdict: 'error', summary: `the guest suite could not set up: ${input.setupError}` };
    }
    if (started) {
      const first = input.findings[0];
      // The trace went straight to the host: replay the history up to the crash, so the
      // model can name the events that led to it.
      if (input.tracing && logs.trace) {
        const partial = await replayFile(logs.trace, { partial: true, consoleText });
        base.conformance = partial.conformance;
        violations.push(...partial.violations.slice(0, MAX_KEPT_VIOLATIONS));
        base.modelVerdict = partial.conformance.verdict === 'fail' ? 'fail' : 'skipped';
        if (partial.stats) base.coverage = coverageFromStats(partial.stats);
      }
      for (const v of violations.slice(0, 3)) evidence.push(`${v.rule}: ${v.message}`);
      // The splat itself says more than the console's last lines (often the oops's ftrace dump).
      if (first) evidence.push(first.excerpt.split('\n').slice(0, 24).join('\n'));
      else evidence.push(`console tail:\n${boot.consoleTail.split('\n').filter((l) => !DUMP_LINE.test(l)).slice(-20).join('\n')}`);
      return {
        ...base,
        verdict: 'fail',
        workloadVerdict: 'fail',
        summary: `${boot.status === 'completed' ? 'did not finish' : boot.status} while running: ${first ? `${first.title}${first.function ? ` (in ${first.function})` : ''}` : boot.reason}`,
      };
    }
    return { ...base, verdict: 'skipped', workloadVerdict: 'skipped', summary: `not reached: the VM ${boot.status === 'completed' ? 'ended' : `ended (${boot.status})`} before this test` };
  }

  const samplesText = await read(path.join(runDir, `${name}.samples`));
  if (samplesText) base.samples = parseSamples(samplesText);
  const before = line.counters_before ?? {};
  const after = line.counters_after ?? {};
  const delta = deltaOf(before, after);
  base.counters = { before, after, delta };
  base.durationMs = line.duration_ms;

  // The workload's own page checks: exactly which page held which wrong data.
  for (const key of ['workload', 'reject-workload'] as const) {
    const text = logs[key] ? await read(logs[key]!) : undefined;
    if (!text) continue;
    const out = parseWorkloadOutput(text);
    base.badPages.push(...out.bad);
    base.badPagesTotal += out.badTotal ?? out.bad.length;
    if (out.error) evidence.push(`workload error: ${out.error}`);
  }
  for (const b of base.badPages.slice(0, 8)) evidence.push(describeBadPage(b));

  // Data oracle: every read against the model's prediction from the workload's own log.
  const dataFiles = [`${name}.data`, `${name}-reject.data`].map((f) => path.join(runDir, f)).filter((f) => existsSync(f));
  if (dataFiles.length > 0) {
    let reads = 0;
    let mismatches = 0;
    for (const f of dataFiles) {
      const result = checkData(parseDataLog(await readFile(f, 'utf8')));
      reads += result.reads;
      mismatches += result.mismatches.length;
      violations.push(...result.violations.slice(0, 20));
    }
    base.dataOracle = mismatches
      ? { verdict: 'fail', reason: `${mismatches} read(s) saw data other than the model predicts`, reads }
      : { verdict: 'pass', reason: `${reads} reads all saw the predicted version`, reads };
  }

  // Trace conformance and the counter oracle.
  let stats: LifetimeStats | undefined;
  if (input.tracing) {
    const missing = [...input.tracing.probes.missing, ...input.tracing.failed];
    const missingRequired = missing.filter((m) => (REQUIRED_FUNCTIONS as readonly string[]).includes(m.fn));
    const traceText = logs.trace ? await read(logs.trace) : undefined;
    const lostText = await read(path.join(runDir, `${name}.trace-lost`));
    const lostOverrun = Number(lostText?.trim() ?? '0') || 0;
    const missed = missedProbeHits(await read(path.join(runDir, `${name}.kprobe_profile.before`)), await read(path.join(runDir, `${name}.kprobe_profile.after`)));
    if (missingRequired.length > 0) {
      base.conformance = { verdict: 'skipped', reason: `probe(s) not placed: ${missingRequired.map((m) => `${m.fn} (${m.reason})`).join('; ')}` };
    } else if (traceText === undefined) {
      base.conformance = { verdict: 'skipped', reason: 'no trace came back from the guest' };
    } else {
      const parsed = parseTraceText(traceText);
      const lost = parsed.lost + lostOverrun;
      if (lost > 0 || missed.total > 0) {
        // A history with holes cannot be judged: skipping is honest, passing or failing is not.
        const why = [lost > 0 ? `${lost} event(s) lost to ring buffer overrun` : '', missed.total > 0 ? `${missed.total} probe hit(s) missed (${missed.detail})` : ''].filter(Boolean).join(', ');
        base.conformance = { verdict: 'skipped', reason: `history incomplete: ${why}`, events: parsed.events.length };
        base.counterOracle = { verdict: 'skipped', reason: `history incomplete: ${why}` };
      } else {
        const { calls } = decodeTrace(parsed.events);
        const replay = replayTrace(calls, { window: 6 });
        stats = replay.stats;
        // A broken kernel can break a rule a hundred thousand times: keep the first ones (the
        // reason carries the count). Spreading them all would overflow the call stack.
        violations.push(...replay.violations.slice(0, MAX_KEPT_VIOLATIONS));
        base.conformance = replay.violations.length
          ? { verdict: 'fail', reason: `${replay.violations.length} model violation(s), first: ${replay.violations[0]!.rule}: ${replay.violations[0]!.message}`, events: parsed.events.length, inconclusiveSlots: replay.inconclusive.length }
          : {
              verdict: 'pass',
              reason: `${calls.length} zswap calls on ${replay.slotsChecked} slots replay through the model${replay.inconclusive.length ? ` (${replay.inconclusive.length} slot(s) too concurrent to decide, not blamed)` : ''}`,
              events: parsed.events.length,
              inconclusiveSlots: replay.inconclusive.length,
            };
        if (Object.keys(before).length && Object.keys(after).length) {
          const counters = checkCounters(toSnapshot(before), toSnapshot(after), replay.stats, { bracket: { tracingOn: toSnapshot(before), tracingOff: toSnapshot(after) } });
          violations.push(...counters.violations);
          base.counterOracle = counters.violations.length
            ? { verdict: 'fail', reason: counters.findings.filter((f) => !f.ok).map((f) => `${f.counter} moved ${f.observed}, events say ${f.counted} (allowed ${f.max === Infinity ? `at least ${f.min}` : `${f.min}..${f.max}`})`).join('; '), findings: counters.findings }
            : { verdict: 'pass', reason: 'stored_pages, written_back_pages, zswpout, zswpin, zswpwb agree with the traced events', findings: counters.findings };
        }
      }
    }
    if (!traceText && logs.trace === undefined) await writeFile(path.join(runDir, `${name}.trace.missing`), 'no trace\n').catch(() => undefined);
  }

  base.coverage = stats ? coverageFromStats(stats) : coverageFromCounters(delta);
  const expected = EXPECTED_PATHS[name] ?? [];
  base.gaps = expected.filter((p) => {
    const c = base.coverage.find((e) => e.path === p);
    return c !== undefined && c.count === 0;
  });
  if (!stats) {
    const unknown = expected.filter((p) => !base.coverage.some((e) => e.path === p));
    if (unknown.length) evidence.push(`not measurable without a trace: ${unknown.map((p) => LIFETIME_PATHS[p]).join(', ')}`);
  }

  if (name === 'selftest-zswap' && logs.tap) {
    const tap = parseTap((await read(logs.tap)) ?? '');
    // kselftest output is duplicated when a forked child flushes the parent's buffer: keep one per number.
    const byNumber = new Map<number, TapCase>();
    for (const c of tap.cases) byNumber.set(c.number, c);
    base.selftest = { cases: [...byNumber.values()].sort((a, b) => a.number - b.number), plan: tap.plan };
    for (const c of base.selftest.cases.filter((c) => c.status === 'fail')) evidence.push(`selftest case failed: ${c.name}`);
  }

  // Verdict: the workload's status, the console, the model and the oracles together.
  const reasons: string[] = [];
  let verdict: Verdict = 'pass';
  if (line.status === 'error') {
    verdict = 'error';
    reasons.push(String(line.reason ?? 'the guest could not run this test'));
  } else if (line.status === 'skip') {
    verdict = 'skipped';
    reasons.push(String(line.reason ?? 'skipped in the guest'));
  }
  if (verdict !== 'error') {
    if (line.status === 'fail') {
      verdict = 'fail';
      if (line.hung === true) reasons.push(`hung: the workload did not finish within ${String(line.timeout_s ?? '?')}s (blocked tasks are on the console)`);
      else if (base.badPagesTotal) reasons.push(`${base.badPagesTotal} page(s) read back wrong, first: ${describeBadPage(base.badPages[0]!)}`);
      else if (base.selftest) reasons.push(`selftest case(s) failed: ${base.selftest.cases.filter((c) => c.status === 'fail').map((c) => c.name).join(', ') || `exit ${line.rc}`}`);
      else reasons.push(`the workload failed (exit ${line.rc ?? '?'})`);
    }
    if (input.findings.length) {
      verdict = 'fail';
      reasons.push(`kernel: ${input.findings[0]!.title}${input.findings[0]!.function ? ` (in ${input.findings[0]!.function})` : ''}`);
    }
    base.workloadVerdict = verdict;
    for (const check of [base.conformance, base.dataOracle, base.counterOracle]) {
      if (check.verdict === 'fail') {
        verdict = 'fail';
        reasons.push(check.reason);
      }
    }
  } else base.workloadVerdict = verdict;
  const checks = [base.conformance, base.dataOracle, base.counterOracle].map((c) => c.verdict);
  base.modelVerdict = checks.includes('fail') ? 'fail' : checks.includes('error') ? 'error' : checks.includes('pass') ? 'pass' : 'skipped';
  for (const v of violations.slice(0, 5)) evidence.push(`${v.rule}: ${v.message}`);
  base.verdict = verdict;
  base.summary = reasons.length ? reasons.join('; ') : `passed${base.gaps.length ? `, but never ran: ${base.gaps.map((g) => LIFETIME_PATHS[g as LifetimePath]).join(', ')}` : ''}`;
  return base;
}

/** `MS {json}` lines from the guest's sampler. */
export function parseSamples(text: string): { t: number; values: Record<string, number> }[] {
  const out: { t: number; values: Record<string, number> }[] = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    try {
      out.push({ t: Number(line.slice(0, sp)) / 1000, values: JSON.parse(line.slice(sp + 1)) as Record<string, number> });
    } catch {
      /* a line cut by the VM ending */
    }
  }
  return out;
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
async function replayFile(file: string, opts: { partial: boolean; consoleText?: string }): Promise<{ conformance: CheckOutcome & { events?: number }; violations: Violation[]; stats?: LifetimeStats }> {
  const text = await readFile(file, 'utf8');
  const parsed = parseTraceText(text);
  if (parsed.lost > 0) return { conformance: { verdict: 'skipped', reason: `history incomplete: ${parsed.lost} event(s) lost` }, violations: [] };
  const merged = mergeWithDump(parsed.events, opts.consoleText ? parseFtraceDump(opts.consoleText) : []);
  // Events between the file and the oops dump never reached us: the model forgets across them.
  const calls = withGaps(decodeTrace(merged.events).calls, merged.gap ? [merged.gap] : []);
  const replay = replayTrace(calls, { window: 6 });
  const where = opts.partial ? ' in the history up to the crash' : '';
  return {
    conformance: replay.violations.length
      ? { verdict: 'fail', reason: `${replay.violations.length} model violation(s)${where}, first: ${replay.violations[0]!.rule}: ${replay.violations[0]!.message}`, events: parsed.events.length }
      : { verdict: 'skipped', reason: `the history up to the crash (${calls.length} calls) breaks no rule; the rest was never recorded`, events: parsed.events.length },
    violations: replay.violations,
    stats: replay.stats,
  };
}
