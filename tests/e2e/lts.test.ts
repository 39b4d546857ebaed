import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchesDir } from '../../src/common/paths.js';
import type { RunReport } from '../../src/report/types.js';
import { runInTemp } from './helpers.js';

// Issue 12: the 6.1 LTS tree as a second managed tree. The bundled 6.1 series runs on the real
// Debian 6.1 tree (frontswap, rbtree, refcounted entries): its fragments as 6.1 spells them, the
// API era chosen from the built kernel's own prototypes, writeback through the pool limit, and
// 2/2's refcount bug (a load that drops a reference it never took) caught by the data oracle.
// On a fresh machine the 6.1 base is a cold build here (about 9 min on 2 cores).
describe('kharness run on the Debian 6.1 LTS tree', () => {
  let out: string;
  let report: RunReport;
  let exitCode: number;
  let stderr: string;

  beforeAll(async () => {
    ({ out, report, exitCode, stderr } = await runInTemp<RunReport>('kharness-lts-', [path.join(patchesDir, 'zswap-6.1-load-demo.mbox'), '--tree', 'debian-6.1', '--variants', 'default', '--tests', 'swap-cycle,writeback,selftest-zswap']));
  });

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('builds 6.1 with its own fragments and names the managed tree', () => {
    expect(exitCode, `${report.summary}\n${stderr.slice(-2000)}`).toBe(1);
    expect(report.status).toBe('complete');
    expect(report.environment.tree.name).toBe('debian-6.1');
    expect(report.environment.config.fragments).toEqual(['kernel-configs/base.config', 'kernel-configs/base@6.1.config', 'kernel-configs/zswap.config', 'kernel-configs/zswap@6.1.config']);
    expect(report.patches.map((p) => [p.label, p.verdict])).toEqual([
      ['base', 'pass'],
      ['1/2', 'pass'],
      ['2/2', 'fail'],
    ]);
    expect(report.firstBadPatch).toBe(2);
  });

  it('runs the unmodified 6.1 kernel clean: writeback through the pool limit, no selftest in this tree', () => {
    const base = report.patches[0]!;
    const wb = base.tests.find((t) => t.name === 'writeback')!;
    expect(wb.verdict, wb.summary).toBe('pass');
    // 6.1 writes back only when the pool limit is hit (zbud's evict callback), and it did
    expect(wb.coverage.find((c) => c.path === 'writeback')?.count ?? 0).toBeGreaterThan(0);
    const selftest = base.tests.find((t) => t.name === 'selftest-zswap')!;
    expect(selftest.verdict).toBe('skipped');
    expect(selftest.summary).toContain('has no tools/testing/selftests/cgroup/test_zswap.c');
    for (const t of base.tests.filter((x) => x.name !== 'selftest-zswap')) expect(t.dataOracle.verdict, t.name).toBe('pass');
  });

  it('says the trace replay was skipped for the 6.1 era, never passed', () => {
    const t = report.patches[0]!.tests.find((x) => x.name === 'swap-cycle')!;
    expect(t.conformance.verdict).toBe('skipped');
    expect(t.conformance.reason).toMatch(/6\.1 \(frontswap, rbtree, refcounted entries\) prototypes hold/);
  });

  it('catches 2/2: the load that drops a reference it never took loses entries, and the data shows it', () => {
    const bad = report.patches[2]!;
    expect(bad.stages.test.verdict).toBe('fail');
    const failed = bad.tests.filter((t) => t.verdict === 'fail');
    expect(failed.length, JSON.stringify(bad.tests.map((t) => [t.name, t.verdict, t.summary]))).toBeGreaterThan(0);
    expect(failed.some((t) => t.dataOracle.verdict === 'fail'), JSON.stringify(failed.map((t) => t.summary))).toBe(true);
  });
});
