import type { RuleId } from '../rules.js';

/**
 * The state of the design checker's little machine: one swap type with a few slots, the zswap
 * tree of the current swapon, entries, the pages the worker threads swap in and out, and each
 * thread's program counter and locals. Every lock-protected critical section is one atomic step,
 * so the only lock that is held across steps is the swap-cache folio lock (`SlotS.cache`).
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
 * Drops freed entries nobody points to and renumbers entries by where they are first referenced
 * (tree slots, then thread locals, then leaked ones), so states that differ only in allocation
 * order or garbage hash alike. Entry identity carries no meaning beyond these references.
 */
export function normalize(s: DState): void {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number): void => {
    if (i >= 0 && !seen.has(i)) {
      seen.add(i);
      order.push(i);
    }
  };
  for (const sl of s.slots) visit(sl.tree);
  for (const t of s.threads) visit(t.entry);
  const rest = s.entries
    .map((e, i) => ({ e, i }))
    .filter(({ e, i }) => !seen.has(i) && !e.freed)
    .sort((a, b) => entryKey(a.e).localeCompare(entryKey(b.e)));
  for (const { i } of rest) visit(i);
  if (order.length === s.entries.length && order.every((v, k) => v === k)) return;
  const remap = new Map<number, number>();
  order.forEach((old, k) => remap.set(old, k));
  s.entries = order.map((i) => s.entries[i]!);
  for (const sl of s.slots) sl.tree = sl.tree >= 0 ? remap.get(sl.tree)! : -1;
  for (const t of s.threads) t.entry = t.entry >= 0 ? remap.get(t.entry)! : -1;
}

function entryKey(e: Entry): string {
  return `${e.slot}.${e.ver}.${e.ref}.${e.freed ? 1 : 0}${e.lru ? 1 : 0}`;
}

/** The identity of a normalized state: every field as one UTF-16 code unit (all are small ints). */
export function stateKey(s: DState): string {
  const k: number[] = [s.dev, s.tree, s.freedTrees, s.stored, s.entries.length];
  for (const e of s.entries) k.push(e.slot, e.ver, e.ref, (e.freed ? 1 : 0) | (e.lru ? 2 : 0));
  for (const x of s.slots) k.push(x.count, x.cache, x.cacheVer, x.disk, x.owner, x.tree);
  for (const p of s.pages) k.push(p.where, p.slot, p.ver, p.ops);
  for (const t of s.threads) k.push(t.pc, t.ret, t.slot, t.entry, t.tree, t.data, t.left);
  // Offset keeps -2..-1 (NO_FOLIO, "none") positive; versions stay far below 0xffff.
  for (let i = 0; i < k.length; i++) k[i] = k[i]! + 8;
  return String.fromCharCode(...k);
}

/** Data version `k` of page `p`: globally unique, so a page's data never passes for another's. */
export function version(page: number, k: number): number {
  return (page + 1) * 100 + k;
}

export function versionName(v: number): string {
  if (v <= 0) return '-';
  return `p${Math.floor(v / 100) - 1}v${v % 100}`;
}
