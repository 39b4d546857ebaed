import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import type { BuildResult } from '../../../src/build/index.js';
import type { GuestRun, SuiteResult } from '../../../src/guest/index.js';
import type { BootOutcome } from '../../../src/boot/vm.js';
import { runStep, type StageFns, type Step, type StepContext } from '../../../src/run/step.js';
import { runOutcome } from '../../../src/run/outcome.js';
import { STAGES, type PatchReport } from '../../../src/report/types.js';

const step: Step = { index: 1, label: '1/1', subject: 'mm: zswap: a patch', commit: 'abc123', apply: { index: 1, subject: 's', status: 'applied', conflicts: [], log: '' } };

const build = (): BuildResult => ({
  commit: 'abc123', config: 'zswap', verdict: 'pass', summary: 'built', durationMs: 1, errors: [], newWarnings: [], warningsTotal: 0, logPath: '/r/logs/b.log', objectsBuilt: 3, cached: false,
  artifacts: { dir: '/a', image: '/a/bzImage', systemMap: '/a/System.map', config: '/a/config' },
});
const boot: BootOutcome = { status: 'completed', guestExit: 0, reason: 'the suite ran', accel: 'tcg', accelReason: 'test', consoleLog: '/r/patch-1/console.log', consoleTail: '', findings: [], durationMs: 5, bootToCommandMs: 2 };
const guestRun = (): GuestRun => ({ runDir: '/r/patch-1', boot, plan: { tests: ['swap-cycle'], profile: 'quick', trace: false, budgetS: 600, testTimeoutS: 300, selftestTimeoutS: 180 } });
const suite = (): SuiteResult => ({
  verdict: 'pass', summary: 'ok', boot, findings: [], gaps: [], runDir: '/r/patch-1', profile: 'quick',
  tests: [{
    name: 'swap-cycle', verdict: 'pass', workloadVerdict: 'pass', modelVerdict: 'pass', summary: 'passed', coverage: [], gaps: [], badPages: [], badPagesTotal: 0, violations: [],
    conformance: { verdict: 'pass', reason: 'replayed' }, dataOracle: { verdict: 'pass', reason: 'ok' }, counterOracle: { verdict: 'pass', reason: 'ok' }, findings: [], samples: [], evidence: [], logs: {},
  }],
});

function ctx(fns: Partial<StageFns>, interrupted = false): StepContext {
  return {
    opts: { input: 'x', configs: ['zswap'], tests: ['swap-cycle'], profile: 'quick', runs: 1, trace: true, variants: ['default'] },
    config: 'zswap',
    tree: { repo: '/t', worktree: '/w', workDir: '/wd' } as never,
    reportDir: '/r', logsDir: '/r/logs', rel: (p) => p, accel: 'tcg', interrupted: () => interrupted, addBuildExtra: () => undefined,
    progress: { stepStarted() {}, output() {}, stepDone() {}, close: async () => undefined },
    fns: { build: async () => build(), boot: async () => guestRun(), judge: async () => suite(), ...fns },
  };
}

const boom = (msg: string) => async (): Promise<never> => {
  throw new Error(msg);
};

function saysPassed(p: PatchReport): boolean {
  return /\bpass(ed)?\b/.test(p.summary) || p.verdict === 'pass';
}

describe('the fold over one step', () => {
  it('passes a step only when every stage ran and passed', async () => {
    const r = await runStep(step, ctx({}));
    expect(r.verdict).toBe('pass');
    expect(STAGES.map((s) => r.stages[s].verdict)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
  });

  const cases: [keyof StageFns, string, string[]][] = [
    ['build', 'build', ['boot', 'test', 'model']],
    ['boot', 'boot', ['test', 'model']],
    ['judge', 'test', ['model']],
  ];
  for (const [fn, stageName, later] of cases) {
    it(`turns an exception in ${fn} into an error of the ${stageName} stage, with the message and where`, async () => {
      const r = await runStep(step, ctx({ [fn]: boom(`${fn} exploded: ENOSPC`) }));
      const s = r.stages[stageName as keyof PatchReport['stages']];
      expect(s.verdict).toBe('error');
      expect(s.summary).toContain(`${fn} exploded: ENOSPC`);
      expect(s.summary).toContain('patch 1/1');
      expect(s.evidence.some((e) => e.startsWith('at '))).toBe(true);
      for (const l of later) expect(r.stages[l as keyof PatchReport['stages']].verdict).toBe('skipped');
      expect(r.verdict).toBe('error');
      expect(saysPassed(r)).toBe(false);
      const run = runOutcome([r], 'complete', 1);
      expect(run.exitCode).toBe(3);
      expect(run.verdict).toBe('error');
      expect(run.summary).not.toMatch(/passed/);
    });
  }

  it('boots each variant with its own tests and directory, and merges them into one step', async () => {
    const booted: { variant?: string; tests?: string[]; outDir: string }[] = [];
    const c = ctx({ boot: async (o) => (booted.push({ variant: o.variant, tests: o.tests, outDir: o.outDir }), guestRun()) });
    c.opts = { ...c.opts, tests: ['swap-cycle', 'cpu-hotplug'], variants: ['default', 'nomemcg'] };
    const r = await runStep(step, c);
    expect(booted).toEqual([
      { variant: 'default', tests: ['swap-cycle', 'cpu-hotplug'], outDir: '/r/patch-1' },
      { variant: 'nomemcg', tests: ['swap-cycle'], outDir: '/r/patch-1-nomemcg' },
    ]);
    expect(r.tests.map((t) => t.name)).toEqual(['swap-cycle', 'swap-cycle@nomemcg']);
    expect(r.verdict).toBe('pass');
  });

  it('a variant whose boot breaks makes the step an error, whatever the others did', async () => {
    let n = 0;
    const c = ctx({ boot: async () => (n++ === 0 ? guestRun() : Promise.reject(new Error('vng: cannot start QEMU'))) });
    c.opts = { ...c.opts, variants: ['default', 'nomemcg'] };
    const two = await runStep(step, c);
    expect(two.stages.boot.verdict).toBe('error');
    expect(two.stages.boot.summary).toContain('vng: cannot start QEMU');
    expect(two.verdict).toBe('error');
  });

  it('an InputError inside a stage is that stage\'s error: the steps already tested keep their verdicts', async () => {
    const r = await runStep(step, ctx({ build: async () => Promise.reject(new InputError('config "zswap": 1 option(s) did not survive olddefconfig')) }));
    expect(r.stages.build.verdict).toBe('error');
    expect(r.stages.build.summary).toContain('did not survive olddefconfig');
  });

  it('carries the commit it built to the next step: the new-warning baseline', async () => {
    const seen: (string | undefined)[] = [];
    const c = ctx({ build: async (o) => (seen.push(o.previousCommit), build()) });
    await runStep(step, c);
    await runStep({ ...step, index: 2, label: '2/2', commit: 'def456' }, c);
    expect(seen).toEqual([undefined, 'abc123']);
  });

  it('keeps the failing run when a retry breaks on our side, and calls it flaky only when a retry passed', async () => {
    const failing = (): SuiteResult => ({ ...suite(), verdict: 'fail', tests: [{ ...suite().tests[0]!, verdict: 'fail', workloadVerdict: 'fail', summary: 'KASAN: use-after-free' }] });
    let n = 0;
    const r = await runStep(step, { ...ctx({ judge: async () => (n++ === 0 ? failing() : { ...suite(), verdict: 'error' }) }), opts: { ...ctx({}).opts, runs: 2 } });
    expect(r.stages.test.verdict).toBe('fail');
    expect(r.stages.test.summary).toContain('KASAN');
    n = 0;
    const f = await runStep(step, { ...ctx({ judge: async () => (n++ === 0 ? failing() : suite()) }), opts: { ...ctx({}).opts, runs: 2 } });
    expect(f.stages.test.verdict).toBe('flaky');
    expect(f.stages.test.flakyCounts).toEqual({ fail: 1, pass: 1 });
  });

  it('a build that failed without a kernel is the patch failing, and nothing after it passes', async () => {
    const r = await runStep(step, ctx({ build: async () => ({ ...build(), verdict: 'fail', summary: 'build error: mm/zswap.c:10: x', artifacts: undefined }) }));
    expect(r.stages.build.verdict).toBe('fail');
    expect(r.stages.boot.verdict).toBe('skipped');
    expect(r.verdict).toBe('fail');
  });

  it('a make that broke (our side) is an error even though the build returned normally', async () => {
    const r = await runStep(step, ctx({ build: async () => ({ ...build(), verdict: 'error', summary: 'make was killed (SIGKILL)', artifacts: undefined }) }));
    expect(r.stages.build.verdict).toBe('error');
    expect(r.stages.boot.summary).toMatch(/not the patch/);
    expect(r.verdict).toBe('error');
  });

  it('a VM that broke before the suite is an error, not the kernel failing to boot', async () => {
    const broken = { ...boot, status: 'error' as const, reason: 'vng exited 1 before the kernel started', bootToCommandMs: undefined };
    const r = await runStep(step, ctx({ judge: async () => ({ ...suite(), boot: broken, verdict: 'error' }) }));
    expect(r.stages.boot.verdict).toBe('error');
    expect(r.stages.test.verdict).toBe('skipped');
    expect(r.verdict).toBe('error');
  });

  it('Ctrl-C during a stage makes it skipped, never pass or fail', async () => {
    const r = await runStep(step, ctx({ build: boom('make killed by SIGKILL') }, true));
    expect(r.stages.build.verdict).toBe('skipped');
    expect(r.stages.build.summary).toMatch(/interrupted/);
    expect(r.verdict).toBe('skipped');
  });

  it('a step whose tests were all skipped in the guest is not a pass', async () => {
    const s = suite();
    s.tests[0] = { ...s.tests[0]!, verdict: 'skipped', workloadVerdict: 'skipped', modelVerdict: 'skipped', summary: 'test_zswap was not built' };
    const r = await runStep(step, ctx({ judge: async () => ({ ...s, verdict: 'skipped' }) }));
    expect(r.stages.test.verdict).toBe('skipped');
    expect(r.verdict).toBe('skipped');
    expect(r.summary).toMatch(/not tested/);
  });
});
