import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTreePath } from '../../../src/common/paths.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { writeSeries } from '../../../src/lore/store.js';
import { fixture, tempDir } from './helpers.js';

/**
 * The real proof that series.mbox is "ready for git am": apply it with git am on mm/zswap.c as
 * the Debian 6.12 tree has it, and read the trailers back from the commits. Only mm/zswap.c is
 * copied (the fixtures touch nothing else), so no kernel checkout is needed.
 */
const tree = defaultTreePath();
const haveTree = existsSync(path.join(tree, '.git')) || existsSync(path.join(tree, 'HEAD'));

const env = {
  GIT_AUTHOR_NAME: 'kharness test',
  GIT_AUTHOR_EMAIL: 'test@kharness.invalid',
  GIT_COMMITTER_NAME: 'kharness test',
  GIT_COMMITTER_EMAIL: 'test@kharness.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

let zswapC = '';
let scratch: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  scratch = await tempDir('kh-lore-am-');
  if (haveTree) zswapC = (await execa('git', ['-C', tree, 'show', 'HEAD:mm/zswap.c'], { stripFinalNewline: false })).stdout;
});
afterAll(async () => {
  await scratch.cleanup();
});

async function applySeries(name: string, version?: number): Promise<{ repo: string; expected: string[][] }> {
  const result = await fetchSeries(fixture(name), { version });
  const out = path.join(scratch.dir, `${name}-v${version ?? 'n'}`);
  await writeSeries(out, result);
  const repo = path.join(out, 'repo');
  await mkdir(path.join(repo, 'mm'), { recursive: true });
  await writeFile(path.join(repo, 'mm', 'zswap.c'), zswapC);
  const git = (args: string[]) => execa('git', args, { cwd: repo, env });
  await git(['init', '-q']);
  await git(['add', '.']);
  await git(['commit', '-q', '-m', 'base']);
  await git(['am', '-q', path.join(out, 'series.mbox')]);
  return { repo, expected: result.series.patches.map((p) => p.trailers.map((t) => `${t.name}: ${t.value}`)) };
}

async function committedTrailers(repo: string, count: number): Promise<string[][]> {
  const { stdout } = await execa('git', ['log', `-${count}`, '--reverse', '--format=%(trailers:unfold,only)%x00'], { cwd: repo, env });
  return stdout
    .split('\0')
    .map((block) => block.trim())
    .filter((block, i, all) => i < all.length - 1 || block !== '')
    .map((block) => block.split('\n').filter((l) => l !== ''));
}

describe.skipIf(!haveTree)('git am on the Debian 6.12 zswap.c', () => {
  for (const [name, version] of [
    ['zswap-swapoff', undefined],
    ['zswap-swapoff', 1],
    ['partial-reroll', undefined],
    ['naked-cover', undefined],
    ['comma-version', undefined],
    ['single-reroll', undefined],
    ['encodings', undefined],
    ['attachment', undefined],
  ] as const) {
    it(`applies ${name}${version ? ` -v ${version}` : ''} with the collected trailers in each commit`, async () => {
      const { repo, expected } = await applySeries(name, version);
      expect(await committedTrailers(repo, expected.length)).toEqual(expected);
    });
  }

  it('keeps authors and subjects, non-ASCII included', async () => {
    const { repo } = await applySeries('encodings');
    const { stdout } = await execa('git', ['log', '-2', '--reverse', '--format=%an <%ae>|%s'], { cwd: repo, env });
    expect(stdout.split('\n')).toEqual([
      'Zoë Kowalczyk <zoe@example.pl>|mm: zswap: clear the tree pointers before freeing them in zswap_swapoff()',
      'Zoë Kowalczyk <zoe@example.pl>|mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()',
    ]);
  });
});
