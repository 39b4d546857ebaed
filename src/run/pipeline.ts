import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, release, totalmem } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { ListrTask, ListrTaskWrapper } from 'listr2';
import { ExitCode, InfraError, errorMessage, type ExitCodeValue } from '../common/errors.js';
import { killChildren, onInterrupt } from '../common/exec.js';
import { runTasks, type OutputOptions } from '../common/output.js';
import { defaultTreePath, projectRoot, venvBin } from '../common/paths.js';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { buildCommit, resolveConfig, type BuildResult } from '../build/index.js';
import { probeAccel } from '../boot/kvm.js';
import { runSuite, resolveProfile, type GuestTestName, type SuiteResult } from '../guest/index.js';
import type { Series } from '../lore/index.js';
import { writeReports } from '../report/index.js';
import type { EnvironmentInfo, PatchReport, RunReport, SeriesInfo, StageName, StageReport } from '../report/types.js';
import { applySeries, chooseBase, type ApplyResult } from '../tree/apply.js';
import { loadSeries } from '../tree/input.js';
import { saveApplied } from '../tree/state.js';
import { lockTree, openKernelTree, type KernelTree } from '../tree/worktree.js';
import {
  applyPreExisting,
  applyStage,
  bootStage,
  buildDetails,
  buildStage,
  modelStage,
  patchVerdict,
  relativeTo,
  skippedStage,
  summarize,
  testDetails,
  testStage,
} from './stages.js';

export interface RunOptions extends OutputOptions {
  input: string;
  tree?: string;
  base?: string;
  config: string;
  tests: GuestTestName[];
  profile: string;
  out?: string;
  lore?: string;
  version?: number;
  /** repeat a failing guest run up to this many times in all; a changing outcome is `flaky` */
  runs: number;
  trace: boolean;
  accel?: 'kvm' | 'tcg';
  /** work folder for worktrees and builds (default: the cache) */
  work?: string;
  /** test the base too (default true): failures it has are pre-existing, not the patch's */
  testBase?: boolean;
}

export interface RunOutcome {
  report: RunReport;
  reportDir: string;
  exitCode: ExitCodeValue;
}

const VERSION = '0.1.0';

async function toolVersion(file: string, args = ['--version']): Promise<string> {
  const r = await execa(file, args, { reject: false, all: true });
  return r.exitCode === 0 ? (String(r.all ?? '').split('\n')[0] ?? '').trim() : 'unavailable';
}

async function environment(tree: KernelTree, configName: string, profile: string, tests: string[], accel: EnvironmentInfo['accel']): Promise<EnvironmentInfo> {
  const plan = resolveConfig(configName);
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
    tree: { repo: tree.repo, worktree: tree.worktree },
    config: { name: plan.name, hash: plan.hash, fragments: plan.fragments.map((f) => path.relative(projectRoot, f)) },
    profile,
    tests,
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
    patches: series.patches.map((p) => ({ index: p.index, total: p.total, subject: p.subject, author: p.author, messageId: p.messageId, trailers: p.trailers.map((t) => ({ name: t.name, value: t.value })) })),
    warnings: series.warnings,
    baseCommit: series.baseCommit,
  };
}

function emptyStages(why: string): Record<StageName, StageReport> {
  return { apply: skippedStage(why), build: skippedStage(why), boot: skippedStage(why), test: skippedStage(why), model: skippedStage(why) };
}

/** Guest runs repeated while they fail, up to `runs` in all: an outcome that changes is flaky. */
async function runGuest(kernel: Parameters<typeof runSuite>[0]['kernel'], opts: RunOptions, dir: string, onLine: (l: string) => void): Promise<{ suite: SuiteResult; counts?: Partial<Record<Verdict, number>> }> {
  let suite = await runSuite({ kernel, tests: opts.tests, profile: opts.profile, outDir: dir, trace: opts.trace, accel: opts.accel, onLine });
  if (suite.verdict !== 'fail' || opts.runs <= 1) return { suite };
  const counts: Partial<Record<Verdict, number>> = { fail: 1 };
  for (let i = 2; i <= opts.runs; i++) {
    const again = await runSuite({ kernel, tests: opts.tests, profile: opts.profile, outDir: `${dir}-run${i}`, trace: opts.trace, accel: opts.accel, onLine });
    counts[again.verdict] = (counts[again.verdict] ?? 0) + 1;
    if (again.verdict !== 'fail') suite = again.verdict === 'pass' ? suite : again;
  }
  return { suite, counts: Object.keys(counts).length > 1 ? counts : undefined };
}

/**
 * The whole job: fetch → apply → for the base and each patch: build → boot → tests → model →
 * reports. The report is rewritten after every patch, so Ctrl-C or a crash keeps what finished.
 */
export async function runSeries(opts: RunOptions): Promise<RunOutcome> {
  const startedAt = new Date();
  resolveProfile(opts.profile);
  resolveConfig(opts.config);
  const phases = { fetch: 0, prepare: 0, 'build-extra': 0, reports: 0 };
  const fetchStarted = Date.now();
  const loaded = await loadSeries(opts.input, { version: opts.version, lore: opts.lore });
  phases.fetch = Date.now() - fetchStarted;
  const series = loaded.series;
  const reportDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', series.slug));
  mkdirSync(reportDir, { recursive: true });
  const rel = relativeTo(reportDir);
  await copyFile(loaded.mboxPath, path.join(reportDir, 'series.mbox'));
  await copyFile(path.join(loaded.dir, 'series.json'), path.join(reportDir, 'series.json'));

  const tree = await openKernelTree(opts.tree ?? defaultTreePath(), opts.work);
  const unlock = await lockTree(tree);
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\nkharness: interrupted; stopping the current stage and keeping the partial report\n');
    killChildren('SIGKILL');
  };
  onInterrupt(onSigint);

  const patches: PatchReport[] = [];
  let report: RunReport | undefined;
  let base: ApplyResult['base'] | undefined;
  let env: EnvironmentInfo | undefined;
  const total = series.patches.length;

  const finishReport = async (status: RunReport['status'], statusReason?: string): Promise<RunReport> => {
    const judged = patches.map((p, i) => (i > 0 && patches[0] && opts.testBase !== false ? applyPreExisting(patches[0], p) : p));
    const seriesPatches = judged.filter((p) => p.index > 0);
    const verdicts = seriesPatches.map((p) => p.verdict);
    let verdict = combineVerdicts(verdicts);
    if (status !== 'complete' && status !== 'running' && verdict === 'pass') verdict = 'skipped';
    const firstBad = seriesPatches.find((p) => p.verdict === 'fail')?.index;
    const exitCode: ExitCodeValue =
      status === 'interrupted' ? ExitCode.Interrupted : status === 'crashed' || verdict === 'error' ? ExitCode.Infrastructure : verdict === 'fail' ? ExitCode.PatchFailed : ExitCode.Ok;
    const failing = seriesPatches.filter((p) => p.verdict === 'fail' || p.verdict === 'error');
    const summary =
      status === 'running'
        ? `running: ${seriesPatches.length} of ${total} patches done`
        : status !== 'complete'
        ? `${status}: ${statusReason ?? ''} (${seriesPatches.filter((p) => p.verdict !== 'skipped').length} of ${total} patches tested)`
        : failing.length
          ? failing.map((p) => `patch ${p.label} ${p.verdict}: ${p.summary}`).join('; ')
          : `all ${total} patch(es) passed${judged[0] && judged[0].verdict !== 'pass' ? ` (the base itself: ${judged[0].verdict}: ${judged[0].summary})` : ''}`;
    const r: RunReport = {
      schemaVersion: 1,
      tool: { name: 'kharness', version: VERSION },
      runId: `${series.slug}-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      status,
      statusReason,
      exitCode,
      verdict,
      summary,
      firstBadPatch: firstBad,
      series: seriesInfo(series),
      environment: env ?? (await environment(tree, opts.config, opts.profile, opts.tests, { accel: 'tcg', reason: 'not probed' })),
      base: base ?? { commit: '', source: 'head', reason: 'not chosen yet' },
      patches: judged,
      files: {},
      phases,
    };
    const reportsStarted = Date.now();
    r.files = await writeReports(reportDir, r);
    phases.reports += Date.now() - reportsStarted;
    return r;
  };

  try {
    const prepareStarted = Date.now();
    const accel = await probeAccel();
    env = await environment(tree, opts.config, opts.profile, opts.tests, { accel: opts.accel ?? accel.accel, reason: opts.accel ? 'forced by --accel' : accel.reason });
    const chosen = await chooseBase(tree, { base: opts.base, seriesBase: series.baseCommit });
    base = chosen;
    const applied = await applySeries(tree, loaded.mboxPath, chosen, series.patches.map((p) => p.subject));
    await saveApplied(tree, { slug: series.slug, seriesDir: loaded.dir, apply: applied });
    const logsDir = path.join(reportDir, 'logs');
    mkdirSync(logsDir, { recursive: true });
    for (const p of applied.patches) await writeFile(path.join(logsDir, `apply-${p.index}.log`), p.log);
    phases.prepare = Date.now() - prepareStarted;

    const steps = [
      { index: 0, label: 'base', subject: `base ${chosen.commit.slice(0, 12)}`, commit: chosen.commit, apply: undefined as ApplyResult['patches'][number] | undefined },
      ...applied.patches.map((p) => ({ index: p.index, label: `${p.index}/${total}`, subject: p.subject, commit: p.commit, apply: p })),
    ];
    if (opts.testBase === false) steps.shift();
    let previousBuilt: string | undefined;

    const tasks: ListrTask<object>[] = steps.map((step) => ({
      title: `[${step.label}] ${step.subject}`,
      task: async (_ctx: object, task: ListrTaskWrapper<object, any, any>) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (interrupted) {
          task.skip('interrupted');
          return;
        }
        const t0 = Date.now();
        const elapsed = (): string => `${Math.round((Date.now() - t0) / 1000)}s`;
        const meta = step.index > 0 ? series.patches[step.index - 1] : undefined;
        const report: PatchReport = {
          index: step.index,
          label: step.label,
          subject: step.subject,
          commit: step.commit,
          messageId: meta?.messageId,
          author: meta?.author,
          verdict: 'skipped',
          summary: '',
          preExisting: [],
          stages: emptyStages('an earlier stage did not pass'),
          tests: [],
        };
        report.stages.apply = applyStage(step.apply, rel, step.index > 0 ? path.join(logsDir, `apply-${step.index}.log`) : undefined);
        if (report.stages.apply.verdict !== 'pass' || !step.commit) {
          if (step.apply?.status === 'skipped') report.stages = emptyStages('an earlier patch did not apply');
          report.stages.apply = applyStage(step.apply, rel, step.index > 0 ? path.join(logsDir, `apply-${step.index}.log`) : undefined);
          report.verdict = patchVerdict(report.stages);
          report.summary = summarize(report.stages);
          patches.push(report);
          task.title = `[${step.label}] ${report.verdict.toUpperCase()} ${step.subject}`;
          if (report.verdict === 'fail') task.output = report.summary;
          await finishReport('running');
          return;
        }
        task.output = `build (${opts.config}) ...`;
        const buildStarted = Date.now();
        const build: BuildResult = await buildCommit({ tree, commit: step.commit, configName: opts.config, previousCommit: previousBuilt, checkpatch: step.index > 0, logDir: logsDir });
        phases['build-extra'] += Math.max(0, Date.now() - buildStarted - (build.cached ? 0 : build.durationMs));
        previousBuilt = step.commit;
        report.build = buildDetails(build);
        report.stages.build = interrupted ? skippedStage('interrupted (Ctrl-C)') : buildStage(build, rel);
        task.output = `build ${build.verdict} in ${(build.durationMs / 1000).toFixed(0)}s${build.cached ? ' (cached)' : ''}; ${elapsed()}`;
        if (build.verdict === 'pass' || (build.verdict === 'fail' && build.artifacts)) {
          if (!interrupted && build.artifacts) {
            task.output = `boot and test under ${env!.accel.accel.toUpperCase()} ...`;
            const guestDir = path.join(reportDir, `patch-${step.index}`);
            const { suite, counts } = await runGuest(
              { image: build.artifacts.image, systemMap: build.artifacts.systemMap, zswapPreprocessed: build.artifacts.zswapPreprocessed, selftest: build.artifacts.selftest },
              opts,
              guestDir,
              (l) => {
                const m = /kharness-guest: (test \S+: \S+)/.exec(l);
                if (m) task.output = `${m[1]}; ${elapsed()}`;
              },
            );
            if (interrupted) {
              report.stages.boot = skippedStage('interrupted (Ctrl-C)');
            } else {
              report.stages.boot = bootStage(suite, rel);
              report.stages.test = testStage(suite, rel);
              report.stages.model = modelStage(suite, rel);
              if (counts) {
                for (const s of ['test', 'model'] as const) {
                  if (report.stages[s].verdict === 'fail') report.stages[s] = { ...report.stages[s], verdict: 'flaky', flakyCounts: counts, summary: `flaky: ${Object.entries(counts).map(([v, n]) => `${v} ${n}x`).join(', ')}; ${report.stages[s].summary}` };
                }
              }
              report.tests = suite.tests.map(testDetails);
              if (suite.coverage) report.suiteCoverage = { paths: suite.coverage.map((c) => ({ path: c.path, label: c.label, count: c.count })), gaps: suite.gaps };
              report.boot = {
                status: suite.boot.status,
                reason: suite.boot.reason,
                accel: suite.boot.accel,
                durationMs: suite.boot.durationMs,
                bootToCommandMs: suite.boot.bootToCommandMs,
                consoleLog: rel(suite.boot.consoleLog),
                consoleTail: suite.boot.consoleTail,
              };
              // Traces of passing tests are large and tell nothing: keep only the evidence.
              for (const t of suite.tests) if (t.verdict === 'pass' && t.logs.trace) await rm(t.logs.trace, { force: true });
            }
          }
        } else if (build.verdict === 'fail') {
          report.stages.boot = skippedStage('the build failed');
          report.stages.test = skippedStage('the build failed');
          report.stages.model = skippedStage('the build failed');
        } else {
          report.stages.boot = skippedStage('the build broke (not the patch)');
        }
        report.verdict = patchVerdict(report.stages);
        report.summary = summarize(report.stages);
        if (interrupted) {
          // Half-tested is not tested: never a pass (nor a fail) for the patch Ctrl-C cut short.
          report.verdict = 'skipped';
          report.summary = 'interrupted (Ctrl-C) before this patch finished';
        }
        patches.push(report);
        task.title = `[${step.label}] ${report.verdict.toUpperCase()} ${step.subject} (${elapsed()})`;
        if (report.verdict !== 'pass') task.output = report.summary;
        // Written after every patch: a killed run still leaves what finished.
        await finishReport('running');
      },
      rendererOptions: { persistentOutput: true, outputBar: 3 },
    }));
    await runTasks(tasks, {}, opts);
    if (interrupted) {
      // Record the patches not reached as skipped so the report names every one of them.
      for (const step of steps) if (!patches.some((p) => p.index === step.index)) patches.push({ index: step.index, label: step.label, subject: step.subject, commit: step.commit, verdict: 'skipped', summary: 'interrupted before this patch', preExisting: [], stages: emptyStages('interrupted (Ctrl-C)'), tests: [] });
      patches.sort((a, b) => a.index - b.index);
      report = await finishReport('interrupted', 'Ctrl-C');
    } else {
      report = await finishReport('complete');
    }
  } catch (err) {
    patches.sort((a, b) => a.index - b.index);
    const reason = interrupted ? 'Ctrl-C' : errorMessage(err);
    report = await finishReport(interrupted ? 'interrupted' : 'crashed', reason).catch(() => undefined);
    if (!interrupted) {
      if (report) process.stderr.write(`kharness: partial report kept in ${reportDir}\n`);
      throw err instanceof Error ? err : new InfraError(reason);
    }
  } finally {
    onInterrupt(undefined);
    await unlock();
  }
  if (!report) throw new InfraError('no report was written');
  return { report, reportDir, exitCode: report.exitCode as ExitCodeValue };
}
