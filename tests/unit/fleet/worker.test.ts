import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configJobId } from '../../../src/fleet/jobs.js';
import { enqueueSeries, openRedis, queueStatus, waitForSeries } from '../../../src/fleet/queue.js';
import { projectRoot } from '../../../src/common/paths.js';
import { startLocalRedis, type LocalRedis } from '../../../src/fleet/local-redis.js';
import { SERIES, jobFields, startWorkerProcess, work, type WorkerProcess } from './stub.js';

const BIN = path.join(projectRoot, 'bin', 'kharness.js');

let redis: LocalRedis;
let conn: Redis;
let marks: string;
beforeAll(async () => {
  if (!existsSync(path.join(projectRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (scripts/setup.sh does)');
  redis = await startLocalRedis();
  conn = await openRedis(redis.url);
  marks = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-marks-'));
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
  await rm(marks, { recursive: true, force: true });
});

function worker(jobMs: number, extra: Record<string, string> = {}): WorkerProcess {
  return startWorkerProcess(redis.url, { KHARNESS_TEST_JOB_MS: String(jobMs), KHARNESS_TEST_MARKS: marks, ...extra });
}

const marksOf = async (jobId: string): Promise<string[]> => (await readdir(marks)).filter((f) => f.startsWith(`${jobId}.`));

describe('kharness worker', () => {
  it('a job whose worker is SIGKILLed mid-job is finished by the other worker, with one complete result', async () => {
    const a = worker(1500);
    const b = worker(1500);
    try {
      await Promise.all([a.waitFor(/ready on/), b.waitFor(/ready on/)]);
      const id = await enqueueSeries(conn, { series: SERIES, work: work(['killed']), configs: ['zswap'], job: jobFields() });
      const childId = configJobId(work(['killed']), 'zswap');
      const victim = await Promise.race([a, b].map(async (w) => (await w.waitFor(/active config/), w)));
      const survivor = victim === a ? b : a;
      victim.proc.kill('SIGKILL');
      const result = await waitForSeries(conn, id, 20_000);
      expect(result.configs).toHaveLength(1);
      expect(result.configs[0]!.report.verdict).toBe('fail');
      expect(result.configs[0]!.worker).toMatch(new RegExp(`:${survivor.proc.pid}$`));
      expect(await marksOf(childId)).toHaveLength(2);
      await survivor.waitFor(/stalled|active config/);
    } finally {
      a.proc.kill('SIGKILL');
      b.proc.kill('SIGKILL');
      await Promise.all([a.proc, b.proc]);
    }
  });

  it('SIGTERM lets the current job finish, takes no other, and exits 0', async () => {
    const w = worker(1500);
    await w.waitFor(/ready on/);
    const first = await enqueueSeries(conn, { series: SERIES, work: work(['term-1']), configs: ['zswap'], job: jobFields() });
    await w.waitFor(/active config/);
    const second = await enqueueSeries(conn, { series: SERIES, work: work(['term-2']), configs: ['zswap'], job: jobFields() });
    w.proc.kill('SIGTERM');
    const done = await w.proc;
    expect(done.exitCode).toBe(0);
    const order = ['SIGTERM: stopping after the current job', 'completed config', 'stopped'].map((s) => w.lines.findIndex((l) => l.includes(s)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    // The config job finished; its series parent waits for a worker to collect it, as the second series does.
    const rows = await queueStatus(conn);
    expect(rows.find((r) => r.id === configJobId(work(['term-1']), 'zswap'))).toMatchObject({ state: 'completed', detail: 'fail' });
    expect(rows.find((r) => r.id === first)?.state).toBe('waiting');
    expect(rows.find((r) => r.id === second)?.state).toBe('waiting-children');
    expect(rows.find((r) => r.id === configJobId(work(['term-2']), 'zswap'))?.state).toBe('waiting');
  });

  it('kharness run --queue writes the same reports from the worker\'s result, artifacts copied from --results', async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-run-'));
    const results = path.join(scratch, 'shared');
    const w = worker(0, { KHARNESS_TEST_RESULTS: results });
    try {
      await w.waitFor(/ready on/);
      const out = path.join(scratch, 'report');
      const mbox = path.join(projectRoot, 'patches', 'zswap-lifetime-demo.mbox');
      const run = await execa('node', [BIN, 'run', mbox, '--queue', redis.url, '--results', results, '--out', out, '--tests', 'swap-cycle', '--variants', 'default'], { reject: false, env: { KHARNESS_CACHE: path.join(scratch, 'cache') } });
      expect(run.stderr).toMatch(/queued series-[0-9a-f]+: v\d/);
      expect(run.exitCode).toBe(1);
      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as { verdict: string; files: Record<string, string> };
      expect(report.verdict).toBe('fail');
      for (const f of ['report.md', 'index.html', 'junit.xml', 'kcidb.json', 'reply.txt', 'checks.json', 'series.mbox']) expect(existsSync(path.join(out, f)), f).toBe(true);
      expect(await readFile(path.join(out, 'logs', 'build-1.log'), 'utf8')).toMatch(/^built by \d+/);
      const status = await execa('node', [BIN, 'queue', 'status', '--redis', redis.url]);
      expect(status.stdout).toMatch(/completed\tconfig\tzswap\tv\d+\tmm: zswap/);
      expect(status.stdout.split('\n')[0]).toMatch(/^waiting \d+ {2}active \d+ {2}completed \d+ {2}failed \d+$/);
    } finally {
      w.proc.kill('SIGTERM');
      await w.proc;
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('refuses --results without --queue, and an unreachable Redis is exit 3 with the URL', async () => {
    const mbox = path.join(projectRoot, 'patches', 'zswap-lifetime-demo.mbox');
    const alone = await execa('node', [BIN, 'run', mbox, '--results', tmpdir()], { reject: false });
    expect(alone.exitCode).toBe(2);
    expect(alone.stderr).toContain('--results is for --queue');
    const down = await execa('node', [BIN, 'queue', 'status', '--redis', 'redis://127.0.0.1:1'], { reject: false });
    expect(down.exitCode).toBe(3);
    expect(down.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1');
  });
});
