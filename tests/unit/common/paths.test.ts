import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { managedTreeName, managedTrees, treeArgPath } from '../../../src/common/paths.js';

describe('--tree names', () => {
  let cache: string;
  let saved: string | undefined;
  beforeEach(async () => {
    saved = process.env.KHARNESS_CACHE;
    cache = await mkdtemp(path.join(tmpdir(), 'kh-paths-'));
    process.env.KHARNESS_CACHE = cache;
    for (const name of ['debian-6.12', 'debian-6.1']) await mkdir(path.join(cache, 'trees', name, '.git'), { recursive: true });
    await writeFile(path.join(cache, 'trees', 'debian-6.12', '.git', 'kharness-ready'), '');
    await mkdir(path.join(cache, 'trees', 'not-a-managed-name'));
    await writeFile(path.join(cache, 'default-tree'), `${path.join(cache, 'trees', 'debian-6.12')}\n`);
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.KHARNESS_CACHE;
    else process.env.KHARNESS_CACHE = saved;
    await rm(cache, { recursive: true, force: true });
  });

  it('names a managed tree by its name, any other value is a directory, none is the default', () => {
    expect(treeArgPath('debian-6.1')).toBe(path.join(cache, 'trees', 'debian-6.1'));
    expect(treeArgPath('debian-6.12')).toBe(path.join(cache, 'trees', 'debian-6.12'));
    expect(treeArgPath('/src/linux')).toBe('/src/linux');
    expect(treeArgPath('linux')).toBe('linux');
    expect(treeArgPath(undefined)).toBe(path.join(cache, 'trees', 'debian-6.12'));
  });

  it('names a managed tree for the reports (KCIDB tree_name), and no other', () => {
    expect(managedTreeName(path.join(cache, 'trees', 'debian-6.1'))).toBe('debian-6.1');
    expect(managedTreeName(path.join(cache, 'trees', 'not-a-managed-name'))).toBeUndefined();
    expect(managedTreeName('/src/linux')).toBeUndefined();
  });

  it('lists the managed trees setup made, and whether each finished unpacking', () => {
    expect(managedTrees().map((t) => [t.name, t.ready])).toEqual([
      ['debian-6.1', false],
      ['debian-6.12', true],
    ]);
  });
});
