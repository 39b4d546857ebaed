import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../common/errors.js';
import type { Verdict } from '../common/verdict.js';
import { PROGRESS_INTERVAL_MS, buildCommit, type BuildResult } from '../build/index.js';
import { every } from '../build/progress.js';
import { bootGuest, judgeRun, mergeVariantSuites, variantPlans, withRerunTests, type GuestTestName, type GuestRun, type KernelUnderTest, type SuiteResult } from '../guest/index.js';
import type { PatchReport, PersonInfo, StageName, StageReport } from '../report/types.js';
import type { PatchApplyResult } from '../tree/apply.js';
import type { KernelTree } from '../tree/worktree.js';
import type { RunOptions } from './pipeline.js';
import { GuestTestClock, type Progress } from './progress.js';
import { parseMark } from '../guest/console-marks.js';
import { KHARNESS_VERSION } from '../common/paths.js';
import { keepable, loadKept, saveKept } from './kept-results.js';
import { carryGuestResults, fileSha256, guestEnvironment, guestKey, guestSourcesSha, markRerun, reusable, reusedNote } from './reuse.js';
import { applyStage, bootStage, laterStages, buildDetails, buildStage, modelStage, patchVerdict, skippedStage, stage, summarize, testDetails, testStage } from './stages.js';

/** One step of the fold: the base (index 0) or patch k, with its commit in our worktree. */
export interface Step {
  index: number;
  label: string;
  subject: string;
  commit?: string;
  apply?: PatchApplyResult;
  messageId?: string;
  author?: PersonInfo;
}

export interface StepContext {
  opts: RunOptions;
  /** the kernel config this context builds with (one of opts.configs) */
  config: string;
  /** set when the run tests several configs: the rows this context makes carry it, and their dirs */
  rowTag?: string;
  tree: KernelTree;
  reportDir: string;
  logsDir: string;
  rel: (p: string) => string;
  accel: 'kvm' | 'tcg';
  interrupted: () => boolean;
  /** host time the build stage spent outside make (checkpatch, selftest, copies) */
  addBuildExtra: (ms: number) => void;
  progress: Progress;
  progressIndex?: number;
  /** the commit built before this one: its warnings are the new-warning baseline */
  previousBuilt?: string;
  /** that commit's step label (base, 1/3): how a step that took its kernel names it */
  previousBuiltLabel?: string;
  /** the series' base: its review scripts (checkpatch.pl) judge every patch */
  reviewBase?: string;
  /** the stage functions (the real ones by default; the fold's unit test injects failing ones) */
  fns?: Partial<StageFns>;
  /** steps already tested in this fold, by their guest key (reuse.ts): an identical kernel reuses them */
  guestResults?: Map<string, TestedKernel>;
}

/** A kernel this fold booted, by its guest key without test_zswap (reuse.ts). */
export interface TestedKernel {
  report: PatchReport;
  suite: SuiteResult;
  /** the test_zswap it ran: another one reruns selftest-zswap alone */
  selftestSha: string;
}

/** The effectful stage functions the fold calls, each with one typed input and output. */
export interface StageFns {
  build: (o: Parameters<typeof buildCommit>[0]) => Promise<BuildResult>;
  boot: (o: Parameters<typeof bootGuest>[0]) => Promise<GuestRun>;
  judge: (run: GuestRun) => Promise<SuiteResult>;
}

const REAL: StageFns = { build: buildCommit, boot: bootGuest, judge: judgeRun };
const fn = <K extends keyof StageFns>(ctx: StepContext, k: K): StageFns[K] => (ctx.fns?.[k] ?? REAL[k]) as StageFns[K];

/** A stage's typed result, or the stage report that says why there is none. */
type Guarded<T> = { ok: true; value: T } | { ok: false; report: StageReport };

/**
 * The one place where an exception becomes a verdict. Ctrl-C makes the stage `skipped`; anything
 * else is `error`, with the message and where it happened: our side or the environment broke,
 * never the patch. Bad input is refused before the fold starts (exit 2); an InputError this deep
 * (a config fragment that does not survive olddefconfig on this step) is this stage's error, and
 * the steps already tested keep their verdicts.
 */
export async function guard<T>(name: StageName, where: string, interrupted: () => boolean, fn: () => Promise<T>): Promise<Guarded<T>> {
  const started = Date.now();
  try {
    const value = await fn();
    if (interrupted()) return { ok: false, report: skippedStage('interrupted (Ctrl-C)') };
    return { ok: true, value };
  } catch (err) {
    if (interrupted()) return { ok: false, report: skippedStage('interrupted (Ctrl-C)') };
    const frames = err instanceof Error && err.stack ? err.stack.split('\n').filter((l) => l.trim().startsWith('at ')).slice(0, 3).map((l) => l.trim()) : [];
    return { ok: false, report: stage('error', `${name} stage of ${where} broke: ${errorMessage(err)}`, frames, {}, Date.now() - started) };
  }
}


/**
 * The merged .config goes with the report (the reply's reproduce: section attaches it), in the
 * logs folder: never in the guest's run folder, which the boot empties and the guest may write.
 * A copy that fails only loses the attachment.
 */
async function keepMergedConfig(config: string, dir: string, name: string, build: StageReport, rel: (p: string) => string): Promise<void> {
  const kept = path.join(dir, name);
  try {
    await mkdir(dir, { recursive: true });
    await copyFile(config, kept);
    build.logs.config = rel(kept);
  } catch {
    // The build's own artifacts still hold it; the reply then names the fragments only.
  }
}

function newReport(step: Step, why: string, rowTag?: string): PatchReport {
  const s = skippedStage(why);
  return {
    index: step.index,
    label: step.label,
    ...(rowTag ? { config: rowTag } : {}),
    subject: step.subject,
    commit: step.commit,
    messageId: step.messageId,
    author: step.author,
    verdict: 'skipped',
    summary: why,
    preExisting: [],
    stages: { apply: s, build: s, boot: s, test: s, model: s },
    tests: [],
  };
}

/** The step's verdict and summary from its stages; NOTE (how its results were had) goes at the end. */
function finish(r: PatchReport, note?: string): PatchReport {
  r.verdict = patchVerdict(r.stages);
  r.summary = summarize(r.stages);
  if (note && !r.summary.includes(note)) r.summary = `${r.summary} (${note})`;
  return r;
}

/** Sets a stage and, when it did not let the step go on, what the later stages could not do. */
function settle(r: PatchReport, name: StageName, report: StageReport, laterWhy?: string): void {
  r.stages[name] = report;
  if (laterWhy) for (const s of laterStages(name)) r.stages[s] = skippedStage(laterWhy);
}

/** A step's progress line: `[2/3] subject`, with its verdict once done and its config in a run of several. */
export function stepTitle(step: Step, rowTag?: string, verdict?: string): string {
  return `[${step.label}] ${verdict ? `${verdict.toUpperCase()} ` : ''}${step.subject}${rowTag ? ` [${rowTag}]` : ''}`;
}

export function skippedStep(step: Step, why: string, rowTag?: string): PatchReport {
  return newReport(step, why, rowTag);
}

/** apply → build → boot → test → judge for one step. Never throws but for bad input. */
export async function runStep(step: Step, ctx: StepContext): Promise<PatchReport> {
  const r = newReport(step, 'an earlier stage did not pass', ctx.rowTag);
  const where = step.index === 0 ? 'the base' : `patch ${step.label}`;
  const show = (text: string): void => ctx.progress.output(ctx.progressIndex ?? 0, text);
  const t0 = Date.now();
  const elapsed = (): string => `${Math.round((Date.now() - t0) / 1000)}s`;
  ctx.progress.stepStarted(ctx.progressIndex ?? 0, stepTitle(step, ctx.rowTag));

  const applied = applyStage(step.apply, ctx.rel, step.index > 0 ? path.join(ctx.logsDir, `apply-${step.index}.log`) : undefined);
  if (applied.verdict !== 'pass' || !step.commit) {
    settle(r, 'apply', applied, step.apply?.status === 'skipped' ? 'an earlier patch did not apply' : 'the patch did not apply');
    return finish(r);
  }
  r.stages.apply = applied;

  show(`build (${ctx.config}) ...`);
  const buildStarted = Date.now();
  const build = await guard('build', where, ctx.interrupted, () => buildStep(step, ctx, (l) => show(`${l}; ${elapsed()}`)));
  if (!build.ok) {
    settle(r, 'build', build.report, build.report.verdict === 'skipped' ? build.report.summary : 'the build could not run (not the patch)');
    return finish(r);
  }
  const builtBefore = ctx.previousBuiltLabel;
  ctx.previousBuilt = step.commit;
  ctx.previousBuiltLabel = step.label;
  r.build = buildDetails(build.value);
  const buildReport = buildStage(build.value, ctx.rel);
  // A build taken from an earlier identical one says how long that took; the stage took this long.
  if (build.value.cached) buildReport.durationMs = Date.now() - buildStarted;
  if (build.value.unchangedSince && builtBefore) buildReport.summary = `unchanged since ${builtBefore === 'base' ? 'the base' : builtBefore}: ${buildReport.summary}`;
  const art = build.value.artifacts;
  show(build.value.unchangedSince ? `build skipped: ${buildReport.summary}; ${elapsed()}` : `build ${build.value.verdict} in ${(build.value.durationMs / 1000).toFixed(0)}s${build.value.cached ? ' (cached)' : ''}; ${elapsed()}`);
  if (!art) {
    settle(r, 'build', buildReport, buildReport.verdict === 'fail' ? 'the build failed' : 'the build broke (not the patch)');
    return finish(r);
  }
  r.stages.build = buildReport;
  await keepMergedConfig(art.config, ctx.logsDir, `config-${step.index}${ctx.rowTag ? `-${ctx.rowTag}` : ''}`, buildReport, ctx.rel);
  const kernel: KernelUnderTest = { image: art.image, systemMap: art.systemMap, zswapPreprocessed: art.zswapPreprocessed, selftest: art.selftest, config: art.config, selftestAbsent: build.value.selftestBuild?.verdict === 'skipped' ? build.value.selftestBuild.summary : undefined };
  return guestStages(step, r, ctx, kernel, { where, show, elapsed });
}

/**
 * boot → test → judge of a built step; or, for a kernel identical to one already tested (in this
 * run, or the base in an earlier one), that kernel's results (reuse.ts, base-cache.ts).
 */
async function guestStages(step: Step, r: PatchReport, ctx: StepContext, kernel: KernelUnderTest, io: { where: string; show: (text: string) => void; elapsed: () => string }): Promise<PatchReport> {
  const { where, show, elapsed } = io;
  const guestDir = path.join(ctx.reportDir, `patch-${step.index}${ctx.rowTag ? `-${ctx.rowTag}` : ''}`);
  const key = await reuseKey(kernel, ctx);
  if (key && r.build) r.build.imageSha256 = key.imageSha;
  const earlier = key?.kernel ? (ctx.guestResults?.get(key.kernel) ?? (await keptKernel(key.kernel, step, ctx, guestDir))) : undefined;
  // The same kernel with another test_zswap: only selftest-zswap can come out differently.
  const only: GuestTestName[] | undefined = earlier && earlier.selftestSha !== key!.selftestSha && ctx.opts.tests.includes('selftest-zswap') ? ['selftest-zswap'] : undefined;
  if (earlier && !only) {
    show(`${reusedNote(earlier.report.label)}; ${elapsed()}`);
    const carried = finish(carryGuestResults(r, earlier.report), reusedNote(earlier.report.label));
    if (key?.kernel && !ctx.guestResults?.has(key.kernel)) ctx.guestResults?.set(key.kernel, { ...earlier, report: carried });
    return carried;
  }
  show(only ? `${reusedNote(earlier!.report.label)}, but test_zswap changed: only selftest-zswap runs ...` : `boot and test under ${ctx.accel.toUpperCase()} ...`);
  // Between the suite's marks, a line every PROGRESS_INTERVAL_MS names the running test and its time.
  const clock = new GuestTestClock();
  const stopTicker = every(PROGRESS_INTERVAL_MS, () => {
    const running = clock.line(Date.now());
    if (running) show(`${running}; ${elapsed()}`);
  });
  const attempt = await guestAttempts(kernel, ctx, guestDir, where, (l) => show(`${l}; ${elapsed()}`), clock, only).finally(stopTicker);
  if (!attempt.ok) {
    if (attempt.booted) {
      // The VM ran; judging its files broke: the boot stage still says what the VM did.
      r.stages.boot = bootStage(attempt.booted.boot, attempt.booted.boot.findings, ctx.rel);
      settle(r, 'test', attempt.report, attempt.report.verdict === 'skipped' ? attempt.report.summary : 'the tests could not be judged (not the kernel)');
    } else settle(r, 'boot', attempt.report, attempt.report.verdict === 'skipped' ? attempt.report.summary : 'the guest could not run (not the kernel)');
    return finish(r);
  }
  const outcome = only ? { ...attempt.value, suite: withRerunTests(earlier!.suite, attempt.value.suite) } : attempt.value;
  recordGuest(r, outcome, ctx);
  const note = only ? markRerun(r, earlier!.report.label, only) : undefined;
  const finished = finish(r, note);
  if (key?.kernel && reusable(finished)) ctx.guestResults?.set(key.kernel, { report: finished, suite: outcome.suite, selftestSha: key.selftestSha });
  // Traces of passing tests are large and tell nothing: keep only the evidence.
  if (!ctx.opts.keepTraces) for (const t of attempt.value.suite.tests) if (t.verdict === 'pass' && t.logs.trace) await rm(t.logs.trace, { force: true });
  if (key?.kernel && !only && keepable(finished, step.index === 0)) await keepKernel(key.kernel, { report: finished, suite: outcome.suite, selftestSha: key.selftestSha }, guestDir, ctx);
  return finished;
}

/**
 * The results an earlier run kept for this guest key (kept-results.ts), unless --retest-base (for
 * the base) or --retest-kept (for a patch): a patch takes only a kept pass, whatever step it came from.
 */
async function keptKernel(key: string, step: Step, ctx: StepContext, guestDir: string): Promise<TestedKernel | undefined> {
  if (step.index === 0 ? ctx.opts.retestBase : ctx.opts.retestKept) return undefined;
  const kept = await loadKept(key, ctx.reportDir, path.relative(ctx.reportDir, guestDir), (report) => step.index === 0 || report.verdict === 'pass');
  if (!kept) return undefined;
  const date = `${kept.savedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const label = kept.report.index === 0 ? `the base run of ${date}` : `${kept.report.label} of the run of ${date}`;
  return { report: { ...kept.report, label }, suite: kept.suite, selftestSha: kept.selftestSha };
}

/** Keeps a step's run for later runs; a cache that cannot be written costs only the reuse. */
async function keepKernel(key: string, tested: TestedKernel, guestDir: string, ctx: StepContext): Promise<void> {
  const dirs = tested.suite.variants?.map((v) => v.runDir) ?? [tested.suite.runDir];
  try {
    await saveKept(key, { ...tested, runDirs: dirs.map((d) => path.relative(ctx.reportDir, d)), guestDir: path.relative(ctx.reportDir, guestDir), reportDir: ctx.reportDir });
  } catch {
    // the next run tests this kernel again
  }
}

/**
 * The step's kernel and test_zswap hashes, and its guest key (reuse.ts) unless --retest; nothing
 * when a file cannot be hashed (the step then simply runs).
 */
async function reuseKey(kernel: KernelUnderTest, ctx: StepContext): Promise<{ kernel?: string; imageSha: string; selftestSha: string } | undefined> {
  try {
    const o = ctx.opts;
    const imageSha = await fileSha256(kernel.image);
    const selftestSha = kernel.selftest ? await fileSha256(kernel.selftest) : `absent: ${kernel.selftestAbsent ?? ''}`;
    if (o.retest || !ctx.guestResults) return { imageSha, selftestSha };
    const key = guestKey({
      kharness: KHARNESS_VERSION,
      imageSha,
      configSha: kernel.config ? await fileSha256(kernel.config) : 'none',
      guestSourcesSha: await guestSourcesSha(),
      config: ctx.config,
      tests: o.tests,
      variants: o.variants,
      profile: o.profile,
      trace: o.trace,
      runs: o.runs,
      budgetS: o.budgetS,
      accel: o.accel,
      keepTraces: o.keepTraces,
      environment: guestEnvironment(),
    });
    return { kernel: key, imageSha, selftestSha };
  } catch {
    return undefined;
  }
}

async function buildStep(step: Step, ctx: StepContext, onProgress: (line: string) => void): Promise<BuildResult> {
  const started = Date.now();
  const build = await fn(ctx, 'build')({ tree: ctx.tree, commit: step.commit!, configName: ctx.config, previousCommit: ctx.previousBuilt, checkpatch: step.index > 0, reviewBase: ctx.reviewBase, logDir: ctx.logsDir, onProgress, skipUnchanged: !ctx.opts.retest });
  ctx.addBuildExtra(Math.max(0, Date.now() - started - (build.cached ? 0 : build.durationMs)));
  return build;
}

interface GuestOutcome {
  run: GuestRun;
  suite: SuiteResult;
  counts?: Partial<Record<Verdict, number>>;
}

/** Boot (the VM session), then judge its saved files; repeated while it fails, up to --runs. */
type Attempt<T> = { ok: true; value: T } | { ok: false; report: StageReport; booted?: GuestRun };

async function guestAttempts(kernel: KernelUnderTest, ctx: StepContext, dir: string, where: string, onProgress: (l: string) => void, clock: GuestTestClock, only?: GuestTestName[]): Promise<Attempt<GuestOutcome>> {
  // One VM session per variant; any that cannot boot or be judged makes the attempt fail as a whole.
  const once = async (outDir: string): Promise<Attempt<{ run: GuestRun; suite: SuiteResult }>> => {
    const parts: { variant: string; suite: SuiteResult; run: GuestRun }[] = [];
    const plans = await guard('boot', where, ctx.interrupted, async () => variantPlans({ kernel, tests: only ?? ctx.opts.tests, variants: ctx.opts.variants, profile: ctx.opts.profile, outDir, trace: ctx.opts.trace, accel: ctx.opts.accel, budgetS: ctx.opts.budgetS }));
    if (!plans.ok) return plans;
    for (const { variant, opts } of plans.value) {
      const tag = (l: string): string => (variant === 'default' ? l : `[${variant}] ${l}`);
      const run = await guard('boot', where, ctx.interrupted, () => fn(ctx, 'boot')({ ...opts, onLine: (l) => guestProgress(l, (x) => onProgress(tag(x)), clock) }));
      if (!run.ok) return run;
      const suite = await guard('test', where, ctx.interrupted, () => fn(ctx, 'judge')(run.value));
      if (!suite.ok) return { ok: false, report: suite.report, booted: run.value };
      parts.push({ variant, suite: suite.value, run: run.value });
    }
    return { ok: true, value: { run: parts[0]!.run, suite: mergeVariantSuites(parts) } };
  };
  const first = await once(dir);
  if (!first.ok || first.value.suite.verdict !== 'fail' || ctx.opts.runs <= 1) return first;
  // The failing run is kept (its evidence is the finding). Only a pass makes it flaky: an attempt
  // our side broke says nothing about the kernel, and is counted apart.
  const counts: Partial<Record<Verdict, number>> = { fail: 1 };
  for (let i = 2; i <= ctx.opts.runs && !ctx.interrupted(); i++) {
    const again = await once(`${dir}-run${i}`);
    const v: Verdict = again.ok ? again.value.suite.verdict : 'error';
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return { ok: true, value: { ...first.value, counts: (counts.pass ?? 0) > 0 ? counts : undefined } };
}

/** The guest marks each test's start and end on the console: shown as progress, never judged. */
function guestProgress(line: string, show: (l: string) => void, clock: GuestTestClock): void {
  const m = parseMark(line);
  if (!m) return;
  clock.mark(m.test, m.state, Date.now());
  show(`test ${m.test}: ${m.state}`);
}

/** The boot, test and judge stages from one judged guest run. */
function recordGuest(r: PatchReport, g: GuestOutcome, ctx: StepContext): void {
  const { suite, counts } = g;
  const boot = bootStage(suite.boot, suite.findings, ctx.rel);
  r.stages.boot = boot;
  if (boot.verdict !== 'pass') {
    for (const s of laterStages('boot')) r.stages[s] = skippedStage(boot.verdict === 'fail' ? 'the kernel did not boot' : 'the VM broke before the suite started (not the kernel)');
  } else {
    r.stages.test = testStage(suite, ctx.rel);
    r.stages.model = modelStage(suite, ctx.rel);
    if (counts) {
      for (const s of ['test', 'model'] as const) {
        if (r.stages[s].verdict === 'fail') r.stages[s] = { ...r.stages[s], verdict: 'flaky', flakyCounts: counts, summary: `flaky: ${Object.entries(counts).map(([v, n]) => `${v} ${n}x`).join(', ')}; ${r.stages[s].summary}` };
      }
    }
  }
  r.tests = suite.tests.map(testDetails);
  const orphans = suite.findings.filter((f) => !f.test || !suite.tests.some((t) => t.name === f.test));
  if (orphans.length) r.kernelFindings = orphans.map((f) => ({ kind: f.kind, title: f.title, signature: f.signature }));
  if (suite.coverage) r.suiteCoverage = { paths: suite.coverage.map((c) => ({ path: c.path, label: c.label, count: c.count })), gaps: suite.gaps };
  r.boot = {
    status: suite.boot.status,
    reason: suite.boot.reason,
    accel: suite.boot.accel,
    durationMs: suite.boot.durationMs,
    bootToCommandMs: suite.boot.bootToCommandMs,
    consoleLog: ctx.rel(suite.boot.consoleLog),
    consoleTail: suite.boot.consoleTail,
  };
}
