import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, type ExitCodeValue } from '../common/errors.js';
import { projectRoot } from '../common/paths.js';
import { diffHash } from '../lore/assemble.js';
import { splitMbox } from '../lore/mbox.js';
import type { Series } from '../lore/index.js';
import type { RunOptions, RunResult } from '../run/pipeline.js';
import { loadSeries, type LoadSeriesOptions, type LoadedSeries } from '../tree/input.js';
import { seriesJobId, type SeriesLabel, type WorkKey } from './jobs.js';
import { openRedis, enqueueSeries, removeIfFailed, removeSeries, waitForSeries } from './queue.js';
import { writeSeriesResult } from './results.js';

export interface QueueRunOptions extends RunOptions {
  /** --queue redis://…: the fleet's Redis */
  queue: string;
  /** --results DIR: the shared folder the workers write artifacts to */
  results?: string;
  /** a progress line (stderr) */
  note?: (line: string) => void;
}

/** What decides the result, hashed into the job ids: a RESEND or a retitled series is the same work. */
export function workKey(series: Series, mbox: Buffer, opts: Pick<RunOptions, 'tree' | 'base' | 'profile' | 'tests' | 'variants' | 'runs' | 'trace' | 'testBase' | 'sandbox'>): WorkKey {
  // series.mbox has one message per patch, in order: each diff hashed as `git patch-id` would.
  const diffs = splitMbox(mbox).map((m) => diffHash(m.toString('utf8')));
  return {
    tree: opts.tree ?? '',
    base: opts.base ?? series.baseCommit ?? '',
    patches: series.patches.map((p, i) => diffs[i] ?? p.messageId),
    profile: opts.profile,
    tests: [...opts.tests],
    variants: [...opts.variants],
    runs: opts.runs,
    trace: opts.trace,
    testBase: opts.testBase !== false,
    sandbox: opts.sandbox !== false,
  };
}

/** A series read and checked by a submitter, as its jobs carry it. */
export interface QueuedSeries {
  loaded: LoadedSeries;
  label: SeriesLabel;
  work: WorkKey;
  /** where a worker reads the series: the mbox itself when the input is a file here, else the URL or message-id */
  source: { input: string; mbox?: string };
}

/** Reads and checks the series (bad input stops here, before anything is queued) and gives its jobs' shared parts. */
export async function seriesForQueue(input: string, load: LoadSeriesOptions, workOpts: Parameters<typeof workKey>[2]): Promise<QueuedSeries> {
  const loaded = await loadSeries(input, load);
  const { series } = loaded;
  const seriesMbox = await readFile(loaded.mboxPath);
  // A file the workers cannot see travels with the job; a URL or message-id they fetch themselves.
  const mbox = existsSync(input) ? seriesMbox.toString('utf8') : undefined;
  return {
    loaded,
    label: { subject: series.subject, version: series.version, slug: series.slug },
    work: workKey(series, seriesMbox, workOpts),
    source: mbox === undefined ? { input } : { input: `${series.slug}.mbox`, mbox },
  };
}

/**
 * `kharness run … --queue`: the series is fetched and checked here (bad input stops before
 * anything is queued), enqueued as a flow, and its result written as a local run's reports.
 */
export async function submitSeries(opts: QueueRunOptions): Promise<RunResult> {
  const note = opts.note ?? ((line: string) => process.stderr.write(`kharness: ${line}\n`));
  const { loaded, label, work, source } = await seriesForQueue(opts.input, { version: opts.version, lore: opts.lore, cache: opts.cache, maxPatches: opts.maxPatches, keyrings: opts.keyrings, requireAttestation: opts.requireAttestation }, opts);
  const { series } = loaded;
  const connection = await openRedis(opts.queue);
  try {
    const enqueue = async (): Promise<string> =>
      enqueueSeries(connection, {
        series: label,
        work,
        configs: opts.configs,
        job: { ...source, version: series.version, lore: opts.lore, base: opts.base, reporter: opts.reporter, retest: opts.retest, retestBase: opts.retestBase, retestKept: opts.retestKept },
      });
    // --retest asks for a new run: a result on record for the same work is dropped first.
    if (opts.retest || opts.retestBase || opts.retestKept) {
      const finished = await removeSeries(connection, seriesJobId(work, opts.configs), ['completed', 'failed']);
      if (finished) note(`--retest: the result on record for this work was dropped; running it again`);
    }
    let id = await enqueue();
    // Work that failed before (its attempts spent) is run again, not answered with the old failure.
    if (await removeIfFailed(connection, id)) id = await enqueue();
    note(`queued ${id}: v${series.version} ${series.subject} (${opts.configs.join(', ')}); waiting for a worker`);
    const result = await waitForSeries(connection, id);
    const reportDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', series.slug));
    const report = await writeSeriesResult(result, reportDir, opts.results);
    await mkdir(reportDir, { recursive: true });
    await copyFile(loaded.mboxPath, path.join(reportDir, 'series.mbox'));
    await copyFile(path.join(loaded.dir, 'series.json'), path.join(reportDir, 'series.json'));
    note(`done by ${[...new Set(result.configs.map((c) => c.worker ?? '?'))].join(', ')}`);
    return { report, reportDir, exitCode: (report.exitCode as ExitCodeValue) ?? ExitCode.Infrastructure };
  } finally {
    connection.disconnect();
  }
}
