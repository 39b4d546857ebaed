import { existsSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../common/errors.js';
import { attestOptions, requireAttestation } from '../lore/attest-series.js';
export { KEYRING_HELP, REQUIRE_ATTESTATION_HELP, collect } from '../lore/attest-series.js';
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
/** The most patches a series may have unless --max-patches says otherwise: mm's longest series stay well under it. */
export const DEFAULT_MAX_PATCHES = 200;

export const MAX_PATCHES_HELP = `refuse a series of more than N patches (default ${DEFAULT_MAX_PATCHES}): each is a build and a boot`;

export interface LoadSeriesOptions {
  version?: number;
  lore?: string;
  outDir?: string;
  cache?: boolean;
  maxPatches?: number;
  /** --keyring: patatt keyring folders searched before patatt's own */
  keyrings?: string[];
  /** --require-attestation: refuse (exit 2) a series with a patch not signed by a good signature */
  requireAttestation?: boolean;
}

export async function loadSeries(input: string, opts: LoadSeriesOptions = {}): Promise<LoadedSeries> {
  const loaded = await loadAnySeries(input, opts);
  if (opts.requireAttestation) requireAttestation(loaded.series);
  const max = opts.maxPatches ?? DEFAULT_MAX_PATCHES;
  if (loaded.series.patches.length > max) {
    throw new InputError(`the series has ${loaded.series.patches.length} patches, more than the ${max} allowed`, `--max-patches ${loaded.series.patches.length} tests it all (a build and a boot per patch)`);
  }
  return loaded;
}

async function loadAnySeries(input: string, opts: LoadSeriesOptions): Promise<LoadedSeries> {
  if (existsSync(input) && statSync(input).isDirectory() && existsSync(path.join(input, SERIES_JSON))) {
    const { series, mboxPath } = await readSeries(input);
    return { series, mboxPath, dir: input };
  }
  const fetched = await fetchSeries(input, { version: opts.version, lore: opts.lore, cache: opts.cache, attest: await attestOptions({ keyrings: opts.keyrings }) });
  const dir = opts.outDir ?? (await mkdtemp(path.join(tmpdir(), 'kharness-series-')));
  await writeSeries(dir, fetched);
  const { series, mboxPath } = await readSeries(dir);
  return { series, mboxPath, dir };
}
