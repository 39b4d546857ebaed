import type { LifetimeStats } from './replay.js';
import type { Violation } from './rules.js';

/**
 * The counter oracle: the change of zswap's debugfs counters and of /proc/vmstat's zswap events
 * across the traced workload must match the events the trace counted. The bounds below follow the
 * 6.12 kernel's own accounting:
 *
 * - zswpout/zswpin/zswpwb are vm events: count_vm_event() bumps a per-cpu counter, and reading
 *   /proc/vmstat sums every online CPU's counter at read time (vm events are not folded lazily like
 *   the vm_stat zone counters; a CPU going offline folds its events into another). So every event
 *   that completed before the read is in it: the delta is at least what the trace counts.
 *   zswap_store bumps ZSWPOUT once per successful store, zswap_load bumps ZSWPIN once per hit
 *   (exclusive or not), zswap_writeback_entry bumps ZSWPWB once per successful writeback, each
 *   inside the traced call.
 * - stored_pages is an atomic_t: +1 in every successful store, -1 in every zswap_entry_free, both
 *   inside traced calls, so its change equals stores - frees exactly.
 * - written_back_pages is a plain u64 bumped in shrink_memcg_cb() after zswap_writeback_entry()
 *   returned, outside the traced call and without atomics: concurrent bumps can be lost, and the
 *   last bump of a task may land after tracing stopped. The trace bounds how many
 *   (LifetimeStats.writtenBackUnsettled); it can only be lower by that much, never higher.
 * - Calls whose return was not captured (trace cut) may or may not have counted yet: each widens
 *   the bound by one on the side it can move.
 * - Events outside the traced window only add (the vm events are monotonic). The guest reads the
 *   counters right before enabling and right after disabling tracing; whatever ran in those gaps is
 *   counted but not traced. With the `bracket` reads (taken right after enabling and right before
 *   disabling) the gaps are measured, not guessed; without them the caller states a bound
 *   (`untracedEvents`, default 0: the guest quiesces the workload around the reads).
 */

export const CHECKED_COUNTERS = ['stored_pages', 'written_back_pages', 'zswpout', 'zswpin', 'zswpwb', 'pswpout'] as const;
export type CheckedCounter = (typeof CHECKED_COUNTERS)[number];

/**
 * Counter readings as the guest sampled them. A counter the guest did not report is absent, never 0:
 * reading a missing counter as 0 would make the oracle blame the kernel for our sampling.
 */
export type CounterReadings = Readonly<Record<string, number>>;

export interface CounterCheckOptions {
  /** counters read right after tracing was enabled and right before it was disabled */
  bracket?: { tracingOn: CounterReadings; tracingOff: CounterReadings };
  /** without a bracket: at most this many untraced events of each kind fell between read and trace */
  untracedEvents?: number;
}

export interface CounterFinding {
  counter: CheckedCounter;
  /** after - before */
  observed: number;
  /** what the trace's events add up to */
  counted: number;
  min: number;
  max: number;
  ok: boolean;
  /** how the bounds were derived */
  why: string;
}

export interface SkippedCounter {
  counter: CheckedCounter;
  /** e.g. "zswpwb missing from the after-sample" */
  reason: string;
}

export interface CounterCheckResult {
  findings: CounterFinding[];
  /** counters that could not be checked: missing from a sample */
  skipped: SkippedCounter[];
  violations: Violation[];
}

const SAMPLE_NAMES = { before: 'before-sample', after: 'after-sample', tracingOn: 'tracing-on sample', tracingOff: 'tracing-off sample' } as const;
type SampleName = keyof typeof SAMPLE_NAMES;

function value(s: CounterReadings, name: CheckedCounter): number | undefined {
  const v = s[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function num(s: CounterReadings, name: CheckedCounter): number {
  const v = value(s, name);
  // checkCounters only computes a counter after missingFrom() found it in every sample.
  if (v === undefined) throw new TypeError(`counter ${name} missing`);
  return v;
}

export function checkCounters(before: CounterReadings, after: CounterReadings, stats: LifetimeStats, opts: CounterCheckOptions = {}): CounterCheckResult {
  const samples: [SampleName, CounterReadings][] = [['before', before], ['after', after]];
  if (opts.bracket) samples.push(['tracingOn', opts.bracket.tracingOn], ['tracingOff', opts.bracket.tracingOff]);
  const skipped: SkippedCounter[] = [];
  const missingFrom = (c: CheckedCounter): boolean => {
    const where = samples.find(([, s]) => value(s, c) === undefined);
    if (where) skipped.push({ counter: c, reason: `${c} missing from the ${SAMPLE_NAMES[where[0]]}` });
    return where !== undefined;
  };
  const findings = boundsFor(before, after, stats, opts).flatMap(([counter, make]) => (missingFrom(counter) ? [] : [make()]));
  for (const f of findings) f.ok = f.observed >= f.min && f.observed <= f.max;
  const violations: Violation[] = findings
    .filter((f) => !f.ok)
    .map((f) => ({
      rule: 'counter-mismatch' as const,
      message: `${f.counter} changed by ${f.observed}, expected ${f.min === f.max ? f.min : `${f.min}..${f.max}`} (${f.why})`,
      events: [],
    }));
  return { findings, skipped, violations };
}

/** Each checked counter with how to compute its finding; called only when all its readings exist. */
function boundsFor(before: CounterReadings, after: CounterReadings, stats: LifetimeStats, opts: CounterCheckOptions): [CheckedCounter, () => CounterFinding][] {
  // Events the ring buffer dropped were counted by the kernel but not by the trace: each may
  // raise any counter by one (or move stored_pages either way); an unknown number lifts the bound.
  const lost = stats.lost.gaps === 0 ? 0 : (stats.lost.events ?? Infinity);
  const lostWhy = lost === 0 ? '' : `; +${lost === Infinity ? 'any number of' : lost} events lost by the trace`;
  const delta = (c: CheckedCounter): number => num(after, c) - num(before, c);
  /** events of counter c that ran while counters were read but tracing was off */
  const gap = (c: CheckedCounter): { value: number; why: string } => {
    if (opts.bracket) {
      const { tracingOn, tracingOff } = opts.bracket;
      const v = num(tracingOn, c) - num(before, c) + (num(after, c) - num(tracingOff, c));
      return { value: v, why: `${v} counted in the untraced gaps (bracket reads)` };
    }
    const v = opts.untracedEvents ?? 0;
    return { value: v, why: v === 0 ? 'no untraced events allowed' : `up to ${v} untraced events` };
  };
  const monotonic = (counter: CheckedCounter, counted: number, pending: number, what: string) => (): CounterFinding => {
    const g = gap(counter);
    const max = counted + pending + Math.max(0, g.value) + lost;
    return { counter, observed: delta(counter), counted, min: counted, max, ok: false, why: `${counted} ${what}; +${pending} calls in flight at the trace's end; ${g.why}${lostWhy}` };
  };
  const writtenBack = (): CounterFinding => {
    const g = gap('written_back_pages');
    const counted = stats.writeback;
    return {
      counter: 'written_back_pages',
      observed: delta('written_back_pages'),
      counted,
      min: counted - stats.writtenBackUnsettled,
      max: counted + stats.pending.writeback + Math.max(0, g.value) + lost,
      ok: false,
      why: `${counted} successful writebacks; -${stats.writtenBackUnsettled} racy or late non-atomic bumps; +${stats.pending.writeback} in flight; ${g.why}${lostWhy}`,
    };
  };
  const storedPages = (): CounterFinding => {
    // A gauge: the gaps' net change is measured by the bracket; without it, bounded either way.
    const counted = stats.store - stats.free;
    const inFlight = stats.pending.store + stats.pending.freesInPendingCalls;
    let centre = counted;
    const slack = inFlight + (opts.untracedEvents ?? 0) + lost;
    let why = `${stats.store} stores - ${stats.free} frees; ±${inFlight} in flight`;
    if (opts.bracket) {
      const { tracingOn, tracingOff } = opts.bracket;
      const gapNet = num(tracingOn, 'stored_pages') - num(before, 'stored_pages') + (num(after, 'stored_pages') - num(tracingOff, 'stored_pages'));
      centre += gapNet;
      why += `; ${gapNet >= 0 ? '+' : ''}${gapNet} net in the untraced gaps (bracket reads)`;
    } else {
      why += `; ±${opts.untracedEvents ?? 0} untraced`;
    }
    return { counter: 'stored_pages', observed: delta('stored_pages'), counted, min: centre - slack, max: centre + slack, ok: false, why: why + lostWhy };
  };
  const pswpout = (): CounterFinding => {
    // Every page zswap wrote back, and every page whose store failed, is written to the swap
    // device by __swap_writepage(), which counts PSWPOUT as it submits the I/O, synchronously
    // inside the traced call. Zero-filled pages never reach zswap or the disk. So the disk
    // writes are at least those two counts; more can come from untraced gaps and large folios.
    const counted = stats.writeback + stats.storeFailed;
    return { counter: 'pswpout', observed: delta('pswpout'), counted, min: counted - lost, max: Infinity, ok: false, why: `${stats.writeback} writebacks + ${stats.storeFailed} failed stores must each reach the disk${lostWhy}` };
  };
  return [
    ['zswpout', monotonic('zswpout', stats.store, stats.pending.store, 'successful stores')],
    ['zswpin', monotonic('zswpin', stats.loadHit + stats.loadHitNonExclusive, stats.pending.load, 'load hits')],
    ['zswpwb', monotonic('zswpwb', stats.writeback, stats.pending.writeback, 'successful writebacks')],
    ['written_back_pages', writtenBack],
    ['stored_pages', storedPages],
    ['pswpout', pswpout],
  ];
}
