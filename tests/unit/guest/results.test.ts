import { describe, expect, it } from 'vitest';
import { describeBadPage, parseDataLog, parseResultsJsonl, parseTap, parseWorkloadOutput } from '../../../src/guest/results.js';
import { missedProbeHits, parseSamples } from '../../../src/guest/judge.js';
import { attributeFindings, resolveTests } from '../../../src/guest/index.js';
import { triageConsole } from '../../../src/boot/triage.js';
import { InputError } from '../../../src/common/errors.js';

describe('guest results', () => {
  it('names exactly which page held which wrong data', () => {
    const out = [
      '{"ev":"pageout","round":1,"pages":2048,"swapped":2048}',
      '{"ev":"bad","phase":"after-swapoff","region":"cycle","page":7,"addr":"0x7f4e09a9e000","expect_version":3,"seen_version":-1,"seen_page":-1,"first_bad_word":0,"word0":"0x0000000000000000","zero":true}',
      '{"ev":"bad","phase":"swapin","region":"cycle","page":9,"addr":"0x7f4e09aa0000","expect_version":3,"seen_version":2,"seen_page":9,"first_bad_word":0,"word0":"0x6b68617273737770","zero":false}',
      '{"ev":"bad","phase":"swapin","region":"cycle","page":10,"addr":"0x7f4e09aa1000","expect_version":3,"seen_version":3,"seen_page":11,"first_bad_word":0,"word0":"0x6b68617273737770","zero":false}',
      '{"ev":"done","mode":"cycle","bad":3}',
    ].join('\n');
    const r = parseWorkloadOutput(out);
    expect(r.badTotal).toBe(3);
    expect(r.bad.map(describeBadPage)).toEqual([
      'cycle page 7 (0x7f4e09a9e000) after after-swapoff: expected version 3, held zeroes',
      'cycle page 9 (0x7f4e09aa0000) after swapin: expected version 3, held version 2',
      "cycle page 10 (0x7f4e09aa1000) after swapin: expected version 3, held page 11's data (version 3)",
    ]);
  });

  it('reads the data log for the data oracle', () => {
    expect(parseDataLog('w cycle 1 3\nr cycle 1 3 1 0\nd cycle 1\nr cycle 1 0 -1 0\n').events).toEqual([
      { kind: 'write', seq: 0, region: 'cycle', page: 1, version: 3 },
      { kind: 'read', seq: 1, region: 'cycle', page: 1, seenVersion: 3, seenPage: 1, corrupt: false },
      { kind: 'discard', seq: 2, region: 'cycle', page: 1 },
      { kind: 'read', seq: 3, region: 'cycle', page: 1, seenVersion: null, seenPage: null, corrupt: false },
    ]);
  });

  it('names every malformed data-log line instead of dropping it, and never reads NaN', () => {
    const log = parseDataLog('w cycle 1 3\nr cycle 1 x 1 0\nw cycle 2\nq cycle 1 1\nr cycle NaN 3 1 0\nd cycle 1\nr cycle 1 3 1 0\nr cyc', 'swap-cycle.data');
    expect(log.errors).toEqual([
      'swap-cycle.data line 2: not a data record: "r cycle 1 x 1 0"',
      'swap-cycle.data line 3: not a data record: "w cycle 2"',
      'swap-cycle.data line 4: not a data record: "q cycle 1 1"',
      'swap-cycle.data line 5: not a data record: "r cycle NaN 3 1 0"',
    ]);
    expect(log.events.map((e) => e.kind)).toEqual(['write', 'discard', 'read']);
    expect(JSON.stringify(log.events)).not.toContain('null,"seenPage":null');
    // Only an unterminated last line (the workload killed mid-write) is forgiven, and said so.
    expect(log.cutLastLine).toBe(true);
    expect(parseDataLog('w cycle 1 3\n').cutLastLine).toBe(false);
  });

  it('reads kselftest TAP, including the duplicates a forked child flushes', () => {
    const tap = parseTap('TAP version 13\n1..3\nok 1 test_zswap_usage\nok 1 test_zswap_usage\nnot ok 2 test_zswapin\nok 3 test_x # SKIP no memcg\n');
    expect(tap.plan).toBe(3);
    expect(tap.cases.map((c) => `${c.number} ${c.name} ${c.status}`)).toEqual(['1 test_zswap_usage pass', '1 test_zswap_usage pass', '2 test_zswapin fail', '3 test_x skip']);
  });

  it('reports malformed result lines with their line number instead of trusting them', () => {
    const ok = '{"test":"writeback","status":"pass","duration_ms":5,"counters_before":{},"counters_after":{},"rc":0}';
    const r = parseResultsJsonl(`${ok}\n{"test":"swap-cyc\n`);
    expect(r.lines.map((l) => l.test)).toEqual(['writeback']);
    expect(r.malformed).toBe(1);
    expect(r.errors[0]).toMatchObject({ file: 'results.jsonl', line: 2 });
    expect(r.errors[0]!.message).toMatch(/^not JSON/);
  });

  it('counts probe hits the kernel missed between two kprobe_profile reads', () => {
    const before = '  kharness/store   100   0\n  kharness/store_ret   100   0\n';
    const after = '  kharness/store   300   0\n  kharness/store_ret   290   4\n';
    expect(missedProbeHits(before, after)).toEqual({ total: 4, detail: 'kharness/store_ret 4' });
  });

  it('reads the counter samples for the plots, and names a cut last line', () => {
    const r = parseSamples('{"t_ms":0,"counters":{"zswpout":1}}\n{"t_ms":1000,"counters":{"zswpout":5}}\n{"t_ms":1500,"counters":{"zswp');
    expect(r.samples).toEqual([
      { t: 0, values: { zswpout: 1 } },
      { t: 1, values: { zswpout: 5 } },
    ]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^samples line 3: not JSON.*unterminated/);
  });

  it('attributes a splat to the test that was running', () => {
    const log = 'kharness-guest: {"ev":"test","test":"swap-cycle","state":"start"}\nkharness-guest: {"ev":"test","test":"swap-cycle","state":"pass"}\nkharness-guest: {"ev":"test","test":"writeback","state":"start"}\nWARNING: CPU: 0 PID: 1 at mm/zswap.c:1 zswap_store+0x1/0x2\n';
    expect(attributeFindings(triageConsole(log), log).map((f) => f.test)).toEqual(['writeback']);
  });

  it('rejects an unknown test name', () => {
    expect(() => resolveTests('swap-cycle,swapoff-races')).toThrow(InputError);
    expect(resolveTests(undefined)).toEqual(['swap-cycle', 'writeback', 'swapoff-race', 'cpu-hotplug', 'fault-race', 'selftest-zswap']);
  });
});
