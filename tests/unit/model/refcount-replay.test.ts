import { describe, expect, it } from 'vitest';
import { replayRefcounted } from '../../../src/model/refcount-replay.js';
import { replayHistory } from '../../../src/model/replay-model.js';
import { synthesizeRefcountTrace } from '../../../src/model/synth-refcount.js';
import type { TraceCall } from '../../../src/model/trace-types.js';

/**
 * 6.1 traces written by hand: frontswap calls with (type, offset), and the puts and frees the
 * kernel makes inside them under the tree lock, each with the refcount it found.
 */
type Draft = TraceCall extends infer C ? (C extends TraceCall ? Omit<C, 'seq'> : never) : never;

const E = '0xffff888004a1b000';
const T = '0xffff888003c00000';
const S = { type: 0, offset: 5 };

const store = (start: number, end: number, slot = S, ok = true): Draft => ({ kind: 'store', cpu: 0, pid: 10, start, end, slot, ok });
const load = (start: number, end: number, pid = 11, hit = true): Draft => ({ kind: 'load', cpu: 1, pid, start, end, slot: S, hit });
const invalidate = (start: number, end: number, pid = 12): Draft => ({ kind: 'invalidate', cpu: 0, pid, start, end, slot: S });
const writeback = (start: number, end: number, pid = 13, ret = 0): Draft => ({ kind: 'writeback', cpu: 1, pid, start, end, slot: S, entry: E, ret });
const put = (start: number, pid: number, refcount: number, entry = E, slot = S): Draft => ({ kind: 'put', cpu: 0, pid, start, slot, entry, tree: T, refcount });
const free = (start: number, pid: number, refcount = 0, entry = E, slot = S): Draft => ({ kind: 'free', cpu: 0, pid, start, slot, entry, refcount });
const swapoff = (start: number, end: number, pid = 14): Draft => ({ kind: 'swapoff', cpu: 0, pid, start, end, type: 0 });

function trace(...drafts: Draft[]): TraceCall[] {
  return drafts
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.start - b.d.start || a.i - b.i)
    .map(({ d }, seq) => ({ ...d, seq }) as TraceCall);
}

const rules = (calls: TraceCall[]): string[] => replayRefcounted(calls).violations.map((v) => v.rule);

describe('6.1 refcount replay: a correct kernel', () => {
  it('store, a load that takes and drops a reference, an invalidate that drops the tree’s and frees', () => {
    const r = replayRefcounted(trace(store(1, 5), load(10, 20), put(15, 11, 2), invalidate(30, 40), put(35, 12, 1), free(36, 12)));
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ store: 1, loadHitNonExclusive: 1, loadHit: 0, invalidateLive: 1, free: 1, holderLastPut: 0 });
  });

  it('an invalidate while a load holds the entry: the load’s last put frees it (what the refcount is for)', () => {
    const r = replayRefcounted(trace(store(1, 5), load(10, 50), invalidate(20, 30), put(25, 12, 2), put(40, 11, 1), free(41, 11)));
    expect(r.violations).toEqual([]);
    expect(r.stats.holderLastPut).toBe(1);
  });

  it('writeback drops its lookup’s reference, then the tree’s (the entry was still in the tree)', () => {
    const r = replayRefcounted(trace(store(1, 5), writeback(10, 30), put(20, 13, 2), put(21, 13, 1), free(22, 13)));
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ writeback: 1, writebackAborted: 0, free: 1 });
  });

  it('a freed address that a new store reuses is a new entry, not a use after free', () => {
    const other = { type: 0, offset: 9 };
    const r = replayRefcounted(trace(store(1, 5), invalidate(10, 20), put(15, 12, 1), free(16, 12), store(30, 40, other), invalidate(50, 60), put(55, 12, 1, E, other), free(56, 12, 0, E, other)));
    expect(r.violations).toEqual([]);
  });

  it('invalidate_area frees what is left at refcount 1', () => {
    expect(rules(trace(store(1, 5), swapoff(10, 20), free(15, 14, 1)))).toEqual([]);
  });

  it('is what replayHistory picks for a trace with puts', () => {
    const calls = trace(store(1, 5), load(10, 20), put(15, 11, 1), free(16, 11));
    expect(replayHistory(calls).violations.map((v) => v.rule)).toEqual(['put-without-reference']);
  });
});

describe('6.1 refcount replay: the seed thread’s rules, each broken', () => {
  it('a load that looked the entry up without a reference drops the tree’s, and frees it while in the tree', () => {
    const r = replayRefcounted(trace(store(1, 5), load(10, 20), put(15, 11, 1), free(16, 11), invalidate(30, 40)));
    expect(r.violations.map((v) => v.rule)).toEqual(['put-without-reference']);
    const v = r.violations[0]!;
    expect(v.message).toMatch(/load #\d+ of slot 0:5 drops the last reference of entry 0xffff888004a1b000 \(refcount 1\) while the tree still holds it/);
    expect(v.events.map((e) => e.kind)).toEqual(['load', 'put']);
  });

  it('an invalidate that frees under a load holding no counted reference: the load then uses the freed entry', () => {
    const r = rules(trace(store(1, 5), load(10, 50), invalidate(20, 30), put(25, 12, 1), free(26, 12), put(40, 11, 1)));
    expect(r).toEqual(['put-without-reference', 'use-after-free']);
  });

  it('a put that frees before the last reference went', () => {
    expect(rules(trace(store(1, 5), load(10, 20), put(15, 11, 2), free(16, 11)))).toEqual(['free-while-referenced']);
  });

  it('a free that bypasses the refcount (not through a put) while references remain', () => {
    expect(rules(trace(store(1, 5), invalidate(10, 20), free(15, 12, 1)))).toEqual(['free-while-referenced']);
  });

  it('invalidate_area may free an entry a writeback still holds, but the writeback must not use it after', () => {
    expect(rules(trace(store(1, 5), writeback(8, 40), swapoff(10, 20), free(15, 14, 2)))).toEqual([]);
    expect(rules(trace(store(1, 5), writeback(8, 40), swapoff(10, 20), free(15, 14, 2), put(30, 13, 2)))).toEqual(['use-after-free']);
  });

  it('the same entry freed twice, and its tree reference dropped twice', () => {
    expect(rules(trace(store(1, 5), invalidate(10, 20), put(15, 12, 1), free(16, 12), invalidate(30, 40), free(35, 12, 0)))).toEqual(['double-free']);
    expect(rules(trace(store(1, 5), load(8, 50), put(9, 11, 3), invalidate(10, 20), put(15, 12, 2), invalidate(30, 40), put(35, 12, 1)))).toEqual(['double-free']);
  });

  it('invalidate_area that returns with an entry neither invalidated nor freed', () => {
    const r = replayRefcounted(trace(store(1, 5), store(2, 6, { type: 0, offset: 9 }), invalidate(10, 20), put(15, 12, 1), free(16, 12), swapoff(30, 40)));
    expect(r.violations.map((v) => v.rule)).toEqual(['swapoff-with-live-entries']);
    expect(r.violations[0]!.message).toMatch(/slot 0:9's entry stored by store #1 was neither dropped from the tree nor freed/);
    // Freed by invalidate_area itself: nothing left.
    expect(rules(trace(store(1, 5), swapoff(30, 40), free(35, 14, 1)))).toEqual([]);
  });

  it('a put on a tree after invalidate_area freed it', () => {
    const r = rules(trace(store(1, 5), load(6, 9), put(7, 11, 2), swapoff(10, 20), free(15, 14, 1), writeback(30, 40), put(35, 13, 2, '0xffff888004a1c000')));
    expect(r).toEqual(['tree-use-after-swapoff']);
  });
});

describe('6.1 refcount replay: what it cannot know, it does not blame', () => {
  it('forgets across events the ring buffer lost', () => {
    const lost: Draft = { kind: 'lost', cpu: 0, pid: 0, start: 12, end: 14, count: 3 };
    expect(rules(trace(store(1, 5), load(10, 20), lost, put(15, 11, 1), free(16, 11)))).toEqual([]);
  });

  it('does not judge a put whose call began before tracing did', () => {
    expect(rules(trace(put(15, 11, 1), free(16, 11)))).toEqual([]);
  });
});

describe('6.1 refcount replay on synthesized traces of a correct kernel', () => {
  it('finds nothing in randomized concurrent histories, and counts the concurrent paths', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const calls = synthesizeRefcountTrace({ calls: 4000, slots: 8, tasks: 4, seed, swapoffEvery: 700 });
      const r = replayRefcounted(calls);
      expect(r.violations.slice(0, 2).map((v) => v.message), `seed ${seed}`).toEqual([]);
      expect(r.stats.store).toBeGreaterThan(0);
      expect(r.stats.holderLastPut, `seed ${seed}`).toBeGreaterThan(0);
      expect(r.stats.writeback).toBeGreaterThan(0);
      expect(r.stats.swapoff).toBeGreaterThan(0);
    }
  });

  it('finds a bug injected into such a history: one load’s reference never taken', () => {
    const calls = synthesizeRefcountTrace({ calls: 4000, slots: 8, tasks: 4, seed: 9 });
    // The first load whose put left the entry in the tree (refcount 2): pretend it took no reference.
    const put = calls.find((c) => c.kind === 'put' && c.refcount === 2 && calls.some((p) => p.kind === 'load' && p.pid === c.pid && p.start < c.start && (p.end ?? Infinity) > c.start));
    expect(put).toBeDefined();
    const broken = calls.map((c) => (c === put ? { ...c, refcount: 1 } : c));
    expect(replayRefcounted(broken).violations.map((v) => v.rule)).toContain('put-without-reference');
  });
});
