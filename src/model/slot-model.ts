import type { RuleId } from './rules.js';
import { slotName } from './rules.js';
import type { Slot, TraceCall } from './trace-types.js';

/**
 * The sequential reference model of one swap slot, as the 6.12 kernel must behave: which entry is
 * live in the tree at the slot, and what each zswap call does to it. Trace replay (replay.ts)
 * searches for an order of the concurrent calls in which every call passes these rules.
 */

export type FreeCall = Extract<TraceCall, { kind: 'free' }>;
type SlotCall = Extract<TraceCall, { kind: 'store' | 'load' | 'invalidate' | 'writeback' | 'free' | 'swapon' | 'swapoff' | 'lost' }>;

/** One call as the slot model applies it: the call, the frees nested in it, and its time bounds. */
export interface SlotOp {
  call: SlotCall;
  /** frees of entries of this slot nested in the call (they take effect with it) */
  frees: FreeCall[];
  /** the call takes effect at some instant in [lo, hi] */
  lo: number;
  hi: number;
  /** the return was not captured: the outcome is unknown (and, with no nested free, maybe no effect yet) */
  pending: boolean;
}

export type Liveness = 'none' | 'live' | 'unknown';

export interface SlotState {
  /** 'unknown': the trace has not told yet whether an entry stored before it began is live */
  live: Liveness;
  /** kernel address of the live entry, once a free or a writeback names it (stores do not) */
  addr: string | null;
  /** seq of the store that made the live entry (-1: stored before the trace) */
  since: number;
  tree: 'alive' | 'dead' | 'unknown';
  /** addresses freed from this slot, most recent last (bounded; the slab reuses addresses) */
  freed: readonly string[];
  /** seq of a failed store that erased nothing while the slot's state was unknown */
  failedStoreNoErase: number | null;
  /** seq of a successful writeback explained only by the allocator reusing an old entry's address */
  suspectWriteback: number | null;
}

const FREED_HISTORY = 8;

export const INITIAL_SLOT_STATE: SlotState = {
  live: 'unknown',
  addr: null,
  since: -1,
  tree: 'unknown',
  freed: [],
  failedStoreNoErase: null,
  suspectWriteback: null,
};

/**
 * `s` with `changes`: a copy of one fixed shape, then the changes. Never a spread: V8 gives each
 * spread object a shape of its own, and every later read of a state took the slow path (issue 16).
 */
function next(s: SlotState, changes: Partial<SlotState>): SlotState {
  const copy: SlotState = { live: s.live, addr: s.addr, since: s.since, tree: s.tree, freed: s.freed, failedStoreNoErase: s.failedStoreNoErase, suspectWriteback: s.suspectWriteback };
  return Object.assign(copy, changes);
}

export function slotStateKey(s: SlotState): string {
  return `${s.live}|${s.addr ?? ''}|${s.since}|${s.tree}|${s.freed.join(',')}|${s.failedStoreNoErase ?? ''}|${s.suspectWriteback ?? ''}`;
}

export interface Broken {
  rule: RuleId;
  message: string;
  entry?: string;
  /** seq of an earlier call the diagnosis points at (included in the event window) */
  related?: number;
}

export type StepResult = { ok: true; state: SlotState } | ({ ok: false } & Broken);

const SUCCESS: readonly boolean[] = [true];
const FAILURE: readonly boolean[] = [false];
const EITHER: readonly boolean[] = [true, false];
const observed = (success: boolean): readonly boolean[] => (success ? SUCCESS : FAILURE);

/** The outcomes a call may have had: observed ones, or both when its return was not captured. (Shared arrays: one per call was garbage.) */
export function outcomesOf(op: SlotOp): readonly boolean[] {
  const c = op.call;
  switch (c.kind) {
    case 'store':
      return c.ok === undefined ? EITHER : observed(c.ok);
    case 'load':
      return c.hit === undefined ? EITHER : observed(c.hit);
    case 'writeback':
      return c.ret === undefined ? EITHER : observed(c.ret === 0);
    case 'swapon':
      return c.ret === undefined ? SUCCESS : observed(c.ret === 0);
    default:
      return SUCCESS;
  }
}

/** A pending call with nothing nested may not have taken effect at all. */
export function isOptional(op: SlotOp): boolean {
  return op.pending && op.frees.length === 0;
}

function withFreed(s: SlotState, addrs: readonly string[]): readonly string[] {
  if (addrs.length === 0) return s.freed;
  if (addrs.length === 1) return withOneFreed(s.freed, addrs[0]!);
  const kept = s.freed.filter((a) => !addrs.includes(a));
  return [...kept, ...addrs].slice(-FREED_HISTORY);
}

/** withFreed of one address (every free and writeback): one array, no closures (the replay's hottest allocation). */
function withOneFreed(freed: readonly string[], addr: string): readonly string[] {
  let others = 0;
  for (let i = 0; i < freed.length; i++) if (freed[i] !== addr) others++;
  let drop = Math.max(0, others + 1 - FREED_HISTORY);
  const out: string[] = [];
  for (let i = 0; i < freed.length; i++) {
    const a = freed[i]!;
    if (a === addr) continue;
    if (drop > 0) {
      drop--;
      continue;
    }
    out.push(a);
  }
  out.push(addr);
  return out;
}

function fail(rule: RuleId, message: string, entry?: string, related?: number): StepResult {
  return { ok: false, rule, message, entry, related };
}

function where(op: SlotOp): string {
  const c = op.call;
  return `${c.kind} #${c.seq}`;
}

function slotOf(op: SlotOp): string {
  const c = op.call;
  // By kind, not `'slot' in c`: the replay's one-shape copies (canonical.ts) carry every field.
  if (c.kind === 'swapon' || c.kind === 'swapoff') return `type ${c.type}`;
  return c.kind === 'lost' ? 'every slot' : slotName(c.slot);
}

/** A free the model cannot attribute to a live entry: name the most specific rule that explains it. */
function unexplainedFree(s: SlotState, addr: string, op: SlotOp): StepResult {
  if (s.freed.includes(addr)) {
    return fail('double-free', `${where(op)} frees entry ${addr} of slot ${slotOf(op)}, which was already freed and no store since could have reused it`, addr);
  }
  if (s.suspectWriteback !== null) {
    return fail(
      'stale-writeback-after-reuse',
      `${where(op)} frees entry ${addr} of slot ${slotOf(op)} after writeback #${s.suspectWriteback} claimed the slot's entry; that writeback matched only if the allocator had reused an old entry's address, so it wrote an old entry's data over a reused slot and left the newer entry in the tree`,
      addr,
      s.suspectWriteback,
    );
  }
  if (s.failedStoreNoErase !== null) {
    return fail(
      'stale-entry-after-failed-store',
      `${where(op)} frees entry ${addr} of slot ${slotOf(op)}, which must have survived failed store #${s.failedStoreNoErase} (a failed store has to erase the old entry)`,
      addr,
      s.failedStoreNoErase,
    );
  }
  return fail('free-without-entry', `${where(op)} frees entry ${addr} of slot ${slotOf(op)}, but no live entry was there`, addr);
}

/** Removes the live entry, which must be `addr`; the common step of every freeing path. */
function takeLive(s: SlotState, addr: string, op: SlotOp): StepResult {
  if (s.live === 'none') return unexplainedFree(s, addr, op);
  if (s.live === 'live' && s.addr !== null && s.addr !== addr) {
    if (s.freed.includes(addr)) {
      return fail('double-free', `${where(op)} frees entry ${addr} of slot ${slotOf(op)} again; the live entry is ${s.addr}`, addr);
    }
    return fail('free-without-entry', `${where(op)} frees entry ${addr}, but the live entry of slot ${slotOf(op)} is ${s.addr} (still in the tree)`, addr);
  }
  return { ok: true, state: next(s, { live: 'none', addr: null, since: -1, freed: withOneFreed(s.freed, addr) }) };
}

function treeGone(s: SlotState, op: SlotOp): StepResult | null {
  if (s.tree !== 'dead') return null;
  return fail('tree-use-after-swapoff', `${where(op)} on slot ${slotOf(op)} runs after zswap_swapoff freed the tree of its type and before the next swapon`);
}

function tooManyFrees(op: SlotOp, entry: string): StepResult {
  return fail('free-without-entry', `${where(op)} frees more entries than the one it may release (${entry})`, entry);
}

function extraFrees(op: SlotOp, expected: string | null): StepResult | null {
  // Nearly every call frees none or one: no Set, no filtered copy for those (issue 16, replay speed).
  if (op.frees.length === 0) return null;
  if (op.frees.length === 1) {
    const only = op.frees[0]!.entry;
    return expected !== null && only !== expected ? tooManyFrees(op, only) : null;
  }
  const others = op.frees.filter((f) => f.entry !== expected);
  const seen = new Set<string>();
  for (const f of op.frees) {
    if (seen.has(f.entry)) return fail('double-free', `${where(op)} frees entry ${f.entry} twice`, f.entry);
    seen.add(f.entry);
  }
  if (expected === null ? others.length > 1 : others.length > 0) {
    return tooManyFrees(op, others[expected === null ? 1 : 0]!.entry);
  }
  return null;
}

const describeLive = (s: SlotState): string =>
  `${s.addr ?? 'the entry'}${s.since >= 0 ? ` stored by #${s.since}` : ' (stored before the trace)'}`;

/** Applies one call with the given outcome (true = ok / hit / ret 0). */
export function applyOp(s: SlotState, op: SlotOp, success: boolean): StepResult {
  const c = op.call;
  switch (c.kind) {
    case 'store': {
      const gone = treeGone(s, op);
      if (gone) return gone;
      const extra = extraFrees(op, null);
      if (extra) return extra;
      const f = op.frees[0];
      let base: SlotState;
      if (f) {
        const r = takeLive(s, f.entry, op);
        if (!r.ok) return r;
        base = r.state;
      } else {
        if (s.live === 'live') {
          return success
            ? fail('entry-leak', `store #${c.seq} replaced live entry ${describeLive(s)} of slot ${slotOf(op)} without freeing it`, s.addr ?? undefined)
            : fail(
                'stale-entry-after-failed-store',
                `store #${c.seq} failed but left live entry ${describeLive(s)} of slot ${slotOf(op)} in the tree (writeback could later overwrite the newer data on disk)`,
                s.addr ?? undefined,
              );
        }
        base = next(s, {
          live: 'none',
          addr: null,
          since: -1,
          failedStoreNoErase: !success && s.live === 'unknown' ? c.seq : s.failedStoreNoErase,
          suspectWriteback: null,
        });
      }
      const tree = 'alive' as const;
      return success
        ? { ok: true, state: next(base, { live: 'live', addr: null, since: c.seq, tree, failedStoreNoErase: null }) }
        : { ok: true, state: next(base, { tree }) };
    }
    case 'load': {
      const gone = treeGone(s, op);
      if (gone) return gone;
      const extra = extraFrees(op, null);
      if (extra) return extra;
      const f = op.frees[0];
      if (success) {
        if (s.live === 'none') {
          if (s.suspectWriteback !== null) {
            return fail(
              'stale-writeback-after-reuse',
              `load #${c.seq} hit at slot ${slotOf(op)} after writeback #${s.suspectWriteback} claimed the slot's entry: that writeback matched only through address reuse, wrote an old entry's data over the reused slot and left the newer entry in the tree`,
              f?.entry,
              s.suspectWriteback,
            );
          }
          if (s.failedStoreNoErase !== null) {
            return fail(
              'stale-entry-after-failed-store',
              `load #${c.seq} hit at slot ${slotOf(op)}: the entry survived failed store #${s.failedStoreNoErase}, which has to erase it`,
              f?.entry,
              s.failedStoreNoErase,
            );
          }
          return s.freed.length > 0
            ? fail('load-after-free', `load #${c.seq} hit at slot ${slotOf(op)}, whose entry ${s.freed[s.freed.length - 1]} was already freed`, s.freed[s.freed.length - 1])
            : fail('load-hit-without-entry', `load #${c.seq} hit at slot ${slotOf(op)}, which had no live entry`);
        }
        if (f) {
          const r = takeLive(s, f.entry, op);
          return r.ok ? { ok: true, state: next(r.state, { tree: 'alive' }) } : r;
        }
        // A load outside the swap cache keeps the entry (non-exclusive load).
        return { ok: true, state: next(s, { live: 'live', tree: 'alive' }) };
      }
      if (f) return fail('free-without-entry', `load #${c.seq} missed at slot ${slotOf(op)} but freed entry ${f.entry}`, f.entry);
      if (s.live === 'live') {
        return fail('lost-entry', `load #${c.seq} missed at slot ${slotOf(op)} while ${describeLive(s)} was live: the page would be read from disk, stale`, s.addr ?? undefined);
      }
      return { ok: true, state: next(s, { live: 'none', addr: null, since: -1, tree: 'alive', failedStoreNoErase: null, suspectWriteback: null }) };
    }
    case 'invalidate': {
      const gone = treeGone(s, op);
      if (gone) return gone;
      const extra = extraFrees(op, null);
      if (extra) return extra;
      const f = op.frees[0];
      if (f) {
        const r = takeLive(s, f.entry, op);
        return r.ok ? { ok: true, state: next(r.state, { tree: 'alive' }) } : r;
      }
      if (s.live === 'live') {
        return fail('entry-leak', `invalidate #${c.seq} of slot ${slotOf(op)} freed nothing while ${describeLive(s)} was live: the entry outlives its swap slot`, s.addr ?? undefined);
      }
      return { ok: true, state: next(s, { live: 'none', addr: null, since: -1, tree: 'alive', failedStoreNoErase: null, suspectWriteback: null }) };
    }
    case 'writeback': {
      const e = c.entry;
      const extra = extraFrees(op, e);
      if (extra) return extra;
      const f = op.frees.find((x) => x.entry === e);
      if (!success) {
        if (!f) return { ok: true, state: s };
        if (s.live === 'live' && (s.addr === null || s.addr === e)) {
          return fail('free-while-live', `writeback #${c.seq} failed (ret ${c.ret ?? '?'}) yet freed entry ${e}, which is still in the tree of slot ${slotOf(op)}`, e);
        }
        if (s.freed.includes(e)) return fail('double-free', `writeback #${c.seq} freed entry ${e}, which was already freed`, e);
        return fail('writeback-free-without-removal', `writeback #${c.seq} failed (ret ${c.ret ?? '?'}) but freed entry ${e}, which it never removed from the tree`, e);
      }
      const gone = treeGone(s, op);
      if (gone) return gone;
      if (s.live === 'none') {
        if (s.freed.includes(e)) {
          return f
            ? fail('double-free', `writeback #${c.seq} wrote back and freed entry ${e}, which slot ${slotOf(op)} had already freed`, e)
            : fail('stale-writeback-after-reuse', `writeback #${c.seq} claims entry ${e}, already freed from slot ${slotOf(op)}, and wrote its data to the slot`, e);
        }
        return fail('writeback-free-without-removal', `writeback #${c.seq} returned 0 for entry ${e}, but slot ${slotOf(op)} had no live entry to remove`, e);
      }
      if (s.live === 'live' && s.addr !== null && s.addr !== e) {
        return s.freed.includes(e)
          ? fail('stale-writeback-after-reuse', `writeback #${c.seq} wrote old entry ${e} over slot ${slotOf(op)}, which was freed and now holds ${describeLive(s)}`, e)
          : fail('writeback-free-without-removal', `writeback #${c.seq} returned 0 for entry ${e}, but the live entry of slot ${slotOf(op)} is ${describeLive(s)}`, e);
      }
      if (!f) return fail('entry-leak', `writeback #${c.seq} returned 0 (entry ${e} left the tree) but never freed it`, e);
      const explainedByReuse = s.live === 'live' && s.addr === null && s.freed.includes(e);
      return {
        ok: true,
        state: next(s, {
          live: 'none',
          addr: null,
          since: -1,
          tree: 'alive',
          freed: withOneFreed(s.freed, e),
          suspectWriteback: explainedByReuse ? c.seq : s.suspectWriteback,
        }),
      };
    }
    case 'free':
      return takeLive(s, c.entry, op);
    case 'swapoff':
      if (op.frees.length > 0) {
        const f = op.frees[0]!;
        return fail('swapoff-with-live-entries', `zswap_swapoff #${c.seq} of type ${c.type} found entry ${f.entry} still in the tree of slot ${slotOf(op)} and freed it (try_to_unuse() must have invalidated it)`, f.entry);
      }
      if (s.live === 'live') {
        return fail('swapoff-with-live-entries', `zswap_swapoff #${c.seq} of type ${c.type} ran while ${describeLive(s)} was live at slot ${slotOf(op)}`, s.addr ?? undefined);
      }
      return { ok: true, state: next(s, { live: 'none', addr: null, since: -1, tree: 'dead', failedStoreNoErase: null, suspectWriteback: null }) };
    case 'swapon':
      if (!success) return { ok: true, state: s };
      return { ok: true, state: next(INITIAL_SLOT_STATE, { live: 'none', tree: 'alive', freed: s.freed }) };
    case 'lost':
      // Anything may have happened in the gap, freed addresses included.
      return { ok: true, state: INITIAL_SLOT_STATE };
  }
}

/**
 * The state after a call that broke a rule, resynchronized to what the trace shows so that one
 * kernel bug is reported once rather than cascading into every later call of the slot.
 */
export function forceOp(s: SlotState, op: SlotOp): SlotState {
  const c = op.call;
  const freed = withFreed(s, op.frees.map((f) => f.entry));
  const reset = { failedStoreNoErase: null, suspectWriteback: null, freed };
  switch (c.kind) {
    case 'store':
      return c.ok === false
        ? next(next(s, reset), { live: 'none', addr: null, since: -1, tree: 'alive' })
        : next(next(s, reset), { live: 'live', addr: null, since: c.seq, tree: 'alive' });
    case 'swapoff':
      return next(next(s, reset), { live: 'none', addr: null, since: -1, tree: 'dead' });
    case 'swapon':
      return next(next(s, reset), { live: 'none', addr: null, since: -1, tree: 'alive' });
    case 'lost':
      return INITIAL_SLOT_STATE;
    case 'load':
      if (c.hit === false || op.frees.length > 0) return next(next(s, reset), { live: 'none', addr: null, since: -1, tree: 'alive' });
      return next(next(s, reset), { live: 'unknown', addr: null, since: -1, tree: 'alive' });
    default:
      // What the tree holds after a broken invalidate/writeback/free is not known: let later calls tell.
      return next(next(s, reset), { live: 'unknown', addr: null, since: -1 });
  }
}
