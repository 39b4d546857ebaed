import { InputError } from '../common/errors.js';
import { canonicalCalls, originalOf } from './canonical.js';
import type { RuleId, Violation } from './rules.js';
import { slotName } from './rules.js';
import {
  INITIAL_SLOT_STATE,
  applyOp,
  forceOp,
  isOptional,
  outcomesOf,
  slotStateKey,
  type Broken,
  type StepResult,
  type FreeCall,
  type SlotOp,
  type SlotState,
} from './slot-model.js';
import type { Slot, TraceCall } from './trace-types.js';

/**
 * Trace conformance: replays the kernel's zswap calls through the slot model (slot-model.ts).
 *
 * The calls of different CPUs overlap, and their timestamps are taken at function entry and exit,
 * not where the call takes effect (the xarray or tree update). So, as in a linearizability check,
 * each call may take effect at any instant of its [start, end]; a free takes effect with the call
 * it is nested in. Slots are independent objects (P-compositionality), so each slot's calls are
 * checked on their own: a depth-first search, memoized on (calls done, slot state), looks for an
 * order of the calls that respects real time and passes every rule. A violation is reported only
 * when no such order exists, naming the rule of the call that got furthest.
 */

export interface LifetimeStats {
  /** zswap_store returned true */
  store: number;
  /** ... and freed the older entry it replaced */
  storeReplaced: number;
  /** zswap_store returned false (rejected or failed) */
  storeFailed: number;
  /** ... and erased and freed the existing entry at the slot (the failed-store rule) */
  storeFailedOverEntry: number;
  /** zswap_load hit and freed the entry (swap cache swapin: exclusive load) */
  loadHit: number;
  /** zswap_load hit and kept the entry (read outside the swap cache) */
  loadHitNonExclusive: number;
  loadMiss: number;
  /** zswap_invalidate found a live entry and freed it */
  invalidateLive: number;
  /** zswap_invalidate found nothing (written back, loaded, or never stored) */
  invalidateEmpty: number;
  /**
   * 6.1: a load or writeback dropped the last reference of an entry a concurrent invalidate (or
   * replacing store) had taken out of the tree meanwhile, and freed it: what the refcount is for
   */
  holderLastPut: number;
  /** zswap_writeback_entry returned 0: written to disk and freed */
  writeback: number;
  /** zswap_writeback_entry returned an error: entry untouched (raced with swapin, invalidation, swapoff) */
  writebackAborted: number;
  /** entries freed by load/invalidate while a swapoff of their type ran (try_to_unuse) before zswap_swapoff */
  swapoffUnuse: number;
  swapoff: number;
  swapon: number;
  /** zswap_entry_free */
  free: number;
  /** ... not nested in any traced call (its parent started before tracing did) */
  orphanFree: number;
  /** calls whose return was not captured (trace cut), by kind; their outcome is not counted above */
  pending: { store: number; load: number; invalidate: number; writeback: number; swapoff: number; swapon: number; freesInPendingCalls: number };
  /**
   * Successful writebacks whose `zswap_written_back_pages++` (a plain u64, bumped in shrink_memcg_cb
   * after the traced call returned) may have been lost to a concurrent bump or may not have happened
   * yet when tracing stopped; the counter oracle allows that many fewer.
   */
  writtenBackUnsettled: number;
  /** ring-buffer overruns in the trace: gaps, and events dropped (null: ftrace did not say how many) */
  lost: { gaps: number; events: number | null };
}

export type LifetimePath = Exclude<keyof LifetimeStats, 'pending' | 'writtenBackUnsettled' | 'lost'>;

/** Every lifetime path, in report order, with what it means. */
export const LIFETIME_PATHS: Record<LifetimePath, string> = {
  store: 'store ok',
  storeReplaced: 'store ok over an older entry (old one freed)',
  storeFailed: 'store failed/rejected',
  storeFailedOverEntry: 'store failed over an existing entry (old one erased and freed)',
  loadHit: 'load hit, exclusive (swapin: entry freed)',
  loadHitNonExclusive: 'load hit, entry kept',
  loadMiss: 'load miss',
  invalidateLive: 'invalidate of a live entry',
  invalidateEmpty: 'invalidate with nothing to free',
  holderLastPut: "entry freed by a load's or writeback's last reference, after a concurrent invalidate",
  writeback: 'writeback to disk (ret 0)',
  writebackAborted: 'writeback aborted (ret != 0)',
  swapoffUnuse: 'entry freed by swapoff (try_to_unuse) before zswap_swapoff',
  swapoff: 'zswap_swapoff',
  swapon: 'zswap_swapon',
  free: 'entry free',
  orphanFree: 'entry free outside any traced call',
};

/**
 * Paths the kernels of one replay model never take (6.1 loads are never exclusive and a 6.1
 * failed store erases nothing; only 6.1 has references), and the path that stands in for one.
 */
const MODEL_PATHS: Record<'xarray' | 'refcount', { never: LifetimePath[]; instead: Partial<Record<LifetimePath, LifetimePath>> }> = {
  xarray: { never: ['holderLastPut'], instead: {} },
  refcount: { never: ['loadHit', 'storeFailedOverEntry'], instead: { loadHit: 'loadHitNonExclusive' } },
};

/** `paths` as a kernel of `model` takes them. */
export function pathsOfModel(paths: readonly LifetimePath[], model: 'xarray' | 'refcount'): LifetimePath[] {
  const m = MODEL_PATHS[model];
  return [...new Set(paths.map((p) => m.instead[p] ?? p).filter((p) => !m.never.includes(p)))];
}

export interface ReplayOptions {
  /** events shown before the offending one in a violation (default 5) */
  window?: number;
  /** widen every call's interval by this much, for clocks that are not perfectly synchronized (default 0) */
  clockSlackNs?: number;
  /** model steps one slot's search may take before it is reported inconclusive (default 200000) */
  searchBudget?: number;
}

export interface InconclusiveSlot {
  slot: Slot;
  reason: string;
}

export interface ReplayResult {
  violations: Violation[];
  stats: LifetimeStats;
  /** slots whose concurrent history was too large to search fully: not checked, not blamed */
  inconclusive: InconclusiveSlot[];
  slotsChecked: number;
}

export type ParentCall = Extract<TraceCall, { kind: 'store' | 'load' | 'invalidate' | 'writeback' | 'swapoff' }>;
type SwapCall = Extract<TraceCall, { kind: 'swapon' | 'swapoff' }>;
type LostCall = Extract<TraceCall, { kind: 'lost' }>;

const PARENT_KINDS = new Set<TraceCall['kind']>(['store', 'load', 'invalidate', 'writeback', 'swapoff']);
const MAX_FRONTIER = 64;
const MAX_SEGMENT = 4000;

/** A task is its pid; pid 0 is the per-CPU idle/interrupt context, so it is told apart by CPU (as -1 - cpu). */
function taskOf(call: TraceCall): number {
  return call.pid !== 0 ? call.pid : -1 - call.cpu;
}

/** Offsets below this pack with their type into one exact number key (a string key costs a string per call). */
const PACKED_OFFSET_LIMIT = 2 ** 40;

/** A Map key for a slot: a number for every real offset, the slot's name beyond that. */
export function slotKey(slot: Slot): number | string {
  return slot.offset < PACKED_OFFSET_LIMIT && slot.type >= -1 && slot.type < 1024 ? (slot.type + 1) * PACKED_OFFSET_LIMIT + slot.offset : slotName(slot);
}

/** Whether `calls` are already in (start, seq) order, as decoded traces are: no sort needed then. */
export function inTimeOrder(calls: readonly TraceCall[]): boolean {
  for (let i = 1; i < calls.length; i++) {
    const a = calls[i - 1]!;
    const b = calls[i]!;
    if (a.start > b.start || (a.start === b.start && a.seq > b.seq)) return false;
  }
  return true;
}

/** `calls` in (start, seq) order; the same array when they already are. */
export function byTimeOrder<T extends TraceCall>(calls: readonly T[]): readonly T[] {
  return inTimeOrder(calls) ? calls : [...calls].sort((a, b) => a.start - b.start || a.seq - b.seq);
}

export function validate(calls: readonly TraceCall[]): void {
  // Decoded traces number their calls 0..n-1: a byte per seq beats a Set of them.
  const dense = new Uint8Array(calls.length);
  const seqs = new Set<number>();
  for (const c of calls) {
    const seen = c.seq >= 0 && c.seq < dense.length && Number.isInteger(c.seq) ? dense[c.seq] === 1 : seqs.has(c.seq);
    if (seen) throw new InputError(`trace: seq ${c.seq} appears twice`);
    if (c.seq >= 0 && c.seq < dense.length && Number.isInteger(c.seq)) dense[c.seq] = 1;
    else seqs.add(c.seq);
    if (!Number.isFinite(c.start)) throw new InputError(`trace: call #${c.seq} has no start time`);
    if (c.end !== undefined && c.end < c.start) throw new InputError(`trace: call #${c.seq} ends (${c.end}) before it starts (${c.start})`);
  }
}

/** Finds, for every free, the innermost call of the same task whose interval contains it. */
function nestFrees(calls: readonly TraceCall[]): Map<FreeCall, ParentCall | null> {
  return nestWithin(calls, (c): c is FreeCall => c.kind === 'free');
}

/** Finds, for every point event `isPoint` picks, the innermost call of the same task whose interval contains it. */
export function nestWithin<T extends TraceCall>(calls: readonly TraceCall[], isPoint: (c: TraceCall) => c is T): Map<T, ParentCall | null> {
  const byTask = new Map<number, ParentCall[]>();
  for (const c of calls) {
    if (!PARENT_KINDS.has(c.kind)) continue;
    const key = taskOf(c);
    let list = byTask.get(key);
    if (!list) byTask.set(key, (list = []));
    list.push(c as ParentCall);
  }
  for (const [task, list] of byTask) byTask.set(task, byTimeOrder(list) as ParentCall[]);
  const parents = new Map<T, ParentCall | null>();
  for (const c of calls) {
    if (!isPoint(c)) continue;
    const list = byTask.get(taskOf(c)) ?? [];
    // Last call starting at or before the free; walk back to the innermost one still open then.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.start <= c.start) lo = mid + 1;
      else hi = mid;
    }
    let parent: ParentCall | null = null;
    for (let i = lo - 1; i >= 0; i--) {
      const p = list[i]!;
      if (p.end === undefined || p.end >= c.start) {
        parent = p;
        break;
      }
    }
    parents.set(c, parent);
  }
  return parents;
}

export function emptyStats(): LifetimeStats {
  return {
    store: 0,
    storeReplaced: 0,
    storeFailed: 0,
    storeFailedOverEntry: 0,
    loadHit: 0,
    loadHitNonExclusive: 0,
    loadMiss: 0,
    invalidateLive: 0,
    invalidateEmpty: 0,
    holderLastPut: 0,
    writeback: 0,
    writebackAborted: 0,
    swapoffUnuse: 0,
    swapoff: 0,
    swapon: 0,
    free: 0,
    orphanFree: 0,
    pending: { store: 0, load: 0, invalidate: 0, writeback: 0, swapoff: 0, swapon: 0, freesInPendingCalls: 0 },
    writtenBackUnsettled: 0,
    lost: { gaps: 0, events: 0 },
  };
}

/** The swapoff, swapon and lost-events counts, the same in every era's replay. */
export function countSwapAndLoss(stats: LifetimeStats, c: Extract<TraceCall, { kind: 'swapoff' | 'swapon' | 'lost' }>): void {
  if (c.kind === 'swapoff') {
    if (c.end === undefined) stats.pending.swapoff++;
    else stats.swapoff++;
  } else if (c.kind === 'swapon') {
    if (c.end === undefined && c.ret === undefined) stats.pending.swapon++;
    else if ((c.ret ?? 0) === 0) stats.swapon++;
  } else {
    stats.lost.gaps++;
    stats.lost.events = c.count === undefined || stats.lost.events === null ? null : stats.lost.events + c.count;
  }
}

/** A free, counted by the call it ran in: none traced (orphan), or one whose return was not seen. */
export function countFree(stats: LifetimeStats, parent: ParentCall | null | undefined): void {
  stats.free++;
  if (!parent) stats.orphanFree++;
  else if (parent.end === undefined) stats.pending.freesInPendingCalls++;
}

function countStats(calls: readonly TraceCall[], freesOf: Map<ParentCall, FreeCall[]>, parents: Map<FreeCall, ParentCall | null>): LifetimeStats {
  const stats = emptyStats();
  const freed = (c: ParentCall): boolean => (freesOf.get(c)?.length ?? 0) > 0;
  for (const c of calls) {
    switch (c.kind) {
      case 'store':
        if (c.ok === undefined) stats.pending.store++;
        else if (c.ok) {
          stats.store++;
          if (freed(c)) stats.storeReplaced++;
        } else {
          stats.storeFailed++;
          if (freed(c)) stats.storeFailedOverEntry++;
        }
        break;
      case 'load':
        if (c.hit === undefined) stats.pending.load++;
        else if (!c.hit) stats.loadMiss++;
        else if (freed(c)) stats.loadHit++;
        else stats.loadHitNonExclusive++;
        break;
      case 'invalidate':
        if (freed(c)) stats.invalidateLive++;
        else if (c.end === undefined) stats.pending.invalidate++;
        else stats.invalidateEmpty++;
        break;
      case 'writeback':
        if (c.ret === undefined) stats.pending.writeback++;
        else if (c.ret === 0) stats.writeback++;
        else stats.writebackAborted++;
        break;
      case 'swapoff':
      case 'swapon':
      case 'lost':
        countSwapAndLoss(stats, c);
        break;
      case 'free':
        countFree(stats, parents.get(c));
        break;
      case 'marker':
        break;
    }
  }
  stats.swapoffUnuse = countSwapoffUnuse(calls, freesOf);
  stats.writtenBackUnsettled = writtenBackUnsettled(calls);
  return stats;
}

/**
 * Entries freed while a swapoff of their type was in progress: frees nested in load/invalidate
 * calls between the start of the swapoff syscall (the `swapoff-begin` marker; without it, the first
 * call the swapoff task itself made on that type) and zswap_swapoff(). try_to_unuse() swaps every
 * page in, so these are the entries that were live when swapoff began.
 */
export function countSwapoffUnuse(calls: readonly TraceCall[], freesOf: Map<ParentCall, FreeCall[]>): number {
  const byTime = byTimeOrder(calls);
  const windows: Array<{ type: number; from: number; to: number }> = [];
  const lastBoundary = new Map<number, number>();
  const openBegin = new Map<number, number>();
  for (const c of byTime) {
    if (c.kind === 'marker') {
      if (c.name === 'swapoff-begin') openBegin.set(c.type, c.start);
      else {
        const from = openBegin.get(c.type);
        // A swapoff that failed (no zswap_swapoff) still ran try_to_unuse over this window.
        if (from !== undefined) windows.push({ type: c.type, from, to: c.start });
        openBegin.delete(c.type);
        lastBoundary.set(c.type, c.start);
      }
    } else if (c.kind === 'swapoff') {
      let from = openBegin.get(c.type);
      if (from === undefined) {
        const since = lastBoundary.get(c.type) ?? -Infinity;
        const own = byTime.find(
          (x) => (x.kind === 'load' || x.kind === 'invalidate') && x.slot.type === c.type && x.pid === c.pid && x.start > since && x.start <= c.start,
        );
        from = own?.start ?? c.start;
      }
      windows.push({ type: c.type, from, to: c.start });
      openBegin.delete(c.type);
      lastBoundary.set(c.type, c.start);
    } else if (c.kind === 'swapon') {
      lastBoundary.set(c.type, c.start);
    }
  }
  let count = 0;
  for (const c of calls) {
    if (c.kind !== 'load' && c.kind !== 'invalidate') continue;
    const frees = freesOf.get(c)?.length ?? 0;
    if (frees === 0) continue;
    if (windows.some((w) => w.type === c.slot.type && c.start >= w.from && c.start <= w.to)) count += frees;
  }
  return count;
}

/**
 * shrink_memcg_cb() bumps the plain u64 zswap_written_back_pages after zswap_writeback_entry()
 * returned 0, i.e. after the traced call, somewhere before its task's next zswap event. Two bumps
 * whose windows overlap may lose one (non-atomic read-modify-write); a bump with no later event of
 * its task may come after tracing (and the counter read) ended. Counts how many may be missing.
 */
function writtenBackUnsettled(calls: readonly TraceCall[]): number {
  // One pass in start order: a task's first call starting after a writeback returned is the first
  // such call met, so each returned writeback waits in its task's list until then.
  const nextStart = new Map<TraceCall, number>();
  const waiting = new Map<number, TraceCall[]>();
  for (const c of byTimeOrder(calls)) {
    const task = taskOf(c);
    const list = waiting.get(task);
    if (list !== undefined && list.length > 0) {
      let kept = 0;
      for (const w of list) {
        if (c.start > w.end!) nextStart.set(w, c.start);
        else list[kept++] = w;
      }
      list.length = kept;
    }
    if (c.kind === 'writeback' && c.ret === 0 && c.end !== undefined) {
      nextStart.set(c, Infinity);
      if (list) list.push(c);
      else waiting.set(task, [c]);
    }
  }
  const windows = [...nextStart.entries()].map(([c, to]) => ({ from: c.end!, to })).sort((a, b) => a.from - b.from);
  let unsettled = 0;
  let groupEnd = -Infinity;
  let groupSize = 0;
  const close = (): void => {
    if (groupSize > 1) unsettled += groupSize - 1;
  };
  for (const w of windows) {
    if (w.from <= groupEnd) {
      groupSize++;
      groupEnd = Math.max(groupEnd, w.to);
    } else {
      close();
      groupSize = 1;
      groupEnd = w.to;
    }
    if (w.to === Infinity) unsettled++;
  }
  close();
  return unsettled;
}

interface SlotHistory {
  slot: Slot;
  ops: SlotOp[];
}

/**
 * The swapon/swapoff calls (indexes into `swaps`, sorted by start) that can matter to a slot:
 * those overlapping one of its calls, and the nearest one before and after each call. Between
 * two calls of the slot, the first swap call checks and clears the slot and the last one sets
 * the tree state the next call sees; the ones in between act on an empty slot and change nothing,
 * so a trace with many swapoff cycles does not multiply into every slot.
 */
function relevantSwaps(swaps: ReadonlyArray<{ lo: number; hi: number }>, ops: readonly SlotOp[]): number[] {
  // (also used for lost-event gaps: the same reasoning holds for a reset to "unknown")
  const chosen = new Set<number>();
  const firstStartingAfter = (t: number): number => {
    let lo = 0;
    let hi = swaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (swaps[mid]!.lo <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const SCAN = 64;
  for (const op of ops) {
    const after = firstStartingAfter(op.hi);
    if (after < swaps.length) chosen.add(after);
    // Walk back over the swap calls starting no later than the op ends: overlapping ones, then the
    // nearest one entirely before it (swap calls rarely overlap each other, so this stays short).
    for (let k = after - 1, n = 0; k >= 0 && n < SCAN; k--, n++) {
      chosen.add(k);
      if (swaps[k]!.hi < op.lo) break;
    }
  }
  return [...chosen].sort((a, b) => a - b);
}

function buildHistories(calls: readonly TraceCall[], parents: Map<FreeCall, ParentCall | null>, slack: number): SlotHistory[] {
  const histories = new Map<number | string, SlotHistory>();
  const history = (slot: Slot): SlotHistory => {
    const key = slotKey(slot);
    let h = histories.get(key);
    if (!h) histories.set(key, (h = { slot: { type: slot.type, offset: slot.offset }, ops: [] }));
    return h;
  };
  // Each call is an op of one slot only (so two calls' ops share a history when their slots' keys are equal).
  const opOf = new Map<TraceCall, SlotOp>();
  const addOp = (slot: Slot, call: SlotOp['call'], end: number | undefined, pending: boolean): SlotOp => {
    const op: SlotOp = { call, frees: [], lo: call.start - slack, hi: end === undefined ? Infinity : end + slack, pending };
    history(slot).ops.push(op);
    opOf.set(call, op);
    return op;
  };
  const swapCalls: SwapCall[] = [];
  const gaps: Array<{ call: LostCall; lo: number; hi: number }> = [];
  for (const c of calls) {
    switch (c.kind) {
      case 'lost':
        gaps.push({ call: c, lo: c.start - slack, hi: (c.end ?? c.start) + slack });
        break;
      case 'store':
        addOp(c.slot, c, c.end, c.ok === undefined);
        break;
      case 'load':
        addOp(c.slot, c, c.end, c.hit === undefined);
        break;
      case 'invalidate':
        addOp(c.slot, c, c.end, c.end === undefined);
        break;
      case 'writeback':
        addOp(c.slot, c, c.end, c.ret === undefined);
        break;
      case 'swapon':
      case 'swapoff':
        swapCalls.push(c);
        break;
      default:
        break;
    }
  }
  for (const c of calls) {
    if (c.kind !== 'free') continue;
    const parent = parents.get(c) ?? null;
    const owner = parent && parent.kind !== 'swapoff' ? opOf.get(parent) : undefined;
    const parentOp = owner && slotKey((owner.call as Extract<TraceCall, { slot: Slot }>).slot) === slotKey(c.slot) ? owner : undefined;
    if (parentOp) {
      parentOp.frees.push(c);
      parentOp.hi = Math.min(parentOp.hi, c.start + slack);
    } else if (parent?.kind === 'swapoff') {
      // Matched below, when the swapoff is added to the slots of its type.
      history(c.slot);
    } else {
      // No enclosing call of this slot: a free on its own, taking effect when it was seen (its
      // parent was not traced, or freed an entry of another slot, which the slot model flags).
      const op = addOp(c.slot, c, c.start, false);
      op.hi = c.start + slack;
      if (parent) op.lo = parent.start - slack;
    }
  }
  // zswap_swapoff/zswap_swapon act on every slot of their type.
  const swapoffFrees = new Map<TraceCall, Map<number | string, FreeCall[]>>();
  for (const [f, p] of parents) {
    if (p?.kind !== 'swapoff') continue;
    let bySlot = swapoffFrees.get(p);
    if (!bySlot) swapoffFrees.set(p, (bySlot = new Map()));
    const key = slotKey(f.slot);
    bySlot.set(key, [...(bySlot.get(key) ?? []), f]);
  }
  const swapsByType = new Map<number, Array<{ call: SwapCall; lo: number; hi: number }>>();
  for (const c of [...swapCalls].sort((a, b) => a.start - b.start || a.seq - b.seq)) {
    let list = swapsByType.get(c.type);
    if (!list) swapsByType.set(c.type, (list = []));
    list.push({ call: c, lo: c.start - slack, hi: c.end === undefined ? Infinity : c.end + slack });
  }
  for (const h of histories.values()) {
    const swaps = swapsByType.get(h.slot.type);
    if (!swaps) continue;
    for (const k of relevantSwaps(swaps, h.ops)) {
      const s = swaps[k]!.call;
      const pending = s.end === undefined && (s.kind === 'swapoff' || s.ret === undefined);
      const op: SlotOp = { call: s, frees: [], lo: swaps[k]!.lo, hi: swaps[k]!.hi, pending };
      h.ops.push(op);
    }
    for (const [s, bySlot] of swapoffFrees) {
      const frees = bySlot.get(slotKey(h.slot));
      if (!frees) continue;
      let op = h.ops.find((o) => o.call === s);
      if (!op) {
        op = { call: s as SwapCall, frees: [], lo: s.start - slack, hi: s.end === undefined ? Infinity : s.end + slack, pending: s.end === undefined };
        h.ops.push(op);
      }
      for (const f of frees) {
        op.frees.push(f);
        op.hi = Math.min(op.hi, f.start + slack);
      }
    }
  }
  // A gap in the trace makes every slot it may have touched unknown again.
  gaps.sort((a, b) => a.lo - b.lo || a.call.seq - b.call.seq);
  if (gaps.length > 0) {
    for (const h of histories.values()) {
      const own = [...h.ops];
      for (const k of relevantSwaps(gaps, own)) {
        const g = gaps[k]!;
        h.ops.push({ call: g.call, frees: [], lo: g.lo, hi: g.hi, pending: false });
      }
    }
  }
  for (const h of histories.values()) {
    h.ops.sort((a, b) => a.lo - b.lo || a.call.seq - b.call.seq);
  }
  return [...histories.values()].sort((a, b) => a.slot.type - b.slot.type || a.slot.offset - b.slot.offset);
}

interface Failure {
  done: bigint;
  doneCount: number;
  state: SlotState;
  opIndex: number;
  broken: Broken;
}

interface SearchResult {
  outputs: SlotState[];
  failure: Failure | null;
  overBudget: boolean;
}

class BudgetExceeded extends Error {}

/**
 * searchSegment for a segment of one call, the common case (a slot's calls rarely overlap): the
 * same outputs and failure as the search, without its memo keys and bitmasks.
 */
function searchSingle(op: SlotOp, starts: readonly SlotState[], budget: { left: number }): SearchResult {
  const outcomes = outcomesOf(op);
  const optional = isOptional(op);
  if (starts.length === 1 && outcomes.length === 1 && !optional) {
    if (--budget.left < 0) return { outputs: [], failure: null, overBudget: true };
    const r = applyOp(starts[0]!, op, outcomes[0]!);
    if (r.ok) return { outputs: [r.state], failure: null, overBudget: false };
    const broken: Broken = { rule: r.rule, message: r.message, entry: r.entry, related: r.related };
    return { outputs: [], failure: { done: 0n, doneCount: 0, state: starts[0]!, opIndex: 0, broken }, overBudget: false };
  }
  const outputs = new Map<string, SlotState>();
  const keep = (state: SlotState): void => {
    if (outputs.size < MAX_FRONTIER) outputs.set(slotStateKey(state), state);
  };
  let failure: Failure | null = null;
  for (const state of starts) {
    for (const success of outcomes) {
      if (--budget.left < 0) return { outputs: [], failure: null, overBudget: true };
      const r = applyOp(state, op, success);
      if (r.ok) keep(r.state);
      else failure ??= { done: 0n, doneCount: 0, state, opIndex: 0, broken: { rule: r.rule, message: r.message, entry: r.entry, related: r.related } };
    }
    if (optional) keep(state);
  }
  return { outputs: [...outputs.values()], failure: outputs.size > 0 ? null : failure, overBudget: false };
}

/** All end states of the legal orders of `ops` from any of `starts` (or the deepest failure). */
function searchSegment(ops: readonly SlotOp[], starts: readonly SlotState[], budget: { left: number }): SearchResult {
  const n = ops.length;
  if (n === 1 && ops[0]!.lo <= ops[0]!.hi) return searchSingle(ops[0]!, starts, budget);
  const all = (1n << BigInt(n)) - 1n;
  const outputs = new Map<string, SlotState>();
  const seen = new Set<string>();
  let failure: Failure | null = null;

  const dfs = (done: bigint, doneCount: number, state: SlotState): void => {
    if (done === all) {
      if (outputs.size < MAX_FRONTIER) outputs.set(slotStateKey(state), state);
      return;
    }
    const memo = `${done.toString(36)}#${slotStateKey(state)}`;
    if (seen.has(memo)) return;
    seen.add(memo);
    let minHi = Infinity;
    for (let j = 0; j < n; j++) if (!(done & (1n << BigInt(j))) && ops[j]!.hi < minHi) minHi = ops[j]!.hi;
    for (let j = 0; j < n; j++) {
      const bit = 1n << BigInt(j);
      if (done & bit) continue;
      const op = ops[j]!;
      if (op.lo > minHi) break; // ops are sorted by lo: nothing later may go first either
      for (const success of outcomesOf(op)) {
        if (--budget.left < 0) throw new BudgetExceeded();
        const r = applyOp(state, op, success);
        if (r.ok) dfs(done | bit, doneCount + 1, r.state);
        else if (!failure || doneCount > failure.doneCount) {
          failure = { done, doneCount, state, opIndex: j, broken: { rule: r.rule, message: r.message, entry: r.entry, related: r.related } };
        }
      }
      if (isOptional(op)) dfs(done | bit, doneCount + 1, state);
    }
  };

  try {
    for (const s of starts) dfs(0n, 0, s);
  } catch (err) {
    if (err instanceof BudgetExceeded) return { outputs: [], failure: null, overBudget: true };
    throw err;
  }
  return { outputs: [...outputs.values()], failure: outputs.size > 0 ? null : failure, overBudget: false };
}

/** Applies the calls in start order without judging them: the fallback for a slot too large to search. */
function replayUnchecked(ops: readonly SlotOp[], start: SlotState): SlotState {
  let state = start;
  for (const op of ops) {
    const r = applyOp(state, op, outcomesOf(op)[0]!);
    state = r.ok ? r.state : forceOp(state, op);
  }
  return state;
}

/** The end (exclusive) of the stretch starting at I that no call overlaps across: each is searched on its own. */
function segmentEnd(ops: readonly SlotOp[], i: number): number {
  let maxHi = ops[i]!.hi;
  let j = i + 1;
  for (; j < ops.length && ops[j]!.lo <= maxHi; j++) maxHi = Math.max(maxHi, ops[j]!.hi);
  return j;
}

/**
 * A stretch of one call with one possible outcome, from one state (nearly every stretch): what
 * searchSegment would find, with no search; undefined when the stretch is not that simple.
 */
function stepAlone(op: SlotOp, state: SlotState): StepResult | undefined {
  if (op.lo > op.hi || isOptional(op)) return undefined;
  const outcomes = outcomesOf(op);
  return outcomes.length === 1 ? applyOp(state, op, outcomes[0]!) : undefined;
}

/**
 * Every event touching the slot (its calls, their nested frees, the swapon/swapoff calls and gaps
 * of its type), by time: made only for a violation's window, not for every slot.
 */
function eventsOf(h: SlotHistory): TraceCall[] {
  const events: TraceCall[] = [];
  for (const op of h.ops) events.push(op.call, ...op.frees);
  return events.sort((a, b) => a.start - b.start || a.seq - b.seq);
}

function windowFor(h: SlotHistory, op: SlotOp, broken: Broken, size: number): TraceCall[] {
  const events = eventsOf(h);
  const offending = op.call;
  const idx = events.indexOf(offending);
  const own = new Set<TraceCall>([offending, ...op.frees]);
  const before = events.slice(0, Math.max(0, idx)).filter((e) => !own.has(e));
  const picked = new Set<TraceCall>([...before.slice(-size), ...own]);
  if (broken.related !== undefined) {
    const rel = events.find((e) => e.seq === broken.related);
    if (rel) picked.add(rel);
  }
  return events.filter((e) => picked.has(e));
}

interface Found {
  violation: Violation;
  at: SlotOp;
}

function checkSlot(h: SlotHistory, opts: Required<ReplayOptions>, found: Found[], inconclusive: InconclusiveSlot[]): void {
  let frontier: SlotState[] = [INITIAL_SLOT_STATE];
  const report = (op: SlotOp, broken: Broken): void => {
    const violation: Violation = {
      rule: broken.rule as RuleId,
      message: broken.message,
      slot: h.slot,
      ...(broken.entry !== undefined ? { entry: broken.entry } : {}),
      events: windowFor(h, op, broken, opts.window).map(originalOf),
    };
    found.push({ violation, at: op });
  };
  let overBudget = false;
  const ops = h.ops;
  for (let i = 0, j = 0; i < ops.length; i = j) {
    j = segmentEnd(ops, i);
    const alone = j === i + 1 && !overBudget && frontier.length === 1 && opts.searchBudget > 0 ? stepAlone(ops[i]!, frontier[0]!) : undefined;
    if (alone?.ok) {
      frontier[0] = alone.state; // frontier is always an array of this function's own
      continue;
    }
    if (alone) {
      report(ops[i]!, alone);
      frontier = [forceOp(frontier[0]!, ops[i]!)];
      continue;
    }
    const segment = ops.slice(i, j);
    if (overBudget || segment.length > MAX_SEGMENT) {
      if (!overBudget) inconclusive.push({ slot: h.slot, reason: `${segment.length} overlapping calls (over ${MAX_SEGMENT})` });
      overBudget = true;
      frontier = [replayUnchecked(segment, frontier[0]!)];
      continue;
    }
    let pending: SlotOp[] = segment;
    let starts = frontier;
    for (;;) {
      const budget = { left: opts.searchBudget };
      const r = searchSegment(pending, starts, budget);
      if (r.overBudget) {
        inconclusive.push({ slot: h.slot, reason: `search budget of ${opts.searchBudget} steps exhausted at call #${pending[0]!.call.seq}` });
        overBudget = true;
        frontier = [replayUnchecked(pending, starts[0]!)];
        break;
      }
      if (r.outputs.length > 0 || !r.failure) {
        frontier = r.outputs.length > 0 ? r.outputs : starts;
        break;
      }
      // No legal order: report the call that got furthest, resynchronize, and check the rest.
      const f = r.failure;
      const op = pending[f.opIndex]!;
      report(op, f.broken);
      const rest = pending.filter((_, j) => j !== f.opIndex && !(f.done & (1n << BigInt(j))));
      starts = [forceOp(f.state, op)];
      if (rest.length === 0) {
        frontier = starts;
        break;
      }
      pending = rest;
    }
  }
}

/** Checks a decoded kernel trace against the model; see the file comment. */
export function replayTrace(given: readonly TraceCall[], options: ReplayOptions = {}): ReplayResult {
  const opts: Required<ReplayOptions> = {
    window: options.window ?? 5,
    clockSlackNs: options.clockSlackNs ?? 0,
    searchBudget: options.searchBudget ?? 200_000,
  };
  const calls = canonicalCalls(given);
  validate(calls);
  const parents = nestFrees(calls);
  const freesOf = new Map<ParentCall, FreeCall[]>();
  for (const [f, p] of parents) {
    if (!p) continue;
    let list = freesOf.get(p);
    if (!list) freesOf.set(p, (list = []));
    list.push(f);
  }
  const stats = countStats(calls, freesOf, parents);
  const histories = buildHistories(calls, parents, opts.clockSlackNs);
  const found: Found[] = [];
  const inconclusive: InconclusiveSlot[] = [];
  for (const h of histories) checkSlot(h, opts, found, inconclusive);
  found.sort((a, b) => a.at.call.start - b.at.call.start || a.at.call.seq - b.at.call.seq);
  return { violations: found.map((f) => f.violation), stats, inconclusive, slotsChecked: histories.length };
}
