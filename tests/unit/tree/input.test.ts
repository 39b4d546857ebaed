import { describe, expect, it } from 'vitest';
import { startLoreServer } from '../../../src/lore/server.js';
import path from 'node:path';
import { InputError } from '../../../src/common/errors.js';
import { patchesDir } from '../../../src/common/paths.js';
import { DEFAULT_MAX_PATCHES, loadSeries } from '../../../src/tree/input.js';
import { SWAPOFF, THREADS, useTempCache } from '../lore/helpers.js';

// `apply`, `run` and `bisect --series` load a series through loadSeries: its --no-cache reaches
// the lore client, so a thread that gained replies minutes ago is asked for again.
describe('loadSeries and the lore thread cache', () => {
  useTempCache();

  it('asks the server once for a thread fetched twice, and again with cache: false', async () => {
    const lore = await startLoreServer(THREADS, 0);
    try {
      const url = `${lore.url}/linux-mm/${SWAPOFF.v2cover}/`;
      const first = await loadSeries(url);
      const second = await loadSeries(url);
      expect(lore.requests).toBe(1);
      expect(second.series.patches.map((p) => p.messageId)).toEqual(first.series.patches.map((p) => p.messageId));
      await loadSeries(url, { cache: false });
      expect(lore.requests).toBe(2);
    } finally {
      await lore.close();
    }
  });
});

describe('--max-patches', () => {
  useTempCache();

  it('refuses a series longer than the cap with exit 2 and the count, and takes one at the cap', async () => {
    const mbox = path.join(patchesDir, 'zswap-lifetime-demo.mbox');
    const all = await loadSeries(mbox);
    const n = all.series.patches.length;
    expect(n).toBeGreaterThan(1);
    const refused = loadSeries(mbox, { maxPatches: n - 1 });
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(loadSeries(mbox, { maxPatches: n - 1 })).rejects.toThrow(`the series has ${n} patches, more than the ${n - 1} allowed`);
    expect((await loadSeries(mbox, { maxPatches: n })).series.patches).toHaveLength(n);
    expect(DEFAULT_MAX_PATCHES).toBeGreaterThanOrEqual(100);
  });
});
