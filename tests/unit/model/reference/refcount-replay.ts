// The reference for the fast path (issue 16): src/model/refcount-replay.ts as it was at 61dded1. Tests only.
import type { RuleId, Violation } from '../../../../src/model/rules.js';
import { slotName } from '../../../../src/model/rules.js';
import { countFree, countSwapAndLoss, countSwapoffUnuse, emptyStats, nestWithin, validate, type LifetimeStats, type ParentCall, type ReplayOptions, type ReplayResult } from './replay.js';
import { UNKNOWN_TYPE, type TraceCall } from '../../../../src/model/trace-types.js';

/**
 * Trace conformance for the 6.1 era (frontswap hooks, an rbtree per swap type, refcounted
 * entries): the seed thread's refcount rules, checked on the kernel's own trace.
 *
 * Every refcount change, tree update and free happens under the tree lock of the entry's type,
 * and the probes on zswap_entry_put and zswap_free_entry fire inside it. So the puts and frees of
 * one tree are in the trace in lock order, each put with the refcount it found: no search over
 * interleavings is needed (as the 6.12 replay does), the references are replayed in order. Each
 * put has the role the code gives it, told by the call it runs in:
 * - the tree's reference, held from the store's insert: dropped by invalidate_page and by a store
 *   replacing a duplicate (each erases the entry first), and by writeback's second put (the entry
 *   was still in the tree when it was done);
 * - a holder's reference, taken by the lookup (zswap_entry_find_get) of a load or a writeback
 *   under the tree lock, after the call began: dropped by the load's put, writeback's first put.
 * invalidate_area frees what is left directly, whatever its refcount.
 */

type Put = Extract<TraceCall, { kind: 'put' }>;
type Free = Extract<TraceCall, { kind: 'free' }>;
type Point = Put | Free;
type Role = 'tree' | 'holder' | 'unknown';

/** One life of an entry address: from its first put/free after its store to its free. */
interface Life {
  /** puts and frees of this life, in order */
  events: Point[];
  /** when the tree's reference was dropped, if it was */
  treeDropAt?: number;
  freed?: Free;
}

interface Context {
  parents: Map<Point, ParentCall | null>;
  /** per entry address, the holder calls (loads, writebacks) that put it, with the put */
  holdersOf: Map<string, { holder: ParentCall; put: Put }[]>;
  /** stores per `type:offset` and per `?:offset`, by start (a reused address needs a new store) */
  storesAt: Map<string, { start: number; end?: number }[]>;
  gaps: { from: number; to: number }[];
  window: number;
  calls: readonly TraceCall[];
}

function listIn<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}

function roleOf(put: Put, parent: ParentCall | null, earlier: Put[]): Role {
  if (!parent) return 'unknown';
  switch (parent.kind) {
    case 'invalidate':
    case 'store':
      return 'tree';
    case 'load':
      return 'holder';
    case 'writeback':
      // The first put drops the lookup's reference, a second one (entry still in the tree) the tree's.
      return earlier.some((p) => p.entry === put.entry) ? 'tree' : 'holder';
    default:
      return 'unknown';
  }
}

const overlapsGap = (ctx: Context, from: number, to: number): boolean => ctx.gaps.some((g) => g.from <= to && g.to >= from);

/** The index of the first element of sorted `list` whose key is above `after`. */
function firstAbove<T>(list: readonly T[], after: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(list[mid]!) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A store of the event's slot ran between `since` and `until` (it may have begun before: it
 * allocates its entry somewhere inside the call): the address may now be a new entry.
 */
function storedSince(ctx: Context, e: Point, since: number, until: number): boolean {
  const key = e.slot.type === UNKNOWN_TYPE ? `?:${e.slot.offset}` : slotName(e.slot);
  const stores = ctx.storesAt.get(key) ?? [];
  // Stores of one slot barely overlap: the few that began last before `until` are the candidates.
  const last = firstAbove(stores, until, (x) => x.start) - 1;
  for (let i = last; i >= 0 && i > last - 4; i--) if ((stores[i]!.end ?? Infinity) > since) return true;
  return false;
}

/** Holders of an address whose put comes after `t`, nearest first (a few: holders overlap briefly). */
function holdersAfter(ctx: Context, entry: string, t: number): { holder: ParentCall; put: Put }[] {
  const list = ctx.holdersOf.get(entry) ?? [];
  const i = firstAbove(list, t, (h) => h.put.start);
  return list.slice(i, i + 16);
}

function violation(ctx: Context, rule: RuleId, e: Point, message: string, life: Life): Violation {
  const parent = ctx.parents.get(e);
  const events = [...(parent ? [parent] : []), ...life.events.slice(-ctx.window), e].filter((c, i, all) => all.indexOf(c) === i);
  events.sort((a, b) => a.start - b.start || a.seq - b.seq);
  return { rule, message, slot: e.slot, entry: e.entry, events };
}

function where(ctx: Context, e: Point): string {
  const p = ctx.parents.get(e);
  return p ? `${p.kind} #${p.seq}` : `#${e.seq} (outside any traced call)`;
}

/** Checks one put against its entry's life; returns the violations it shows. */
function checkPut(ctx: Context, put: Put, life: Life, role: Role, found: Violation[]): void {
  const parent = ctx.parents.get(put) ?? null;
  if (role === 'holder' && parent && put.refcount === 1 && !overlapsGap(ctx, parent.start, put.start)) {
    // The lookup came after the call began; a legitimate last reference needs the tree's dropped since.
    if (life.treeDropAt === undefined || life.treeDropAt < parent.start) {
      found.push(
        violation(ctx, 'put-without-reference', put, `${where(ctx, put)} of slot ${slotName(put.slot)} drops the last reference of entry ${put.entry} (refcount 1) while the tree still holds it: the ${parent.kind} dropped a reference its lookup never took, so the put frees an entry still in the tree`, life),
      );
    }
  }
  if (role === 'tree' && put.refcount === 1) {
    // Any holder that found the entry before it left the tree, and drops it later, is uncounted.
    for (const { holder, put: later } of holdersAfter(ctx, put.entry, put.start)) {
      if (holder.start >= put.start || holder === parent || later.start <= put.start) continue;
      if (overlapsGap(ctx, holder.start, later.start)) continue;
      // The address freed here and stored again: the holder found the new entry at its slot.
      if (storedSince(ctx, later, put.start, later.start)) continue;
      found.push(
        violation(ctx, 'put-without-reference', put, `${where(ctx, put)} drops the tree's reference of entry ${put.entry} (slot ${slotName(put.slot)}) at refcount 1, but ${holder.kind} #${holder.seq} still uses it (its put is #${later.seq}): that reference was never taken, and the entry is freed under it`, life),
      );
      break;
    }
  }
  if (role === 'tree') {
    if (life.treeDropAt !== undefined && !overlapsGap(ctx, life.treeDropAt, put.start)) {
      found.push(violation(ctx, 'double-free', put, `${where(ctx, put)} drops the tree's reference of entry ${put.entry} (slot ${slotName(put.slot)}) a second time`, life));
    }
    life.treeDropAt = put.start;
  }
}

function checkFree(ctx: Context, free: Free, life: Life, found: Violation[]): void {
  const parent = ctx.parents.get(free) ?? null;
  const viaPut = life.events.at(-1);
  const lastPut = viaPut?.kind === 'put' && viaPut.pid === free.pid ? viaPut : undefined;
  const refs = free.refcount ?? 0;
  if (lastPut && lastPut.refcount !== 1) {
    found.push(violation(ctx, 'free-while-referenced', free, `${where(ctx, free)} frees entry ${free.entry} (slot ${slotName(free.slot)}) in a put that found refcount ${lastPut.refcount}: ${lastPut.refcount - 1} reference(s) remain`, life));
    // Outside a put only invalidate_area frees, whatever the refcount (DESIGN.md: swapoff waits
    // for, or frees, every entry); a holder that then drops its reference is a use after free.
  } else if (!lastPut && refs > 0 && parent?.kind !== 'swapoff') {
    found.push(violation(ctx, 'free-while-referenced', free, `${where(ctx, free)} frees entry ${free.entry} (slot ${slotName(free.slot)}) with refcount ${refs}, not through its last put`, life));
  }
}

/** Puts and frees of an address already freed: a use or a free after free, unless a store could have reused it. */
function afterFree(ctx: Context, e: Point, life: Life): Violation | undefined {
  const freed = life.freed!;
  if (overlapsGap(ctx, freed.start, e.start) || storedSince(ctx, e, freed.start, e.start)) return undefined;
  if (e.kind === 'free') return violation(ctx, 'double-free', e, `${where(ctx, e)} frees entry ${e.entry} (slot ${slotName(e.slot)}) again: it was freed at #${freed.seq}`, life);
  return violation(ctx, 'use-after-free', e, `${where(ctx, e)} drops a reference of entry ${e.entry} (slot ${slotName(e.slot)}), freed at #${freed.seq}`, life);
}

/** A put naming a swap type's tree after invalidate_area freed it, before the type's next init. */
function treeChecks(ctx: Context, found: Violation[]): void {
  const treeOfType = new Map<number, string>();
  const deadTrees = new Map<string, Extract<TraceCall, { kind: 'swapoff' }>>();
  const order = [...ctx.calls].filter((c) => c.kind === 'put' || c.kind === 'swapoff' || c.kind === 'swapon');
  for (const c of order) {
    if (c.kind === 'swapoff') {
      const tree = treeOfType.get(c.type);
      if (tree !== undefined && c.end !== undefined) deadTrees.set(tree, { ...c, start: c.end });
    } else if (c.kind === 'swapon') {
      for (const [tree, off] of deadTrees) if (off.type === c.type) deadTrees.delete(tree);
    } else if (c.kind === 'put') {
      const dead = deadTrees.get(c.tree);
      if (dead && !overlapsGap(ctx, dead.start, c.start)) {
        found.push({ rule: 'tree-use-after-swapoff', message: `${where(ctx, c)} locks tree ${c.tree} of swap type ${dead.type} to drop a reference of entry ${c.entry}, after swapoff #${dead.seq} (invalidate_area) freed that tree`, slot: c.slot, entry: c.entry, events: [dead, c] });
        deadTrees.delete(c.tree);
      }
      if (c.slot.type !== UNKNOWN_TYPE) treeOfType.set(c.slot.type, c.tree);
    }
  }
}

/**
 * invalidate_area frees every remaining entry: per slot, the stores that put an entry in the tree
 * less the puts that dropped the tree's reference and the frees inside invalidate_area; a slot of
 * the type still holding one when invalidate_area returns kept an entry past its tree. A slot
 * whose store did not return, or that a gap in the trace hides, is not judged.
 */
function leftAfterSwapoff(ctx: Context, treeDrops: ReadonlySet<Put>, found: Violation[]): void {
  type Ev = { at: number; kind: 'in' | 'out' | 'unknown' | 'check' | 'gap'; key?: string; call: TraceCall };
  const evs: Ev[] = [];
  for (const c of ctx.calls) {
    if (c.kind === 'store' && c.ok !== false) evs.push(c.ok ? { at: c.end!, kind: 'in', key: slotName(c.slot), call: c } : { at: c.start, kind: 'unknown', key: slotName(c.slot), call: c });
    else if (c.kind === 'put' && treeDrops.has(c)) evs.push({ at: c.start, kind: 'out', key: slotName(c.slot), call: c });
    else if (c.kind === 'free' && ctx.parents.get(c)?.kind === 'swapoff') evs.push({ at: c.start, kind: 'out', key: slotName(c.slot), call: c });
    else if (c.kind === 'swapoff' && c.end !== undefined) evs.push({ at: c.end, kind: 'check', call: c });
    else if (c.kind === 'lost') evs.push({ at: c.start, kind: 'gap', call: c });
  }
  evs.sort((a, b) => a.at - b.at);
  const live = new Map<string, { n: number; unknown: boolean; store?: TraceCall }>();
  for (const e of evs) {
    const s = e.key === undefined ? undefined : (live.get(e.key) ?? { n: 0, unknown: false });
    if (s && e.key !== undefined) live.set(e.key, s);
    if (e.kind === 'in') Object.assign(s!, { n: s!.n + 1, store: e.call });
    else if (e.kind === 'out') s!.n--;
    else if (e.kind === 'unknown') s!.unknown = true;
    else if (e.kind === 'gap') for (const v of live.values()) v.unknown = true;
    else if (e.call.kind === 'swapoff') {
      const type = e.call.type;
      for (const [key, v] of live) {
        if (!key.startsWith(`${type}:`)) continue;
        if (v.n > 0 && !v.unknown) found.push({ rule: 'swapoff-with-live-entries', message: `swapoff #${e.call.seq} (invalidate_area of type ${type}) returned, but slot ${key}'s entry stored by store #${v.store?.seq} was neither dropped from the tree nor freed`, slot: v.store?.kind === 'store' ? v.store.slot : undefined, events: [...(v.store ? [v.store] : []), e.call] });
        live.delete(key);
      }
    }
  }
}

function countStats(ctx: Context, holderLastPut: number): LifetimeStats {
  const stats = emptyStats();
  const putsIn = new Map<ParentCall, number>();
  for (const [e, p] of ctx.parents) if (p && e.kind === 'put') putsIn.set(p, (putsIn.get(p) ?? 0) + 1);
  for (const c of ctx.calls) {
    switch (c.kind) {
      case 'store':
        if (c.ok === undefined) stats.pending.store++;
        else if (c.ok) {
          stats.store++;
          if (putsIn.has(c)) stats.storeReplaced++;
        } else stats.storeFailed++;
        break;
      case 'load':
        // 6.1 loads are never exclusive: the entry stays until its slot is invalidated.
        if (c.hit === undefined) stats.pending.load++;
        else if (c.hit) stats.loadHitNonExclusive++;
        else stats.loadMiss++;
        break;
      case 'invalidate':
        if (putsIn.has(c)) stats.invalidateLive++;
        else if (c.end === undefined) stats.pending.invalidate++;
        else stats.invalidateEmpty++;
        break;
      case 'writeback':
        // ret 0 and no put: the entry had been invalidated, nothing was written.
        if (c.ret === undefined) stats.pending.writeback++;
        else if (c.ret === 0 && putsIn.has(c)) stats.writeback++;
        else stats.writebackAborted++;
        break;
      case 'swapoff':
      case 'swapon':
      case 'lost':
        countSwapAndLoss(stats, c);
        break;
      case 'free':
        countFree(stats, ctx.parents.get(c));
        break;
      default:
        break;
    }
  }
  const freesOf = new Map<ParentCall, Free[]>();
  for (const [e, p] of ctx.parents) if (p && e.kind === 'free') listIn(freesOf, p).push(e);
  stats.swapoffUnuse = countSwapoffUnuse(ctx.calls, freesOf);
  stats.holderLastPut = holderLastPut;
  stats.writtenBackUnsettled = concurrentWritebacks(ctx.calls);
  return stats;
}

/**
 * 6.1 bumps the plain `zswap_written_back_pages++` inside the writeback call, not atomically:
 * writebacks that overlap in time may lose bumps to each other.
 */
function concurrentWritebacks(calls: readonly TraceCall[]): number {
  const done = calls.filter((c): c is Extract<TraceCall, { kind: 'writeback' }> => c.kind === 'writeback' && c.ret === 0).sort((a, b) => a.start - b.start);
  let n = 0;
  let until = -Infinity;
  for (const w of done) {
    if (w.start <= until) n++;
    until = Math.max(until, w.end ?? Infinity);
  }
  return n;
}

function contextOf(calls: readonly TraceCall[], window: number): Context {
  const parents = nestWithin(calls, (c): c is Point => c.kind === 'put' || c.kind === 'free');
  const holdersOf = new Map<string, { holder: ParentCall; put: Put }[]>();
  for (const [e, p] of parents) if (p && e.kind === 'put' && (p.kind === 'load' || p.kind === 'writeback')) listIn(holdersOf, e.entry).push({ holder: p, put: e });
  const storesAt = new Map<string, { start: number; end?: number }[]>();
  for (const c of calls) {
    if (c.kind !== 'store') continue;
    for (const key of [slotName(c.slot), `?:${c.slot.offset}`]) listIn(storesAt, key).push({ start: c.start, end: c.end });
  }
  const gaps = calls.filter((c) => c.kind === 'lost').map((c) => ({ from: c.start, to: c.end ?? c.start }));
  return { parents, holdersOf, storesAt, gaps, window, calls };
}

/** Replays a 6.1 trace's references in lock order and checks the refcount rules on it. */
export function replayRefcounted(calls: readonly TraceCall[], options: ReplayOptions = {}): ReplayResult {
  validate(calls);
  const sorted = [...calls].sort((a, b) => a.start - b.start || a.seq - b.seq);
  const ctx = contextOf(sorted, options.window ?? 5);
  const lives = new Map<string, Life>();
  const putsSoFar = new Map<ParentCall, Put[]>();
  const found: Violation[] = [];
  let holderLastPut = 0;
  const treeDrops = new Set<Put>();
  for (const e of sorted) {
    if (e.kind !== 'put' && e.kind !== 'free') continue;
    let life = lives.get(e.entry);
    if (life?.freed) {
      const v = afterFree(ctx, e, life);
      if (v) {
        // Blamed once: the use of a freed entry says nothing more about its references.
        found.push(v);
        lives.set(e.entry, { events: [e], treeDropAt: e.start, freed: e.kind === 'free' ? e : undefined });
        continue;
      }
      // Reused by a new store: a new life.
      life = undefined;
    }
    if (!life) lives.set(e.entry, (life = { events: [] }));
    const parent = ctx.parents.get(e) ?? null;
    if (e.kind === 'put') {
      const earlier = parent ? listIn(putsSoFar, parent) : [];
      const role = roleOf(e, parent, earlier);
      checkPut(ctx, e, life, role, found);
      if (role === 'tree') treeDrops.add(e);
      if (role === 'holder' && e.refcount === 1 && life.treeDropAt !== undefined && parent && life.treeDropAt >= parent.start) holderLastPut++;
      earlier.push(e);
    } else {
      checkFree(ctx, e, life, found);
      life.freed = e;
    }
    life.events.push(e);
  }
  treeChecks(ctx, found);
  leftAfterSwapoff(ctx, treeDrops, found);
  found.sort((a, b) => (a.events.at(-1)?.start ?? 0) - (b.events.at(-1)?.start ?? 0));
  return { violations: found, stats: countStats(ctx, holderLastPut), inconclusive: [], slotsChecked: new Set(sorted.filter((c) => c.kind === 'store').map((c) => slotName((c as Extract<TraceCall, { kind: 'store' }>).slot))).size };
}
