import { describe, expect, it } from 'vitest';
import { parseMark, testStarts } from '../../../src/guest/console-marks.js';
import { attributeFindings, budgetScale } from '../../../src/guest/index.js';

describe('console marks', () => {
  it('reads the suite marks and nothing that only looks like one', () => {
    expect(parseMark('[   12.3] kharness-guest: {"ev":"test","test":"swap-cycle","state":"start"}')).toEqual({ ev: 'test', test: 'swap-cycle', state: 'start' });
    expect(parseMark('kharness-guest: test swap-cycle: start')).toBeUndefined(); // the old prose form
    expect(parseMark('kharness-guest: {"ev":"test","test":"swap-cycle","state":"start","x":1}')).toBeUndefined(); // unknown key
    expect(parseMark('kharness-guest: {"ev":"test","test":"../../etc","state":"start"}')).toBeUndefined();
    expect(parseMark('kharness-guest: {"ev":"test","test":"swap-cycle"')).toBeUndefined(); // cut line
  });

  it('blames a splat on the test whose start mark precedes it', () => {
    const console = [
      'kharness-guest: {"ev":"test","test":"swap-cycle","state":"start"}',
      'kharness-guest: {"ev":"test","test":"swap-cycle","state":"pass"}',
      'kharness-guest: {"ev":"test","test":"writeback","state":"start"}',
      'WARNING: CPU: 0 PID: 1 at mm/zswap.c:1 zswap_store+0x1/0x2',
    ].join('\n');
    expect(testStarts(console).map((s) => s.test)).toEqual(['swap-cycle', 'writeback']);
    const f = { kind: 'WARNING', title: 'WARNING', signature: 's', callTrace: [], excerpt: '', line: 4 } as never;
    expect(attributeFindings([f], console)[0]!.test).toBe('writeback');
  });
});

describe('budgets for slow kernels', () => {
  it('scale from the built kernel\'s own .config, more under TCG', () => {
    expect(budgetScale('CONFIG_ZSWAP=y\n', 'tcg')).toEqual({ factor: 1 });
    expect(budgetScale(undefined, 'tcg')).toEqual({ factor: 1 });
    const kasan = budgetScale('CONFIG_KASAN=y\nCONFIG_PROVE_LOCKING=y\n', 'tcg');
    expect(kasan.factor).toBe(6);
    expect(kasan.why).toMatch(/KASAN \+ lockdep under TCG/);
    expect(budgetScale('CONFIG_KASAN=y\n', 'kvm').factor).toBe(2);
    // "is not set" is not on
    expect(budgetScale('# CONFIG_KASAN is not set\n', 'tcg').factor).toBe(1);
  });
});

import { parseWorkloadOutput } from '../../../src/guest/results.js';

describe("the workload's events", () => {
  const bad = '{"ev":"bad","phase":"readback","region":"cycle","page":7,"addr":"0x1","expect_version":2,"seen_version":1,"seen_page":7,"first_bad_word":0,"word0":"0x0","zero":false}';
  it('reads wrong pages and the done count', () => {
    const o = parseWorkloadOutput([bad, '{"ev":"done","mode":"cycle","bad":1}', ''].join('\n'), 'swap-cycle.out');
    expect(o.bad.map((b) => b.page)).toEqual([7]);
    expect(o.badTotal).toBe(1);
    expect(o.errors).toEqual([]);
  });
  it('names a garbled or mis-shaped line instead of dropping it; a cut last line is forgiven', () => {
    const o = parseWorkloadOutput(['{"ev":"bad","page":"seven"', bad.replace('"page":7', '"page":"7"'), '{"ev":"done","mode":"cycle","bad":1}', '{"ev":"pageo'].join('\n'), 'swap-cycle.out');
    expect(o.errors).toHaveLength(2);
    expect(o.errors[0]).toMatch(/^swap-cycle\.out line 1: not JSON/);
    expect(o.errors[1]).toMatch(/^swap-cycle\.out line 2: page/);
    expect(o.bad).toEqual([]);
  });
});
