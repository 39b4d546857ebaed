import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { projectRoot } from '../../../src/common/paths.js';
import type { ConfigJobData } from '../../../src/fleet/jobs.js';
import type { WorkKey } from '../../../src/fleet/jobs.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report/regression.json');

/** A real report (the regression fixture), as a worker's run would return it. */
export function sampleReport(): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
}

export function work(patches = ['aaa', 'bbb']): WorkKey {
  return { tree: 'debian-6.12', base: 'v6.12', patches, profile: 'quick', tests: ['swap-cycle'], variants: ['default'], runs: 1, trace: true, testBase: true, sandbox: true };
}

export const SERIES = { subject: 'mm: zswap: trim the swap free path', version: 2, slug: 'v2-mm-zswap-trim' };

export function jobFields(): Omit<ConfigJobData, 'kind' | 'series' | 'work' | 'config'> {
  return { input: 'https://lore.example/linux-mm/123@example/' };
}

/** `kharness worker` as a real child process (dist/), with the stub runner in place of kharness run. */
export interface WorkerProcess {
  proc: ResultPromise;
  lines: string[];
  waitFor: (re: RegExp, ms?: number) => Promise<string>;
}

const STUB_RUNNER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'stub-runner.mjs');

export function startWorkerProcess(redisUrl: string, env: Record<string, string>): WorkerProcess {
  const proc = execa('node', [path.join(projectRoot, 'bin', 'kharness.js'), 'worker', '--redis', redisUrl, '--lock-duration', '1000', '--stalled-interval', '500'], {
    env: { KHARNESS_FLEET_RUNNER: STUB_RUNNER, ...env },
    reject: false,
    forceKillAfterDelay: false,
  });
  const lines: string[] = [];
  proc.stdout?.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  const waitFor = async (re: RegExp, ms = 15_000): Promise<string> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no line matching ${re} in:\n${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { proc, lines, waitFor };
}
