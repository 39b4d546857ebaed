import { hostname } from 'node:os';
import { DelayedError, FlowProducer, Job, Queue, QueueEvents, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import { ExitCode, InputError, KharnessError, errorMessage } from '../common/errors.js';
import {
  BISECT_JOB, BisectJobDataSchema, BisectJobResultSchema, bisectJobId,
  type BisectJobData, type BisectJobResult,
  CONFIG_JOB, ConfigJobDataSchema, ConfigJobResultSchema, QUEUE_NAME, SERIES_JOB, SeriesJobDataSchema, SeriesJobResultSchema,
  configJobId, seriesJobId,
  type ConfigJobData, type ConfigJobResult, type SeriesJobResult, type SeriesLabel, type WorkKey,
} from './jobs.js';

/**
 * The fleet's queue, on BullMQ: enqueue a series as a flow, run jobs on a worker, wait for a
 * series' result, list the queue. Nothing here knows the pipeline: a worker is given the function
 * that runs a config job (src/fleet/runner.ts in production, a stub in tests and the bench).
 */

/** A config job's outcome as the runner gives it; its exit code decides retry or not. */
export interface ConfigRunOutcome {
  exitCode: number;
  report: unknown;
  resultsDir?: string;
}

export interface JobContext {
  jobId: string;
  attempt: number;
  /** a line for the worker's log */
  log: (line: string) => void;
}

export type ConfigJobRunner = (data: ConfigJobData, ctx: JobContext) => Promise<ConfigRunOutcome>;

/** Builds and tests one bisect step (the series up to data.patch); its outcome 'error' is retried. */
export type BisectStepRunner = (data: BisectJobData, ctx: JobContext) => Promise<Omit<BisectJobResult, 'worker'>>;

/** A job whose runner ended in exit 3 (our side broke): thrown so BullMQ retries it with backoff. */
export class InfraJobError extends Error {
  override name = 'InfraJobError';
}

/** A Redis connection for BullMQ from a redis:// URL (clear error on anything else). */
export function connect(url: string): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`not a Redis URL: ${url}`, 'give redis://HOST:PORT (or rediss://, with /DB)');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new InputError(`not a Redis URL: ${url}`, 'give redis://HOST:PORT');
  // BullMQ's blocking commands need maxRetriesPerRequest null; lazy so openRedis can say when it is unreachable.
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
}

/** connect(), and a clear exit-3 error at once when nothing answers there (rather than retrying forever). */
export async function openRedis(url: string): Promise<Redis> {
  const connection = connect(url);
  // ioredis reports connection trouble as 'error' events (and prints them when nobody listens).
  let lastError: unknown;
  connection.on('error', (err) => (lastError = err));
  try {
    await connection.connect();
    await connection.ping();
  } catch (err) {
    connection.disconnect();
    throw new KharnessError(`cannot reach Redis at ${url}: ${errorMessage(lastError ?? err)}`, ExitCode.Infrastructure, 'start redis-server there, or give --redis/--queue the right URL');
  }
  return connection;
}

export interface EnqueueOptions {
  series: SeriesLabel;
  work: WorkKey;
  configs: string[];
  /** per config, everything else the worker needs (input, mbox, version, lore, reporter) */
  job: Omit<ConfigJobData, 'kind' | 'series' | 'work' | 'config'>;
  /** attempts per config job for infrastructure failures (default 3) */
  attempts?: number;
  /** first retry delay, doubled each time (default 30 s) */
  backoffMs?: number;
}

/** Enqueues a series as a flow: a parent per series, a child per config. Returns the parent's id. */
export async function enqueueSeries(connection: Redis, opts: EnqueueOptions): Promise<string> {
  const children = opts.configs.map((config) => ({ config, jobId: configJobId(opts.work, config) }));
  const parentId = seriesJobId(opts.work, opts.configs);
  const flow = new FlowProducer({ connection });
  try {
    await flow.add({
      name: SERIES_JOB,
      queueName: QUEUE_NAME,
      data: SeriesJobDataSchema.parse({ kind: 'series', series: opts.series, children }),
      opts: { jobId: parentId },
      children: children.map((c) => ({
        name: CONFIG_JOB,
        queueName: QUEUE_NAME,
        data: ConfigJobDataSchema.parse({ ...opts.job, kind: 'config', series: opts.series, work: opts.work, config: c.config }),
        opts: {
          jobId: c.jobId,
          attempts: opts.attempts ?? 3,
          backoff: { type: 'exponential', delay: opts.backoffMs ?? 30_000 },
          // A config that cannot finish fails its series, instead of leaving it waiting forever.
          failParentOnFailure: true,
        },
      })),
    });
  } finally {
    await flow.close();
  }
  return parentId;
}

/** Why a series' config jobs failed, one clause each ('' when none did). */
async function childFailures(queue: Queue, data: unknown): Promise<string> {
  const parsed = SeriesJobDataSchema.safeParse(data);
  if (!parsed.success) return '';
  const reasons: string[] = [];
  for (const c of parsed.data.children) {
    const child = await queue.getJob(c.jobId);
    if (child?.failedReason) reasons.push(`${c.config}: ${child.failedReason} (after ${child.attemptsMade} attempts)`);
  }
  return reasons.join('; ');
}

/**
 * Waits for job ID to finish and returns its value; a failed job throws, with `whyFailed`'s
 * account of it (a series names its config jobs' failures).
 */
async function waitForJob(connection: Redis, id: string, whyFailed: (queue: Queue, job: Job) => Promise<string>, timeoutMs?: number): Promise<unknown> {
  const queue = new Queue(QUEUE_NAME, { connection });
  // Events are read from the stream's position now, not from '$' whenever the reader gets going:
  // a job finishing in between would otherwise be missed (seen here with fast jobs).
  const [last] = await connection.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
  // QueueEvents blocks on its connection: its own, closed here (BullMQ leaves a given one open).
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection, lastEventId: last?.[0] ?? '0-0' });
  try {
    await events.waitUntilReady();
    const job = await queue.getJob(id);
    if (!job) throw new KharnessError(`no job ${id} in the queue`, ExitCode.Infrastructure);
    try {
      return await job.waitUntilFinished(events, timeoutMs);
    } catch (err) {
      const why = (await whyFailed(queue, job)) || errorMessage(err);
      throw new KharnessError(`the job ${id} failed: ${why}`, ExitCode.Infrastructure, 'kharness queue status --redis URL shows why; a failed job is retried by enqueueing it again');
    }
  } finally {
    await events.close();
    eventsConnection.disconnect();
    await queue.close();
  }
}

/** Waits for a series parent to finish and returns its validated result; a failed series throws. */
export async function waitForSeries(connection: Redis, parentId: string, timeoutMs?: number): Promise<SeriesJobResult> {
  return SeriesJobResultSchema.parse(await waitForJob(connection, parentId, (queue, job) => childFailures(queue, job.data), timeoutMs));
}

/**
 * Queues one bisect step (a step already queued, running or done is left as it is: the same id is
 * the same work; one whose attempts were spent is queued afresh) and waits for its result.
 */
export async function runBisectStepOnFleet(connection: Redis, data: BisectJobData, opts: { attempts?: number; backoffMs?: number; timeoutMs?: number } = {}): Promise<BisectJobResult> {
  const parsed = BisectJobDataSchema.parse(data);
  const id = bisectJobId(parsed.work, parsed.config, parsed.patch, parsed.badWhen);
  const queue = new Queue(QUEUE_NAME, { connection });
  try {
    const old = await queue.getJob(id);
    if (old && (await old.getState()) === 'failed') await old.remove();
    await queue.add(BISECT_JOB, parsed, { jobId: id, attempts: opts.attempts ?? 3, backoff: { type: 'exponential', delay: opts.backoffMs ?? 30_000 } });
  } finally {
    await queue.close();
  }
  return BisectJobResultSchema.parse(await waitForJob(connection, id, async (_q, job) => (job.failedReason ? `${job.failedReason} (after ${job.attemptsMade} attempts)` : ''), opts.timeoutMs));
}

/**
 * A series that failed (its attempts spent) is removed with its config jobs, so enqueueing the
 * same work again runs it again; a finished or queued one is left as it is. True when removed.
 */
export async function removeIfFailed(connection: Redis, parentId: string): Promise<boolean> {
  return removeSeries(connection, parentId, ['failed']);
}

/**
 * Removes a series parent and its config jobs when the parent is in one of STATES (a queued or
 * running one is never pulled from under its worker). True when removed.
 */
export async function removeSeries(connection: Redis, parentId: string, states: readonly string[]): Promise<boolean> {
  const queue = new Queue(QUEUE_NAME, { connection });
  try {
    const parent = await queue.getJob(parentId);
    if (!parent || !states.includes(await parent.getState())) return false;
    await parent.remove({ removeChildren: true });
    return true;
  } finally {
    await queue.close();
  }
}

export interface FleetWorkerOptions {
  concurrency?: number;
  /** how long a job's lock lasts without renewal (renewed every half of it while the job runs) */
  lockDurationMs?: number;
  /** how often to look for jobs whose worker died (lock expired): they go back to waiting */
  stalledIntervalMs?: number;
  /** how many times a job may be found stalled before it fails */
  maxStalledCount?: number;
  /** one line per job state change */
  log: (line: string) => void;
  /** runs bisect steps (kharness bisect --queue); without it such a job fails at once */
  bisectRunner?: BisectStepRunner;
}

function label(job: Job): string {
  const data = job.data as { series?: SeriesLabel; config?: string; patch?: number } | undefined;
  const series = data?.series ? ` v${data.series.version} ${data.series.subject}` : '';
  const patch = typeof data?.patch === 'number' ? ` ${data.patch === 0 ? 'base' : `patch ${data.patch}`}` : '';
  return `${job.name} ${job.id ?? '?'}${data?.config ? ` [${data.config}]` : ''}${patch}${series}`;
}

/**
 * The parent's result: its children's results, in the order the series named its configs. A
 * config job another series enqueued first (same work, same id) is not this parent's child in
 * BullMQ: its result is read from the job itself, and while it still runs the parent waits.
 */
async function seriesResult(job: Job, token: string | undefined, worker: Worker): Promise<SeriesJobResult> {
  const data = SeriesJobDataSchema.parse(job.data);
  const values = await job.getChildrenValues<unknown>();
  const byId = new Map(Object.entries(values).map(([key, v]) => [key.slice(key.lastIndexOf(':') + 1), v]));
  const configs: ConfigJobResult[] = [];
  for (const c of data.children) {
    let value = byId.get(c.jobId);
    if (value === undefined) {
      const shared = await Job.fromId(worker, c.jobId);
      const state = shared ? await shared.getState() : 'missing';
      if (state === 'completed') value = shared!.returnvalue;
      else if (state !== 'failed' && state !== 'missing' && token) {
        await job.moveToDelayed(Date.now() + 5000, token);
        throw new DelayedError();
      } else throw new InfraJobError(`config job ${c.jobId} (${c.config}) has no result (${state})`);
    }
    configs.push(ConfigJobResultSchema.parse(value));
  }
  return SeriesJobResultSchema.parse({ configs });
}

/** A job's data checked against its schema; data no schema accepts fails the job for good. */
function jobData<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, job: Job): T {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`bad job data: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Calls a job's runner; a runner that says the input is bad (exit 2) fails the job for good, anything else it throws is retried. */
async function runJob<D, R>(runner: (data: D, ctx: JobContext) => Promise<R>, data: D, job: Job, log: (l: string) => void): Promise<R> {
  try {
    return await runner(data, { jobId: job.id ?? '', attempt: job.attemptsMade + 1, log });
  } catch (err) {
    if (err instanceof KharnessError && err.exitCode === ExitCode.BadInput) throw new UnrecoverableError(errorMessage(err));
    throw err;
  }
}

/** The runner's result with this worker's name, checked against its schema; an invalid one is our side's fault (retried). */
function jobResult<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: object): T {
  const result = schema.safeParse({ ...value, worker: `${hostname()}:${process.pid}` });
  if (!result.success) throw new InfraJobError(`the runner's result is invalid: ${result.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** Runs one config job through the runner; exit 3 or a crash is retried, bad input is not. */
async function configResult(job: Job, token: string | undefined, runner: ConfigJobRunner, log: (l: string) => void): Promise<ConfigJobResult> {
  const data = jobData(ConfigJobDataSchema, job);
  const outcome = await runJob(runner, data, job, log);
  const summary = (outcome.report as { summary?: unknown } | null)?.summary;
  if (outcome.exitCode === ExitCode.BadInput) throw new UnrecoverableError(`bad input: ${String(summary ?? 'exit 2')}`);
  // Exit 3 (our side broke) and 130 (the run was cut short) say nothing about the series: retried.
  // 130: the worker was stopped mid-run (SIGTERM): the job goes back to waiting, no attempt spent.
  if (outcome.exitCode === ExitCode.Interrupted && token) {
    await job.moveToWait(token);
    throw new WaitingError();
  }
  if (outcome.exitCode === ExitCode.Infrastructure || outcome.exitCode === ExitCode.Interrupted) {
    throw new InfraJobError(`exit ${outcome.exitCode}: ${String(summary ?? 'no report')}`);
  }
  return jobResult(ConfigJobResultSchema, { config: data.config, exitCode: outcome.exitCode, report: outcome.report, resultsDir: outcome.resultsDir });
}

/** Runs one bisect step; a step our side could not evaluate ('error') is retried, bad input is not. */
async function bisectResult(job: Job, runner: BisectStepRunner | undefined, log: (l: string) => void): Promise<BisectJobResult> {
  if (!runner) throw new UnrecoverableError('this worker runs no bisect steps');
  const step = await runJob(runner, jobData(BisectJobDataSchema, job), job, log);
  if (step.outcome === 'error') throw new InfraJobError(`the step could not be evaluated: ${step.reason}`);
  return jobResult(BisectJobResultSchema, step);
}

/** A worker on the fleet's queue, logging every job state change; close() lets the current jobs finish. */
export function startWorker(connection: Redis, runner: ConfigJobRunner, opts: FleetWorkerOptions): Worker {
  const log = opts.log;
  const worker: Worker = new Worker(
    QUEUE_NAME,
    async (job: Job, token?: string) => {
      if (job.name === SERIES_JOB) return seriesResult(job, token, worker);
      if (job.name === CONFIG_JOB) return configResult(job, token, runner, (line) => log(`${label(job)}: ${line}`));
      if (job.name === BISECT_JOB) return bisectResult(job, opts.bisectRunner, (line) => log(`${label(job)}: ${line}`));
      throw new UnrecoverableError(`unknown job kind "${job.name}"`);
    },
    {
      // Shared: BullMQ makes its own blocking connection from it and closes that; the caller closes this one.
      connection,
      concurrency: opts.concurrency ?? 1,
      lockDuration: opts.lockDurationMs ?? 60_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: opts.maxStalledCount ?? 2,
    },
  );
  worker.on('active', (job) => log(`active ${label(job)} (attempt ${job.attemptsMade + 1})`));
  worker.on('completed', (job) => {
    const r = job.returnvalue as { exitCode?: number; report?: { verdict?: string }; outcome?: string } | undefined;
    log(`completed ${label(job)}${r?.report?.verdict ? `: ${r.report.verdict} (exit ${r.exitCode})` : r?.outcome ? `: ${r.outcome}` : ''}`);
  });
  worker.on('failed', (job, err) => {
    if (!job) return log(`failed: ${errorMessage(err)}`);
    const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    log(`${final ? 'failed' : 'will retry'} ${label(job)} after attempt ${job.attemptsMade}: ${errorMessage(err)}`);
  });
  worker.on('stalled', (jobId) => log(`stalled ${jobId}: its worker stopped renewing the lock; back to waiting`));
  worker.on('error', (err) => log(`error: ${errorMessage(err)}`));
  return worker;
}

export interface QueueRow {
  state: string;
  id: string;
  kind: string;
  config?: string;
  series?: SeriesLabel;
  attempts: number;
  /** the verdict of a finished config job, or why a job failed */
  detail: string;
}

const LISTED_STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const;

/** Every job of the queue (up to `limit` per state), with its series, config and state. */
export async function queueStatus(connection: Redis, limit = 200): Promise<QueueRow[]> {
  const queue = new Queue(QUEUE_NAME, { connection });
  try {
    const rows: QueueRow[] = [];
    for (const state of LISTED_STATES) {
      for (const job of await queue.getJobs([state], 0, limit - 1)) {
        if (!job) continue;
        const data = job.data as { series?: SeriesLabel; config?: string };
        const value = job.returnvalue as { report?: { verdict?: string }; outcome?: string } | null;
        const verdict = value?.report?.verdict ?? value?.outcome;
        rows.push({ state, id: job.id ?? '?', kind: job.name, config: data.config, series: data.series, attempts: job.attemptsMade, detail: job.failedReason ?? verdict ?? '' });
      }
    }
    return rows;
  } finally {
    await queue.close();
  }
}

/** The status as text: counts per state, then one line per job. */
export function formatStatus(rows: readonly QueueRow[]): string {
  const count = (s: string): number => rows.filter((r) => r.state === s).length;
  const head = `waiting ${count('waiting') + count('prioritized') + count('delayed') + count('waiting-children')}  active ${count('active')}  completed ${count('completed')}  failed ${count('failed')}`;
  const lines = rows.map((r) => [r.state, r.kind, r.config ?? '-', r.series ? `v${r.series.version}` : '-', r.series?.subject ?? '-', `attempts ${r.attempts}`, r.detail || '-', r.id].join('\t'));
  return [head, ...lines].join('\n');
}
