import {
  DEV_OFF,
  DEV_ON,
  DEV_UNUSING,
  FOLIO_UNLOCKED,
  NO_FOLIO,
  PAGE_CACHED,
  PAGE_MEM,
  PAGE_SWAPPED,
  version,
  versionName,
  type Broken,
  type DState,
  type Thread,
} from './state.js';

/**
 * The step programs. Each thread's next step is a function that mutates a copy of the state and
 * returns what it did; a thread with no step is blocked (or done). Workers swap their page out and
 * in, the shrinker writes entries back, and the swapoff thread runs swapoff then swapon. The zswap
 * parts (store, load, invalidate, writeback, zswap_swapoff) differ per design (designs.ts).
 */

export type Step = (s: DState, out: Broken[]) => string;

/** The zswap code of one design, written at lock/atomic-step granularity. */
export interface ZswapDesign {
  name: string;
  summary: string;
  /** store subroutine (pc STORE_BEGIN..): the thread holds the folio of th.slot locked; th.data is the version */
  store(s: DState, t: number): Step[];
  /** load subroutine (pc LOAD_BEGIN..): the thread holds the folio of th.slot locked; leaves the data read in th.data */
  load(s: DState, t: number): Step[];
  /** zswap_invalidate(slot), one atomic step; called when a slot is freed */
  invalidate(s: DState, slot: number, out: Broken[]): string;
  /** the shrinker's program (pc SHRINK_BEGIN..) */
  shrinker(s: DState, t: number): Step[];
  /** zswap_swapoff(type), after try_to_unuse() emptied the device */
  zswapSwapoff(s: DState, out: Broken[]): string;
}

export const W_IDLE = 0;
export const W_STORE_END = 1;
export const W_LOAD_END = 2;
export const O_IDLE = 0;
export const O_UNUSE = 1;
export const O_UNUSE_END = 3;
export const O_SWAPON = 4;
export const O_DONE = 5;
export const STORE_BEGIN = 10;
export const LOAD_BEGIN = 20;
export const SHRINK_BEGIN = 30;

export interface Layout {
  workers: number;
}

export const shrinkerId = (l: Layout): number => l.workers;
export const swapoffId = (l: Layout): number => l.workers + 1;

export function threadName(l: Layout, t: number): string {
  if (t < l.workers) return `worker${t}`;
  return t === shrinkerId(l) ? 'shrinker' : 'swapoff';
}

export const entryName = (s: DState, i: number): string => (i >= 0 && s.entries[i] ? `e${s.entries[i]!.id}` : 'none');

/** Resets a thread's locals so idle threads with different leftovers hash alike. */
export function resetLocals(th: Thread, pc: number): void {
  th.pc = pc;
  th.ret = 0;
  th.slot = -1;
  th.entry = -1;
  th.tree = -1;
  th.data = 0;
}

/** Dereferences tree `id` (its lock or its xarray): a freed or NULL tree is a use-after-free. */
export function treeUsable(s: DState, id: number, out: Broken[], what: string): boolean {
  if (id < 0) {
    out.push({ rule: 'use-after-free', message: `${what}: zswap_trees[type] is NULL (swapoff freed the tree)` });
    return false;
  }
  if (s.freedTrees & (1 << id)) {
    out.push({ rule: 'use-after-free', message: `${what}: tree t${id} was already freed by zswap_swapoff()` });
    return false;
  }
  return true;
}

export function entryUsable(s: DState, i: number, out: Broken[], what: string): boolean {
  const e = s.entries[i]!;
  if (e.freed) {
    out.push({ rule: 'use-after-free', message: `${what}: entry e${e.id} was already freed` });
    return false;
  }
  return true;
}

/** zswap_entry_free / zswap_free_entry: off the LRU, memory freed, stored_pages--. */
export function freeEntry(s: DState, i: number, out: Broken[], what: string): void {
  const e = s.entries[i]!;
  if (e.freed) {
    out.push({ rule: 'double-free', message: `${what}: entry e${e.id} freed a second time` });
    return;
  }
  e.freed = true;
  e.lru = false;
  s.stored--;
}

/** zswap_entry_put: drop a reference, free at zero. Returns whether it freed. */
export function putEntry(s: DState, i: number, out: Broken[], what: string): boolean {
  const e = s.entries[i]!;
  if (e.freed) {
    out.push({ rule: 'use-after-free', message: `${what}: refcount of entry e${e.id} dropped after it was freed` });
    return false;
  }
  e.ref--;
  if (e.ref < 0) {
    out.push({ rule: 'double-free', message: `${what}: refcount of entry e${e.id} went below zero` });
    return false;
  }
  if (e.ref === 0) {
    freeEntry(s, i, out, what);
    return true;
  }
  return false;
}

export function allocEntry(s: DState, slot: number, ver: number, ref: number, lru: boolean): number {
  s.entries.push({ id: s.nextEntryId++, slot, ver, ref, freed: false, lru });
  return s.entries.length - 1;
}

/**
 * Writes an entry's data to the slot on disk: the entry's version must be the data the slot's
 * owner expects, or the write puts old data over a slot that was freed and reused.
 */
export function writeToDisk(s: DState, slot: number, ver: number, out: Broken[], who: string): string {
  const sl = s.slots[slot]!;
  if (sl.owner !== ver) {
    out.push({
      rule: 'stale-writeback-after-reuse',
      message: `${who} writes ${versionName(ver)} to slot ${slot}, which ${sl.owner === 0 ? 'is free' : `now belongs to ${versionName(sl.owner)}`}: old data over a reused slot`,
    });
  }
  sl.disk = ver;
  return `slot ${slot} on disk ← ${versionName(ver)}`;
}

/** A slot with no PTE reference and no swap-cache folio is freed, and zswap_invalidate() runs. */
export function slotMaybeFree(d: ZswapDesign, s: DState, slot: number, out: Broken[]): string {
  const sl = s.slots[slot]!;
  if (sl.count !== 0 || sl.cache !== NO_FOLIO || sl.owner === 0) return '';
  sl.owner = 0;
  return `; slot ${slot} freed: ${d.invalidate(s, slot, out)}`;
}

/** The folio in the swap cache for `slot` is deleted (and unlocked); the slot may become free. */
export function dropFolio(d: ZswapDesign, s: DState, slot: number, out: Broken[]): string {
  const sl = s.slots[slot]!;
  sl.cache = NO_FOLIO;
  sl.cacheVer = 0;
  return slotMaybeFree(d, s, slot, out);
}

/**
 * __read_swap_cache_async() as writeback uses it: fails when the device is going away
 * (get_swap_device), when the slot is no longer in use (swapcache_prepare: the entry was freed),
 * or when a folio is already in the swap cache; else a new locked folio pins the slot.
 */
export function pinSlot(s: DState, t: number, slot: number): { ok: true } | { ok: false; why: string } {
  const sl = s.slots[slot]!;
  if (s.dev === DEV_OFF) return { ok: false, why: 'swap device is gone (get_swap_device fails)' };
  if (sl.cache !== NO_FOLIO) return { ok: false, why: 'a folio is already in the swap cache: -EEXIST' };
  if (sl.count === 0) return { ok: false, why: 'the swap entry is no longer in use' };
  sl.cache = t;
  sl.cacheVer = 0;
  return { ok: true };
}

function lowestFreeSlot(s: DState): number {
  return s.slots.findIndex((sl) => sl.count === 0 && sl.cache === NO_FOLIO && sl.owner === 0);
}

function nextVersion(s: DState, page: number): number {
  const p = s.pages[page]!;
  return version(page, p.ver === 0 ? 1 : (p.ver % 100) + 1);
}

/** A worker owns page `t` and, while it has operations left, swaps it out and in. */
export function workerSteps(d: ZswapDesign, s: DState, t: number): Step[] {
  const th = s.threads[t]!;
  if (th.pc >= STORE_BEGIN && th.pc < LOAD_BEGIN) return d.store(s, t);
  if (th.pc >= LOAD_BEGIN && th.pc < SHRINK_BEGIN) return d.load(s, t);
  const page = s.pages[t]!;
  switch (th.pc) {
    case W_IDLE: {
      if (page.ops === 0) return [];
      const steps: Step[] = [];
      if (page.where === PAGE_MEM) {
        const slot = s.dev === DEV_ON ? lowestFreeSlot(s) : -1;
        if (slot >= 0) {
          steps.push((s2) => {
            const p = s2.pages[t]!;
            const sl = s2.slots[slot]!;
            const th2 = s2.threads[t]!;
            const v = nextVersion(s2, t);
            p.ops--;
            p.ver = v;
            sl.count = 1;
            sl.cache = t;
            sl.cacheVer = v;
            sl.owner = v;
            th2.slot = slot;
            th2.data = v;
            th2.pc = STORE_BEGIN;
            th2.ret = W_STORE_END;
            return `write page p${t} (${versionName(v)}) and swap it out: slot ${slot} allocated, folio locked in the swap cache`;
          });
        }
      } else if (page.where === PAGE_SWAPPED) {
        const slot = page.slot;
        if (s.slots[slot]!.cache === NO_FOLIO) {
          steps.push((s2) => {
            s2.pages[t]!.ops--;
            const sl = s2.slots[slot]!;
            const th2 = s2.threads[t]!;
            sl.cache = t;
            sl.cacheVer = 0;
            th2.slot = slot;
            th2.pc = LOAD_BEGIN;
            th2.ret = W_LOAD_END;
            return `fault on page p${t}: swap in slot ${slot}, new folio locked in the swap cache`;
          });
        }
        steps.push((s2, out) => {
          const p = s2.pages[t]!;
          p.ops--;
          p.where = PAGE_MEM;
          p.slot = -1;
          s2.slots[slot]!.count = 0;
          return `unmap page p${t} (its data is discarded): swap count of slot ${slot} drops to 0${slotMaybeFree(d, s2, slot, out)}`;
        });
      } else if (page.where === PAGE_CACHED) {
        const slot = page.slot;
        if (s.slots[slot]!.cache === FOLIO_UNLOCKED) {
          steps.push((s2) => {
            const p = s2.pages[t]!;
            const sl = s2.slots[slot]!;
            const th2 = s2.threads[t]!;
            const v = nextVersion(s2, t);
            p.ops--;
            p.ver = v;
            sl.cache = t;
            sl.cacheVer = v;
            sl.owner = v;
            sl.count = 1;
            th2.slot = slot;
            th2.data = v;
            th2.pc = STORE_BEGIN;
            th2.ret = W_STORE_END;
            return `write page p${t} again (${versionName(v)}) and swap it out to slot ${slot}, where it still is in the swap cache: folio locked`;
          });
          steps.push((s2, out) => {
            const p = s2.pages[t]!;
            p.ops--;
            p.where = PAGE_MEM;
            p.slot = -1;
            return `free the swap cache copy of page p${t}: folio deleted from the swap cache${dropFolio(d, s2, slot, out)}`;
          });
        }
      }
      return steps;
    }
    case W_STORE_END:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          const slot = th2.slot;
          const sl = s2.slots[slot]!;
          sl.cache = NO_FOLIO;
          sl.cacheVer = 0;
          const p = s2.pages[t]!;
          p.where = PAGE_SWAPPED;
          p.slot = slot;
          resetLocals(th2, W_IDLE);
          return `swapout of page p${t} done: folio unlocked and reclaimed; the page lives in slot ${slot}`;
        },
      ];
    case W_LOAD_END:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const slot = th2.slot;
          const got = th2.data;
          const p = s2.pages[t]!;
          if (got !== p.ver) {
            out.push({ rule: 'data-mismatch', message: `page p${t} read ${versionName(got)} from slot ${slot}, expected ${versionName(p.ver)}` });
          }
          const sl = s2.slots[slot]!;
          sl.count = 0;
          sl.cache = FOLIO_UNLOCKED;
          sl.cacheVer = got;
          p.where = PAGE_CACHED;
          p.slot = slot;
          resetLocals(th2, W_IDLE);
          return `swapin of page p${t} done (${versionName(got)}): mapped, folio unlocked, still in the swap cache`;
        },
      ];
    default:
      return [];
  }
}

/** swapoff(2): try_to_unuse() brings every page in, then zswap_swapoff(); then swapon(2) again. */
export function swapoffSteps(d: ZswapDesign, s: DState, t: number): Step[] {
  const th = s.threads[t]!;
  if (th.pc >= LOAD_BEGIN && th.pc < SHRINK_BEGIN) return d.load(s, t);
  switch (th.pc) {
    case O_IDLE:
      if (th.left === 0 || s.dev !== DEV_ON) return [];
      return [
        (s2) => {
          s2.dev = DEV_UNUSING;
          s2.threads[t]!.pc = O_UNUSE;
          return 'swapoff(type 0) begins: no new slots from this device; try_to_unuse()';
        },
      ];
    case O_UNUSE: {
      const slot = s.slots.findIndex((sl) => sl.count > 0 || sl.cache !== NO_FOLIO);
      if (slot < 0) {
        return [
          (s2, out) => {
            s2.dev = DEV_OFF;
            s2.threads[t]!.pc = O_SWAPON;
            return `try_to_unuse() done; device users drained (get_swap_device fails from now); ${d.zswapSwapoff(s2, out)}`;
          },
        ];
      }
      const sl = s.slots[slot]!;
      if (sl.cache >= 0) return []; // waits for the folio lock
      if (sl.cache === FOLIO_UNLOCKED) {
        return [
          (s2, out) => {
            const owner = s2.pages.findIndex((p) => p.where === PAGE_CACHED && p.slot === slot);
            if (owner >= 0) {
              s2.pages[owner]!.where = PAGE_MEM;
              s2.pages[owner]!.slot = -1;
            }
            s2.slots[slot]!.count = 0;
            return `try_to_unuse: slot ${slot} has a folio in the swap cache: lock it, delete it from the swap cache${dropFolio(d, s2, slot, out)}`;
          },
        ];
      }
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          s2.slots[slot]!.cache = t;
          s2.slots[slot]!.cacheVer = 0;
          th2.slot = slot;
          th2.pc = LOAD_BEGIN;
          th2.ret = O_UNUSE_END;
          return `try_to_unuse: swap in slot ${slot}: new folio locked in the swap cache`;
        },
      ];
    }
    case O_UNUSE_END:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const slot = th2.slot;
          const got = th2.data;
          const owner = s2.pages.findIndex((p) => p.where === PAGE_SWAPPED && p.slot === slot);
          if (owner >= 0) {
            const p = s2.pages[owner]!;
            if (got !== p.ver) {
              out.push({ rule: 'data-mismatch', message: `swapoff brought page p${owner} in from slot ${slot} with ${versionName(got)}, expected ${versionName(p.ver)}` });
            }
            p.where = PAGE_MEM;
            p.slot = -1;
          }
          s2.slots[slot]!.count = 0;
          resetLocals(th2, O_UNUSE);
          return `try_to_unuse: slot ${slot} read (${versionName(got)})${owner >= 0 ? ` into page p${owner}` : ''}, folio deleted from the swap cache${dropFolio(d, s2, slot, out)}`;
        },
      ];
    case O_SWAPON:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          const id = s2.nextTree++;
          s2.tree = id;
          s2.dev = DEV_ON;
          for (const sl of s2.slots) {
            sl.count = 0;
            sl.cache = NO_FOLIO;
            sl.cacheVer = 0;
            sl.disk = 0;
            sl.owner = 0;
            sl.tree = -1;
          }
          th2.left--;
          resetLocals(th2, th2.left > 0 ? O_IDLE : O_DONE);
          return `swapon(type 0) again: zswap_swapon() allocates a new tree t${id}`;
        },
      ];
    default:
      return [];
  }
}
