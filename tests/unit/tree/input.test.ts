import { describe, expect, it } from 'vitest';
import { startLoreServer } from '../../../src/lore/server.js';
import { loadSeries } from '../../../src/tree/input.js';
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
