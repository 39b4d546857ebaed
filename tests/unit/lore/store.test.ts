import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { readSeries, writeSeries } from '../../../src/lore/store.js';
import { fixture, tempDir } from './helpers.js';

describe('writeSeries / readSeries', () => {
  it('round-trips series.json and leaves only the two files', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const result = await fetchSeries(fixture('zswap-swapoff'));
      const out = path.join(dir, 'nested', 'out');
      await writeSeries(out, result);
      expect((await readdir(out)).sort()).toEqual(['series.json', 'series.mbox']);
      const back = await readSeries(out);
      expect(back.series).toEqual(result.series);
      expect(back.mboxPath).toBe(path.join(out, 'series.mbox'));
      expect(await readFile(back.mboxPath, 'utf8')).toBe(result.mbox);
    } finally {
      await cleanup();
    }
  });

  it('replaces an earlier fetch in place', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeSeries(dir, await fetchSeries(fixture('zswap-swapoff'), { version: 1 }));
      await writeSeries(dir, await fetchSeries(fixture('zswap-swapoff')));
      expect((await readSeries(dir)).series.version).toBe(2);
      expect((await readdir(dir)).sort()).toEqual(['series.json', 'series.mbox']);
    } finally {
      await cleanup();
    }
  });

  it('calls a folder without series.json bad input, with a hint', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const err = await readSeries(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toBe(`${dir} holds no series.json`);
      expect((err as InputError).hint).toMatch(/kharness fetch/);
      await expect(readSeries(path.join(dir, 'absent'))).rejects.toBeInstanceOf(InputError);
    } finally {
      await cleanup();
    }
  });

  it('rejects malformed or foreign series.json, and a missing mbox', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, 'series.json'), '{ not json');
      await expect(readSeries(dir)).rejects.toThrow(/is not valid JSON/);
      await writeFile(path.join(dir, 'series.json'), JSON.stringify({ schemaVersion: 1, version: 'two' }));
      await expect(readSeries(dir)).rejects.toThrow(/is not a kharness series \(version: Expected number, received string\)/);
      const good = await fetchSeries(fixture('naked-cover'));
      await writeFile(path.join(dir, 'series.json'), JSON.stringify(good.series));
      await expect(readSeries(dir)).rejects.toThrow(/has series\.json but no series\.mbox/);
      await mkdir(path.join(dir, 'series.mbox'));
      await expect(readSeries(dir)).rejects.toBeInstanceOf(InputError);
    } finally {
      await cleanup();
    }
  });
});
