import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/common/paths.js';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../../src/fleet/jobs.js';
import { startLocalRedis, type LocalRedis } from '../../src/fleet/local-redis.js';
import { openRedis } from '../../src/fleet/queue.js';
import { startLoreServer, type LoreServer } from '../../src/lore/index.js';
import type { PatchReport, RunReport } from '../../src/report/types.js';
import { CLI, descendantsOf, kharness, readJson, requireEnvironment, startKharness, stillAlive, waitFor } from './helpers.js';

// Issue 15 end to end: a real kernel series served over HTTP, enqueued by `kharness watch --once
// --queue` on a real redis-server, run by two real `kharness worker`s (real builds, real
// virtme-ng boots), one of them SIGKILLed mid-job; the reports must match a local run's.
const DEMO = '20241202140533.77310-1-marco.bianchi@example.com';
// One boot per patch (CI's time): the default variant, swap-cycle, no base run.
const WORK = ['--no-base-test', '--tests', 'swap-cycle', '--variants', 'default'];

interface Worker {
  proc: ResultPromise;
  lines: string[];
  name: string;
}

function startWorker(name: string, redisUrl: string, results: string): Worker {
  // A short lock: a killed worker's job is found stalled in seconds, not the default minute.
  const proc = execa(process.execPath, [CLI, 'worker', '--redis', redisUrl, '--results', results, '--lock-duration', '8000', '--stalled-interval', '2000'], { reject: false, stdin: 'ignore', forceKillAfterDelay: false });
  const lines: string[] = [];
  proc.stdout?.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  proc.stderr?.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean).map((l) => `stderr: ${l}`)));
  return { proc, lines, name };
}

/**
 * What must agree between two runs of the same series: every step's, stage's and test's verdict.
 * But the model's on a failing step: the demo's 2/3 frees a live entry, and whether the guest
 * dies before its trace is read (model skipped) or after (model fail) is up to the race.
 */
function verdicts(p: PatchReport): unknown {
  return {
    label: p.label,
    verdict: p.verdict,
    stages: Object.fromEntries(Object.entries(p.stages).map(([k, s]) => [k, k === 'model' && p.verdict === 'fail' && s.verdict !== 'pass' ? 'fail or skipped' : s.verdict])),
    tests: p.tests.map((t) => [t.name, t.verdict]),
  };
}

describe('the fleet on a real kernel series', () => {
  let scratch: string;
  let server: LoreServer;
  let redis: LocalRedis;
  let local: RunReport;
  const workers: Worker[] = [];

  beforeAll(async () => {
    requireEnvironment();
    scratch = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-e2e-'));
    await mkdir(path.join(scratch, 'lore'));
    await copyFile(path.join(projectRoot, 'patches', 'zswap-lifetime-demo.mbox'), path.join(scratch, 'lore', 'demo.mbox'));
    server = await startLoreServer(path.join(scratch, 'lore'), 0);
    redis = await startLocalRedis();
    const r = await kharness(['run', `${server.url}/linux-mm/${DEMO}/`, ...WORK, '--out', path.join(scratch, 'local'), '--json']);
    local = r.json<RunReport>();
    expect(local.status, r.stderr.slice(-2000)).toBe('complete');
  });

  afterAll(async () => {
    for (const w of workers) {
      w.proc.kill('SIGKILL');
      await w.proc;
    }
    await server?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('watch --once --queue: two workers, one SIGKILLed mid-job, end with the local run\'s report', async () => {
    const results = path.join(scratch, 'results');
    workers.push(startWorker('A', redis.url, results), startWorker('B', redis.url, results));
    for (const w of workers) await waitFor(`worker ${w.name} ready`, 60_000, () => w.lines.some((l) => / ready on /.test(l)));

    const out = path.join(scratch, 'fleet');
    const watch = startKharness(['watch', `${server.url}/linux-mm/`, '--once', '--query', 'dfn:mm/zswap.c', '--queue', redis.url, '--results', results, '--out', out, ...WORK]);

    // The worker that took the config job, once its first guest is booting: killed there, with no chance to clean up.
    const first = await waitFor('a worker taking the config job', 600_000, () => workers.find((w) => w.lines.some((l) => /active config cfg-/.test(l))));
    const pid = first.proc.pid!;
    await waitFor(`a guest under worker ${first.name}`, 900_000, () => descendantsOf(pid).some((p) => /qemu-system/.test(p.cmdline)));
    const orphans = descendantsOf(pid).map((p) => p.pid);
    first.proc.kill('SIGKILL');
    await first.proc;
    // Its make, vng and QEMU die with it (parent-death signal and group reaper): none runs on beside the new attempt.
    await waitFor('the killed worker\'s processes to die', 30_000, () => stillAlive(orphans).length === 0 || undefined).catch(() => {
      throw new Error(`still alive after the worker's SIGKILL: ${stillAlive(orphans).map((p) => p.cmdline).join('\n')}`);
    });

    const other = workers.find((w) => w !== first)!;
    const done = await watch;
    expect(done.exitCode, `${done.stderr}\n${other.lines.join('\n')}`).toBe(0);
    // The other worker found the job stalled and ran it again, to the end.
    expect(other.lines.some((l) => /stalled|active config cfg-/.test(l)), other.lines.join('\n')).toBe(true);
    expect(other.lines.some((l) => /completed config cfg-\w+ \[zswap\]/.test(l)), other.lines.join('\n')).toBe(true);

    const line = String(done.stdout).split('\n').find((l) => l.startsWith(`${DEMO}\t`));
    expect(line, String(done.stdout)).toBeDefined();
    const dir = line!.split('\t')[3]!;
    const fleet = readJson<RunReport>(path.join(dir, 'report.json'));
    expect(fleet.status).toBe('complete');
    expect(fleet.verdict).toBe(local.verdict);
    expect(fleet.firstBadPatch).toBe(local.firstBadPatch);
    expect(fleet.exitCode).toBe(local.exitCode);
    expect(fleet.patches.map(verdicts)).toEqual(local.patches.map(verdicts));
    // Every format a local run writes, and the worker's artifacts copied from the shared folder.
    for (const f of ['report.md', 'index.html', 'junit.xml', 'kcidb.json', 'reply.txt', 'checks.json', 'series.mbox']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    // The queue's record: the series and its config job done, by the worker that lived.
    const status = (await kharness(['queue', 'status', '--redis', redis.url, '--json'])).json<{ state: string; kind: string; detail: string }[]>();
    expect(status.filter((r) => r.kind === 'config').map((r) => [r.state, r.detail])).toEqual([['completed', local.verdict]]);
    expect(status.filter((r) => r.kind === 'series').map((r) => r.state)).toEqual(['completed']);
    const consoleLog = fleet.patches.find((p) => p.boot?.consoleLog)?.boot?.consoleLog ?? '';
    expect(consoleLog).not.toBe('');
    expect(readFileSync(path.isAbsolute(consoleLog) ? consoleLog : path.join(dir, consoleLog), 'utf8')).toMatch(/Linux version/);
    // An idle worker stops at once on SIGTERM (exit 0).
    other.proc.kill('SIGTERM');
    expect((await other.proc).exitCode).toBe(0);
  }, 3_600_000);

  it('run --queue --retest runs recorded work again, and SIGTERM hands a running job back to the queue', async () => {
    // The same work as above is on record as completed: --retest drops that record and queues it again.
    const submit = startKharness(['run', `${server.url}/linux-mm/${DEMO}/`, ...WORK, '--queue', redis.url, '--retest', '--out', path.join(scratch, 'again')]);
    const w = startWorker('C', redis.url, path.join(scratch, 'results'));
    workers.push(w);
    try {
      const pid = w.proc.pid!;
      await waitFor('worker C booting a guest', 900_000, () => descendantsOf(pid).some((p) => /qemu-system/.test(p.cmdline)));
      w.proc.kill('SIGTERM');
      const ended = await w.proc;
      expect(ended.exitCode, w.lines.join('\n')).toBe(0);
      expect(w.lines.some((l) => /SIGTERM: stopping after the current job/.test(l))).toBe(true);
      // The run stopped (exit 130) and its job went back to waiting, no attempt spent.
      const status = (await kharness(['queue', 'status', '--redis', redis.url, '--json'])).json<{ state: string; kind: string; attempts: number }[]>();
      expect(status.filter((r) => r.kind === 'config').map((r) => [r.state, r.attempts])).toEqual([['waiting', 0]]);
    } finally {
      submit.kill('SIGKILL');
      await submit;
      // The handed-back job is not the next test's business.
      const connection = await openRedis(redis.url);
      const queue = new Queue(QUEUE_NAME, { connection });
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    }
  }, 1_800_000);

  it('bisect --series --queue: each step a job on a real worker, the same first bad patch as the local run', async () => {
    const w = startWorker('D', redis.url, path.join(scratch, 'results'));
    workers.push(w);
    try {
      await waitFor('worker D ready', 60_000, () => w.lines.some((l) => / ready on /.test(l)));
      const r = await kharness(['bisect', '--series', `${server.url}/linux-mm/${DEMO}/`, '--queue', redis.url, '--tests', 'swap-cycle', '--variants', 'default', '--out', path.join(scratch, 'bisect'), '--json']);
      const result = r.json<{ culprit?: { patch?: number }; steps: { patch?: number; outcome: string; commit: string }[] }>();
      expect(r.exitCode, r.stderr.slice(-2000)).toBe(1);
      expect(result.culprit?.patch).toBe(local.firstBadPatch);
      // base, tip, then the middle: every step a job the worker ran on its own tree (real commits)
      expect(result.steps.map((s) => [s.patch, s.outcome])).toEqual([[0, 'good'], [3, 'bad'], [1, 'good'], [2, 'bad']]);
      for (const s of result.steps) expect(s.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(w.lines.filter((l) => /completed bisect-step bisect-\w+ \[zswap\]/.test(l))).toHaveLength(4);
      // and nothing else: the queue was left empty by the test before
      expect(w.lines.some((l) => /active config/.test(l))).toBe(false);
    } finally {
      w.proc.kill('SIGTERM');
      await w.proc;
    }
  }, 1_800_000);
});
