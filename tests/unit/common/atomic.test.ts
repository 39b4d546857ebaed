import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishFileAtomic, uniqueTmpPath, writeFileAtomic } from '../../../src/common/atomic.js';
import { bundleForChild, childScript, startNode, tempDir, killStarted } from './child-process-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('atomic');
});

/** A child that rewrites FILE N times with 1 MiB of its own letter, as fast as it can. */
const WRITER = `
const [bundle, file, letter, n] = process.argv.slice(2);
const { writeFileAtomic } = require(bundle);
(async () => {
  for (let i = 0; i < Number(n); i++) await writeFileAtomic(file, letter.repeat(1 << 20));
  console.log('done');
})();
`;

afterAll(killStarted);

describe('writeFileAtomic', () => {
  it('creates missing folders and leaves no temporary file', async () => {
    const file = path.join(dir, 'a', 'b', 'report.md');
    await writeFileAtomic(file, 'hello\n');
    expect(await readFile(file, 'utf8')).toBe('hello\n');
    expect(await readdir(path.dirname(file))).toEqual(['report.md']);
  });

  it('two processes rewriting one file while a reader reads it: every read is one whole version', async () => {
    const file = path.join(dir, 'contended.txt');
    const bundle = await bundleForChild('src/common/atomic.ts', dir);
    const script = await childScript(dir, 'writer.cjs', WRITER);
    await writeFileAtomic(file, 'x'.repeat(1 << 20));
    const writers = [startNode(script, [bundle, file, 'a', '40']), startNode(script, [bundle, file, 'b', '40'])];
    let reads = 0;
    let torn = 0;
    const running = Promise.all(writers.map((w) => w.exited));
    let finished = false;
    void running.then(() => (finished = true));
    while (!finished) {
      const text = await readFile(file, 'utf8');
      reads++;
      if (text.length !== 1 << 20 || new Set(text).size !== 1) torn++;
    }
    expect(await running).toEqual([0, 0]);
    expect(reads).toBeGreaterThan(5);
    expect(torn).toBe(0);
    const final = await readFile(file, 'utf8');
    expect(['a', 'b']).toContain(final[0]);
    expect((await readdir(dir)).filter((f) => f.startsWith('contended.txt'))).toEqual(['contended.txt']);
  });
});

describe('publishFileAtomic', () => {
  it('moves a finished file into place, replacing the old one, and uses unique names', async () => {
    const sub = path.join(dir, 'pub');
    await mkdir(sub);
    const final = path.join(sub, 'zswap-stress');
    await writeFile(final, 'old');
    const tmp = uniqueTmpPath(final);
    expect(uniqueTmpPath(final)).not.toBe(tmp);
    expect(path.dirname(tmp)).toBe(sub);
    await writeFile(tmp, 'new');
    await publishFileAtomic(tmp, final);
    expect(await readFile(final, 'utf8')).toBe('new');
    expect(await readdir(sub)).toEqual(['zswap-stress']);
  });
});
