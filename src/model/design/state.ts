import type { RuleId } from '../rules.js';

/**
 * The state of the design checker's little machine: one swap type with a few slots, the zswap
 * tree of the current swapon, entries, the pages the worker threads swap in and out, and each
 * thread's program counter and locals. Every lock-protected critical section is one atomic step,
 * so the only lock that is held across steps is the swap-cache folio lock (`SlotS.cache`).
 *
 * Simplifications, each sound for the races checked here: one swap type; entries never reuse an
 * address (with slab reuse, a pointer comparison could match a newer entry at the same slot,
 * which then is the slot's current entry and holds the right data); a folio written back is
 * reclaimed right away; stores do not fail (the failed-store rule is checked on kernel traces).
 */

/** `SlotS.cache`: no folio in the swap cache for the slot */
export const NO_FOLIO = -2;
/** `SlotS.cache`: a folio is in the swap cache, unlocked (values >= 0: locked by that thread) */
export const FOLIO_UNLOCKED = -1;

export interface Entry {
  /** allocation number, only to name entries in counterexamples (not part of the state's identity) */
  id: number;
  slot: number;
  /** data version it holds */
  ver: number;
  /** refcount (rbtree designs); unused by the xarray designs */
  ref: number;
  freed: boolean;
  /** on the zswap LRU */
  lru: boolean;
}

export interface SlotS {
  /** swap_map count: 1 while a page's PTE holds this swap entry */
  count: number;
  /** NO_FOLIO, FOLIO_UNLOCKED, or the id of the thread holding the folio lock */
  cache: number;
  /** data version in the cached folio (0: not uptodate) */
  cacheVer: number;
  /** data version on the swap device at this slot (0: never written) */
  disk: number;
  /** data version the slot must hold for the page that owns it (0: slot free) */
  owner: number;
  /** index in `entries` of the entry the current tree holds at this slot, or -1 */
  tree: number;
}

export const PAGE_MEM = 0;
export const PAGE_SWAPPED = 1;
export const PAGE_CACHED = 2;

export interface Page {
  /** PAGE_MEM: resident, no slot; PAGE_SWAPPED: only in swap (slot); PAGE_CACHED: resident and in the swap cache (slot) */
  where: number;
  slot: number;
  /** the data version the page holds (what a read of it must see) */
  ver: number;
  /** operations the owning worker may still start */
  ops: number;
}

export interface Thread {
  pc: number;
  /** where a subroutine (store/load) returns */
  ret: number;
  slot: number;
  /** index in `entries`, or -1 */
  entry: number;
  /** id of the tree the thread looked up, or -1 */
  tree: number;
  /** data read, version to store, or a flag */
  data: number;
  /** shrinker attempts / swapoff cycles left */
  left: number;
}

export const DEV_ON = 0;
/** swapoff in progress: no new slots are handed out (SWP_WRITEOK cleared) */
export const DEV_UNUSING = 1;
/** swapoff done: get_swap_device() fails */
export const DEV_OFF = 2;

export interface DState {
  dev: number;
  /** id of the current tree (zswap_trees[type]), -1 between swapoff and swapon */
  tree: number;
  /** bitmask of freed tree ids */
  freedTrees: number;
  nextTree: number;
  entries: Entry[];
  nextEntryId: number;
  slots: SlotS[];
  pages: Page[];
  threads: Thread[];
  /** zswap_stored_pages */
  stored: number;
}

export interface Broken {
  rule: RuleId;
  message: string;
}

export function cloneState(s: DState): DState {
  return {
    dev: s.dev,
    tree: s.tree,
    freedTrees: s.freedTrees,
    nextTree: s.nextTree,
    entries: s.entries.map((e) => ({ ...e })),
    nextEntryId: s.nextEntryId,
    slots: s.slots.map((x) => ({ ...x })),
    pages: s.pages.map((p) => ({ ...p })),
    threads: s.threads.map((t) => ({ ...t })),
    stored: s.stored,
  };
}

/**
 * Drops freed entries nobody points to any more (they can no longer matter) and checks that
 * entries are told apart by (slot, version), which canonicalKey relies on.
 */
export function normalize(s: DState): void {
  const referenced = new Set<number>();
  for (const sl of s.slots) if (sl.tree >= 0) referenced.add(sl.tree);
  for (const t of s.threads) if (t.entry >= 0) referenced.add(t.entry);
  const keep: number[] = [];
  const names = new Set<number>();
  s.entries.forEach((e, i) => {
    if (e.freed && !referenced.has(i)) return;
    const name = e.slot * 65536 + e.ver;
    if (names.has(name)) throw new Error(`design model: two entries hold version ${e.ver} of slot ${e.slot}`);
    names.add(name);
    keep.push(i);
  });
  if (keep.length === s.entries.length) return;
  const remap = new Map<number, number>();
  keep.forEach((old, k) => remap.set(old, k));
  s.entries = keep.map((i) => s.entries[i]!);
  for (const sl of s.slots) sl.tree = sl.tree >= 0 ? remap.get(sl.tree)! : -1;
  for (const t of s.threads) t.entry = t.entry >= 0 ? remap.get(t.entry)! : -1;
}

/**
 * The identity of a state up to renaming the workers: workers run the same program with the same
 * budget and slots are handed out without regard to who asks, so two states that differ only by
 * which worker (and which worker's page) is which behave alike. The key is the least encoding over
 * all permutations of the workers; entries are named by (slot, version), which is unique (every
 * store writes a fresh version), so their allocation order does not matter either. Every field is
 * one UTF-16 code unit (all are small ints).
 */
export function canonicalKey(s: DState, workers: number, perms: readonly (readonly number[])[]): string {
  let best = '';
  for (const perm of perms) {
    const k = keyUnder(s, workers, perm);
    if (best === '' || k < best) best = k;
  }
  return best;
}

/** All permutations of 0..n-1 (n is at most 4 here). */
export function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) {
    for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), n - 1, ...rest.slice(at)]);
  }
  return out;
}

const keyBuffer: number[] = [];

function keyUnder(s: DState, workers: number, perm: readonly number[]): string {
  const ver = (v: number): number => (v >= 100 ? (perm[Math.floor(v / 100) - 1]! + 1) * 100 + (v % 100) : v);
  const k = keyBuffer;
  k.length = 0;
  k.push(s.dev, s.tree, s.freedTrees, s.stored, s.entries.length);
  // Entries in (slot, version) order; there are only a handful, so insertion sort.
  const order: number[] = [];
  const code = (i: number): number => s.entries[i]!.slot * 65536 + ver(s.entries[i]!.ver);
  for (let i = 0; i < s.entries.length; i++) {
    const c = code(i);
    let at = order.length;
    while (at > 0 && code(order[at - 1]!) > c) at--;
    order.splice(at, 0, i);
  }
  for (const i of order) {
    const e = s.entries[i]!;
    k.push(e.slot, ver(e.ver), e.ref, (e.freed ? 1 : 0) | (e.lru ? 2 : 0));
  }
  for (const x of s.slots) {
    k.push(x.count, x.cache >= 0 && x.cache < workers ? perm[x.cache]! : x.cache, ver(x.cacheVer), ver(x.disk), ver(x.owner), x.tree < 0 ? -1 : ver(s.entries[x.tree]!.ver));
  }
  const inverse: number[] = [];
  for (let from = 0; from < workers; from++) inverse[perm[from]!] = from;
  for (let j = 0; j < workers; j++) {
    const p = s.pages[inverse[j]!]!;
    k.push(p.where, p.slot, ver(p.ver), p.ops);
  }
  for (let j = 0; j < s.threads.length; j++) {
    const th = s.threads[j < workers ? inverse[j]! : j]!;
    const e = th.entry < 0 ? null : s.entries[th.entry]!;
    k.push(th.pc, th.ret, th.slot, e ? e.slot : -1, e ? ver(e.ver) : -1, th.tree, ver(th.data), th.left);
  }
  // Offset keeps -2..-1 (NO_FOLIO, "none") positive; versions stay far below 0xffff.
  let out = '';
  for (let i = 0; i < k.length; i++) out += String.fromCharCode(k[i]! + 8);
  return out;
}

/** Data version `k` of page `p`: globally unique, so a page's data never passes for another's. */
export function version(page: number, k: number): number {
  return (page + 1) * 100 + k;
}

export function versionName(v: number): string {
  if (v <= 0) return '-';
  return `p${Math.floor(v / 100) - 1}v${v % 100}`;
}
