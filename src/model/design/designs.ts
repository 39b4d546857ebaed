import {
  SHRINK_BEGIN,
  STORE_BEGIN,
  LOAD_BEGIN,
  allocEntry,
  dropFolio,
  entryName,
  entryUsable,
  freeEntry,
  pinSlot,
  putEntry,
  resetLocals,
  treeUsable,
  writeToDisk,
  type Step,
  type ZswapDesign,
} from './programs.js';
import { versionName, type Broken, type DState } from './state.js';

/**
 * The designs, each transcribed from its source at the granularity of its locks:
 * - v6.1: Debian's 6.1 mm/zswap.c: frontswap, rbtree + refcount, zbud-evict writeback.
 * - v6.7: mm/zswap.c of v6.7 with the memcg-aware shrinker that followed it (shrink_memcg_cb in
 *   v6.8-rc, the code the seed thread discusses): rbtree + tree spinlock + per-entry refcount.
 * - seed-proposal: the writeback Chengming Zhou sketched in the seed thread (swap cache first).
 * - v6.12: Debian's 6.12 mm/zswap.c: xarray, LRU rotate before unlock, folio pin, xa_cmpxchg.
 * - v6.12-no-cmpxchg: v6.12 with the ownership check removed from writeback.
 */

const FAILED = 1;

function finishAttempt(s: DState, t: number): void {
  const th = s.threads[t]!;
  th.left--;
  resetLocals(th, SHRINK_BEGIN);
}

/** Entries the shrinker can find on the LRU (a freed entry is never on it). */
function lruEntries(s: DState): number[] {
  const out: number[] = [];
  s.entries.forEach((e, i) => {
    if (e.lru && !e.freed) out.push(i);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// rbtree + refcount (v6.7), shared by seed-proposal

/** zswap_invalidate_entry: erase from the tree if still there, drop the tree's reference. */
function rbInvalidateEntry(s: DState, i: number, out: Broken[], who: string): string {
  const e = s.entries[i]!;
  const sl = s.slots[e.slot]!;
  if (sl.tree !== i) return `${entryName(s, i)} already out of the tree`;
  sl.tree = -1;
  const freed = putEntry(s, i, out, who);
  return `erase ${entryName(s, i)}, drop the tree's reference${freed ? ' (freed)' : ''}`;
}

const rbStore = (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  switch (th.pc) {
    case STORE_BEGIN:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          th2.tree = s2.tree;
          if (!treeUsable(s2, th2.tree, out, 'zswap_store: spin_lock(&tree->lock)')) return 'zswap_store: lock tree';
          const dup = s2.slots[th2.slot]!.tree;
          th2.pc = STORE_BEGIN + 1;
          if (dup < 0) return `zswap_store: lock tree t${th2.tree}: no duplicate at slot ${th2.slot}; unlock`;
          return `zswap_store: lock tree t${th2.tree}: duplicate at slot ${th2.slot}: ${rbInvalidateEntry(s2, dup, out, 'zswap_store')}; unlock`;
        },
      ];
    case STORE_BEGIN + 1:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const slot = th2.slot;
          const i = allocEntry(s2, slot, th2.data, 1, false);
          if (!treeUsable(s2, th2.tree, out, 'zswap_store: spin_lock(&tree->lock) to insert')) return 'zswap_store: lock tree';
          let dup = '';
          const old = s2.slots[slot]!.tree;
          if (old >= 0) dup = ` (WARN: duplicate again: ${rbInvalidateEntry(s2, old, out, 'zswap_store')})`;
          s2.slots[slot]!.tree = i;
          s2.entries[i]!.lru = true;
          s2.stored++;
          th2.pc = th2.ret;
          return `zswap_store: compress into ${entryName(s2, i)} (${versionName(th2.data)}); lock tree, insert at slot ${slot}${dup}, add to LRU; unlock; stored_pages++`;
        },
      ];
    default:
      return [];
  }
};

/** zswap_load of v6.7 with exclusive loads off (the default): the entry stays in the tree. */
/** v6.7's zswap_load (moves the entry to the LRU head); 6.1's (the LRU is zbud's, a load leaves it) is rbLoadWith(false). */
const rbLoad = (s: DState, t: number): Step[] => rbLoadWith(true)(s, t);

const rbLoadWith = (lruMove: boolean) => (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  switch (th.pc) {
    case LOAD_BEGIN:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          th2.tree = s2.tree;
          if (!treeUsable(s2, th2.tree, out, 'zswap_load: spin_lock(&tree->lock)')) return 'zswap_load: lock tree';
          const sl = s2.slots[th2.slot]!;
          if (sl.tree < 0) {
            th2.data = sl.disk;
            th2.pc = th2.ret;
            return `zswap_load: lock tree t${th2.tree}: no entry at slot ${th2.slot}; unlock; read ${versionName(sl.disk)} from disk`;
          }
          th2.entry = sl.tree;
          s2.entries[sl.tree]!.ref++;
          th2.pc = LOAD_BEGIN + 1;
          return `zswap_load: lock tree t${th2.tree}: find ${entryName(s2, sl.tree)}, take a reference (ref ${s2.entries[sl.tree]!.ref}); unlock`;
        },
      ];
    case LOAD_BEGIN + 1:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          if (!entryUsable(s2, i, out, 'zswap_load: decompress')) return 'zswap_load: decompress';
          th2.data = s2.entries[i]!.ver;
          if (!treeUsable(s2, th2.tree, out, 'zswap_load: spin_lock(&tree->lock) after decompress')) return 'zswap_load: lock tree';
          // list_move() puts the entry back on the LRU even if the shrinker had isolated it.
          if (lruMove) s2.entries[i]!.lru = true;
          const freed = putEntry(s2, i, out, 'zswap_load: zswap_entry_put');
          const name = entryName(s2, i);
          th2.entry = -1;
          th2.pc = th2.ret;
          return `zswap_load: decompress ${name} (${versionName(th2.data)}); lock tree, ${lruMove ? 'move it to the LRU head, ' : ''}drop the reference${freed ? ' (freed)' : ''}; unlock`;
        },
      ];
    default:
      return [];
  }
};

function rbInvalidate(s: DState, slot: number, out: Broken[]): string {
  if (!treeUsable(s, s.tree, out, 'zswap_invalidate: spin_lock(&tree->lock)')) return 'zswap_invalidate';
  const i = s.slots[slot]!.tree;
  if (i < 0) return 'zswap_invalidate: no entry';
  return `zswap_invalidate: lock tree, ${rbInvalidateEntry(s, i, out, 'zswap_invalidate')}; unlock`;
}

/** shrink_memcg_cb + zswap_writeback_entry as in v6.7 / v6.8-rc: the tree is looked up after the LRU unlock. */
const v67Shrinker = (d: () => ZswapDesign) => (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  const S = th.slot;
  switch (th.pc) {
    case SHRINK_BEGIN:
      if (th.left === 0) return [];
      return lruEntries(s).map((i) => (s2: DState) => {
        const th2 = s2.threads[t]!;
        const e = s2.entries[i]!;
        th2.entry = i;
        th2.slot = e.slot;
        th2.tree = s2.tree;
        e.lru = false;
        th2.pc = SHRINK_BEGIN + 1;
        return `lock LRU; isolate ${entryName(s2, i)}; read its swpentry (slot ${e.slot}) and zswap_trees[type] (t${s2.tree}); unlock LRU`;
      });
    case SHRINK_BEGIN + 1:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          if (!treeUsable(s2, th2.tree, out, 'shrink_memcg_cb: spin_lock(&tree->lock)')) return `lock tree t${th2.tree}`;
          if (s2.slots[S]!.tree !== i) {
            const name = entryName(s2, i);
            finishAttempt(s2, t);
            return `lock tree t${th2.tree}: ${name} is no longer at slot ${S} (invalidated): unlock, skip it`;
          }
          s2.entries[i]!.ref++;
          th2.pc = SHRINK_BEGIN + 2;
          return `lock tree t${th2.tree}: ${entryName(s2, i)} still at slot ${S}: take a reference (ref ${s2.entries[i]!.ref}); unlock`;
        },
      ];
    case SHRINK_BEGIN + 2:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          if (!entryUsable(s2, th2.entry, out, 'zswap_writeback_entry: read entry->swpentry')) return 'zswap_writeback_entry';
          const pin = pinSlot(s2, t, S);
          if (!pin.ok) {
            th2.data = FAILED;
            th2.pc = SHRINK_BEGIN + 5;
            return `zswap_writeback_entry: __read_swap_cache_async(slot ${S}) fails: ${pin.why}`;
          }
          th2.pc = SHRINK_BEGIN + 3;
          return `zswap_writeback_entry: __read_swap_cache_async(slot ${S}): new folio locked in the swap cache`;
        },
      ];
    case SHRINK_BEGIN + 3:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          if (!treeUsable(s2, th2.tree, out, 'zswap_writeback_entry: spin_lock(&tree->lock)')) return `lock tree t${th2.tree}`;
          if (s2.slots[S]!.tree !== th2.entry) {
            th2.data = FAILED;
            th2.pc = SHRINK_BEGIN + 5;
            return `zswap_writeback_entry: lock tree: ${entryName(s2, th2.entry)} was invalidated meanwhile; unlock; delete the folio from the swap cache${dropFolio(d(), s2, S, out)}`;
          }
          th2.pc = SHRINK_BEGIN + 4;
          return `zswap_writeback_entry: lock tree: ${entryName(s2, th2.entry)} still at slot ${S}; unlock`;
        },
      ];
    case SHRINK_BEGIN + 4:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          if (!entryUsable(s2, i, out, 'zswap_writeback_entry: decompress')) return 'decompress';
          const disk = writeToDisk(s2, S, s2.entries[i]!.ver, out, 'zswap_writeback_entry');
          th2.data = 0;
          th2.pc = SHRINK_BEGIN + 5;
          return `decompress ${entryName(s2, i)} into the folio; __swap_writepage: ${disk}; folio unlocked and reclaimed${dropFolio(d(), s2, S, out)}`;
        },
      ];
    case SHRINK_BEGIN + 5:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          const name = entryName(s2, i);
          if (!treeUsable(s2, th2.tree, out, 'shrink_memcg_cb: spin_lock(&tree->lock) after writeback')) return `lock tree t${th2.tree}`;
          let what: string;
          if (th2.data === FAILED) {
            if (!entryUsable(s2, i, out, 'shrink_memcg_cb: put the entry back on the LRU')) return 'putback';
            s2.entries[i]!.lru = true;
            what = `writeback failed: put ${name} back on the LRU`;
          } else {
            what = `written back: ${rbInvalidateEntry(s2, i, out, 'shrink_memcg_cb')}`;
          }
          const freed = putEntry(s2, i, out, 'shrink_memcg_cb: drop the local reference');
          finishAttempt(s2, t);
          return `lock tree t${th2.tree === -1 ? '?' : th2.tree}: ${what}; drop the local reference${freed ? ` (${name} freed)` : ''}; unlock`;
        },
      ];
    default:
      return [];
  }
};

/** v6.7 zswap_swapoff: frees whatever is left in the tree (whatever its refcount), then the tree. */
function v67Swapoff(s: DState, out: Broken[]): string {
  const id = s.tree;
  if (id < 0) return 'zswap_swapoff: no tree';
  if (!treeUsable(s, id, out, 'zswap_swapoff')) return 'zswap_swapoff';
  const freed: string[] = [];
  for (const sl of s.slots) {
    if (sl.tree < 0) continue;
    freed.push(entryName(s, sl.tree));
    freeEntry(s, sl.tree, out, 'zswap_swapoff');
    sl.tree = -1;
  }
  s.freedTrees |= 1 << id;
  s.tree = -1;
  return `zswap_swapoff: lock tree t${id}, free ${freed.length ? freed.join(', ') : 'nothing left'}; kfree(tree t${id})`;
}

/** zswap_swapoff once try_to_unuse() has invalidated everything: the tree must be empty. */
function emptyTreeSwapoff(s: DState, out: Broken[]): string {
  const id = s.tree;
  if (id < 0) return 'zswap_swapoff: no tree';
  if (!treeUsable(s, id, out, 'zswap_swapoff')) return 'zswap_swapoff';
  const left = s.slots.map((sl, k) => ({ sl, k })).filter(({ sl }) => sl.tree >= 0);
  if (left.length > 0) {
    out.push({
      rule: 'swapoff-with-live-entries',
      message: `zswap_swapoff: ${left.map(({ sl, k }) => `${entryName(s, sl.tree)} at slot ${k}`).join(', ')} still in the tree after try_to_unuse()`,
    });
  }
  s.freedTrees |= 1 << id;
  s.tree = -1;
  return `zswap_swapoff: tree t${id} is empty; free it`;
}

// ---------------------------------------------------------------------------------------------
// v6.1: frontswap, rbtree + refcount, writeback from zbud's evict callback

/** zswap_entry_put: drop a reference; at zero, erase the entry from the tree (if there) and free it. */
function v61Put(s: DState, i: number, out: Broken[], who: string): boolean {
  const freed = putEntry(s, i, out, who);
  const sl = s.slots[s.entries[i]!.slot]!;
  if (freed && sl.tree === i) sl.tree = -1;
  return freed;
}

/**
 * zbud_reclaim_page + zswap_writeback_entry(pool, handle) as in Debian's 6.1: zbud takes a page
 * off its LRU (its handle's bytes survive a zswap free while under reclaim), zswap reads the
 * swpentry from the handle and zswap_trees[type] without a lock, looks the *slot* up in the tree
 * (the entry found may not be the handle's), pins the slot with a swap-cache page, rechecks the
 * entry, writes the handle's data, then drops its reference and the tree's if still there.
 */
const v61Shrinker = (d: () => ZswapDesign) => (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  const S = th.slot;
  const finish = (s2: DState): void => finishAttempt(s2, t);
  switch (th.pc) {
    case SHRINK_BEGIN:
      if (th.left === 0) return [];
      return lruEntries(s).map((i) => (s2: DState) => {
        const th2 = s2.threads[t]!;
        const e = s2.entries[i]!;
        e.lru = false;
        th2.slot = e.slot;
        th2.data = e.ver;
        th2.pc = SHRINK_BEGIN + 1;
        return `zbud_reclaim_page: lock pool; take ${entryName(s2, i)}'s zbud page off the LRU (under reclaim: its handle outlives a free); unlock pool`;
      });
    case SHRINK_BEGIN + 1:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          th2.tree = s2.tree;
          th2.pc = SHRINK_BEGIN + 2;
          return `zswap_writeback_entry: read zhdr->swpentry (slot ${S}) from the handle, and zswap_trees[type] (${th2.tree < 0 ? 'NULL' : `t${th2.tree}`})`;
        },
      ];
    case SHRINK_BEGIN + 2:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          if (!treeUsable(s2, th2.tree, out, 'zswap_writeback_entry: spin_lock(&tree->lock)')) return 'lock tree';
          const j = s2.slots[S]!.tree;
          if (j < 0) {
            finish(s2);
            return `zswap_writeback_entry: lock tree t${th2.tree}: no entry at slot ${S} (invalidated); unlock, return 0`;
          }
          s2.entries[j]!.ref++;
          th2.entry = j;
          th2.pc = SHRINK_BEGIN + 3;
          return `zswap_writeback_entry: lock tree t${th2.tree}: zswap_entry_find_get(slot ${S}) finds ${entryName(s2, j)} (ref ${s2.entries[j]!.ref}); unlock`;
        },
      ];
    case SHRINK_BEGIN + 3:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const pin = pinSlot(s2, t, S);
          if (!pin.ok) {
            th2.pc = SHRINK_BEGIN + 6;
            return `zswap_get_swap_cache_page(slot ${S}) fails: ${pin.why}`;
          }
          if (!treeUsable(s2, th2.tree, out, 'zswap_writeback_entry: spin_lock(&tree->lock) to recheck')) return 'lock tree';
          if (s2.slots[S]!.tree !== th2.entry) {
            th2.pc = SHRINK_BEGIN + 6;
            return `zswap_get_swap_cache_page(slot ${S}): new page locked; lock tree: ${entryName(s2, th2.entry)} is no longer current; unlock; delete the page from the swap cache${dropFolio(d(), s2, S, out)}`;
          }
          th2.pc = SHRINK_BEGIN + 4;
          return `zswap_get_swap_cache_page(slot ${S}): new page locked; lock tree: ${entryName(s2, th2.entry)} still current; unlock`;
        },
      ];
    case SHRINK_BEGIN + 4:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          if (!entryUsable(s2, th2.entry, out, 'zswap_writeback_entry: decompress (entry->length, entry->pool)')) return 'decompress';
          // The bytes are the handle's: the version zbud's page held, whatever the entry found is.
          const disk = writeToDisk(s2, S, th2.data, out, 'zswap_writeback_entry');
          th2.pc = SHRINK_BEGIN + 5;
          return `decompress the handle's data (${versionName(th2.data)}) into the page; __swap_writepage: ${disk}; page reclaimed${dropFolio(d(), s2, S, out)}`;
        },
      ];
    case SHRINK_BEGIN + 5:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const j = th2.entry;
          const name = entryName(s2, j);
          if (!treeUsable(s2, th2.tree, out, 'zswap_writeback_entry: spin_lock(&tree->lock) after writeback')) return 'lock tree';
          const first = v61Put(s2, j, out, 'zswap_writeback_entry: drop the local reference');
          const still = s2.slots[S]!.tree === j;
          const second = still && v61Put(s2, j, out, "zswap_writeback_entry: drop the tree's reference");
          finish(s2);
          return `lock tree t${th2.tree}: drop the local reference${first ? ` (${name} freed)` : ''}; ${still ? `${name} still in the tree: drop the tree's reference${second ? ` (${name} erased and freed)` : ''}` : `${name} no longer in the tree`}; unlock`;
        },
      ];
    case SHRINK_BEGIN + 6:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const name = entryName(s2, th2.entry);
          if (!treeUsable(s2, th2.tree, out, 'zswap_writeback_entry: spin_lock(&tree->lock) on failure')) return 'lock tree';
          const freed = v61Put(s2, th2.entry, out, 'zswap_writeback_entry: drop the local reference (fail)');
          finish(s2);
          return `writeback failed: lock tree t${th2.tree}, drop the local reference${freed ? ` (${name} freed)` : ''}; unlock`;
        },
      ];
    default:
      return [];
  }
};

// ---------------------------------------------------------------------------------------------
// seed-proposal

/** The seed thread's shrink_memcg_cb: pin the folio in the swap cache first, then the tree. */
const seedShrinker = (d: () => ZswapDesign) => (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  const S = th.slot;
  switch (th.pc) {
    case SHRINK_BEGIN:
      if (th.left === 0) return [];
      return lruEntries(s).map((i) => (s2: DState) => {
        const th2 = s2.threads[t]!;
        const e = s2.entries[i]!;
        th2.entry = i;
        th2.slot = e.slot;
        th2.pc = SHRINK_BEGIN + 1;
        return `lock LRU; pick ${entryName(s2, i)} (left on the LRU); read its swpentry (slot ${e.slot}); unlock LRU`;
      });
    case SHRINK_BEGIN + 1:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          const pin = pinSlot(s2, t, S);
          if (!pin.ok) {
            finishAttempt(s2, t);
            return `__read_swap_cache_async(slot ${S}) fails: ${pin.why}; give up`;
          }
          th2.pc = SHRINK_BEGIN + 2;
          return `__read_swap_cache_async(slot ${S}): new folio locked in the swap cache (pins the slot against swapoff)`;
        },
      ];
    case SHRINK_BEGIN + 2:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          th2.tree = s2.tree;
          if (!treeUsable(s2, th2.tree, out, 'shrink_memcg_cb: spin_lock(&tree->lock) under the folio pin')) return 'lock tree';
          if (s2.slots[S]!.tree !== i) {
            const name = entryName(s2, i);
            const drop = dropFolio(d(), s2, S, out);
            finishAttempt(s2, t);
            return `lock tree: ${name} is no longer at slot ${S}; unlock; delete the folio from the swap cache${drop}`;
          }
          s2.entries[i]!.ref++;
          const inv = rbInvalidateEntry(s2, i, out, 'shrink_memcg_cb');
          s2.entries[i]!.lru = false;
          th2.pc = SHRINK_BEGIN + 3;
          return `lock tree t${th2.tree}: ${entryName(s2, i)} still at slot ${S}: take a reference, ${inv}, remove it from the LRU; unlock`;
        },
      ];
    case SHRINK_BEGIN + 3:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          const name = entryName(s2, i);
          if (!entryUsable(s2, i, out, '__zswap_load into the writeback folio')) return 'decompress';
          const disk = writeToDisk(s2, S, s2.entries[i]!.ver, out, 'shrink_memcg_cb');
          const drop = dropFolio(d(), s2, S, out);
          freeEntry(s2, i, out, 'shrink_memcg_cb: zswap_free_entry');
          finishAttempt(s2, t);
          return `decompress ${name}; __swap_writepage: ${disk}; folio unlocked and reclaimed${drop}; zswap_free_entry(${name})`;
        },
      ];
    default:
      return [];
  }
};

// ---------------------------------------------------------------------------------------------
// xarray (v6.12)

const xaStore = (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  switch (th.pc) {
    case STORE_BEGIN:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const slot = th2.slot;
          if (!treeUsable(s2, s2.tree, out, 'zswap_store: xa_store')) return 'zswap_store';
          const i = allocEntry(s2, slot, th2.data, 0, false);
          const old = s2.slots[slot]!.tree;
          s2.slots[slot]!.tree = i;
          th2.pc = STORE_BEGIN + 1;
          th2.entry = i;
          let freed = '';
          if (old >= 0) {
            freed = `; zswap_entry_free(${entryName(s2, old)}) (the stale one it replaced)`;
            freeEntry(s2, old, out, 'zswap_store');
          }
          return `zswap_store: compress into ${entryName(s2, i)} (${versionName(th2.data)}); xa_store at slot ${slot}${freed}`;
        },
      ];
    case STORE_BEGIN + 1:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          s2.entries[i]!.lru = true;
          s2.stored++;
          const name = entryName(s2, i);
          th2.entry = -1;
          th2.pc = th2.ret;
          return `zswap_store: add ${name} to the LRU (lock LRU); stored_pages++`;
        },
      ];
    default:
      return [];
  }
};

/** zswap_load into the swap cache: exclusive, xa_erase then free. */
const xaLoad = (s: DState, t: number): Step[] => {
  if (s.threads[t]!.pc !== LOAD_BEGIN) return [];
  return [
    (s2, out) => {
      const th2 = s2.threads[t]!;
      const slot = th2.slot;
      th2.pc = th2.ret;
      if (!treeUsable(s2, s2.tree, out, 'zswap_load: xa_erase')) return 'zswap_load';
      const i = s2.slots[slot]!.tree;
      if (i < 0) {
        th2.data = s2.slots[slot]!.disk;
        return `zswap_load: xa_erase(slot ${slot}) finds nothing; read ${versionName(th2.data)} from disk`;
      }
      s2.slots[slot]!.tree = -1;
      const name = entryName(s2, i);
      if (!entryUsable(s2, i, out, 'zswap_load: decompress')) return 'zswap_load';
      th2.data = s2.entries[i]!.ver;
      freeEntry(s2, i, out, 'zswap_load');
      return `zswap_load: xa_erase(slot ${slot}) takes ${name}; decompress (${versionName(th2.data)}); zswap_entry_free(${name})`;
    },
  ];
};

function xaInvalidate(s: DState, slot: number, out: Broken[]): string {
  if (!treeUsable(s, s.tree, out, 'zswap_invalidate: xa_erase')) return 'zswap_invalidate';
  const i = s.slots[slot]!.tree;
  if (i < 0) return 'zswap_invalidate: xa_erase finds nothing';
  s.slots[slot]!.tree = -1;
  freeEntry(s, i, out, 'zswap_invalidate');
  return `zswap_invalidate: xa_erase takes ${entryName(s, i)}; zswap_entry_free`;
}

/** shrink_memcg_cb + zswap_writeback_entry of 6.12; `ownershipCheck` false drops the xa_cmpxchg. */
const xaShrinker = (d: () => ZswapDesign, ownershipCheck: boolean) => (s: DState, t: number): Step[] => {
  const th = s.threads[t]!;
  const S = th.slot;
  switch (th.pc) {
    case SHRINK_BEGIN:
      if (th.left === 0) return [];
      return lruEntries(s).map((i) => (s2: DState) => {
        const th2 = s2.threads[t]!;
        const e = s2.entries[i]!;
        th2.entry = i;
        th2.slot = e.slot;
        th2.pc = SHRINK_BEGIN + 1;
        return `lock LRU; rotate ${entryName(s2, i)} to the LRU tail; copy its swpentry (slot ${e.slot}); unlock LRU`;
      });
    case SHRINK_BEGIN + 1:
      return [
        (s2) => {
          const th2 = s2.threads[t]!;
          const pin = pinSlot(s2, t, S);
          if (!pin.ok) {
            finishAttempt(s2, t);
            return `zswap_writeback_entry: __read_swap_cache_async(slot ${S}) fails: ${pin.why}`;
          }
          th2.pc = SHRINK_BEGIN + 2;
          return `zswap_writeback_entry: __read_swap_cache_async(slot ${S}): new folio locked in the swap cache (pins the slot and the tree)`;
        },
      ];
    case SHRINK_BEGIN + 2:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          const name = entryName(s2, i);
          if (!treeUsable(s2, s2.tree, out, 'zswap_writeback_entry: swap_zswap_tree')) return 'zswap_writeback_entry';
          const sl = s2.slots[S]!;
          if (!ownershipCheck) {
            const had = sl.tree;
            sl.tree = -1;
            th2.pc = SHRINK_BEGIN + 3;
            return `zswap_writeback_entry: xa_erase(slot ${S}) without checking it holds ${name} (it held ${entryName(s2, had)})`;
          }
          if (sl.tree !== i) {
            const drop = dropFolio(d(), s2, S, out);
            finishAttempt(s2, t);
            return `zswap_writeback_entry: xa_cmpxchg(slot ${S}, ${name}, NULL) fails: the slot holds ${entryName(s2, sl.tree)}; delete the folio from the swap cache${drop}; -ENOMEM`;
          }
          sl.tree = -1;
          th2.pc = SHRINK_BEGIN + 3;
          return `zswap_writeback_entry: xa_cmpxchg(slot ${S}, ${name}, NULL) succeeds: the entry is ours`;
        },
      ];
    case SHRINK_BEGIN + 3:
      return [
        (s2, out) => {
          const th2 = s2.threads[t]!;
          const i = th2.entry;
          const e = s2.entries[i]!;
          const name = entryName(s2, i);
          // The data written is the entry's; what breaks first for the user is the disk write.
          const disk = writeToDisk(s2, S, e.ver, out, 'zswap_writeback_entry');
          entryUsable(s2, i, out, 'zswap_writeback_entry: zswap_decompress');
          freeEntry(s2, i, out, 'zswap_writeback_entry');
          const drop = dropFolio(d(), s2, S, out);
          finishAttempt(s2, t);
          return `zswap_writeback_entry: decompress ${name} (${versionName(e.ver)}); zswpwb++; zswap_entry_free(${name}); __swap_writepage: ${disk}; folio unlocked and reclaimed${drop}`;
        },
      ];
    default:
      return [];
  }
};

// ---------------------------------------------------------------------------------------------

function makeDesigns(): ZswapDesign[] {
  const v67: ZswapDesign = {
    name: 'v6.7',
    summary:
      'rbtree + tree spinlock + per-entry refcount; the shrinker reads entry->swpentry and the tree pointer under the LRU lock, drops it, then locks a tree that swapoff may have freed',
    store: rbStore,
    load: rbLoad,
    invalidate: rbInvalidate,
    shrinker: v67Shrinker(() => v67),
    zswapSwapoff: v67Swapoff,
  };
  const seed: ZswapDesign = {
    name: 'seed-proposal',
    summary:
      'the seed thread sketch: rbtree + refcount, but writeback first pins the folio in the swap cache (__read_swap_cache_async), then locks the tree, rechecks the entry, invalidates it early and frees it after the write; zswap_swapoff only frees the (empty) tree',
    store: rbStore,
    load: rbLoad,
    invalidate: rbInvalidate,
    shrinker: seedShrinker(() => seed),
    zswapSwapoff: emptyTreeSwapoff,
  };
  const v612: ZswapDesign = {
    name: 'v6.12',
    summary:
      'xarray, exclusive loads; the shrinker rotates the entry on the LRU before unlocking, pins the slot with a swap-cache folio, and takes the entry only if xa_cmpxchg finds it still there',
    store: xaStore,
    load: xaLoad,
    invalidate: xaInvalidate,
    shrinker: xaShrinker(() => v612, true),
    zswapSwapoff: emptyTreeSwapoff,
  };
  const noCmpxchg: ZswapDesign = {
    name: 'v6.12-no-cmpxchg',
    summary: 'v6.12 with the ownership check dropped: writeback erases whatever the slot holds (xa_erase) and writes its own, possibly stale, entry',
    store: xaStore,
    load: xaLoad,
    invalidate: xaInvalidate,
    shrinker: xaShrinker(() => noCmpxchg, false),
    zswapSwapoff: emptyTreeSwapoff,
  };
  const v61: ZswapDesign = {
    name: 'v6.1',
    summary:
      "Debian's 6.1: frontswap hooks, rbtree + tree spinlock + per-entry refcount; writeback from zbud's evict callback reads zswap_trees[type] unlocked and looks the handle's slot up in the tree; invalidate_area frees whatever is left",
    store: rbStore,
    load: rbLoadWith(false),
    invalidate: rbInvalidate,
    shrinker: v61Shrinker(() => v61),
    zswapSwapoff: v67Swapoff,
  };
  return [v61, v67, seed, v612, noCmpxchg];
}

export const DESIGNS: readonly ZswapDesign[] = makeDesigns();
