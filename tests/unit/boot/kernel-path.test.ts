import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveKernel } from '../../../src/boot/kernel-path.js';

async function artifactDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kh-kpath-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('resolveKernel on an artifact folder', () => {
  it('finds the image, System.map, zswap.i and test_zswap', async () => {
    const dir = await artifactDir({ bzImage: 'k', 'System.map': '', 'zswap.i': '', test_zswap: '' });
    expect(resolveKernel(dir)).toEqual({ image: path.join(dir, 'bzImage'), systemMap: path.join(dir, 'System.map'), zswapPreprocessed: path.join(dir, 'zswap.i'), selftest: path.join(dir, 'test_zswap'), selftestAbsent: undefined });
  });

  it('says why there is no test_zswap, as the build recorded it', async () => {
    const dir = await artifactDir({ bzImage: 'k', 'result.json': JSON.stringify({ selftestBuild: { verdict: 'skipped', summary: 'the tree has no tools/testing/selftests/cgroup/test_zswap.c' } }) });
    expect(resolveKernel(dir).selftestAbsent).toBe('the tree has no tools/testing/selftests/cgroup/test_zswap.c');
  });

  it('says nothing when the build record is missing or unreadable', async () => {
    expect(resolveKernel(await artifactDir({ bzImage: 'k' })).selftestAbsent).toBeUndefined();
    expect(resolveKernel(await artifactDir({ bzImage: 'k', 'result.json': '{not json' })).selftestAbsent).toBeUndefined();
  });
});
