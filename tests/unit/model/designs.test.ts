import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { DEFAULT_BOUNDS, checkDesign, listDesigns } from '../../../src/model/design/checker.js';
import { formatDesignCheck } from '../../../src/model/format.js';
import { NO_FOLIO, canonicalKey, permutations, version, type DState } from '../../../src/model/design/state.js';

describe('listDesigns', () => {
  it('describes each design in a sentence', () => {
    const designs = listDesigns();
    expect(designs.map((d) => d.name)).toEqual(['v6.1', 'v6.7', 'seed-proposal', 'v6.12', 'v6.12-no-cmpxchg']);
    for (const d of designs) expect(d.summary.length).toBeGreaterThan(40);
  });
});

describe('checkDesign', () => {
  it('v6.1: the swapoff race is there too: zbud’s evict reads zswap_trees[type] unlocked, swapoff frees the tree (10 steps)', () => {
    const r = checkDesign('v6.1');
    expect(r.violation?.rule).toBe('use-after-free');
    const steps = r.violation!.steps;
    expect(steps).toHaveLength(10);
    expect(steps.some((s) => s.thread === 'shrinker' && /zbud_reclaim_page: .* off the LRU/.test(s.action))).toBe(true);
    expect(steps.some((s) => s.thread === 'swapoff' && /kfree\(tree t0\)/.test(s.action))).toBe(true);
    expect(r.violation!.message).toMatch(/zswap_writeback_entry: spin_lock\(&tree->lock\): tree t0 was already freed/);
  });

  it('v6.1: without swapoff, writeback looks up the handle’s slot, finds the entry that reused it, and writes the old data over it (14 steps)', () => {
    const r = checkDesign('v6.1', { swapoffCycles: 0 });
    expect(r.violation?.rule).toBe('stale-writeback-after-reuse');
    const steps = r.violation!.steps;
    expect(steps).toHaveLength(14);
    expect(steps.some((s) => /zswap_entry_find_get\(slot 0\) finds e2/.test(s.action))).toBe(true);
    expect(steps.at(-1)!.action).toMatch(/decompress the handle's data \(p0v1\) into the page; __swap_writepage: slot 0 on disk ← p0v1/);
  });

  it('v6.7: finds the swapoff use-after-free of the seed thread, in 9 steps', () => {
    const r = checkDesign('v6.7');
    expect(r.violation?.rule).toBe('use-after-free');
    const steps = r.violation!.steps;
    // store (4 steps), the shrinker takes the entry off the LRU and drops the LRU lock, the entry
    // is invalidated, swapoff frees the tree, the shrinker locks the freed tree.
    expect(steps).toHaveLength(9);
    expect(steps[4]).toMatchObject({ thread: 'shrinker' });
    expect(steps[4]!.action).toMatch(/zswap_trees\[type\] \(t0\); unlock LRU/);
    expect(steps.some((s) => s.thread === 'swapoff' && /kfree\(tree t0\)/.test(s.action))).toBe(true);
    expect(steps[8]).toMatchObject({ thread: 'shrinker', action: 'lock tree t0' });
    expect(r.violation!.message).toMatch(/spin_lock\(&tree->lock\): tree t0 was already freed/);
    expect(steps.every((s, i) => s.index === i + 1)).toBe(true);
  });

  it('v6.7: with one operation per worker, the race needs swapoff to swap the page in (12 steps)', () => {
    const r = checkDesign('v6.7', { opsPerThread: 1 });
    expect(r.violation?.rule).toBe('use-after-free');
    expect(r.violation!.steps).toHaveLength(12);
    expect(r.violation!.steps.some((s) => /try_to_unuse: swap in slot 0/.test(s.action))).toBe(true);
  });

  it('v6.12-no-cmpxchg: finds the stale-data overwrite after slot reuse, in 13 steps', () => {
    const r = checkDesign('v6.12-no-cmpxchg');
    expect(r.violation?.rule).toBe('stale-writeback-after-reuse');
    const steps = r.violation!.steps;
    expect(steps).toHaveLength(13);
    // invalidated and freed, the slot reused by a new store, then the old data written over it
    expect(steps.findIndex((s) => /slot 0 freed: zswap_invalidate: xa_erase takes e1/.test(s.action))).toBeGreaterThan(0);
    expect(steps.some((s) => /write page p\d \(p\dv\d\) and swap it out: slot 0 allocated/.test(s.action) && s.index > 6)).toBe(true);
    expect(steps[12]!.action).toMatch(/slot 0 on disk ← p0v1/);
    expect(r.violation!.message).toMatch(/writes p0v1 to slot 0, which now belongs to p\dv\d/);
    expect(r.violation!.alsoBroken.map((a) => a.rule)).toContain('use-after-free');
  });

  it('v6.12-no-cmpxchg: without slot reuse there is no violation', () => {
    // one operation per worker and no swapoff: no slot is ever freed and handed out again
    const r = checkDesign('v6.12-no-cmpxchg', { opsPerThread: 1, swapoffCycles: 0 });
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(true);
  });

  it('v6.12-no-cmpxchg: a slot reused across swapoff and swapon is enough', () => {
    const r = checkDesign('v6.12-no-cmpxchg', { opsPerThread: 1 });
    expect(r.violation?.rule).toBe('stale-writeback-after-reuse');
    expect(r.violation!.steps.some((s) => s.thread === 'swapoff' && /allocates a new tree t1/.test(s.action))).toBe(true);
  });

  it('v6.12: exhausts the default bounds with no violation, and reaches the races that matter', () => {
    const r = checkDesign('v6.12', {}, { coverage: true });
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(true);
    expect(r.bounds).toEqual(DEFAULT_BOUNDS);
    const kinds = Object.keys(r.coverage!).join('\n');
    expect(kinds).toMatch(/xa_cmpxchg\(slot #, e#, NULL\) fails: the slot holds e#/);
    expect(kinds).toMatch(/__read_swap_cache_async\(slot #\) fails: the swap entry is no longer in use/);
    expect(kinds).toMatch(/__read_swap_cache_async\(slot #\) fails: swap device is gone/);
    expect(kinds).toMatch(/swapoff: zswap_load: xa_erase\(slot #\) takes e#/);
  });

  it('seed-proposal: exhausts the default bounds with no violation', () => {
    const r = checkDesign('seed-proposal');
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(true);
  });

  it('reports a search cut short by the state limit as incomplete', () => {
    const r = checkDesign('v6.12', { maxStates: 50 });
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(false);
  });

  it('rejects unknown designs and silly bounds as bad input', () => {
    expect(() => checkDesign('v9.9')).toThrow(InputError);
    expect(() => checkDesign('v6.12', { slots: 0 })).toThrow(InputError);
  });

  it('prints each step as `thread: action` with the state change', () => {
    const text = formatDesignCheck(checkDesign('v6.7'));
    expect(text).toMatch(/^design v6\.7: use-after-free after 9 steps/);
    expect(text).toMatch(/\n {3}5\. shrinker: lock LRU; isolate e1/);
    expect(text).toMatch(/tree t0: freed/);
    expect(text).toMatch(/=> use-after-free: /);
  });
});

describe('symmetry reduction', () => {
  const state = (swappedWorker: number): DState => ({
    dev: 0,
    tree: 0,
    freedTrees: 0,
    nextTree: 1,
    entries: [{ id: 1, slot: 0, ver: version(swappedWorker, 1), ref: 0, freed: false, lru: true }],
    nextEntryId: 2,
    slots: [
      { count: 1, cache: NO_FOLIO, cacheVer: 0, disk: 0, owner: version(swappedWorker, 1), tree: 0 },
      { count: 0, cache: NO_FOLIO, cacheVer: 0, disk: 0, owner: 0, tree: -1 },
    ],
    pages: [0, 1].map((w) => (w === swappedWorker ? { where: 1, slot: 0, ver: version(w, 1), ops: 2 } : { where: 0, slot: -1, ver: 0, ops: 3 })),
    threads: [0, 1, 2, 3].map((t) => ({ pc: t === 2 ? 30 : 0, ret: 0, slot: -1, entry: -1, tree: -1, data: 0, left: t === 2 ? 2 : 1 })),
    stored: 1,
  });

  it('treats states that differ only by which worker is which as one', () => {
    expect(permutations(3)).toHaveLength(6);
    const perms = permutations(2);
    expect(canonicalKey(state(0), 2, perms)).toBe(canonicalKey(state(1), 2, perms));
    expect(canonicalKey(state(0), 2, [[0, 1]])).not.toBe(canonicalKey(state(1), 2, [[0, 1]]));
  });
});
