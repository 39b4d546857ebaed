import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuiteResult, TestJudgement } from '../../src/guest/index.js';
import { buildBugKernel, fixtures, kharness, requireEnvironment, type AppliedJson, type BuildJson } from './helpers.js';

// Issues 4 and 5 end to end: real kernels from the Debian 6.12 tree with the zswap fragment,
// booted under virtme-ng (TCG here), the guest suite, and the reference model replaying the
// kernel's own trace. The unmodified kernel must pass; each deliberate bug must be caught with
// its evidence named.
let out: string;

async function testKernel(artifact: string, name: string, extra: string[] = []): Promise<{ exitCode: number; result: SuiteResult }> {
  const r = await kharness(['test', artifact, '--out', path.join(out, name), '--json', ...extra]);
  return { exitCode: r.exitCode, result: r.json<SuiteResult>() };
}

function test(r: SuiteResult, name: string): TestJudgement {
  const t = r.tests.find((x) => x.name === name);
  if (!t) throw new Error(`no result for ${name}`);
  return t;
}

const rules = (t: TestJudgement): string[] => t.violations.map((v) => v.rule);

async function bugResult(bug: string, extra: string[] = []): Promise<{ exitCode: number; result: SuiteResult; build: BuildJson }> {
  const { build } = await buildBugKernel(path.join(fixtures, 'kernel-bugs', `${bug}.mbox`));
  const r = await testKernel(build.artifacts!.dir, bug, extra);
  return { ...r, build };
}

beforeAll(async () => {
  requireEnvironment();
  out = await mkdtemp(path.join(tmpdir(), 'kharness-guest-'));
});

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('the unmodified 6.12 kernel', () => {
  it('passes the whole suite, every traced history replays, every lifetime path the suite owns ran', async () => {
    const apply = await kharness(['apply', path.join(fixtures, 'build', 'clean-series.mbox'), '--json']);
    const applied = apply.json<AppliedJson>();
    const build = await kharness(['build', applied.worktree, '--patch', '0', '--json']);
    const [base] = build.json<BuildJson[]>();
    expect(base!.verdict).toBe('pass');
    const { exitCode, result } = await testKernel(base!.artifacts!.dir, 'base');
    expect(result.boot.status).toBe('completed');
    expect(result.boot.bootToCommandMs).toBeGreaterThan(0);
    for (const t of result.tests) expect(`${t.name}: ${t.verdict}`, t.summary).toBe(`${t.name}: pass`);
    expect(exitCode).toBe(0);
    for (const name of ['swap-cycle', 'writeback', 'swapoff-race']) {
      const t = test(result, name);
      expect(t.conformance.verdict, `${name}: ${t.conformance.reason}`).toBe('pass');
      expect(t.counterOracle.verdict, `${name}: ${t.counterOracle.reason}`).toBe('pass');
      expect(t.dataOracle.verdict).toBe('pass');
      expect(t.gaps, name).toEqual([]);
    }
    const count = (p: string): number => result.coverage?.find((c) => c.path === p)?.count ?? 0;
    for (const p of ['store', 'loadHit', 'invalidateLive', 'writeback', 'storeFailed', 'swapoffUnuse']) expect(count(p), p).toBeGreaterThan(0);
    // Every test reports its counters before and after.
    expect(test(result, 'writeback').counters!.delta.zswpwb).toBeGreaterThan(0);
    expect(test(result, 'writeback').counters!.delta.written_back_pages).toBeGreaterThan(0);
    expect(test(result, 'selftest-zswap').selftest!.cases.length).toBeGreaterThanOrEqual(7);
  });

  it('passes on zram swap too, where swapins take the non-exclusive load path', async () => {
    const apply = await kharness(['apply', path.join(fixtures, 'build', 'clean-series.mbox'), '--json']);
    const build = await kharness(['build', apply.json<AppliedJson>().worktree, '--patch', '0', '--json']);
    const [base] = build.json<BuildJson[]>();
    const { exitCode, result } = await testKernel(base!.artifacts!.dir, 'base-zram', ['--swap', 'zram', '--tests', 'swap-cycle']);
    expect(exitCode, result.summary).toBe(0);
    const t = test(result, 'swap-cycle');
    expect(t.conformance.verdict).toBe('pass');
    expect(t.coverage.find((c) => c.path === 'loadHitNonExclusive')!.count).toBeGreaterThan(0);
  });
});

describe('deliberate lifetime bugs in mm/zswap.c are caught', () => {
  it('store: entries of swap type 1 stored at the wrong index', async () => {
    const { exitCode, result } = await bugResult('store-wrong-index');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    expect(t.badPagesTotal).toBeGreaterThan(0);
    expect(t.badPages[0]!.zero).toBe(true);
    expect(rules(t)).toContain('lost-entry');
    expect(t.findings.some((f) => f.kind === 'WARNING' && f.function === 'zswap_swapoff')).toBe(true);
  });

  it('load: an entry never freed after an exclusive load', async () => {
    const { exitCode, result } = await bugResult('load-leak');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    expect(rules(t)).toContain('entry-leak');
    // The data itself is right: only the model sees this one.
    expect(t.badPagesTotal).toBe(0);
    expect(t.violations[0]!.events.length).toBeGreaterThan(0);
  });

  it('invalidate: an entry freed while the tree still points to it', async () => {
    const { exitCode, result } = await bugResult('invalidate-no-erase');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    const crash = result.findings.find((f) => f.callTrace.includes('zswap_entry_free') || f.function === 'zswap_entry_free');
    const model = t.violations.length > 0;
    expect(crash !== undefined || model, JSON.stringify(result.findings.map((f) => f.title))).toBe(true);
  });

  it('writeback: entries freed as written back though nothing reached the disk', async () => {
    const { exitCode, result } = await bugResult('writeback-skip-write');
    expect(exitCode).toBe(1);
    const t = test(result, 'writeback');
    expect(t.verdict).toBe('fail');
    expect(t.counterOracle.reason).toMatch(/pswpout/);
    expect(t.badPagesTotal).toBeGreaterThan(0);
  });

  it('rejected store: a store that failed reported as stored', async () => {
    const { exitCode, result } = await bugResult('reject-returns-stored');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    expect(t.badPagesTotal).toBeGreaterThan(0);
    expect(rules(t)).toContain('lost-entry');
    expect(t.counterOracle.verdict).toBe('fail');
  });

  it('swapoff with live entries: entries dropped while the device goes away', async () => {
    const { exitCode, result } = await bugResult('swapoff-drops-entries');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    expect(t.badPages.some((b) => b.phase === 'after-swapoff')).toBe(true);
    expect(rules(t)).toContain('free-without-entry');
  });

  it('counters: zswpin counted twice per load', async () => {
    const { exitCode, result } = await bugResult('counter-double-zswpin');
    expect(exitCode).toBe(1);
    const t = test(result, 'swap-cycle');
    expect(t.verdict).toBe('fail');
    expect(t.conformance.verdict).toBe('pass');
    expect(t.dataOracle.verdict).toBe('pass');
    expect(t.counterOracle.verdict).toBe('fail');
    expect(t.counterOracle.reason).toMatch(/^zswpin moved (\d+), events say (\d+)/);
    const [, moved, counted] = /zswpin moved (\d+), events say (\d+)/.exec(t.counterOracle.reason)!;
    expect(Number(moved)).toBe(2 * Number(counted));
  });
});

describe('a kernel that never gets to the suite', () => {
  it('reports a panic at boot as such, within its budget', async () => {
    const started = Date.now();
    const { exitCode, result } = await bugResult('panic-at-boot', ['--timeout', '120']);
    expect(exitCode).toBe(1);
    expect(result.boot.status).toBe('panic');
    expect(result.boot.bootToCommandMs).toBeUndefined();
    expect(result.findings.some((f) => f.callTrace.includes('zswap_setup') || f.function === 'zswap_setup')).toBe(true);
    expect(result.tests.every((t) => t.verdict === 'skipped')).toBe(true);
    expect(result.boot.durationMs).toBeLessThan(120_000);
    expect(Date.now() - started).toBeLessThan(10 * 60_000);
  });

  it('reports a guest that hangs as a hang, with the console tail, within its budget', async () => {
    const { exitCode, result } = await bugResult('hang-double-lock', ['--timeout', '240', '--silence', '40']);
    expect(exitCode).toBe(1);
    expect(result.boot.status).toBe('hang');
    expect(result.boot.reason).toMatch(/printed nothing for 40s|heartbeat stopped for 40s|outlived its 240s budget/);
    expect(result.boot.durationMs).toBeLessThan(260_000);
    expect(result.boot.consoleTail.length).toBeGreaterThan(0);
    expect(test(result, 'swap-cycle').verdict).toBe('fail');
    // No QEMU is left behind by the watchdog's kill.
    const qemu = await execa('pgrep', ['-f', 'qemu-system-x86_64'], { reject: false });
    expect(qemu.stdout.trim()).toBe('');
  });
});
