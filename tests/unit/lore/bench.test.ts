import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realThreads } from '../../../src/lore/bench.js';
import { tempDir } from './helpers.js';

describe('the lore bench’s inputs', () => {
  it('benches every real fixture thread, the largest (most messages) first', async () => {
    const threads = await realThreads();
    expect(threads.map((t) => [t.name, t.messages])).toEqual([
      ['zswap-global-lru.mbox', 15],
      ['zswap-writeback-race.mbox', 14],
      ['zswap-invalidate-old-entry.mbox', 13],
      ['zswap-swapoff.mbox', 9],
      ['zswap-lock-optimize.mbox', 8],
    ]);
  });

  it('counts mboxrd separators only, not a quoted "From " line in a body', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await mkdir(dir, { recursive: true });
      const msg = (n: number) => `From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: m${n}\n\n>From the start\n\n`;
      await writeFile(path.join(dir, 'two.mbox'), msg(1) + msg(2));
      await writeFile(path.join(dir, 'three.mbox'), msg(1) + msg(2) + msg(3));
      await writeFile(path.join(dir, 'notes.txt'), msg(1));
      expect((await realThreads(dir)).map((t) => [t.name, t.messages])).toEqual([
        ['three.mbox', 3],
        ['two.mbox', 2],
      ]);
      expect(await realThreads(path.join(dir, 'absent'))).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});
