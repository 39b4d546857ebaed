import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { action, positiveInt } from '../common/command.js';
import { ExitCode, InputError } from '../common/errors.js';
import { killChildren, onInterrupt } from '../common/exec.js';
import type { BisectStepRunner, ConfigJobRunner } from './queue.js';

interface WorkerCliOptions {
  redis: string;
  concurrency: number;
  results?: string;
  work?: string;
  lockDuration: number;
  stalledInterval: number;
}

/**
 * The runner a worker uses: kharness run's pipeline, or (tests and the bench only) the
 * `runConfigJob` export of the module KHARNESS_FLEET_RUNNER names.
 */
async function chooseRunner(opts: WorkerCliOptions): Promise<{ config: ConfigJobRunner; bisect?: BisectStepRunner }> {
  const module = process.env.KHARNESS_FLEET_RUNNER;
  if (!module) {
    const { pipelineRunner, pipelineBisectRunner } = await import('./runner.js');
    return { config: pipelineRunner({ results: opts.results, work: opts.work }), bisect: pipelineBisectRunner({ results: opts.results, work: opts.work }) };
  }
  const loaded = (await import(pathToFileURL(path.resolve(module)).href)) as { runConfigJob?: ConfigJobRunner; runBisectStep?: BisectStepRunner };
  if (typeof loaded.runConfigJob !== 'function') throw new InputError(`KHARNESS_FLEET_RUNNER=${module} exports no runConfigJob function`);
  return { config: loaded.runConfigJob, bisect: loaded.runBisectStep };
}

/** `kharness worker`: takes jobs until SIGTERM/SIGINT, then finishes (or hands back) its current jobs and exits 0. */
async function runWorker(opts: WorkerCliOptions): Promise<number> {
  const me = `${hostname()}:${process.pid}`;
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} worker ${me} ${line}\n`);
  // BullMQ and the pipeline load only when a fleet command runs: other commands start as fast as before.
  const { openRedis, startWorker } = await import('./queue.js');
  const runners = await chooseRunner(opts);
  const inner = runners.config;
  const connection = await openRedis(opts.redis);
  let stopping: Promise<void> | undefined;
  let stop = (signal: NodeJS.Signals): void => void signal;
  // A run cut short (exit 130: its job is handed back) stops this worker too. An in-process runner
  // (the tests' stub) may have installed its own interrupt hook: the worker's is put back.
  const runner: ConfigJobRunner = async (data, ctx) => {
    try {
      const outcome = await inner(data, ctx);
      if (outcome.exitCode === ExitCode.Interrupted && !stopping) stop('SIGTERM');
      return outcome;
    } finally {
      onInterrupt((signal) => stop(signal));
    }
  };
  const worker = startWorker(connection, runner, { concurrency: opts.concurrency, lockDurationMs: opts.lockDuration, stalledIntervalMs: opts.stalledInterval, log, bisectRunner: runners.bisect });
  stop = (signal) => {
    if (stopping) {
      log(`${signal} again: exiting now; the current job is retried elsewhere once its lock expires`);
      process.exit(128 + 15);
    }
    log(`${signal}: stopping after the current job`);
    stopping = worker.close();
    // Each real job is a `kharness fleet-job` process: the signal goes on to it, so a kernel run
    // stops (exit 130) and its job goes back to the queue, instead of holding the worker for an hour.
    killChildren(signal);
  };
  onInterrupt((signal) => stop(signal));
  await worker.waitUntilReady();
  log(`ready on ${opts.redis.replace(/\/\/[^@/]*@/, '//***@')} (concurrency ${opts.concurrency}${opts.results ? `, results in ${opts.results}` : ''})`);
  while (!stopping) await new Promise((resolve) => setTimeout(resolve, 200));
  await stopping;
  connection.disconnect();
  log('stopped');
  return ExitCode.Ok;
}

export function registerFleetCommands(program: Command): void {
  program
    .command('worker')
    .description('one machine of the fleet: take series jobs from the BullMQ queue on Redis and run them (kharness run, one config per job)')
    .requiredOption('--redis <url>', 'the fleet\'s Redis, redis://HOST:PORT')
    .option('--concurrency <n>', 'jobs at once (each a whole kernel fold: 1 unless the machine has cores to spare)', positiveInt('--concurrency'), 1)
    .option('--results <dir>', 'a folder shared with the submitters: each job\'s report folder and artifacts go to DIR/<job id>')
    .option('--work <dir>', 'where worktrees and build dirs live (default: ~/.cache/kharness/work)')
    .option('--lock-duration <ms>', 'a job whose worker has not renewed its lock for this long is stalled and retried elsewhere', positiveInt('--lock-duration'), 60_000)
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs', positiveInt('--stalled-interval'), 30_000)
    .action(action(async (opts: WorkerCliOptions) => runWorker(opts) as Promise<0>));

  // What a worker runs each real job in (runner.ts): one config's fold, the job's data on stdin.
  program
    .command('fleet-job', { hidden: true })
    .requiredOption('--job-id <id>')
    .requiredOption('--result <file>', 'where the outcome (exit code, report) is written')
    .option('--results <dir>')
    .option('--work <dir>')
    .action(
      action(async (opts: { jobId: string; result: string; results?: string; work?: string }) => {
        const { text } = await import('node:stream/consumers');
        const { BisectJobDataSchema, ConfigJobDataSchema } = await import('./jobs.js');
        const { runBisectStepHere, runConfigJobHere } = await import('./runner.js');
        const { writeFileAtomic } = await import('../common/atomic.js');
        const parsed = z.union([ConfigJobDataSchema, BisectJobDataSchema]).safeParse(JSON.parse(await text(process.stdin)));
        if (!parsed.success) throw new InputError(`bad job data: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
        const here = { jobId: opts.jobId, results: opts.results, work: opts.work };
        const outcome = parsed.data.kind === 'config' ? await runConfigJobHere(parsed.data, here) : await runBisectStepHere(parsed.data, here);
        await writeFileAtomic(opts.result, JSON.stringify(outcome));
      }),
    );

  const queue = program.command('queue').description('the fleet\'s queue');
  queue
    .command('status')
    .description('waiting, active, completed and failed jobs, with their series and config')
    .requiredOption('--redis <url>', 'the fleet\'s Redis, redis://HOST:PORT')
    .option('--json', 'the rows as JSON')
    .action(
      action(async (opts: { redis: string; json?: boolean }) => {
        const { formatStatus, openRedis, queueStatus } = await import('./queue.js');
        const connection = await openRedis(opts.redis);
        try {
          const rows = await queueStatus(connection);
          process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatus(rows)}\n`);
        } finally {
          connection.disconnect();
        }
      }),
    );
}
