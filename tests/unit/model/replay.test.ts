import { describe, expect, it } from 'vitest';
import { LIFETIME_PATHS, replayTrace } from '../../../src/model/replay.js';
import { synthesizeTrace } from '../../../src/model/synth.js';
import type { TraceCall } from '../../../src/model/trace-types.js';
import { InputError } from '../../../src/common/errors.js';
import { trace } from './trace-builder.js';

const rules = (calls: TraceCall[]): string[] => replayTrace(calls).violations.map((v) => v.rule);

describe('replayTrace: legal histories', () => {
  it('accepts a store, a swapin and an invalidation of another slot', () => {
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .load(1, 30, 40, { frees: ['e1'] })
      .store(2, 50, 60)
      .invalidate(2, 70, 80, { frees: ['e2'] })
      .invalidate(2, 90, 95);
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ store: 2, loadHit: 1, invalidateLive: 1, invalidateEmpty: 1, free: 2, swapon: 1 });
  });

  it('shows every lifetime path, the ones that never ran as 0', () => {
    const r = replayTrace(trace().swapon(0, 5).store(1, 10, 20).calls);
    for (const path of Object.keys(LIFETIME_PATHS)) expect(r.stats).toHaveProperty(path);
    expect(r.stats.writeback).toBe(0);
    expect(r.stats.storeFailedOverEntry).toBe(0);
    expect(r.stats.swapoffUnuse).toBe(0);
  });

  it('accepts overlapping calls that are legal in only one order (invalidate starts first, store takes effect first)', () => {
    // cpu0's invalidate is entered before cpu1's store, but frees the entry that store made.
    const t = trace()
      .swapon(0, 5)
      .invalidate(3, 10, 100, { cpu: 0, frees: ['e1'], freeAt: 90 })
      .store(3, 20, 30, { cpu: 1 });
    expect(rules(t.calls)).toEqual([]);
  });

  it('rejects the same calls when their intervals do not overlap', () => {
    const t = trace().swapon(0, 5).invalidate(3, 10, 15, { frees: ['e1'] }).store(3, 20, 30, { cpu: 1 });
    expect(rules(t.calls)).toEqual(['free-without-entry']);
  });

  it('accepts a load miss racing with the store that fills the slot', () => {
    const t = trace().swapon(0, 5).store(4, 10, 50, { cpu: 0 }).load(4, 20, 30, { cpu: 1, hit: false });
    expect(rules(t.calls)).toEqual([]);
  });

  it('accepts a store over a live entry that frees the old one, and a failed store that erases it', () => {
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .store(1, 30, 40, { frees: ['a'] })
      .store(1, 50, 60, { ok: false, frees: ['b'] })
      .load(1, 70, 80, { hit: false });
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ store: 2, storeReplaced: 1, storeFailed: 1, storeFailedOverEntry: 1, loadMiss: 1 });
  });

  it('accepts writeback of the live entry, and an aborted writeback holding a stale pointer', () => {
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .invalidate(1, 30, 40, { frees: ['old'] })
      .store(1, 50, 60)
      .writeback(1, 'old', 70, 80, { ret: -17 })
      .writeback(1, 'new', 90, 100, { frees: ['new'] })
      .invalidate(1, 110, 120);
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ writeback: 1, writebackAborted: 1 });
  });

  it('accepts a non-exclusive load hit (entry kept) followed by its invalidation', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).load(1, 30, 40).invalidate(1, 50, 60, { frees: ['e'] });
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats.loadHitNonExclusive).toBe(1);
  });

  it('accepts entries stored before the trace began', () => {
    const t = trace().load(7, 10, 20, { frees: ['pre'] }).invalidate(8, 30, 40, { frees: ['pre2'] }).load(9, 50, 60, { hit: false });
    expect(rules(t.calls)).toEqual([]);
  });

  it('attaches a free to the innermost call of its task (writeback nested in a store over the memcg limit)', () => {
    const t = trace()
      .swapon(0, 5)
      .store(2, 10, 20, { cpu: 0, pid: 7 })
      .store(1, 100, 200, { cpu: 0, pid: 7 })
      .writeback(2, 'w', 120, 150, { cpu: 0, pid: 7, frees: ['w'] });
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ writeback: 1, storeReplaced: 0 });
  });

  it('leaves calls cut by the end of the trace pending', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).load(1, 30, undefined).store(2, 40, undefined).invalidate(3, 50, undefined);
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats.pending).toMatchObject({ load: 1, store: 1, invalidate: 1 });
  });

  it('counts entries freed by try_to_unuse inside the swapoff window', () => {
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .store(2, 30, 40)
      .store(3, 45, 48)
      .invalidate(3, 50, 55, { frees: ['x'] })
      .marker(60, 'swapoff-begin', { pid: 5 })
      .load(1, 70, 80, { pid: 5, frees: ['a'] })
      .invalidate(2, 90, 100, { pid: 5, frees: ['b'] })
      .swapoff(110, 120, { pid: 5 })
      .marker(130, 'swapoff-end', { pid: 5 });
    const r = replayTrace(t.calls);
    expect(r.violations).toEqual([]);
    expect(r.stats.swapoffUnuse).toBe(2);
    expect(r.stats.swapoff).toBe(1);
  });

  it('finds the swapoff window without markers from the swapoff task itself', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).load(1, 70, 80, { pid: 5, frees: ['a'] }).swapoff(110, 120, { pid: 5 });
    expect(replayTrace(t.calls).stats.swapoffUnuse).toBe(1);
  });

  it('does not blame the kernel for events the ring buffer dropped', () => {
    const lost = (start: number, end: number): TraceCall => ({ kind: 'lost', seq: 900, cpu: 0, pid: 0, start, end, count: 3 });
    // the free nested in this invalidation was dropped with the gap
    const t = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 60).store(1, 70, 80).load(1, 90, 100, { frees: ['b'] });
    expect(rules(t.calls)).toEqual(['entry-leak']);
    const r = replayTrace([...t.calls, lost(40, 50)]);
    expect(r.violations).toEqual([]);
    expect(r.stats.lost).toEqual({ gaps: 1, events: 3 });
    // a bug well after the gap is still found
    const later = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 60).store(1, 70, 80).load(1, 90, 100, { hit: false });
    expect(rules([...later.calls, lost(40, 50)])).toEqual(['lost-entry']);
  });

  it('accepts randomized concurrent traces of a correct kernel', () => {
    for (const seed of [1, 2, 3, 4]) {
      const calls = synthesizeTrace({ calls: 3000, slots: 8, cpus: 2, seed, swapoffEvery: 700 });
      const r = replayTrace(calls);
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(r.inconclusive).toEqual([]);
    }
  });
});

describe('replayTrace: illegal histories', () => {
  it('double free', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 40, { frees: ['a'] }).invalidate(1, 50, 60, { frees: ['a'] });
    const r = replayTrace(t.calls);
    expect(r.violations.map((v) => v.rule)).toEqual(['double-free']);
    expect(r.violations[0]).toMatchObject({ slot: { type: 0, offset: 1 }, entry: 'a' });
  });

  it('load after free', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 40, { frees: ['a'] }).load(1, 50, 60);
    expect(rules(t.calls)).toEqual(['load-after-free']);
  });

  it('load hit without any entry', () => {
    expect(rules(trace().swapon(0, 5).load(1, 10, 20).calls)).toEqual(['load-hit-without-entry']);
  });

  it('entry alive at swapoff', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).swapoff(30, 40);
    expect(rules(t.calls)).toEqual(['swapoff-with-live-entries']);
  });

  it('entry freed by zswap_swapoff itself (try_to_unuse missed it)', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).swapoff(30, 40, { frees: [{ offset: 1, entry: 'a' }] });
    expect(rules(t.calls)).toEqual(['swapoff-with-live-entries']);
  });

  it('checks a slot across many swapoff cycles it took no part in', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20);
    for (let k = 0; k < 6; k++) t.swapoff(100 + k * 100, 120 + k * 100).swapon(150 + k * 100, 160 + k * 100);
    t.store(1, 1000, 1010).load(1, 1020, 1030, { frees: ['z'] }).swapoff(1100, 1110).store(1, 1200, 1210);
    const r = replayTrace(t.calls);
    expect(r.violations.map((v) => v.rule)).toEqual(['swapoff-with-live-entries', 'tree-use-after-swapoff']);
    expect(r.stats).toMatchObject({ swapoff: 7, swapon: 7 });
  });

  it('a zswap call between swapoff and swapon', () => {
    const t = trace().swapon(0, 5).swapoff(10, 20).store(1, 30, 40);
    expect(rules(t.calls)).toEqual(['tree-use-after-swapoff']);
  });

  it('a failed store that leaves the old entry', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).store(1, 30, 40, { ok: false });
    expect(rules(t.calls)).toEqual(['stale-entry-after-failed-store']);
  });

  it('a failed store whose surviving old entry shows up later (state unknown at the store)', () => {
    const t = trace().store(1, 10, 20, { ok: false }).invalidate(1, 30, 40, { frees: ['old'] });
    const r = replayTrace(t.calls);
    expect(r.violations.map((v) => v.rule)).toEqual(['stale-entry-after-failed-store']);
    // the window names the failed store
    expect(r.violations[0]!.events.map((e) => e.seq)).toContain(0);
  });

  it('lost entry: a load miss while the slot has a live entry', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).load(1, 30, 40, { hit: false });
    expect(rules(t.calls)).toEqual(['lost-entry']);
  });

  it('stale write after slot reuse: writeback of a freed entry that only matched through address reuse', () => {
    // What a writeback without the ownership check produces: the old entry A was invalidated, the
    // slot reused by a new store (entry B), then writeback(A) "succeeds" and frees A again while B
    // stays in the tree, to be freed by the next invalidation.
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .invalidate(1, 30, 40, { frees: ['A'] })
      .store(1, 50, 60)
      .writeback(1, 'A', 70, 80, { frees: ['A'] })
      .invalidate(1, 90, 100, { frees: ['B'] });
    const r = replayTrace(t.calls);
    expect(r.violations.map((v) => v.rule)).toEqual(['stale-writeback-after-reuse']);
    expect(r.violations[0]!.events.some((e) => e.kind === 'writeback')).toBe(true);
  });

  it('writeback of an entry the slot already freed (no reuse): double free', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 40, { frees: ['A'] }).writeback(1, 'A', 50, 60, { frees: ['A'] });
    expect(rules(t.calls)).toEqual(['double-free']);
  });

  it('writeback that frees what it never removed from the tree', () => {
    const t = trace().swapon(0, 5).writeback(1, 'X', 10, 20, { frees: ['X'] });
    expect(rules(t.calls)).toEqual(['writeback-free-without-removal']);
  });

  it('a failed writeback that frees the live entry', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).writeback(1, 'X', 30, 40, { ret: -12, frees: ['X'] });
    expect(rules(t.calls)).toEqual(['free-while-live']);
  });

  it('entry leak: writeback returned 0 but never freed the entry', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).writeback(1, 'X', 30, 40);
    expect(rules(t.calls)).toEqual(['entry-leak']);
  });

  it('entry leak: invalidation of a live entry frees nothing', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).invalidate(1, 30, 40);
    expect(rules(t.calls)).toEqual(['entry-leak']);
  });

  it('reports each bug once and keeps checking the rest', () => {
    const t = trace()
      .swapon(0, 5)
      .store(1, 10, 20)
      .invalidate(1, 30, 40, { frees: ['a'] })
      .invalidate(1, 50, 60, { frees: ['a'] })
      .load(1, 70, 80, { hit: false })
      .store(2, 90, 100)
      .load(2, 110, 120, { hit: false });
    expect(rules(t.calls)).toEqual(['double-free', 'lost-entry']);
  });

  it('names the events that led to a violation, with their seq numbers', () => {
    const t = trace().swapon(0, 5).store(1, 10, 20).store(2, 11, 21).store(1, 30, 40, { frees: ['a'] }).load(1, 50, 60, { hit: false });
    const v = replayTrace(t.calls, { window: 2 }).violations[0]!;
    expect(v.rule).toBe('lost-entry');
    const seqs = v.events.map((e) => e.seq);
    // two events of slot 1 before the offending load, then the load (slot 2 is not in the window)
    expect(seqs).toEqual([3, 4, 5]);
    expect(v.events[v.events.length - 1]!.kind).toBe('load');
  });

  it('rejects a randomized correct trace once a free is dropped', () => {
    const calls = synthesizeTrace({ calls: 2000, slots: 8, cpus: 2, seed: 11 });
    const victim = calls.findIndex((c, i) => c.kind === 'free' && i > 1000 && calls[i - 1]!.kind === 'invalidate');
    const broken = calls.filter((_, i) => i !== victim);
    const r = replayTrace(broken);
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.violations[0]!.slot).toEqual((calls[victim] as Extract<TraceCall, { kind: 'free' }>).slot);
  });

  it('rejects malformed input', () => {
    const t = trace().store(1, 10, 5);
    expect(() => replayTrace(t.calls)).toThrow(InputError);
    const dup = trace().store(1, 10, 20).calls;
    expect(() => replayTrace([...dup, ...dup])).toThrow(/seq 0 appears twice/);
  });
});
