import { existsSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fetchSeries, readSeries, writeSeries, SERIES_JSON, type Series } from '../lore/index.js';

export interface LoadedSeries {
  series: Series;
  mboxPath: string;
  /** the folder holding series.json and series.mbox */
  dir: string;
}

/**
 * A series from what the user typed: a folder written by `kharness fetch`, or anything fetch
 * takes (lore URL, message-id, mbox file, `-`), fetched and written to OUTDIR (or a temp dir).
 */
export async function loadSeries(input: string, opts: { version?: number; lore?: string; outDir?: string; cache?: boolean } = {}): Promise<LoadedSeries> {
  if (existsSync(input) && statSync(input).isDirectory() && existsSync(path.join(input, SERIES_JSON))) {
    const { series, mboxPath } = await readSeries(input);
    return { series, mboxPath, dir: input };
  }
  const fetched = await fetchSeries(input, { version: opts.version, lore: opts.lore, cache: opts.cache });
  const dir = opts.outDir ?? (await mkdtemp(path.join(tmpdir(), 'kharness-series-')));
  await writeSeries(dir, fetched);
  const { series, mboxPath } = await readSeries(dir);
  return { series, mboxPath, dir };
}
