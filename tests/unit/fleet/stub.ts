import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
