import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import { configJobId, seriesJobId } from '../../../src/fleet/jobs.js';
import { connect, enqueueSeries, formatStatus, queueStatus, removeIfFailed, startWorker, waitForSeries, type ConfigJobRunner } from '../../../src/fleet/queue.js';
import { startLocalRedis, type LocalRedis } from '../../../src/fleet/local-redis.js';
import { SERIES, jobFields, sampleReport, work } from './stub.js';

let redis: LocalRedis;
let conn: Redis;
beforeAll(async () => {
  redis = await startLocalRedis();
  conn = connect(redis.url);
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
});

const FAST = { lockDurationMs: 2000, stalledIntervalMs: 1000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withWorkers<T>(runners: ConfigJobRunner[], fn: (logs: string[][]) => Promise<T>): Promise<T> {
  const logs = runners.map(() => [] as string[]);
  const workers: Worker[] = runners.map((r, i) => startWorker(conn, r, { ...FAST, log: (l) => logs[i]!.push(l) }));
  try {
    return await fn(logs);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

describe('job ids', () => {
  it('are the same for the same work and differ when a patch, the config or the profile changes', () => {
    expect(configJobId(work(), 'zswap')).toBe(configJobId({ ...work() }, 'zswap'));
    expect(configJobId(work(['aaa', 'bbc']), 'zswap')).not.toBe(configJobId(work(), 'zswap'));
    expect(configJobId(work(), 'zswap-debug')).not.toBe(configJobId(work(), 'zswap'));
    expect(configJobId({ ...work(), profile: 'soak' }, 'zswap')).not.toBe(configJobId(work(), 'zswap'));
    expect(seriesJobId(work(), ['zswap'])).toBe(seriesJobId(work(), ['zswap']));
    expect(seriesJobId(work(), ['zswap', 'zswap-debug'])).not.toBe(seriesJobId(work(), ['zswap']));
    expect(configJobId(work(), 'zswap')).not.toContain(':');
  });
});

describe('a series as a flow', () => {
  it('runs one job per config and gives their reports back in order; the same work again is not run again', async () => {
    const ran: string[] = [];
    const runner: ConfigJobRunner = async (data) => {
      ran.push(data.config);
      return { exitCode: 1, report: sampleReport(), resultsDir: `r-${data.config}` };
    };
    const w = work(['flow-1']);
    await withWorkers([runner], async (logs) => {
      const id = await enqueueSeries(conn, { series: SERIES, work: w, configs: ['zswap', 'zswap-debug'], job: jobFields() });
      const result = await waitForSeries(conn, id, 20_000);
      expect(result.configs.map((c) => c.config)).toEqual(['zswap', 'zswap-debug']);
      expect(result.configs.map((c) => c.report.verdict)).toEqual(['fail', 'fail']);
      expect(result.configs[1]!.resultsDir).toBe('r-zswap-debug');
      const again = await enqueueSeries(conn, { series: { ...SERIES, version: 3 }, work: w, configs: ['zswap', 'zswap-debug'], job: jobFields() });
      expect(again).toBe(id);
      expect((await waitForSeries(conn, again, 5000)).configs).toHaveLength(2);
      expect(ran.sort()).toEqual(['zswap', 'zswap-debug']);
      // Another series asking for one of those configs and a new one: the finished config is reused.
      const wider = await enqueueSeries(conn, { series: SERIES, work: w, configs: ['zswap', 'zswap-debug', 'zswap-kasan'], job: jobFields() });
      expect((await waitForSeries(conn, wider, 20_000)).configs.map((c) => c.config)).toEqual(['zswap', 'zswap-debug', 'zswap-kasan']);
      expect(ran.sort()).toEqual(['zswap', 'zswap-debug', 'zswap-kasan']);
      expect(logs[0]!.some((l) => l.startsWith('active config') && l.includes('[zswap]'))).toBe(true);
      expect(logs[0]!.some((l) => l.startsWith('completed config') && l.includes('fail (exit 1)'))).toBe(true);
    });
  });

  it('shares four jobs between two workers', async () => {
    const by: number[] = [];
    const slow = (n: number): ConfigJobRunner => async () => {
      by.push(n);
      await sleep(300);
      return { exitCode: 0, report: sampleReport() };
    };
    await withWorkers([slow(0), slow(1)], async () => {
      const ids = await Promise.all([1, 2, 3, 4].map((k) => enqueueSeries(conn, { series: SERIES, work: work([`share-${k}`]), configs: ['zswap'], job: jobFields() })));
      await Promise.all(ids.map((id) => waitForSeries(conn, id, 20_000)));
    });
    expect(by).toHaveLength(4);
    expect(by.filter((n) => n === 0).length).toBeGreaterThan(0);
    expect(by.filter((n) => n === 1).length).toBeGreaterThan(0);
  });

  it('retries an infrastructure failure (exit 3) and keeps a patch fail (exit 1) final', async () => {
    const attempts: Record<string, number> = {};
    const runner: ConfigJobRunner = async (data) => {
      const n = (attempts[data.work.patches[0]!] = (attempts[data.work.patches[0]!] ?? 0) + 1);
      if (data.work.patches[0] === 'infra' && n < 2) return { exitCode: 3, report: { summary: 'QEMU went away' } };
      return { exitCode: data.work.patches[0] === 'infra' ? 0 : 1, report: sampleReport() };
    };
    await withWorkers([runner], async (logs) => {
      const infra = await enqueueSeries(conn, { series: SERIES, work: work(['infra']), configs: ['zswap'], job: jobFields(), backoffMs: 50 });
      const fail = await enqueueSeries(conn, { series: SERIES, work: work(['fail']), configs: ['zswap'], job: jobFields(), backoffMs: 50 });
      expect((await waitForSeries(conn, infra, 20_000)).configs[0]!.exitCode).toBe(0);
      expect((await waitForSeries(conn, fail, 20_000)).configs[0]!.exitCode).toBe(1);
      expect(logs[0]!.some((l) => l.startsWith('will retry') && l.includes('QEMU went away'))).toBe(true);
    });
    expect(attempts).toEqual({ infra: 2, fail: 1 });
  });

  it('a run cut short (exit 130, the worker was stopped) goes back to waiting without spending an attempt', async () => {
    const seen: number[] = [];
    const runner: ConfigJobRunner = async (_data, ctx) => {
      seen.push(ctx.attempt);
      return seen.length === 1 ? { exitCode: 130, report: { summary: 'interrupted' } } : { exitCode: 0, report: sampleReport() };
    };
    await withWorkers([runner], async (logs) => {
      const id = await enqueueSeries(conn, { series: SERIES, work: work(['handed-back']), configs: ['zswap'], job: jobFields(), attempts: 1 });
      expect((await waitForSeries(conn, id, 20_000)).configs[0]!.exitCode).toBe(0);
      expect(logs[0]!.filter((l) => l.startsWith('failed'))).toEqual([]);
    });
    expect(seen).toEqual([1, 1]);
  });

  it('fails a series whose input is bad without retrying it, and runs it again once removed', async () => {
    let calls = 0;
    const runner: ConfigJobRunner = async () => {
      calls++;
      return { exitCode: 2, report: { summary: 'unknown message-id' } };
    };
    await withWorkers([runner], async () => {
      const id = await enqueueSeries(conn, { series: SERIES, work: work(['bad']), configs: ['zswap'], job: jobFields(), backoffMs: 50 });
      await expect(waitForSeries(conn, id, 20_000)).rejects.toThrow(/unknown message-id/);
      expect(calls).toBe(1);
      expect(await removeIfFailed(conn, id)).toBe(true);
      await enqueueSeries(conn, { series: SERIES, work: work(['bad']), configs: ['zswap'], job: jobFields(), backoffMs: 50 });
      await expect(waitForSeries(conn, id, 20_000)).rejects.toThrow(/unknown message-id/);
      expect(calls).toBe(2);
    });
  });

  it('queue status lists the jobs with their series, config and state', async () => {
    const id = await enqueueSeries(conn, { series: { ...SERIES, subject: 'mm: zswap: waiting one' }, work: work(['status']), configs: ['zswap'], job: jobFields() });
    const rows = await queueStatus(conn);
    const waiting = rows.find((r) => r.id === configJobId(work(['status']), 'zswap'));
    expect(waiting).toMatchObject({ state: 'waiting', kind: 'config', config: 'zswap', series: { subject: 'mm: zswap: waiting one', version: 2 } });
    expect(rows.find((r) => r.id === id)?.state).toBe('waiting-children');
    expect(rows.some((r) => r.state === 'completed' && r.detail === 'fail')).toBe(true);
    expect(rows.some((r) => r.state === 'failed' && r.detail.includes('unknown message-id'))).toBe(true);
    const text = formatStatus(rows);
    expect(text.split('\n')[0]).toMatch(/^waiting \d+ {2}active 0 {2}completed \d+ {2}failed [1-9]/);
    expect(text).toContain('waiting\tconfig\tzswap\tv2\tmm: zswap: waiting one');
  });
});
