import { existsSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchesDir } from '../../src/common/paths.js';
import type { PatchReport, RunReport } from '../../src/report/types.js';
import { kharness, runInTemp, uncleanStep } from './helpers.js';

// Issue 16: test only what a patch can change. The bundled wording series on the real 6.12 tree:
// 1/5 rewords a comment in mm/zswap.c, 2/5 only Documentation, 3/5 another comment on the same
// line, 4/5 only a string of the cgroup selftest's test_zswap.c, 5/5 a real code change. Only 1/5
// and 5/5 boot the whole suite; 4/5 runs selftest-zswap alone.
const ARGS = [path.join(patchesDir, 'zswap-wording.mbox'), '--no-base-test', '--variants', 'default', '--tests', 'swap-cycle,selftest-zswap'];

describe('reuse by content on the real 6.12 tree', () => {
  let out: string;
  let report: RunReport;
  let exitCode: number;
  let stderr: string;
  const step = (label: string): PatchReport => report.patches.find((p) => p.label === label)!;

  beforeAll(async () => {
    // --retest-kept: what an earlier run kept is the last test's subject; this run shows reuse within one run.
    ({ out, report, exitCode, stderr } = await runInTemp<RunReport>('kharness-reuse-', [...ARGS, '--retest-kept']));
  });

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('passes every patch, and boots the whole suite only for 1/5 and 5/5', () => {
    expect(exitCode, `${report.summary}\n${stderr.slice(-2000)}`).toBe(0);
    for (const l of ['1/5', '2/5', '3/5', '4/5', '5/5']) expect(uncleanStep(step(l)), l).toBeUndefined();
    expect(step('1/5').reusedFrom).toBeUndefined();
    expect(step('1/5').tests.map((t) => [t.name, t.reusedFrom])).toEqual([['swap-cycle', undefined], ['selftest-zswap', undefined]]);
  });

  it('2/5 (Documentation only) is not rebuilt and carries 1/5\'s results', () => {
    const two = step('2/5');
    expect(two.stages.build.summary).toMatch(/^unchanged since 1\/5: not rebuilt: only Documentation\/admin-guide\/mm\/zswap\.rst changed, nothing the build reads/);
    expect(two.build?.objectsBuilt).toBe(0);
    expect(two.reusedFrom).toBe('1/5');
    for (const s of ['boot', 'test', 'model'] as const) expect(two.stages[s].summary, s).toMatch(/^same kernel as 1\/5: results reused; /);
    expect(two.tests.every((t) => t.reusedFrom === '1/5')).toBe(true);
  });

  it('3/5 (a comment on the same line) is rebuilt into a byte-identical bzImage and carries 1/5\'s results', () => {
    const three = step('3/5');
    expect(three.build?.objectsBuilt, three.stages.build.summary).toBeGreaterThan(0);
    expect(three.build?.imageSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(three.build?.imageSha256).toBe(step('1/5').build?.imageSha256);
    expect(three.reusedFrom).toBe('1/5');
  });

  it('a guest run folder copied elsewhere (as a kept base is) is judged offline the same', async () => {
    const copy = path.join(out, 'copied-patch-1');
    await cp(path.join(out, 'report', 'patch-1'), copy, { recursive: true });
    await rm(path.join(out, 'report', 'patch-1', 'console.log'));
    const r = await kharness(['judge', copy, '--json']);
    const suite = r.json<{ tests: { name: string; verdict: string }[] }>();
    expect(suite.tests.map((t) => [t.name, t.verdict])).toEqual(step('1/5').tests.map((t) => [t.name, t.verdict]));
  });

  it('4/5 (only test_zswap.c) reruns selftest-zswap alone and keeps swap-cycle from 1/5', () => {
    const four = step('4/5');
    expect(four.reusedFrom).toBe('1/5');
    expect(four.stages.test.summary).toMatch(/^same kernel as 1\/5: results reused but for selftest-zswap, run again \(test_zswap changed\); /);
    expect(four.tests.map((t) => [t.name, t.reusedFrom])).toEqual([['swap-cycle', '1/5'], ['selftest-zswap', undefined]]);
    // the selftest ran in 4/5's own guest
    expect(four.boot?.consoleLog).toMatch(/patch-4/);
  });

  it('5/5 (a real code change) builds a new image and runs everything', () => {
    const five = step('5/5');
    expect(five.build?.objectsBuilt).toBeGreaterThan(0);
    expect(five.build?.imageSha256).not.toBe(step('1/5').build?.imageSha256);
    expect(five.reusedFrom).toBeUndefined();
    expect(five.tests.map((t) => [t.name, t.reusedFrom])).toEqual([['swap-cycle', undefined], ['selftest-zswap', undefined]]);
    expect(five.boot?.consoleLog).toMatch(/patch-5/);
  });

  it('a second run takes the passes the first kept: only 4/5\'s selftest boots', async () => {
    const again = await runInTemp<RunReport>('kharness-reuse-again-', ARGS);
    try {
      const at = (label: string): PatchReport => again.report.patches.find((p) => p.label === label)!;
      expect(again.exitCode, `${again.report.summary}\n${again.stderr.slice(-2000)}`).toBe(0);
      for (const l of ['1/5', '2/5', '3/5', '4/5', '5/5']) expect(uncleanStep(at(l)), l).toBeUndefined();
      for (const l of ['1/5', '5/5']) {
        expect(at(l).reusedFrom, l).toMatch(new RegExp(`^${l.replace('/', '\\/')} of the run of \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`));
        expect(at(l).stages.test.summary, l).toMatch(/^same kernel as \d\/5 of the run of .* UTC: results reused; /);
        expect(at(l).build?.imageSha256, l).toBe(step(l).build?.imageSha256);
        // the kept guest files are in this run's report, where the report points
        expect(existsSync(path.join(again.out, 'report', at(l).stages.boot.logs.console!)), l).toBe(true);
      }
      expect(at('2/5').reusedFrom).toBe('1/5');
      expect(at('3/5').reusedFrom).toBe('1/5');
      // test_zswap differs from the kept kernel's: only the selftest runs, in 4/5's own guest
      expect(at('4/5').tests.map((t) => [t.name, t.reusedFrom])).toEqual([['swap-cycle', '1/5'], ['selftest-zswap', undefined]]);
      expect(at('4/5').boot?.consoleLog).toMatch(/patch-4/);
    } finally {
      await rm(again.out, { recursive: true, force: true });
    }
  });
});
