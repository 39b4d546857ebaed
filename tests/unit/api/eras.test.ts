import { describe, expect, it } from 'vitest';
import { ERAS, NEWER, V6_1, V6_12, formatPrototype, returnDecoding } from '../../../src/api/index.js';
import { REQUIRED_FUNCTIONS, decodeTrace, parseTraceText, returnOutcome, type RawEvent } from '../../../src/guest/trace-capture.js';
import { replayTrace } from '../../../src/model/replay.js';

/** A store then a load of slot 5, as tracefs prints it; `loadRet` is the load_ret fetch. */
function storeThenLoad(storeRet: string, loadRet: string) {
  const l = (ts: number, event: string, rest: string): string => `    zswap-stress-113     [000] .....   ${String(ts).padStart(10)}: ${event}: ${rest}`;
  return parseTraceText(
    [l(1, 'store', '(zswap_store+0x4/0x4e1) swp=0x5'), l(2, 'store_ret', `(x <- zswap_store) ${storeRet}`), l(3, 'load', '(zswap_load+0x4/0xb5) swp=0x5'), l(4, 'load_ret', `(x <- zswap_load) ${loadRet}`)].join('\n'),
  ).events;
}

const loadOf = (events: RawEvent[], era?: 'v6.12' | 'newer') => {
  const { calls, undecided } = decodeTrace(events, era);
  const load = calls.find((c) => c.kind === 'load');
  return { hit: load?.kind === 'load' ? load.hit : 'no load', undecided };
};

describe('zswap API eras', () => {
  it('tell a bool zswap_load (6.12) from an int one (newer)', () => {
    expect(formatPrototype(V6_12.functions.find((f) => f.fn === 'zswap_load')!.prototype!)).toBe('bool (struct folio *)');
    expect(formatPrototype(NEWER.functions.find((f) => f.fn === 'zswap_load')!.prototype!)).toBe('int (struct folio *)');
    expect(returnDecoding('v6.12', 'zswap_load')).toBe('bool');
    expect(returnDecoding('newer', 'zswap_load')).toBe('errno');
  });

  it('need different required prototypes, so at most one era holds for a kernel', () => {
    const req = (e: (typeof ERAS)[number]) => new Set(e.functions.filter((f) => f.required).map((f) => `${f.fn}: ${formatPrototype(f.prototype!)}`));
    for (const a of ERAS) for (const b of ERAS) if (a !== b) expect([...req(a)].every((p) => req(b).has(p))).toBe(false);
  });

  it('judge 6.1 by the refcount replay, with its frontswap functions and zswap_entry_put required', () => {
    expect(V6_1.notImplemented).toBeUndefined();
    expect(V6_1.model).toBe('refcount');
    expect(V6_1.modelRules).toEqual(expect.arrayContaining(['put-without-reference', 'free-while-referenced', 'use-after-free']));
    expect(V6_12.modelRules).not.toContain('put-without-reference');
    expect(REQUIRED_FUNCTIONS).toEqual(expect.arrayContaining(['zswap_load', 'zswap_frontswap_load', 'zswap_free_entry', 'zswap_entry_put']));
  });
});

describe('decoding returns per era', () => {
  it('6.12: a bool load returning 1 is a hit, 0 a miss', () => {
    expect(loadOf(storeThenLoad('ret=1', 'ret=1'), 'v6.12')).toEqual({ hit: true, undecided: 0 });
    expect(loadOf(storeThenLoad('ret=1', 'ret=0'), 'v6.12')).toEqual({ hit: false, undecided: 0 });
  });

  it('newer: an int load returning 0 is a hit and -ENOENT a miss (the opposite of a bool)', () => {
    expect(loadOf(storeThenLoad('ret=1', 'err=0'), 'newer')).toEqual({ hit: true, undecided: 0 });
    expect(loadOf(storeThenLoad('ret=1', 'err=-2'), 'newer')).toEqual({ hit: false, undecided: 0 });
    // Without the era, the trace's own fetch names the decoding.
    expect(loadOf(storeThenLoad('ret=1', 'err=0'))).toEqual({ hit: true, undecided: 0 });
  });

  it('newer: -EIO is neither hit nor miss: the call stays undecided, and is counted', () => {
    expect(loadOf(storeThenLoad('ret=1', 'err=-5'), 'newer')).toEqual({ hit: undefined, undecided: 1 });
  });

  it('does not read a trace of one era with the other era’s meaning', () => {
    expect(loadOf(storeThenLoad('ret=1', 'ret=0'), 'newer')).toEqual({ hit: undefined, undecided: 1 });
    expect(loadOf(storeThenLoad('ret=1', 'err=0'), 'v6.12')).toEqual({ hit: undefined, undecided: 1 });
  });

  it('an int-era hit replays clean; misread as a bool it would have been a lost entry', () => {
    const events = storeThenLoad('ret=1', 'err=0');
    expect(replayTrace(decodeTrace(events, 'newer').calls).violations).toEqual([]);
    const asBool = events.map((e) => (e.event === 'load_ret' ? { ...e, args: { ret: e.args.err! } } : e));
    expect(replayTrace(decodeTrace(asBool, 'v6.12').calls).violations.map((v) => v.rule)).toEqual(['lost-entry']);
  });

  it('6.1: a frontswap load returning 0 is a hit, -1 a miss, and -ENOMEM undecided', () => {
    const frontswap = (ret: string) => {
      const l = (ts: number, event: string, rest: string): string => `    zswap-stress-113     [000] .....   ${String(ts).padStart(10)}: ${event}: ${rest}`;
      return parseTraceText(
        [l(1, 'store', '(zswap_frontswap_store+0x4/0x4e1) type=0 off=0x5'), l(2, 'store_ret', '(x <- zswap_frontswap_store) err=0'), l(3, 'load', '(zswap_frontswap_load+0x4/0xb5) type=0 off=0x5'), l(4, 'load_ret', `(x <- zswap_frontswap_load) ${ret}`)].join('\n'),
      ).events;
    };
    const loadIn = (events: RawEvent[], era?: 'v6.1') => {
      const { calls, undecided } = decodeTrace(events, era);
      const load = calls.find((c) => c.kind === 'load');
      return { hit: load?.kind === 'load' ? load.hit : 'no load', slot: load?.kind === 'load' ? load.slot : undefined, undecided };
    };
    expect(loadIn(frontswap('err=0'), 'v6.1')).toEqual({ hit: true, slot: { type: 0, offset: 5 }, undecided: 0 });
    expect(loadIn(frontswap('err=-1'), 'v6.1')).toEqual({ hit: false, slot: { type: 0, offset: 5 }, undecided: 0 });
    expect(loadIn(frontswap('err=-12'), 'v6.1')).toMatchObject({ hit: undefined, undecided: 1 });
    // Without the era, the (type, offset) arguments name the frontswap decoding.
    expect(loadIn(frontswap('err=-1'))).toMatchObject({ hit: false, undecided: 0 });
    expect(returnDecoding('v6.1', 'zswap_frontswap_load')).toBe('frontswap');
  });

  it('reads a negative errno store as rejected', () => {
    const e: RawEvent = { line: 1, comm: 'x', pid: 1, cpu: 0, ts: 1, event: 'store_ret', args: { err: '-12' } };
    expect(returnOutcome(e, 'errno', false)).toBe(false);
    expect(returnOutcome({ ...e, args: { err: '0' } }, 'errno', false)).toBe(true);
  });
});
