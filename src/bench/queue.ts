import path from 'node:path';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { projectRoot } from '../common/paths.js';
import type { WorkKey } from '../fleet/jobs.js';
import { startLocalRedis } from '../fleet/local-redis.js';
import { enqueueSeries, openRedis, startWorker, waitForSeries, type ConfigJobRunner } from '../fleet/queue.js';

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const ms = (v: number): string => `${v.toFixed(1)} ms`;
const JOB_MS = 2000;

function benchWork(tag: string): WorkKey {
  return { tree: 'bench', base: '', patches: [`${tag}-${process.pid}-${Date.now()}`], profile: 'quick', tests: ['swap-cycle'], variants: ['default'], runs: 1, trace: true, testBase: true, sandbox: true };
}
const SERIES = { subject: 'bench: queue overhead', version: 1, slug: 'bench-queue' };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Enqueue→start and finish→result of one job at a time, with an in-process worker whose runner returns at once. */
async function overhead(url: string, jobs: number): Promise<void> {
  const conn = await openRedis(url);
  const report: unknown = JSON.parse(readFileSync(path.join(projectRoot, 'tests', 'fixtures', 'report', 'regression.json'), 'utf8'));
  let started = 0;
  let finished = 0;
  const runner: ConfigJobRunner = async () => {
    started = performance.now();
    finished = performance.now();
    return { exitCode: 1, report };
  };
  const worker = startWorker(conn, runner, { log: (l) => process.env.KHARNESS_BENCH_DEBUG && process.stderr.write(`${l}\n`) });
  await worker.waitUntilReady();
  const toStart: number[] = [];
  const toResult: number[] = [];
  try {
    for (let i = 0; i < jobs; i++) {
      const t0 = performance.now();
      const id = await enqueueSeries(conn, { series: SERIES, work: benchWork(`overhead-${i}`), configs: ['zswap'], job: { input: 'bench' } });
      await waitForSeries(conn, id, 30_000);
      toStart.push(started - t0);
      toResult.push(performance.now() - finished);
    }
  } finally {
    await worker.close();
    conn.disconnect();
  }
  out(`queue overhead per job (${jobs} jobs, one at a time, stub runner, in-process worker):`);
  out(`  enqueue -> job started:   median ${ms(median(toStart))}, max ${ms(Math.max(...toStart))}`);
  out(`  job done -> result back: median ${ms(median(toResult))}, max ${ms(Math.max(...toResult))} (includes the series parent's own pass through a worker)`);
}

/** Four series on `workers` worker processes, each job keeping a core busy JOB_MS: jobs/hour. */
async function throughput(url: string, workers: number): Promise<number> {
  const bin = path.join(projectRoot, 'bin', 'kharness.js');
  const stub = path.join(projectRoot, 'dist', 'bench', 'queue-stub-runner.js');
  const procs: ResultPromise[] = [];
  const conn = await openRedis(url);
  try {
    const ready = Array.from({ length: workers }, () => {
      const proc = execa('node', [bin, 'worker', '--redis', url], { env: { KHARNESS_FLEET_RUNNER: stub, KHARNESS_BENCH_JOB_MS: String(JOB_MS) }, reject: false });
      procs.push(proc);
      return new Promise<void>((resolve) => proc.stdout?.on('data', (b: Buffer) => /ready on/.test(b.toString()) && resolve()));
    });
    await Promise.all(ready);
    const t0 = performance.now();
    const ids = await Promise.all([1, 2, 3, 4].map((k) => enqueueSeries(conn, { series: SERIES, work: benchWork(`tp${workers}-${k}`), configs: ['zswap'], job: { input: 'bench' } })));
    await Promise.all(ids.map((id) => waitForSeries(conn, id, 120_000)));
    return performance.now() - t0;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs);
    conn.disconnect();
  }
}

/** `npm run bench -- queue`: the fleet's own cost, with stub runners (no kernel). */
export async function runQueueBench(): Promise<void> {
  out('== queue (BullMQ on a private redis-server; stub runners, no kernel) ==');
  const redis = await startLocalRedis();
  try {
    await overhead(redis.url, 20);
    const one = await throughput(redis.url, 1);
    const two = await throughput(redis.url, 2);
    const perHour = (t: number): string => `${((4 / t) * 3_600_000).toFixed(0)} jobs/hour`;
    out(`4 jobs of ${JOB_MS / 1000} s of CPU each, worker processes side by side:`);
    out(`  1 worker:  ${(one / 1000).toFixed(2)} s  ${perHour(one)}`);
    out(`  2 workers: ${(two / 1000).toFixed(2)} s  ${perHour(two)}  (${(one / two).toFixed(2)}x)`);
  } finally {
    await redis.stop();
  }
}

/** The four real series of `queue-real`: bundled 6.12 series and a deliberate bug, one boot per patch. */
const REAL_SERIES = [
  path.join(projectRoot, 'patches', 'zswap-lifetime-demo.mbox'),
  path.join(projectRoot, 'patches', 'zswap-swapoff-cleanup.mbox'),
  path.join(projectRoot, 'patches', 'zswap-wording.mbox'),
  path.join(projectRoot, 'tests', 'fixtures', 'kernel-bugs', 'load-leak.mbox'),
];
const REAL_WORK = ['--no-base-test', '--tests', 'swap-cycle', '--variants', 'default'];

/**
 * The four series queued at once on `workers` real `kharness worker`s (a private redis-server
 * each time, so nothing is on record), and the same four run one after another by `kharness run`
 * with no queue: the wall times, and series per hour.
 */
async function realThroughput(workers: number): Promise<number> {
  const bin = path.join(projectRoot, 'bin', 'kharness.js');
  const redis = await startLocalRedis();
  const procs: ResultPromise[] = [];
  try {
    const ready = Array.from({ length: workers }, () => {
      const proc = execa('node', [bin, 'worker', '--redis', redis.url], { reject: false });
      procs.push(proc);
      return new Promise<void>((resolve) => proc.stdout?.on('data', (b: Buffer) => /ready on/.test(b.toString()) && resolve()));
    });
    await Promise.all(ready);
    const t0 = performance.now();
    const runs = await Promise.all(REAL_SERIES.map((mbox, i) => execa('node', [bin, 'run', mbox, ...REAL_WORK, '--queue', redis.url, '--out', path.join(os.tmpdir(), `kharness-bench-queue-${process.pid}-${workers}-${i}`)], { reject: false })));
    const ms = performance.now() - t0;
    for (const r of runs) if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`a queued run broke (exit ${r.exitCode}): ${String(r.stderr).slice(-500)}`);
    return ms;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs);
    await redis.stop();
  }
}

/** The same four series by `kharness run` here, one after another: what the queue is measured against. */
async function realLocal(): Promise<number> {
  const bin = path.join(projectRoot, 'bin', 'kharness.js');
  const t0 = performance.now();
  for (const [i, mbox] of REAL_SERIES.entries()) {
    const r = await execa('node', [bin, 'run', mbox, ...REAL_WORK, '--out', path.join(os.tmpdir(), `kharness-bench-local-${process.pid}-${i}`)], { reject: false });
    if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`a local run broke (exit ${r.exitCode}): ${String(r.stderr).slice(-500)}`);
  }
  return performance.now() - t0;
}

/** `npm run bench -- queue-real`: four real series through the fleet on 1 and on 2 workers, beside plain runs. */
export async function runRealQueueBench(): Promise<void> {
  out('== queue-real: four real series (demo, swapoff-cleanup, wording, load-leak; one boot per patch, builds warm) ==');
  // The builds are in the cache from the tests and benches before; were one not, the 1-worker pass pays for it.
  const one = await realThroughput(1);
  const two = await realThroughput(2);
  const local = await realLocal();
  const perHour = (t: number): string => `${((4 / t) * 3_600_000).toFixed(1)} series/hour`;
  out(`  kharness run, one after another: ${(local / 1000).toFixed(1)} s  ${perHour(local)}`);
  out(`  queued, 1 worker:  ${(one / 1000).toFixed(1)} s  ${perHour(one)}  (queue vs plain runs: ${(one / local).toFixed(3)}x)`);
  out(`  queued, 2 workers: ${(two / 1000).toFixed(1)} s  ${perHour(two)}  (${(one / two).toFixed(2)}x the 1-worker rate; 2 cores: both guests share them)`);
}
