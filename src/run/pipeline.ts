import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { cpus, hostname, release, totalmem } from 'node:os';
import path from 'node:path';
import { describeSandbox, sandboxInfo, settleSandbox } from '../sandbox/index.js';
import { execa } from 'execa';
import { InfraError, InputError, KharnessError, errorMessage, type ExitCodeValue } from '../common/errors.js';
import { killChildren, onInterrupt } from '../common/exec.js';
import { info, type OutputOptions } from '../common/output.js';
import { managedTreeName, projectRoot, venvBin } from '../common/paths.js';
import { buildDirFor, planForCommit, resolveConfig } from '../build/index.js';
import { firstBuildNotice, fullBuildRecordPath, readFullBuildRecord } from '../build/progress.js';
import { probeAccel } from '../boot/kvm.js';
import { resolveProfile, type GuestTestName } from '../guest/index.js';
import type { Series } from '../lore/index.js';
import { writeReports } from '../report/index.js';
import { gitIdentity } from '../report/reporter.js';
import type { EnvironmentInfo, PatchReport, PersonInfo, RunReport, SeriesInfo } from '../report/types.js';
import { applySeries, chooseBase, type ApplyResult } from '../tree/apply.js';
import { loadSeries } from '../tree/input.js';
import { saveApplied } from '../tree/state.js';
import { openTreeArg } from '../tree/managed.js';
import { lockTree, type KernelTree } from '../tree/worktree.js';
import { runOutcome } from './outcome.js';
import { makeProgress, type Progress } from './progress.js';
import { applyPreExisting, relativeTo } from './stages.js';
import { runStep, skippedStep, stepTitle, type Step, type StepContext } from './step.js';

export interface RunOptions extends OutputOptions {
  input: string;
  /** false: --no-sandbox, the tree's code runs unsandboxed (and the report says so) */
  sandbox?: boolean;
  /** refuse a longer series (default DEFAULT_MAX_PATCHES) */
  maxPatches?: number;
  /** --keyring: patatt keyrings to check the patch mails' signatures against */
  keyrings?: string[];
  /** --require-attestation: refuse a series with a patch not signed, before anything is built */
  requireAttestation?: boolean;
  tree?: string;
  base?: string;
  /** kernel configs, each built and booted for every step, in this order (at least one) */
  configs: string[];
  tests: GuestTestName[];
  /** variant names (resolved: each known, and some variant runs some test) */
  variants: string[];
  profile: string;
  out?: string;
  lore?: string;
  /** false: ask the lore server even for a thread fetched minutes ago (--no-cache) */
  cache?: boolean;
  version?: number;
  /** repeat a failing guest run up to this many times in all; a changing outcome is `flaky` */
  runs: number;
  trace: boolean;
  accel?: 'kvm' | 'tcg';
  /** work folder for worktrees and builds (default: the cache) */
  work?: string;
  /** test the base too (default true): failures it has are pre-existing, not the patch's */
  testBase?: boolean;
  /** keep the traces of passing tests (large), so `kharness judge` can replay them later too */
  keepTraces?: boolean;
  /** whole-boot budget of each guest run, seconds (default: the profile's) */
  budgetS?: number;
  /** the reply's Reported-by: identity (default: git config user.name/user.email) */
  reporter?: PersonInfo;
  /** --retest: boot and test every step, even one whose kernel is identical to an earlier step's */
  retest?: boolean;
  /** --retest-base: test the base again even when an earlier run kept its results (kept-results.ts) */
  retestBase?: boolean;
  /** --retest-kept: test each patch again even when an earlier run kept a pass for its kernel (kept-results.ts; the base: --retest-base) */
  retestKept?: boolean;
}

export interface RunResult {
  report: RunReport;
  reportDir: string;
  exitCode: ExitCodeValue;
}

export const VERSION = '0.1.0';

async function toolVersion(file: string, args = ['--version']): Promise<string> {
  const r = await execa(file, args, { reject: false, all: true });
  return r.exitCode === 0 ? (String(r.all ?? '').split('\n')[0] ?? '').trim() : 'unavailable';
}

async function environment(tree: KernelTree | undefined, opts: RunOptions, accel: EnvironmentInfo['accel'], base?: string): Promise<EnvironmentInfo> {
  const plans = await Promise.all(opts.configs.map(async (name) => {
    try {
      // The fragments the base's kernel version is built with (its @VERSION ones too).
      const plan = tree && base ? await planForCommit(tree, base, name) : resolveConfig(name);
      return { name: plan.name, hash: plan.hash, fragments: plan.fragments.map((f) => path.relative(projectRoot, f)) };
    } catch {
      return { name, hash: '', fragments: [] as string[] };
    }
  }));
  const treeName = tree ? managedTreeName(tree.repo) : undefined;
  const reporter = opts.reporter ?? (await gitIdentity());
  return {
    host: { kernel: release(), cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), hostname: hostname() },
    accel,
    versions: {
      kharness: VERSION,
      node: process.version,
      qemu: await toolVersion('qemu-system-x86_64'),
      'virtme-ng': existsSync(venvBin('vng')) ? await toolVersion(venvBin('vng')) : 'unavailable',
      gcc: await toolVersion('gcc'),
      make: await toolVersion('make'),
      git: await toolVersion('git'),
    },
    tree: { repo: tree?.repo ?? opts.tree ?? '', worktree: tree?.worktree ?? '', ...(treeName ? { name: treeName } : {}) },
    config: plans[0]!,
    ...(plans.length > 1 ? { configs: plans } : {}),
    profile: opts.profile,
    tests: opts.tests,
    variants: opts.variants,
    sandbox: { mode: sandboxInfo().mode, detail: describeSandbox(sandboxInfo()) },
    ...(reporter ? { reporter } : {}),
  };
}

export function seriesInfo(series: Series): SeriesInfo {
  return {
    slug: series.slug,
    subject: series.subject,
    version: series.version,
    source: series.source,
    threadUrl: series.threadUrl,
    replyTo: series.cover?.messageId ?? series.patches[0]!.messageId,
    cover: series.cover ? { subject: series.cover.subject, author: series.cover.author, messageId: series.cover.messageId } : undefined,
    patches: series.patches.map((p) => ({ index: p.index, total: p.total, subject: p.subject, author: p.author, messageId: p.messageId, trailers: p.trailers.map((t) => ({ name: t.name, value: t.value })), attestation: p.attestation })),
    warnings: series.warnings,
    baseCommit: series.baseCommit,
    baseTree: series.baseTree?.name,
  };
}

/** What a report says about a series that never loaded: the input, as given. */
function unloadedSeries(input: string): SeriesInfo {
  return { slug: 'unloaded-series', subject: `(not loaded) ${input}`, version: 1, source: input, replyTo: '(none)', patches: [], warnings: [] };
}

/** Everything a run accumulates; the report is re-rendered from it after every step. */
interface RunState {
  opts: RunOptions;
  startedAt: Date;
  reportDir?: string;
  series?: Series;
  tree?: KernelTree;
  env?: EnvironmentInfo;
  base?: ApplyResult['base'];
  steps: PatchReport[];
  total: number;
  phases: Record<'fetch' | 'prepare' | 'build-extra' | 'reports', number>;
  interrupted: boolean;
}

async function writeRunReport(st: RunState, status: RunReport['status'], statusReason?: string): Promise<RunReport | undefined> {
  if (!st.reportDir) return undefined;
  // What fails on the base is the base's: compared within one config (a debug kernel's splat is not a plain kernel's).
  const baseOf = (p: PatchReport): PatchReport | undefined => (st.opts.testBase === false ? undefined : st.steps.find((b) => b.index === 0 && b.config === p.config && b.verdict !== 'skipped'));
  const judged = st.steps.map((p) => {
    const base = p.index > 0 ? baseOf(p) : undefined;
    return base ? applyPreExisting(base, p) : p;
  });
  const outcome = runOutcome(judged, status, st.total, statusReason);
  const slug = st.series?.slug ?? 'unloaded-series';
  const r: RunReport = {
    schemaVersion: 1,
    tool: { name: 'kharness', version: VERSION },
    runId: `${slug}-${st.startedAt.toISOString().replace(/[:.]/g, '-')}`,
    startedAt: st.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - st.startedAt.getTime(),
    status,
    statusReason,
    exitCode: outcome.exitCode,
    verdict: outcome.verdict,
    summary: outcome.summary,
    firstBadPatch: outcome.firstBadPatch,
    series: st.series ? seriesInfo(st.series) : unloadedSeries(st.opts.input),
    environment: st.env ?? (await environment(st.tree, st.opts, { accel: 'tcg', reason: 'not probed' })),
    base: st.base ?? { commit: '', source: 'head', reason: 'not chosen' },
    patches: judged,
    files: {},
    phases: st.phases,
  };
  const started = Date.now();
  mkdirSync(st.reportDir, { recursive: true });
  try {
    // Without a series there is no one to reply to and nothing for KCIDB or JUnit: say what happened.
    r.files = await writeReports(st.reportDir, r, st.series ? {} : { formats: ['json', 'md', 'html'] });
  } catch (err) {
    // A report our own schema refuses (a value the guest made impossible, say) must still leave a
    // report: the verdicts without the details that broke it, and why.
    const slim: RunReport = { ...r, status: status === 'running' ? 'running' : 'crashed', statusReason: `the full report was refused: ${errorMessage(err)}`, patches: r.patches.map((p) => ({ ...p, tests: [], suiteCoverage: undefined, build: undefined, boot: undefined, kernelFindings: undefined })) };
    slim.exitCode = slim.status === 'crashed' ? runOutcome(slim.patches, 'crashed', st.total, slim.statusReason).exitCode : r.exitCode;
    r.files = await writeReports(st.reportDir, slim, { formats: ['json', 'md'] });
    st.phases.reports += Date.now() - started;
    return slim;
  }
  st.phases.reports += Date.now() - started;
  return r;
}

/**
 * The whole job: fetch and apply, then a fold over the steps (the base, patch 1..N), each a
 * sequence of typed stages (src/run/step.ts). The report is rewritten after every step, so a
 * killed run keeps what finished. Whatever breaks, a report says so: nothing is left saying
 * "passed" (src/run/outcome.ts).
 */
export async function runSeries(opts: RunOptions): Promise<RunResult> {
  // Before anything of the series runs: refuse here rather than run a tree's code unsandboxed.
  await settleSandbox(opts.sandbox === false);
  const st: RunState = { opts, startedAt: new Date(), steps: [], total: 0, phases: { fetch: 0, prepare: 0, 'build-extra': 0, reports: 0 }, interrupted: false };
  if (opts.out) st.reportDir = path.resolve(opts.out);
  const onSigint = (): void => {
    if (st.interrupted) return;
    st.interrupted = true;
    process.stderr.write('\nkharness: interrupted; stopping the current stage and keeping the partial report\n');
    killChildren('SIGKILL');
  };
  onInterrupt(onSigint);
  let unlock: (() => Promise<void>) | undefined;
  try {
    const steps = await prepare(st);
    unlock = st.tree ? await lockTree(st.tree) : undefined;
    const steps2 = await applyAll(st, steps);
    await fold(st, steps2);
    const report = await writeRunReport(st, st.interrupted ? 'interrupted' : 'complete', st.interrupted ? 'Ctrl-C' : undefined);
    return { report: report!, reportDir: st.reportDir!, exitCode: report!.exitCode as ExitCodeValue };
  } catch (err) {
    const badInput = err instanceof InputError;
    const status: RunReport['status'] = st.interrupted ? 'interrupted' : badInput ? 'bad-input' : 'crashed';
    const reason = st.interrupted ? 'Ctrl-C' : `${errorMessage(err)}${diskFull(st)}`;
    const report = await writeRunReport(st, status, reason).catch(() => undefined);
    if (!report) throw err instanceof Error ? err : new InfraError(errorMessage(err));
    // The report decides the exit code (a failure found before a crash is still exit 1).
    if (!st.interrupted) {
      process.stderr.write(`kharness: ${reason}\n`);
      if (err instanceof KharnessError && err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
      if (!badInput) process.stderr.write(`kharness: partial report kept in ${st.reportDir}\n`);
    }
    return { report, reportDir: st.reportDir!, exitCode: report.exitCode as ExitCodeValue };
  } finally {
    onInterrupt(undefined);
    await unlock?.();
  }
}

/** Fetch the series and open the tree: no step exists yet. */
async function prepare(st: RunState): Promise<{ loaded: Awaited<ReturnType<typeof loadSeries>> }> {
  const { opts } = st;
  resolveProfile(opts.profile);
  if (!opts.configs.length) throw new InputError('no kernel config named', 'give --config zswap, or several: --config zswap,zswap-debug');
  for (const c of opts.configs) resolveConfig(c);
  const fetchStarted = Date.now();
  const loaded = await loadSeries(opts.input, { version: opts.version, lore: opts.lore, cache: opts.cache, maxPatches: opts.maxPatches, keyrings: opts.keyrings, requireAttestation: opts.requireAttestation });
  st.phases.fetch = Date.now() - fetchStarted;
  st.series = loaded.series;
  st.total = loaded.series.patches.length;
  st.reportDir ??= path.resolve(path.join(projectRoot, 'reports', loaded.series.slug));
  mkdirSync(st.reportDir, { recursive: true });
  await copyFile(loaded.mboxPath, path.join(st.reportDir, 'series.mbox'));
  await copyFile(path.join(loaded.dir, 'series.json'), path.join(st.reportDir, 'series.json'));
  st.tree = await openTreeArg(opts.tree, opts.work);
  return { loaded };
}

/** Probe the accelerator, choose the base, and apply the whole series: the steps to fold over. */
async function applyAll(st: RunState, p: { loaded: Awaited<ReturnType<typeof loadSeries>> }): Promise<Step[]> {
  const { opts, series, tree } = st as Required<Pick<RunState, 'series' | 'tree'>> & RunState;
  const started = Date.now();
  const accel = await probeAccel();
  const chosen = await chooseBase(tree, { base: opts.base, seriesBase: series.baseCommit, namedTree: series.baseTree?.name, mboxPath: p.loaded.mboxPath });
  st.env = await environment(tree, opts, { accel: opts.accel ?? accel.accel, reason: opts.accel ? 'forced by --accel' : accel.reason }, chosen.commit);
  st.base = chosen;
  const applied = await applySeries(tree, p.loaded.mboxPath, chosen, series.patches.map((x) => x.subject));
  await saveApplied(tree, { slug: series.slug, seriesDir: p.loaded.dir, apply: applied });
  const logsDir = path.join(st.reportDir!, 'logs');
  mkdirSync(logsDir, { recursive: true });
  for (const a of applied.patches) await writeFile(path.join(logsDir, `apply-${a.index}.log`), a.log);
  st.phases.prepare = Date.now() - started;
  const steps: Step[] = [
    { index: 0, label: 'base', subject: `base ${chosen.commit.slice(0, 12)}`, commit: chosen.commit },
    ...applied.patches.map((a) => ({ index: a.index, label: series.patches[a.index - 1]?.label ?? `${a.index}/${st.total}`, subject: a.subject, commit: a.commit, apply: a, messageId: series.patches[a.index - 1]?.messageId, author: series.patches[a.index - 1]?.author })),
  ];
  return steps;
}

/**
 * The fold: one step after another, each ending in a report on disk. With several configs the
 * fold runs once per config, in order (DESIGN: for each config, for the base and each patch), so
 * the plain kernel's verdicts on the whole series come before the slower debug kernel's; each
 * config's build dir stays incremental and each step has a row per config.
 */
/** Says up front what will take long (a first build per config without a build dir), before the wait starts. */
async function announceSlowWork(st: RunState, steps: Step[]): Promise<void> {
  const base = steps.find((s) => s.commit)?.commit;
  if (!base || !st.tree) return;
  for (const config of st.opts.configs) {
    const plan = await planForCommit(st.tree, base, config).catch(() => undefined);
    if (!plan || existsSync(path.join(buildDirFor(st.tree, plan), 'vmlinux'))) continue;
    const previous = await readFullBuildRecord(fullBuildRecordPath(st.tree.workDir, `${plan.name}-${plan.hash}`));
    info(st.opts, `kharness: ${firstBuildNotice(config, cpus().length, previous)}`);
  }
}

async function fold(st: RunState, steps: Step[]): Promise<void> {
  await announceSlowWork(st, steps);
  const reportDir = st.reportDir!;
  const configs = st.opts.configs;
  const multi = configs.length > 1;
  const rowTag = (config: string): string | undefined => (multi ? config : undefined);
  const progress: Progress = makeProgress(st.opts, configs.flatMap((c) => steps.map((s) => stepTitle(s, rowTag(c)))));
  // One context per config for its whole fold: what a step leaves for the next (the commit built
  // last, the new-warning baseline) must reach it.
  const contexts: StepContext[] = configs.map((config) => ({
    opts: st.opts,
    config,
    rowTag: rowTag(config),
    tree: st.tree!,
    reportDir,
    logsDir: path.join(reportDir, 'logs'),
    rel: relativeTo(reportDir),
    accel: st.env!.accel.accel,
    interrupted: () => st.interrupted,
    addBuildExtra: (ms) => (st.phases['build-extra'] += ms),
    progress,
    reviewBase: steps[0]?.commit,
    guestResults: new Map(),
  }));
  try {
    let row = 0;
    for (const ctx of contexts) {
      for (const step of steps) {
        // --no-base-test: the base is still a step of the report, one that says why it was not run.
        const stopped = step.index === 0 && st.opts.testBase === false ? 'not tested: --no-base-test' : stopReason(st, ctx.config);
        ctx.progressIndex = row;
        const report = stopped ? skippedStep(step, stopped, ctx.rowTag) : await runStep(step, ctx);
        st.steps.push(report);
        progress.stepDone(row++, `${stepTitle(step, ctx.rowTag, report.verdict)}${report.verdict === 'pass' ? '' : `: ${report.summary.slice(0, 160)}`}`);
        if (!st.interrupted) await writeRunReport(st, 'running');
      }
    }
  } finally {
    await progress.close();
  }
}

/**
 * Tools rarely say "No space left on device" in so many words (git says "unable to write file"):
 * when something broke, say whether the work folder's filesystem is full.
 */
function diskFull(st: RunState): string {
  const dir = st.tree?.workDir ?? st.opts.work;
  if (!dir || !existsSync(dir)) return '';
  try {
    const fs = statfsSync(dir);
    const freeMiB = (fs.bavail * fs.bsize) / 2 ** 20;
    return freeMiB < 64 ? ` (No space left on device: ${freeMiB.toFixed(0)} MiB free in ${dir})` : '';
  } catch {
    return '';
  }
}

/** Why a config's remaining steps are not run: Ctrl-C, or a base that our side could not test with it. */
function stopReason(st: RunState, config: string): string | undefined {
  if (st.interrupted) return 'interrupted (Ctrl-C) before this patch';
  const tag = st.opts.configs.length > 1 ? config : undefined;
  const base = st.steps.find((p) => p.index === 0 && p.config === tag);
  if (base?.verdict === 'error') return `not tested: the base could not be tested${tag ? ` with ${tag}` : ''} (${base.summary})`;
  return undefined;
}
