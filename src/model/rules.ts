import { UNKNOWN_TYPE, type Slot, type TraceCall } from './trace-types.js';

/**
 * The rules of DESIGN.md ("The reference model of zswap entry lifetimes"), one stable id each.
 * Trace replay, the oracles and the design checker all report violations by these ids.
 */
export const RULES = {
  'double-free': 'every entry is freed exactly once',
  'free-while-live': 'an entry is freed only after it left the tree',
  'free-without-entry': 'a free names an entry the slot never held (nothing explains where it came from)',
  'load-after-free': 'a load hit must not read an entry that was already freed',
  'load-hit-without-entry': 'a load hit needs a live entry at the slot',
  'lost-entry': 'a load must not miss while the slot has a live entry (the kernel would read stale data from disk)',
  'stale-entry-after-failed-store': 'a failed store erases the old entry (else writeback can overwrite newer data)',
  'writeback-free-without-removal': 'writeback frees only an entry it removed from the tree itself',
  'stale-writeback-after-reuse': 'writeback must not write an old entry over a slot that was freed and reused',
  'swapoff-with-live-entries': 'swapoff completes only when no entry of its type is live',
  'tree-use-after-swapoff': "no zswap operation touches a swap type's tree between its swapoff and the next swapon",
  'use-after-free': 'nothing is dereferenced after it was freed (entry or tree)',
  'entry-leak': 'an entry removed from the tree (or whose slot was freed) is freed, not leaked',
  'counter-mismatch': 'stored_pages and the zswpout/zswpin/zswpwb/written_back_pages counters equal the counted events',
  'data-mismatch': 'every read sees exactly the data version last written',
  'put-without-reference': 'a task drops only a reference it took, by a lookup under the tree lock (6.1 refcounted entries)',
  'free-while-referenced': 'an entry is freed only when its last reference goes (6.1 refcounted entries)',
} as const;

export type RuleId = keyof typeof RULES;

/** The rules the xarray-era replay (6.12 and newer) checks. */
export const RULE_IDS = (Object.keys(RULES) as RuleId[]).filter((r) => r !== 'put-without-reference' && r !== 'free-while-referenced');

/** The rules the refcount replay of 6.1 traces checks (refcount-replay.ts), and the oracles'. */
export const REFCOUNT_RULE_IDS: readonly RuleId[] = ['put-without-reference', 'free-while-referenced', 'use-after-free', 'double-free', 'tree-use-after-swapoff', 'swapoff-with-live-entries', 'counter-mismatch', 'data-mismatch'];

/** A broken rule found in a kernel trace (or by an oracle), with the events that led to it. */
export interface Violation {
  rule: RuleId;
  message: string;
  slot?: Slot;
  /** kernel address of the zswap_entry involved, when the trace names one */
  entry?: string;
  /** a few events before the offending one, and the offending one (with its nested frees), by time */
  events: TraceCall[];
}

export function slotName(slot: Slot): string {
  return `${slot.type === UNKNOWN_TYPE ? '?' : slot.type}:${slot.offset}`;
}

/** One trace event as a single line: `#12 cpu1 pid 340 [100..180] store 0:17 ok`. */
export function describeCall(call: TraceCall): string {
  const point = call.kind === 'free' || call.kind === 'put' || call.kind === 'marker';
  const when = point || call.end === call.start ? `[${call.start}]` : call.end === undefined ? `[${call.start}..?]` : `[${call.start}..${call.end}]`;
  const head = `#${call.seq} cpu${call.cpu} pid ${call.pid} ${when} ${call.kind}`;
  switch (call.kind) {
    case 'store':
      return `${head} ${slotName(call.slot)} ${call.ok === undefined ? '(no return)' : call.ok ? 'ok' : 'failed'}`;
    case 'load':
      return `${head} ${slotName(call.slot)} ${call.hit === undefined ? '(no return)' : call.hit ? 'hit' : 'miss'}`;
    case 'invalidate':
      return `${head} ${slotName(call.slot)}`;
    case 'writeback':
      return `${head} ${slotName(call.slot)} entry ${call.entry} ${call.ret === undefined ? '(no return)' : `ret ${call.ret}`}`;
    case 'free':
      return `${head} ${slotName(call.slot)} entry ${call.entry}${call.refcount === undefined ? '' : ` refcount ${call.refcount}`}`;
    case 'put':
      return `${head} ${slotName(call.slot)} entry ${call.entry} refcount ${call.refcount}`;
    case 'swapon':
      return `${head} type ${call.type} pages ${call.pages}${call.ret === undefined ? '' : ` ret ${call.ret}`}`;
    case 'swapoff':
      return `${head} type ${call.type}`;
    case 'marker':
      return `${head} ${call.name} type ${call.type}`;
    case 'lost':
      return `${head} ${call.count ?? 'some'} events lost`;
  }
}

/**
 * Up to `max` violations, the first of each rule before any second one: a test whose data oracle
 * failed a thousand reads still shows the model's rule beside them, in the report and offline.
 */
export function firstOfEachRule<V extends { rule: string }>(violations: readonly V[], max: number): V[] {
  const seen = new Set<string>();
  const firsts: V[] = [];
  const rest: V[] = [];
  for (const v of violations) {
    if (seen.has(v.rule)) rest.push(v);
    else (seen.add(v.rule), firsts.push(v));
  }
  return [...firsts, ...rest].slice(0, max);
}
