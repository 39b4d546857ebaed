import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/common/paths.js';
import type { RunReport } from '../../src/report/types.js';
import { fixtures, runInTemp } from '../e2e/helpers.js';

// Issue 11, item 3: the debug kernel for real. `kharness run --config zswap,zswap-debug` builds
// and boots both configs for the base and the patch (KASAN, lockdep, DEBUG_VM, KFENCE live in the
// second), and every report format has a row per patch and config. The patch is a deliberate bug
// only the debug kernel can see: a sleeping lock taken inside an RCU read-side section, which a
// PREEMPT_NONE plain kernel does not count. On a fresh machine the debug base is a cold build here.
describe('kharness run with the plain and the debug config', () => {
  let out: string;
  let report: RunReport;
  let exitCode: number;
  let stderr: string;

  beforeAll(async () => {
    ({ out, report, exitCode, stderr } = await runInTemp<RunReport>('kharness-debug-', [path.join(fixtures, 'kernel-bugs', 'lockdep-sleep-in-rcu.mbox'), '--config', 'zswap,zswap-debug', '--tests', 'swap-cycle', '--variants', 'default']));
  });

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('has a row per step and config, the base passing with both, the bug failing only the debug row', () => {
    expect(exitCode, `${report.summary}\n${stderr.slice(-2000)}`).toBe(1);
    expect(report.status).toBe('complete');
    expect(report.environment.configs?.map((c) => c.name)).toEqual(['zswap', 'zswap-debug']);
    // each config's fold in turn: the plain kernel's verdicts first
    expect(report.patches.map((p) => [p.label, p.config, p.verdict])).toEqual([
      ['base', 'zswap', 'pass'],
      ['1/1', 'zswap', 'pass'],
      ['base', 'zswap-debug', 'pass'],
      ['1/1', 'zswap-debug', 'fail'],
    ]);
    expect(report.firstBadPatch).toBe(1);
    expect(report.summary).toContain('patch 1/1 [zswap-debug] fail');
  });

  it('booted a real debug kernel: KASAN and lockdep on, no splat on the unmodified base', async () => {
    const base = report.patches[2]!;
    expect(base.tests.map((t) => `${t.name}: ${t.verdict}`)).toEqual(['swap-cycle: pass']);
    expect(base.tests[0]!.findings).toEqual([]);
    expect(base.kernelFindings ?? []).toEqual([]);
    const consoleLog = await readFile(path.join(out, 'report', base.boot!.consoleLog!), 'utf8');
    expect(consoleLog).toContain('KernelAddressSanitizer initialized');
    expect(consoleLog).toMatch(/Lock dependency validator/);
    // the taint that would have turned lockdep off never came
    expect(consoleLog).not.toContain('Disabling lock debugging');
    // The plain build of the same commit is another kernel, with its own build log.
    expect(base.stages.build.logs.build).toMatch(/build-[0-9a-f]{12}-zswap-debug\.log$/);
    expect(report.patches[0]!.stages.build.logs.build).toMatch(/build-[0-9a-f]{12}-zswap\.log$/);
    const plainLog = await readFile(path.join(out, 'report', report.patches[0]!.boot!.consoleLog!), 'utf8');
    expect(plainLog).not.toContain('KernelAddressSanitizer initialized');
  });

  it('blames the sleeping lock in the RCU section on the store path, folded to one finding per splat', () => {
    const bad = report.patches[3]!;
    expect(bad.stages.test.verdict).toBe('fail');
    const t = bad.tests.find((x) => x.name === 'swap-cycle')!;
    const kinds = t.findings.map((f) => f.kind);
    expect(kinds.every((k) => k === 'lockdep'), JSON.stringify(t.findings.map((f) => f.title))).toBe(true);
    expect(t.findings.some((f) => /sleeping function called from invalid context/.test(f.title)), JSON.stringify(t.findings.map((f) => f.title))).toBe(true);
    for (const f of t.findings) {
      expect(f.function, f.title).toBe('acomp_ctx_get_cpu_lock');
      expect(f.callTrace).toContain('zswap_store');
    }
    expect(new Set(t.findings.map((f) => f.signature)).size).toBe(t.findings.length);
    // The plain kernel ran the same patch through the same test and saw nothing.
    const plain = report.patches[1]!;
    expect(plain.tests.map((x) => `${x.name}: ${x.verdict}`)).toEqual(['swap-cycle: pass']);
  });

  it('shows the rows per config in every report format', async () => {
    const dir = path.join(out, 'report');
    const md = await readFile(path.join(dir, 'report.md'), 'utf8');
    expect(md).toMatch(/^\| base \\\[zswap-debug\\\] \|/m);
    expect(md).toMatch(/^\| \[1\/1 \\\[zswap-debug\\\]\]\(#patch-1-zswap-debug\) \|.*\*\*FAIL\*\*/m);
    const junit = await readFile(path.join(dir, 'junit.xml'), 'utf8');
    expect(junit.match(/<testsuite /g)).toHaveLength(4);
    expect(junit).toContain('<property name="config" value="zswap-debug"/>');
    const reply = await readFile(path.join(dir, 'reply.txt'), 'utf8');
    expect(reply).toMatch(/with\s+configs\s+zswap\s+and\s+zswap-debug\s/);
    expect(reply).toMatch(/^ {2}1\/1 \[zswap-debug\] +FAIL/m);
    const html = await readFile(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('id="p1-zswap-debug"');
    // KCIDB, checked by KernelCI's own kcidb-io: one checkout per step, a build per step and config.
    const kcidb = JSON.parse(await readFile(path.join(dir, 'kcidb.json'), 'utf8')) as { checkouts: unknown[]; builds: { config_name: string }[] };
    expect(kcidb.checkouts).toHaveLength(2);
    expect(kcidb.builds.map((b) => b.config_name)).toEqual(['zswap', 'zswap', 'zswap-debug', 'zswap-debug']);
    const python = path.join(projectRoot, '.venv', 'bin', 'python');
    const v = await execa(python, ['-c', 'import json,sys,kcidb_io; d=json.load(open(sys.argv[1])); kcidb_io.schema.V5_0.validate_exactly(d); kcidb_io.schema.LATEST.validate(d)', path.join(dir, 'kcidb.json')], { reject: false });
    expect(v.exitCode, v.stderr).toBe(0);
  });
});
