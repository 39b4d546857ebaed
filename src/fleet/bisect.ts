import { errorMessage } from '../common/errors.js';
import { bisectSeries, type BadWhen, type BisectResult, type BisectStep } from '../bisect/index.js';
import type { GuestTestName } from '../guest/index.js';
import { openRedis, runBisectStepOnFleet } from './queue.js';
import { seriesForQueue } from './submit.js';

export interface FleetBisectOptions {
  input: string;
  queue: string;
  lore?: string;
  cache?: false;
  maxPatches?: number;
  keyrings?: string[];
  requireAttestation?: boolean;
  tree?: string;
  base?: string;
  config: string;
  tests: GuestTestName[];
  variants: string[];
  profile: string;
  runs: number;
  trace: boolean;
  sandbox: boolean;
  badWhen: BadWhen;
  onProgress: (line: string) => void;
}

/** The first retry's delay: BullMQ's exponential backoff from 30 s (KHARNESS_FLEET_BACKOFF_MS: tests). */
function retryDelayMs(): number | undefined {
  const ms = Number(process.env.KHARNESS_FLEET_BACKOFF_MS);
  return Number.isInteger(ms) && ms > 0 ? ms : undefined;
}

/**
 * `kharness bisect --series … --queue`: the search runs here, each step it asks for is a
 * `bisect-step` job on the fleet (the series up to patch k, built and tested by a worker). The
 * series is read and checked here first: bad input stops before anything is queued. A step whose
 * job failed for good is an `error` step, and the bisect says it could not be evaluated.
 */
export async function bisectSeriesOnFleet(o: FleetBisectOptions): Promise<{ result: BisectResult; slug: string }> {
  const { loaded, label, work, source } = await seriesForQueue(o.input, { lore: o.lore, cache: o.cache, maxPatches: o.maxPatches, keyrings: o.keyrings, requireAttestation: o.requireAttestation }, { ...o, testBase: true });
  const { series } = loaded;
  // Each worker applies the series itself: a step's commit is the one its worker made.
  const commits = [{ commit: o.base ?? series.baseCommit ?? 'base', subject: 'base' }, ...series.patches.map((p, i) => ({ commit: `patch-${i + 1}`, subject: p.subject }))];
  const connection = await openRedis(o.queue);
  try {
    const evaluate = async (_commit: string, subject: string, _previous: string | undefined, patch: number): Promise<BisectStep> => {
      const which = patch === 0 ? 'the base' : `patch ${patch}`;
      o.onProgress(`queued ${which}; waiting for a worker`);
      const t0 = Date.now();
      try {
        const { worker, resultsDir, ...step } = await runBisectStepOnFleet(connection, {
          kind: 'bisect-step',
          series: label,
          work,
          config: o.config,
          patch,
          badWhen: o.badWhen,
          ...source,
          lore: o.lore,
          base: o.base,
        }, { backoffMs: retryDelayMs() });
        commits[patch]!.commit = step.commit;
        o.onProgress(`${which}: ${step.outcome} on ${worker ?? '?'}${resultsDir ? ` (files: ${resultsDir})` : ''}`);
        return { ...step, subject: patch === 0 ? step.subject : subject };
      } catch (err) {
        return { commit: commits[patch]!.commit, subject, patch, outcome: 'error', runs: ['error'], reason: errorMessage(err), evidence: [], durationMs: Date.now() - t0 };
      }
    };
    return { result: await bisectSeries(commits, { badWhen: o.badWhen }, evaluate), slug: series.slug };
  } finally {
    connection.disconnect();
  }
}
