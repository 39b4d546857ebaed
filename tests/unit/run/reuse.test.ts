import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BuildResult } from '../../../src/build/index.js';
import type { BootOutcome } from '../../../src/boot/vm.js';
import type { GuestRun, SuiteResult } from '../../../src/guest/index.js';
import { guestKey, type GuestKeyParts } from '../../../src/run/reuse.js';
import { runStep, type StageFns, type Step, type StepContext } from '../../../src/run/step.js';
import type { PatchReport } from '../../../src/report/types.js';

const parts: GuestKeyParts = {
  kharness: '0.1.0', imageSha: 'a'.repeat(64), configSha: 'c'.repeat(64), guestSourcesSha: 'e'.repeat(64),
  config: 'zswap', tests: ['swap-cycle'], variants: ['default'], profile: 'quick', trace: true, runs: 1,
};

describe('the guest key', () => {
  it('is the same for the same parts and differs when any one part differs', () => {
    expect(guestKey({ ...parts })).toBe(guestKey(parts));
    const changed: Partial<GuestKeyParts>[] = [
      { kharness: '0.2.0' }, { imageSha: 'b'.repeat(64) }, { configSha: 'f'.repeat(64) }, { guestSourcesSha: '0'.repeat(64) },
      { config: 'zswap-debug' }, { tests: ['swap-cycle', 'writeback'] }, { variants: ['default', 'nomemcg'] }, { profile: 'soak' }, { trace: false }, { runs: 2 }, { budgetS: 900 }, { accel: 'kvm' }, { keepTraces: true },
    ];
    const keys = new Set(changed.map((c) => guestKey({ ...parts, ...c })));
    expect(keys.size).toBe(changed.length);
    expect(keys.has(guestKey(parts))).toBe(false);
  });
});

describe('a step whose kernel is identical to an earlier one reuses its guest results', () => {
  // A cache of each test's own: what a run keeps for later runs (kept-results.ts) is not this file's subject.
  const saved = process.env.KHARNESS_CACHE;
  beforeEach(async () => {
    process.env.KHARNESS_CACHE = await mkdtemp(path.join(tmpdir(), 'kh-reuse-cache-'));
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.KHARNESS_CACHE;
    else process.env.KHARNESS_CACHE = saved;
  });

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kh-reuse-'));
    for (const [f, body] of [['bzImage-1', 'kernel one'], ['bzImage-2', 'kernel one'], ['bzImage-3', 'kernel three'], ['config', 'CONFIG_ZSWAP=y\n'], ['config-debug', 'CONFIG_ZSWAP=y\nCONFIG_KASAN=y\n']]) await writeFile(path.join(dir, f!), body!);
  });

  const boot: BootOutcome = { status: 'completed', guestExit: 0, reason: 'the suite ran', accel: 'tcg', accelReason: 'test', consoleLog: '/r/patch-1/console.log', consoleTail: '', findings: [], durationMs: 5, bootToCommandMs: 2 };
  const suite = (verdict: SuiteResult['verdict'] = 'pass'): SuiteResult => ({
    verdict, summary: verdict, boot, findings: [], gaps: [], runDir: '/r/patch-1', profile: 'quick',
    tests: [{
      name: 'swap-cycle', verdict, workloadVerdict: verdict, modelVerdict: 'pass', summary: `swap-cycle ${verdict}`, coverage: [], gaps: [], badPages: [], badPagesTotal: 0, violations: [],
      conformance: { verdict: 'pass', reason: 'replayed' }, dataOracle: { verdict: 'pass', reason: 'ok' }, counterOracle: { verdict: 'pass', reason: 'ok' }, findings: [], samples: [], evidence: [], logs: {},
    }],
  });
  const stepN = (n: number): Step => ({ index: n, label: `${n}/3`, subject: `patch ${n}`, commit: `c${n}`, apply: { index: n, subject: 's', status: 'applied', conflicts: [], log: '' } });

  /** A fold context whose build of step n gives image bzImage-n, and which counts the boots. */
  function fold(judged: (n: number) => SuiteResult = () => suite(), over: Partial<StepContext['opts']> = {}): { ctx: StepContext; booted: string[] } {
    const booted: string[] = [];
    const build = async (o: { commit: string }): Promise<BuildResult> => ({
      commit: o.commit, config: 'zswap', verdict: 'pass', summary: 'built', durationMs: 1, errors: [], newWarnings: [], warningsTotal: 0, logPath: '/r/logs/b.log', objectsBuilt: 3, cached: false,
      artifacts: { dir, image: path.join(dir, `bzImage-${o.commit.slice(1)}`), systemMap: '/none', config: path.join(dir, 'config') },
    });
    let current = 0;
    const fns: Partial<StageFns> = {
      build: async (o) => ((current = Number(o.commit.slice(1))), build(o)),
      boot: async (o): Promise<GuestRun> => (booted.push(`c${current}`), { runDir: o.outDir, boot, plan: { tests: (o.tests ?? ['swap-cycle']) as GuestRun['plan']['tests'], profile: 'quick', trace: true, budgetS: 600, testTimeoutS: 300, selftestTimeoutS: 180 } }),
      judge: async () => judged(current),
    };
    const ctx: StepContext = {
      opts: { input: 'x', configs: ['zswap'], tests: ['swap-cycle'], profile: 'quick', runs: 1, trace: true, variants: ['default'], ...over },
      config: 'zswap', tree: { repo: '/t', worktree: '/w', workDir: '/wd' } as never, reportDir: '/r', logsDir: path.join(dir, 'logs'), rel: (p) => p, accel: 'tcg',
      interrupted: () => false, addBuildExtra: () => undefined, progress: { stepStarted() {}, output() {}, stepDone() {}, close: async () => undefined },
      fns, guestResults: new Map(),
    };
    return { ctx, booted };
  }

  async function three(ctx: StepContext): Promise<PatchReport[]> {
    const out: PatchReport[] = [];
    for (const n of [1, 2, 3]) out.push(await runStep(stepN(n), ctx));
    return out;
  }

  it('boots only the kernels not seen before, and every stage it took says whose results they are', async () => {
    const { ctx, booted } = fold();
    const [one, two, three_] = await three(ctx);
    expect(booted).toEqual(['c1', 'c3']);
    expect(one!.reusedFrom).toBeUndefined();
    expect(two!.reusedFrom).toBe('1/3');
    for (const s of ['boot', 'test', 'model'] as const) expect(two!.stages[s].summary).toMatch(/^same kernel as 1\/3: results reused; /);
    expect(two!.stages.build.summary).toBe('built');
    expect(two!.tests.map((t) => t.name)).toEqual(['swap-cycle']);
    expect(two!.verdict).toBe('pass');
    expect(two!.summary).toMatch(/same kernel as 1\/3: results reused/);
    expect(three_!.reusedFrom).toBeUndefined();
  });

  it('a reused failure is still a failure, saying where it was seen', async () => {
    const { ctx, booted } = fold((n) => suite(n === 1 ? 'fail' : 'pass'));
    const [, two] = await three(ctx);
    expect(booted).toEqual(['c1', 'c3']);
    expect(two!.verdict).toBe('fail');
    expect(two!.stages.test.summary).toMatch(/^same kernel as 1\/3: results reused; /);
  });

  it('--retest boots every step', async () => {
    const { ctx, booted } = fold(undefined, { retest: true });
    const reports = await three(ctx);
    expect(booted).toEqual(['c1', 'c2', 'c3']);
    expect(reports.every((r) => r.reusedFrom === undefined)).toBe(true);
  });

  it('never reuses a run our side broke: the identical kernel is booted again', async () => {
    const { ctx, booted } = fold((n) => (n === 1 ? { ...suite(), verdict: 'error', boot: { ...boot, status: 'error', reason: 'vng broke', bootToCommandMs: undefined } } : suite()));
    const [one, two] = await three(ctx);
    expect(one!.verdict).toBe('error');
    expect(booted).toEqual(['c1', 'c2', 'c3']);
    expect(two!.reusedFrom).toBeUndefined();
    expect(two!.verdict).toBe('pass');
  });

  it('the same kernel with another test_zswap runs only selftest-zswap, and keeps the other tests', async () => {
    for (const [f, body] of [['test_zswap-1', 'selftest A'], ['test_zswap-2', 'selftest B'], ['test_zswap-3', 'selftest B']]) await writeFile(path.join(dir, f!), body!);
    const { ctx } = fold();
    const bootedTests: string[][] = [];
    const build = ctx.fns!.build!;
    ctx.fns!.build = async (o) => {
      const b = await build(o);
      return { ...b, artifacts: { ...b.artifacts!, selftest: path.join(dir, `test_zswap-${o.commit.slice(1)}`) } };
    };
    const boot0 = ctx.fns!.boot!;
    ctx.fns!.boot = async (o) => (bootedTests.push([...o.tests!]), boot0(o));
    ctx.fns!.judge = async (run) => {
      const t = suite().tests[0]!;
      return { ...suite(), tests: run.plan.tests.map((name) => ({ ...t, name, summary: `${name} ran on ${run.runDir}` })) };
    };
    ctx.opts = { ...ctx.opts, tests: ['swap-cycle', 'selftest-zswap'] };
    const [one, two, three_] = await three(ctx);
    expect(bootedTests).toEqual([['swap-cycle', 'selftest-zswap'], ['selftest-zswap'], ['swap-cycle', 'selftest-zswap']]);
    expect(one!.reusedFrom).toBeUndefined();
    expect(two!.reusedFrom).toBe('1/3');
    expect(two!.tests.map((t) => [t.name, t.summary])).toEqual([['swap-cycle', 'swap-cycle ran on /r/patch-1'], ['selftest-zswap', 'selftest-zswap ran on /r/patch-2']]);
    expect(two!.stages.test.summary).toMatch(/^same kernel as 1\/3: results reused but for selftest-zswap, run again \(test_zswap changed\); /);
    expect(two!.summary).toMatch(/but for selftest-zswap, run again/);
    expect(three_!.reusedFrom).toBeUndefined();
  });

  it('a test_zswap that no test runs does not matter: the whole run is reused', async () => {
    for (const [f, body] of [['test_zswap-1', 'selftest A'], ['test_zswap-2', 'selftest B']]) await writeFile(path.join(dir, f!), body!);
    const { ctx, booted } = fold();
    const build = ctx.fns!.build!;
    ctx.fns!.build = async (o) => {
      const b = await build(o);
      return { ...b, artifacts: { ...b.artifacts!, selftest: path.join(dir, `test_zswap-${o.commit === 'c3' ? 1 : o.commit.slice(1)}`) } };
    };
    const [, two] = await three(ctx);
    expect(booted).toEqual(['c1', 'c3']);
    expect(two!.reusedFrom).toBe('1/3');
  });

  it('never across configs: the same image built with another .config is booted again', async () => {
    const { ctx, booted } = fold();
    const build = ctx.fns!.build!;
    ctx.fns!.build = async (o) => {
      const b = await build(o);
      return o.commit === 'c2' ? { ...b, artifacts: { ...b.artifacts!, config: path.join(dir, 'config-debug') } } : b;
    };
    await three(ctx);
    expect(booted).toEqual(['c1', 'c2', 'c3']);
  });
});

describe('an earlier run with some tests run again (withRerunTests)', () => {
  const boot: BootOutcome = { status: 'completed', guestExit: 0, reason: 'ran', accel: 'tcg', accelReason: 't', consoleLog: '/c', consoleTail: '', findings: [], durationMs: 1, bootToCommandMs: 1 };
  const test = (name: string, verdict: SuiteResult['verdict']): SuiteResult['tests'][number] => ({
    name, verdict, workloadVerdict: verdict, modelVerdict: 'skipped', summary: `${name} ${verdict}`, coverage: [], gaps: [], badPages: [], badPagesTotal: 0, violations: [],
    conformance: { verdict: 'skipped', reason: '' }, dataOracle: { verdict: 'pass', reason: '' }, counterOracle: { verdict: 'skipped', reason: '' }, findings: [], samples: [], evidence: [], logs: {},
  });
  const run = (tests: SuiteResult['tests'], dir: string, findings: SuiteResult['findings'] = []): SuiteResult => ({
    verdict: tests.some((t) => t.verdict === 'fail') ? 'fail' : 'pass', summary: '', boot, findings, gaps: [], runDir: dir, profile: 'quick', tests,
  });
  const splat = (t: string): SuiteResult['findings'][number] => ({ kind: 'warning', title: `WARNING in ${t}`, signature: t, excerpt: '', line: 1, test: t }) as unknown as SuiteResult['findings'][number];

  it('replaces the tests of the same name and keeps the rest, with their findings', async () => {
    const { withRerunTests } = await import('../../../src/guest/index.js');
    const earlier = run([test('swap-cycle', 'pass'), test('selftest-zswap', 'fail')], '/r/1', [splat('selftest-zswap')]);
    const fixed = withRerunTests(earlier, run([test('selftest-zswap', 'pass')], '/r/2'));
    expect(fixed.tests.map((t) => `${t.name} ${t.verdict}`)).toEqual(['swap-cycle pass', 'selftest-zswap pass']);
    expect(fixed.findings).toEqual([]);
    expect(fixed.verdict).toBe('pass');
    expect(fixed.summary).toBe('all 2 test(s) passed');
    expect(fixed.runDir).toBe('/r/2');
    const stillBad = withRerunTests(run([test('swap-cycle', 'fail'), test('selftest-zswap', 'pass')], '/r/1', [splat('swap-cycle')]), run([test('selftest-zswap', 'pass')], '/r/2'));
    expect(stillBad.verdict).toBe('fail');
    expect(stillBad.summary).toBe('swap-cycle: swap-cycle fail');
    expect(stillBad.findings.map((f) => f.test)).toEqual(['swap-cycle']);
  });
});
