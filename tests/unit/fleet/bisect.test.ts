import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchesDir, projectRoot } from '../../../src/common/paths.js';
import type { BisectResult } from '../../../src/bisect/index.js';
import { bisectJobId } from '../../../src/fleet/jobs.js';
import { startLocalRedis, type LocalRedis } from '../../../src/fleet/local-redis.js';
import { startWorkerProcess, work } from './stub.js';

const BIN = path.join(projectRoot, 'bin', 'kharness.js');
const DEMO = path.join(patchesDir, 'zswap-lifetime-demo.mbox');

let redis: LocalRedis;
let marks: string;
beforeAll(async () => {
  redis = await startLocalRedis();
  marks = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-bisect-'));
});
afterAll(async () => {
  await redis.stop();
  await rm(marks, { recursive: true, force: true });
});

describe('kharness bisect --series --queue', () => {
  it('runs each step as a job on a worker, retries a step our side broke, and names the first bad patch', async () => {
    const w = startWorkerProcess(redis.url, { KHARNESS_TEST_MARKS: marks, KHARNESS_TEST_FIRST_BAD: '2', KHARNESS_TEST_ERROR_ONCE: '1' });
    try {
      await w.waitFor(/ready on/);
      // KHARNESS_FLEET_BACKOFF_MS: the retry after the stub's error comes in 0.1 s, not 30.
      const r = await execa('node', [BIN, 'bisect', '--series', DEMO, '--queue', redis.url, '--tests', 'swap-cycle', '--json'], { reject: false, env: { KHARNESS_FLEET_BACKOFF_MS: '100' } });
      expect(r.exitCode, r.stderr).toBe(1);
      const result = JSON.parse(String(r.stdout)) as BisectResult;
      expect(result.culprit?.patch).toBe(2);
      // The search asked for the base, the tip, then the middle: each step's commit is its worker's.
      expect(result.steps.map((s) => [s.patch, s.outcome, s.commit])).toEqual([
        [0, 'good', 'c0ffee0'],
        [3, 'bad', 'c0ffee3'],
        [1, 'good', 'c0ffee1'],
        [2, 'bad', 'c0ffee2'],
      ]);
      expect(result.culprit?.commit).toBe('c0ffee2');
      const files = await readdir(marks);
      // Patch 1 broke on our side once and ran again: two attempts; the others one each.
      expect(files.filter((f) => f.endsWith('.1')).length).toBe(4);
      expect(files.filter((f) => f.endsWith('.2')).length).toBe(1);
      expect(w.lines.some((l) => /will retry bisect-step bisect-\w+ \[zswap\] patch 1 .*the guest could not start/.test(l)), w.lines.join('\n')).toBe(true);
    } finally {
      w.proc.kill('SIGTERM');
      await w.proc;
    }
  });

  it('gives a step the same id for the same work up to its patch, whatever follows it', () => {
    const bad = { stage: 'any' as const };
    expect(bisectJobId(work(['a', 'b', 'c']), 'zswap', 2, bad)).toBe(bisectJobId(work(['a', 'b', 'x']), 'zswap', 2, bad));
    expect(bisectJobId(work(['a', 'b', 'c']), 'zswap', 2, bad)).not.toBe(bisectJobId(work(['a', 'y', 'c']), 'zswap', 2, bad));
    expect(bisectJobId(work(['a', 'b']), 'zswap', 1, bad)).not.toBe(bisectJobId(work(['a', 'b']), 'zswap', 1, { stage: 'model' }));
  });
});
