import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildResult } from '../../../src/build/index.js';
import type { BootOutcome } from '../../../src/boot/vm.js';
import type { GuestRun, SuiteResult } from '../../../src/guest/index.js';
import { movedRunDir } from '../../../src/run/kept-results.js';
import { runStep, type StageFns, type Step, type StepContext } from '../../../src/run/step.js';

// Guest results kept between runs (src/run/kept-results.ts), through the real fold with stub
// stages and a private KHARNESS_CACHE: a second run on the same kernel does not boot it again.
describe('results kept between runs', () => {
  let root: string;
  const saved = process.env.KHARNESS_CACHE;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'kh-basecache-'));
    process.env.KHARNESS_CACHE = path.join(root, 'cache');
    await writeFile(path.join(root, 'bzImage'), 'the base kernel');
    await writeFile(path.join(root, 'config'), 'CONFIG_ZSWAP=y\n');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.KHARNESS_CACHE;
    else process.env.KHARNESS_CACHE = saved;
  });

  const base: Step = { index: 0, label: 'base', subject: 'base', commit: 'b0' };

  /** A run into its own report folder: the guest writes a console log there; counts its boots. */
  function run(name: string, verdict: SuiteResult['verdict'] = 'pass', over: Partial<StepContext['opts']> = {}, image = 'bzImage'): { ctx: StepContext; boots: string[]; reportDir: string } {
    const reportDir = path.join(root, name);
    const boots: string[] = [];
    const build = async (): Promise<BuildResult> => ({
      commit: 'b0', config: 'zswap', verdict: 'pass', summary: 'built', durationMs: 1, errors: [], newWarnings: [], warningsTotal: 0, logPath: path.join(reportDir, 'logs', 'b.log'), objectsBuilt: 1, cached: true,
      artifacts: { dir: root, image: path.join(root, image), systemMap: '/none', config: path.join(root, 'config') },
    });
    const fns: Partial<StageFns> = {
      build,
      boot: async (o): Promise<GuestRun> => {
        boots.push(o.outDir);
        await mkdir(o.outDir, { recursive: true });
        await writeFile(path.join(o.outDir, 'console.log'), `booted in ${name}\n`);
        const boot: BootOutcome = { status: 'completed', guestExit: 0, reason: 'ran', accel: 'tcg', accelReason: 't', consoleLog: path.join(o.outDir, 'console.log'), consoleTail: '', findings: [], durationMs: 5, bootToCommandMs: 2 };
        return { runDir: o.outDir, boot, plan: { tests: ['swap-cycle'], profile: 'quick', trace: true, budgetS: 600, testTimeoutS: 300, selftestTimeoutS: 180 } };
      },
      judge: async (g): Promise<SuiteResult> => ({
        verdict, summary: verdict, boot: g.boot, findings: [], gaps: [], runDir: g.runDir, profile: 'quick',
        tests: [{
          name: 'swap-cycle', verdict, workloadVerdict: verdict === 'flaky' ? 'fail' : verdict, modelVerdict: 'pass', summary: `swap-cycle ${verdict}`, coverage: [], gaps: [], badPages: [], badPagesTotal: 0, violations: [],
          conformance: { verdict: 'pass', reason: '' }, dataOracle: { verdict: 'pass', reason: '' }, counterOracle: { verdict: 'pass', reason: '' }, findings: [], samples: [], evidence: [], logs: { console: g.boot.consoleLog },
        }],
      }),
    };
    const ctx: StepContext = {
      opts: { input: 'x', configs: ['zswap'], tests: ['swap-cycle'], profile: 'quick', runs: 1, trace: true, variants: ['default'], ...over },
      config: 'zswap', tree: { repo: '/t', worktree: '/w', workDir: '/wd' } as never, reportDir, logsDir: path.join(reportDir, 'logs'), rel: (p) => path.relative(reportDir, p), accel: 'tcg',
      interrupted: () => false, addBuildExtra: () => undefined, progress: { stepStarted() {}, output() {}, stepDone() {}, close: async () => undefined },
      fns, guestResults: new Map(),
    };
    return { ctx, boots, reportDir };
  }

  it('keeps a passing base, and a later run carries it with its date and its guest files', async () => {
    const first = run('first');
    const a = await runStep(base, first.ctx);
    expect(first.boots).toHaveLength(1);
    expect(a.reusedFrom).toBeUndefined();
    const second = run('second');
    const b = await runStep(base, second.ctx);
    expect(second.boots).toEqual([]);
    expect(b.reusedFrom).toMatch(/^the base run of \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(b.stages.boot.summary).toMatch(/^same kernel as the base run of .* UTC: results reused; /);
    expect(b.verdict).toBe('pass');
    // its console log is in this run's folder, and the report points there
    expect(b.stages.boot.logs.console).toBe('patch-0/console.log');
    expect(readFileSync(path.join(second.reportDir, 'patch-0', 'console.log'), 'utf8')).toBe('booted in first\n');
    // and an identical kernel later in the same run reuses it too
    const c = await runStep({ ...base, index: 1, label: '1/1', commit: 'c1', apply: { index: 1, subject: 's', status: 'applied', conflicts: [], log: '' } }, second.ctx);
    expect(second.boots).toEqual([]);
    expect(c.reusedFrom).toBe('base');
  });

  it('--retest-base and --retest boot the base again; other options are another key', async () => {
    for (const over of [{ retestBase: true }, { retest: true }, { profile: 'soak' }, { variants: ['default', 'nomemcg'] }] as Partial<StepContext['opts']>[]) {
      const again = run(`again-${Object.keys(over)[0]}`, 'pass', over);
      const r = await runStep(base, again.ctx);
      expect(again.boots.length, JSON.stringify(over)).toBeGreaterThan(0);
      expect(r.reusedFrom).toBeUndefined();
    }
  });

  it('never keeps a flaky or broken base', async () => {
    process.env.KHARNESS_CACHE = path.join(root, 'cache-2');
    for (const v of ['flaky', 'error'] as const) {
      await runStep(base, run(`bad-${v}`, v).ctx);
      expect(existsSync(path.join(root, 'cache-2', 'kept-results')), v).toBe(false);
    }
    const next = run('after-bad');
    await runStep(base, next.ctx);
    expect(next.boots).toHaveLength(1);
  });

  const patch = (index: number): Step => ({ index, label: `${index}/3`, subject: `patch ${index}`, commit: `c${index}`, apply: { index, subject: 's', status: 'applied', conflicts: [], log: '' } });

  it('keeps a passing patch; a later run takes it for another step, its files moved to that step\'s folder', async () => {
    process.env.KHARNESS_CACHE = path.join(root, 'cache-3');
    await writeFile(path.join(root, 'patched'), 'a patched kernel');
    const first = run('p-first', 'pass', {}, 'patched');
    expect((await runStep(patch(2), first.ctx)).verdict).toBe('pass');
    expect(first.boots).toHaveLength(1);
    const second = run('p-second', 'pass', {}, 'patched');
    const b = await runStep(patch(1), second.ctx);
    expect(second.boots).toEqual([]);
    expect(b.reusedFrom).toMatch(/^2\/3 of the run of \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(b.stages.test.summary).toMatch(/^same kernel as 2\/3 of the run of .* UTC: results reused; /);
    expect(b.stages.boot.logs.console).toBe('patch-1/console.log');
    expect(readFileSync(path.join(second.reportDir, 'patch-1', 'console.log'), 'utf8')).toBe('booted in p-first\n');
    expect(existsSync(path.join(second.reportDir, 'patch-2'))).toBe(false);
    // --retest-kept boots it again (and --retest too)
    for (const over of [{ retestKept: true }, { retest: true }] as Partial<StepContext['opts']>[]) {
      const again = run(`p-again-${Object.keys(over)[0]}`, 'pass', over, 'patched');
      expect((await runStep(patch(1), again.ctx)).reusedFrom, JSON.stringify(over)).toBeUndefined();
      expect(again.boots, JSON.stringify(over)).toHaveLength(1);
    }
  });

  it("never keeps a patch's failure, and a patch does not take a kept failing base", async () => {
    process.env.KHARNESS_CACHE = path.join(root, 'cache-4');
    await writeFile(path.join(root, 'failing'), 'a failing kernel');
    await runStep(patch(1), run('f-first', 'fail', {}, 'failing').ctx);
    expect(existsSync(path.join(root, 'cache-4', 'kept-results'))).toBe(false);
    const again = run('f-again', 'fail', {}, 'failing');
    expect((await runStep(patch(1), again.ctx)).verdict).toBe('fail');
    expect(again.boots).toHaveLength(1);
    // the base's failure is kept (the background patches are compared against) ...
    await runStep(base, run('f-base', 'fail', {}, 'failing').ctx);
    expect(existsSync(path.join(root, 'cache-4', 'kept-results'))).toBe(true);
    const baseAgain = run('f-base-again', 'fail', {}, 'failing');
    expect((await runStep(base, baseAgain.ctx)).reusedFrom).toMatch(/^the base run of /);
    expect(baseAgain.boots).toEqual([]);
    // ... but a patch booting that same kernel runs it
    const patched = run('f-patch', 'fail', {}, 'failing');
    const boot = patched.ctx.fns!.boot!;
    let before: boolean | undefined;
    patched.ctx.fns!.boot = async (o) => {
      before = existsSync(o.outDir);
      return boot(o);
    };
    expect((await runStep(patch(1), patched.ctx)).reusedFrom).toBeUndefined();
    expect(patched.boots).toHaveLength(1);
    // and nothing of the refused run was copied into its folder first
    expect(before).toBe(false);
  });

  it('moves a kept folder and its variant and rerun siblings to the new step, nothing else', () => {
    expect(movedRunDir('patch-2', 'patch-2', 'patch-1')).toBe('patch-1');
    expect(movedRunDir('patch-2-nomemcg', 'patch-2', 'patch-1')).toBe('patch-1-nomemcg');
    expect(movedRunDir('patch-2/console.log', 'patch-2', 'patch-1')).toBe('patch-1/console.log');
    expect(movedRunDir('patch-20', 'patch-2', 'patch-1')).toBe('patch-20');
    expect(movedRunDir('logs/build.log', 'patch-2', 'patch-1')).toBe('logs/build.log');
  });
});
