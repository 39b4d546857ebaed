import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchesDir } from '../../src/common/paths.js';
import type { RunReport } from '../../src/report/types.js';
import type { SuiteResult } from '../../src/guest/index.js';
import { buildBugKernel, fixtures, kharness, runInTemp } from '../e2e/helpers.js';

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

  it('replays the unmodified 6.1 kernel’s traces through the refcount model, and they pass', () => {
    const base = report.patches[0]!;
    for (const name of ['swap-cycle', 'writeback']) {
      const t = base.tests.find((x) => x.name === name)!;
      expect(t.conformance.verdict, `${name}: ${t.conformance.reason}`).toBe('pass');
      expect(t.violations, name).toEqual([]);
    }
    const t = base.tests.find((x) => x.name === 'swap-cycle')!;
    // 6.1 loads are never exclusive: the hits keep their entry, and invalidates free them.
    const count = (p: string): number => t.coverage.find((c) => c.path === p)?.count ?? -1;
    expect(count('loadHitNonExclusive')).toBeGreaterThan(0);
    expect(count('invalidateLive')).toBeGreaterThan(0);
    expect(t.coverage.some((c) => c.path === 'loadHit')).toBe(false);
  });

  it('catches 2/2: the load that drops a reference it never took, named by the rule and its events', () => {
    const bad = report.patches[2]!;
    expect(bad.stages.test.verdict).toBe('fail');
    for (const name of ['swap-cycle', 'writeback']) expect(bad.tests.find((x) => x.name === name)?.verdict, name).toBe('fail');
    // A report keeps the first violations of each test (swap-cycle's are the data oracle's): look in all.
    const all = bad.tests.flatMap((x) => x.violations);
    const v = all.find((x) => x.rule === 'put-without-reference');
    expect(v, JSON.stringify(all.slice(0, 3).map((x) => [x.rule, x.message]))).toBeDefined();
    expect(v!.message).toMatch(/^load #\d+ of slot \d+:\d+ drops the last reference of entry 0x[0-9a-f]+ \(refcount 1\) while the tree still holds it/);
    // The load and its put, as the kernel traced them.
    expect(v!.events.some((e) => / load \d+:\d+ hit$/.test(e)), v!.events.join('\n')).toBe(true);
    expect(v!.events.some((e) => / put \d+:\d+ entry 0x[0-9a-f]+ refcount 1$/.test(e)), v!.events.join('\n')).toBe(true);
    // And the pages it lost come back wrong: the data oracle sees it too.
    expect(bad.tests.some((x) => x.dataOracle.verdict === 'fail'), JSON.stringify(bad.tests.map((x) => [x.name, x.summary]))).toBe(true);
  });
});

// A deliberate bug of our own against another of the seed thread's refcount rules, on 6.1.
describe('a 6.1 refcount bug of our own, caught by the model', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'kharness-lts-bug-'));
  });
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('an entry freed before its last reference went (zswap_entry_put frees at refcount 1)', async () => {
    const { build } = await buildBugKernel(path.join(fixtures, 'kernel-bugs-6.1', 'put-frees-early.mbox'), 'debian-6.1');
    const r = await kharness(['test', build.artifacts!.dir, '--out', path.join(out, 'put-frees-early'), '--json', '--variants', 'default', '--tests', 'swap-cycle']);
    const result = r.json<SuiteResult>();
    expect(r.exitCode, `${result.summary}; boot ${result.boot.status}: ${result.boot.reason}`).toBe(1);
    const t = result.tests.find((x) => x.name === 'swap-cycle')!;
    expect(t.verdict, t.summary).toBe('fail');
    const v = t.violations.find((x) => x.rule === 'free-while-referenced');
    expect(v, JSON.stringify(t.violations.slice(0, 3).map((x) => [x.rule, x.message]))).toBeDefined();
    expect(v!.message).toMatch(/frees entry 0x[0-9a-f]+ \(slot \d+:\d+\) in a put that found refcount 2: 1 reference\(s\) remain/);
    expect(v!.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['load', 'put', 'free']));
  });
});
