import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../common/paths.js';
import type { ConfigJobRunner } from '../fleet/queue.js';

/**
 * The bench's stand-in for kharness run inside `kharness worker` (KHARNESS_FLEET_RUNNER names the
 * compiled file): it keeps one core busy for KHARNESS_BENCH_JOB_MS, as a build would, and returns a
 * real report, so what is measured is the queue and the cores, not a kernel.
 */
const report: unknown = JSON.parse(readFileSync(path.join(projectRoot, 'tests', 'fixtures', 'report', 'regression.json'), 'utf8'));

export const runConfigJob: ConfigJobRunner = async () => {
  const until = Date.now() + Number(process.env.KHARNESS_BENCH_JOB_MS ?? 0);
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  return { exitCode: 1, report, resultsDir: undefined };
};
