import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode, KharnessError } from '../common/errors.js';
import { spawnTracked } from '../common/exec.js';
import { projectRoot } from '../common/paths.js';
import { resolveTests, variantsFor, type GuestTestName } from '../guest/index.js';
import { runSeries } from '../run/pipeline.js';
import { settleSandbox } from '../sandbox/index.js';
import { evaluateCommit, seriesCommits, type BisectStep } from '../bisect/index.js';
import { loadSeries } from '../tree/input.js';
import { openTreeArg } from '../tree/managed.js';
import { lockTree } from '../tree/worktree.js';
import type { BisectJobData, ConfigJobData } from './jobs.js';
import type { BisectStepRunner, ConfigJobRunner, ConfigRunOutcome, JobContext } from './queue.js';

export interface PipelineRunnerOptions {
  /** --results DIR: a shared folder; each job's report folder is DIR/<job id> */
  results?: string;
  /** --work: worktrees and build dirs (default: the cache) */
  work?: string;
}

/** What a `kharness fleet-job` child is given besides the job's data. */
export interface JobProcessOptions extends PipelineRunnerOptions {
  jobId: string;
}

/** The run a config job asks for, as `kharness run` options. */
function runOptions(data: ConfigJobData, input: string, out: string, work?: string): Parameters<typeof runSeries>[0] {
  // Checked again here: a job from another kharness version may name tests this one lacks (exit 2).
  const tests = resolveTests(data.work.tests.join(','));
  return {
    input,
    version: data.version,
    lore: data.lore,
    tree: data.work.tree || undefined,
    base: data.base,
    configs: [data.config],
    tests,
    variants: variantsFor(data.work.variants.join(','), tests),
    profile: data.work.profile,
    runs: data.work.runs,
    trace: data.work.trace,
    testBase: data.work.testBase,
    sandbox: data.work.sandbox,
    reporter: data.reporter,
    retest: data.retest,
    retestBase: data.retestBase,
    retestKept: data.retestKept,
    out,
    work,
    quiet: true,
  };
}

/**
 * Calls FN with a scratch folder and the job's series input: its mbox written there when the job
 * carries one, else the URL or message-id the worker fetches. The folder goes afterwards.
 */
async function withJobInput<T>(data: { input: string; mbox?: string }, fn: (input: string, scratch: string) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-job-'));
  try {
    let input = data.input;
    if (data.mbox !== undefined) {
      input = path.join(scratch, 'series.mbox');
      await writeFile(input, data.mbox);
    }
    return await fn(input, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** One config's whole fold of the series through runSeries, in this process (`kharness fleet-job`). */
export async function runConfigJobHere(data: ConfigJobData, opts: JobProcessOptions): Promise<ConfigRunOutcome> {
  return withJobInput(data, async (input, scratch) => {
    const out = opts.results ? path.join(path.resolve(opts.results), opts.jobId) : path.join(scratch, 'report');
    const result = await runSeries(runOptions(data, input, out, opts.work));
    return { exitCode: result.exitCode, report: result.report, resultsDir: opts.results ? opts.jobId : undefined };
  });
}

/**
 * One bisect step here (`kharness fleet-job`): the series applied on its base on this machine's
 * tree, then the build and test of patch data.patch (0: the base) as `kharness bisect` does it.
 */
export async function runBisectStepHere(data: BisectJobData, opts: JobProcessOptions): Promise<BisectStep> {
  return withJobInput(data, async (input, scratch) => {
    // The patched tree's code runs in the sandbox unless the submitter said --no-sandbox.
    await settleSandbox(!data.work.sandbox);
    const loaded = await loadSeries(input, { version: data.version, lore: data.lore });
    const tree = await openTreeArg(data.work.tree || undefined, opts.work);
    const unlock = await lockTree(tree);
    try {
      const commits = await seriesCommits(tree, loaded, data.base);
      const step = commits[data.patch];
      if (!step) throw new KharnessError(`the series has no patch ${data.patch}`, ExitCode.BadInput);
      const tests = resolveTests(data.work.tests.join(','));
      const outDir = opts.results ? path.join(path.resolve(opts.results), opts.jobId) : path.join(scratch, 'bisect');
      return await evaluateCommit(step.commit, step.subject, data.patch > 0 ? commits[data.patch - 1]?.commit : undefined, {
        tree, config: data.config, tests, variants: variantsFor(data.work.variants.join(','), tests), profile: data.work.profile,
        runs: data.work.runs, badWhen: { stage: data.badWhen.stage, test: data.badWhen.test ? (resolveTests(data.badWhen.test)[0] as GuestTestName) : undefined },
        outDir, trace: data.work.trace,
      }, data.patch);
    } finally {
      await unlock();
    }
  });
}

/**
 * Runs a job in a `kharness fleet-job` process of its own and returns what it wrote. Jobs at once
 * (--concurrency) then never share a run's interrupt hook or child list; SIGTERM reaches the run
 * (it stops, exit 130, the job is handed back); and a worker killed outright takes the job's
 * process with it (parent-death signal), and that process its make and QEMU.
 */
async function inJobProcess<T>(data: ConfigJobData | BisectJobData, ctx: JobContext, opts: PipelineRunnerOptions): Promise<T> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-jobproc-'));
  try {
    const resultFile = path.join(scratch, 'outcome.json');
    const args = [path.join(projectRoot, 'bin', 'kharness.js'), 'fleet-job', '--job-id', ctx.jobId, '--result', resultFile];
    if (opts.results) args.push('--results', opts.results);
    if (opts.work) args.push('--work', opts.work);
    const child = await spawnTracked(process.execPath, args, { input: JSON.stringify(data), stdout: 'ignore', stderr: 'pipe', maxBuffer: 16 * 1024 * 1024 });
    if (existsSync(resultFile)) return JSON.parse(await readFile(resultFile, 'utf8')) as T;
    const why = String(child.stderr ?? '').trim().split('\n').slice(-5).join('\n') || `exit ${child.exitCode ?? '?'}${child.signal ? ` (${child.signal})` : ''}`;
    // Bad input is final (the job fails for good); anything else is our side, and retried.
    throw new KharnessError(`the job's run ended without a result: ${why}`, child.exitCode === ExitCode.BadInput ? ExitCode.BadInput : ExitCode.Infrastructure);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The production runner of config jobs: kharness run's whole fold, in a job process. */
export function pipelineRunner(opts: PipelineRunnerOptions): ConfigJobRunner {
  return (data, ctx) => inJobProcess<ConfigRunOutcome>(data, ctx, opts);
}

/** The production runner of bisect steps, in a job process; the step's folder stays under --results. */
export function pipelineBisectRunner(opts: PipelineRunnerOptions): BisectStepRunner {
  return async (data, ctx) => ({ ...(await inJobProcess<BisectStep>(data, ctx, opts)), resultsDir: opts.results ? ctx.jobId : undefined });
}
