import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InfraError, InputError, errorMessage } from '../common/errors.js';
import { SeriesSchema, type Series } from './schema.js';

export const SERIES_JSON = 'series.json';
export const SERIES_MBOX = 'series.mbox';

/**
 * Writes DIR/series.mbox and DIR/series.json. Both go to temporary files first and are renamed
 * into place, json last: a reader that finds series.json also finds the mbox it describes, and
 * a crash leaves either the old pair or nothing, never half a file.
 */
export async function writeSeries(dir: string, result: { series: Series; mbox: string }): Promise<void> {
  const series = SeriesSchema.parse(result.series);
  const tag = `.tmp-${process.pid}-${Date.now()}`;
  const mboxPath = path.join(dir, SERIES_MBOX);
  const jsonPath = path.join(dir, SERIES_JSON);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(mboxPath + tag, result.mbox, 'utf8');
    await writeFile(jsonPath + tag, `${JSON.stringify(series, null, 2)}\n`, 'utf8');
    await rename(mboxPath + tag, mboxPath);
    await rename(jsonPath + tag, jsonPath);
  } catch (err) {
    await rm(mboxPath + tag, { force: true }).catch(() => undefined);
    await rm(jsonPath + tag, { force: true }).catch(() => undefined);
    throw new InfraError(`cannot write the series to ${dir}: ${errorMessage(err)}`);
  }
}

/** Reads back what writeSeries wrote; anything missing or malformed is the user's to fix. */
export async function readSeries(dir: string): Promise<{ series: Series; mboxPath: string }> {
  const jsonPath = path.join(dir, SERIES_JSON);
  const mboxPath = path.join(dir, SERIES_MBOX);
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new InputError(`${dir} holds no ${SERIES_JSON}`, `run "kharness fetch <lore URL | message-id | mbox> -o ${dir}" first`);
    }
    throw new InputError(`cannot read ${jsonPath}: ${errorMessage(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${jsonPath} is not valid JSON: ${errorMessage(err)}`, 'fetch the series again');
  }
  const parsed = SeriesSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `${first.path.join('.') || '(top)'}: ${first.message}` : parsed.error.message;
    throw new InputError(`${jsonPath} is not a kharness series (${where})`, 'fetch the series again');
  }
  try {
    if (!(await stat(mboxPath)).isFile()) throw new Error('not a file');
  } catch {
    throw new InputError(`${dir} has ${SERIES_JSON} but no ${SERIES_MBOX}`, 'fetch the series again');
  }
  return { series: parsed.data, mboxPath };
}
