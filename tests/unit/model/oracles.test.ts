import { describe, expect, it } from 'vitest';
import { checkCounters } from '../../../src/model/counters.js';
import { checkData } from '../../../src/model/data-oracle.js';
import { replayTrace, type LifetimeStats } from '../../../src/model/replay.js';
import type { CounterSnapshot, DataEvent } from '../../../src/model/trace-types.js';
import { trace } from './trace-builder.js';

describe('checkData', () => {
  const w = (seq: number, page: number, version: number): DataEvent => ({ kind: 'write', seq, region: 'r', page, version });
  const r = (seq: number, page: number, seenVersion: number | null, extra: Partial<{ seenPage: number | null; corrupt: boolean }> = {}): DataEvent => ({
    kind: 'read',
    seq,
    region: 'r',
    page,
    seenVersion,
    seenPage: extra.seenPage === undefined ? (seenVersion === null ? null : page) : extra.seenPage,
    corrupt: extra.corrupt ?? false,
  });

  it('accepts reads of the last version written, and zero for pages never written or discarded', () => {
    const events: DataEvent[] = [w(1, 0, 1), w(2, 0, 2), r(3, 0, 2), r(4, 1, null), { kind: 'discard', seq: 5, region: 'r', page: 0 }, r(6, 0, null)];
    const res = checkData(events);
    expect(res.mismatches).toEqual([]);
    expect(res.reads).toBe(3);
  });

  it('reports a stale version with expected vs seen', () => {
    const res = checkData([w(1, 3, 1), w(2, 3, 2), r(3, 3, 1)]);
    expect(res.mismatches).toEqual([expect.objectContaining({ page: 3, seq: 3, expectedVersion: 2, seenVersion: 1, expectedFrom: 2 })]);
    expect(res.violations[0]!.rule).toBe('data-mismatch');
    expect(res.violations[0]!.message).toMatch(/saw version 1, expected version 2/);
  });

  it('reports data that should be gone after a discard', () => {
    const res = checkData([w(1, 0, 4), { kind: 'discard', seq: 2, region: 'r', page: 0 }, r(3, 0, 4)]);
    expect(res.mismatches[0]).toMatchObject({ expectedVersion: null, seenVersion: 4 });
  });

  it("reports another page's data, and torn pages", () => {
    const res = checkData([w(1, 0, 1), w(2, 1, 1), r(3, 0, 1, { seenPage: 1 }), r(4, 1, 1, { corrupt: true })]);
    expect(res.mismatches.map((m) => [m.page, m.seenPage, m.corrupt])).toEqual([
      [0, 1, false],
      [1, 1, true],
    ]);
    expect(res.mismatches[0]!.message).toMatch(/of page 1/);
  });

  it('orders by seq, and keeps regions apart', () => {
    const res = checkData([r(3, 0, 2), w(2, 0, 2), w(1, 0, 1), { kind: 'write', seq: 4, region: 'other', page: 0, version: 9 }, r(5, 0, 2)]);
    expect(res.mismatches).toEqual([]);
  });
});

describe('checkCounters', () => {
  const snap = (v: Partial<CounterSnapshot>): CounterSnapshot => ({ stored_pages: 0, written_back_pages: 0, zswpout: 0, zswpin: 0, zswpwb: 0, ...v });
  // 3 stores, 1 exclusive load hit, 1 writeback: stored_pages +3 -2 = 1
  const stats = (): LifetimeStats =>
    replayTrace(
      trace()
        .swapon(0, 5)
        .store(1, 10, 20)
        .store(2, 30, 40)
        .store(3, 50, 60)
        .load(1, 70, 80, { frees: ['a'] })
        .writeback(2, 'b', 90, 100, { frees: ['b'] })
        .invalidate(4, 110, 120).calls,
    ).stats;
  const before = snap({ stored_pages: 10, written_back_pages: 5, zswpout: 100, zswpin: 50, zswpwb: 5 });
  const exact = snap({ stored_pages: 11, written_back_pages: 6, zswpout: 103, zswpin: 51, zswpwb: 6 });

  it('accepts counters equal to the counted events', () => {
    const res = checkCounters(before, exact, stats());
    expect(res.violations).toEqual([]);
    expect(res.findings.map((f) => [f.counter, f.observed, f.min, f.max])).toEqual([
      ['zswpout', 3, 3, 3],
      ['zswpin', 1, 1, 1],
      ['zswpwb', 1, 1, 1],
      ['written_back_pages', 1, 0, 1],
      ['stored_pages', 1, 1, 1],
    ]);
  });

  it('rejects a vm event that counted less than the trace saw', () => {
    const res = checkCounters(before, { ...exact, zswpout: 102 }, stats());
    expect(res.violations.map((v) => v.rule)).toEqual(['counter-mismatch']);
    expect(res.violations[0]!.message).toMatch(/^zswpout changed by 2, expected 3/);
  });

  it('rejects stored_pages that drifted from stores - frees', () => {
    const res = checkCounters(before, { ...exact, stored_pages: 12 }, stats());
    expect(res.violations.map((v) => v.message.split(' ')[0])).toEqual(['stored_pages']);
  });

  it('tolerates a written_back_pages bump that happened after tracing stopped (non-atomic, outside the call)', () => {
    expect(stats().writtenBackUnsettled).toBe(1);
    expect(checkCounters(before, { ...exact, written_back_pages: 5 }, stats()).violations).toEqual([]);
    expect(checkCounters(before, { ...exact, written_back_pages: 7 }, stats()).violations).toHaveLength(1);
  });

  it('allows extra events only as far as the bracket reads measured them', () => {
    const tracingOn = snap({ ...before, zswpout: 101, stored_pages: 11 });
    const tracingOff = snap({ ...exact, zswpout: 104, stored_pages: 12 });
    const after = snap({ ...exact, zswpout: 105, stored_pages: 12 });
    // 1 store before tracing started, 1 after it stopped: zswpout +5, stored_pages +2 net
    const ok = checkCounters(before, after, stats(), { bracket: { tracingOn, tracingOff } });
    expect(ok.violations).toEqual([]);
    // 4 stores counted while tracing was on, but the trace saw only 3
    const tooMany = checkCounters(before, { ...after, zswpout: 106 }, stats(), { bracket: { tracingOn, tracingOff: { ...tracingOff, zswpout: 105 } } });
    expect(tooMany.violations.map((v) => v.message.split(' ')[0])).toEqual(['zswpout']);
  });

  it('allows a stated number of untraced events without a bracket', () => {
    expect(checkCounters(before, { ...exact, zswpin: 53 }, stats()).violations).toHaveLength(1);
    expect(checkCounters(before, { ...exact, zswpin: 53 }, stats(), { untracedEvents: 2 }).violations).toEqual([]);
  });

  it('widens the bound by calls whose return was not captured', () => {
    const s = replayTrace(trace().swapon(0, 5).store(1, 10, 20).store(2, 30, undefined).calls).stats;
    const res = checkCounters(snap({}), snap({ zswpout: 2, stored_pages: 2 }), s);
    expect(res.violations).toEqual([]);
    expect(res.findings.find((f) => f.counter === 'zswpout')).toMatchObject({ min: 1, max: 2 });
  });

  it('widens the bounds by the events the trace lost', () => {
    const s = { ...stats(), lost: { gaps: 1, events: 2 } };
    expect(checkCounters(before, { ...exact, zswpout: 105, stored_pages: 13 }, s).violations).toEqual([]);
    expect(checkCounters(before, { ...exact, zswpout: 106 }, s).violations).toHaveLength(1);
    expect(checkCounters(before, { ...exact, zswpout: 102 }, s).violations).toHaveLength(1);
    const unknown = { ...stats(), lost: { gaps: 1, events: null } };
    expect(checkCounters(before, { ...exact, zswpout: 1000 }, unknown).violations).toEqual([]);
  });

  it('counts a lost written_back_pages update when two tasks bump it at once', () => {
    const s = replayTrace(
      trace()
        .swapon(0, 5)
        .store(1, 10, 20)
        .store(2, 12, 22, { cpu: 1 })
        .writeback(1, 'a', 30, 40, { cpu: 0, pid: 60, frees: ['a'] })
        .writeback(2, 'b', 31, 41, { cpu: 1, pid: 61, frees: ['b'] })
        .invalidate(5, 50, 55, { pid: 60 })
        .invalidate(6, 50, 55, { cpu: 1, pid: 61 }).calls,
    ).stats;
    expect(s.writtenBackUnsettled).toBe(1);
  });
});
