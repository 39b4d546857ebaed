import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySeries, chooseBase, parseApplyErrors } from '../../../src/tree/apply.js';
import { lockTree, openKernelTree } from '../../../src/tree/worktree.js';
import { InputError, InfraError } from '../../../src/common/errors.js';

// Real git (am, am -3, worktrees) on a small repository shaped like a kernel tree: the apply
// logic does not depend on the kernel's size, so it is tested here without the Debian tree.
let root: string;
let repo: string;
let work: string;
const lines = (n: number, tag = ''): string => Array.from({ length: n }, (_, i) => `line ${i + 1}${tag && i === 10 ? tag : ''}`).join('\n') + '\n';
const env = { GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' };
const g = async (cwd: string, ...args: string[]): Promise<string> => (await execa('git', args, { cwd, env })).stdout.trim();

async function commitFile(cwd: string, file: string, content: string, msg: string): Promise<string> {
  await writeFile(path.join(cwd, file), content);
  await g(cwd, 'add', file);
  await g(cwd, 'commit', '-q', '-m', msg);
  return g(cwd, 'rev-parse', 'HEAD');
}

/** format-patch of one change to mm/zswap.c made on top of `parent` in a scratch clone. */
async function patchOn(parent: string, content: string, subject: string): Promise<string> {
  const clone = await mkdtemp(path.join(root, 'clone-'));
  await execa('git', ['clone', '-q', '--shared', repo, clone]);
  await g(clone, 'checkout', '-q', parent);
  await commitFile(clone, 'mm/zswap.c', content, subject);
  return g(clone, 'format-patch', '-1', '--stdout');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kh-apply-'));
  repo = path.join(root, 'linux');
  work = path.join(root, 'work');
  await mkdir(path.join(repo, 'mm'), { recursive: true });
  await mkdir(path.join(repo, 'scripts', 'kconfig'), { recursive: true });
  for (const f of ['Makefile', 'Kconfig', 'mm/Kconfig', 'scripts/kconfig/merge_config.sh']) await writeFile(path.join(repo, f), `# ${f}\n`);
  await g(root, 'init', '-q', '-b', 'master', repo);
  await g(repo, 'add', '.');
  await g(repo, 'commit', '-q', '-m', 'skeleton');
  await commitFile(repo, 'mm/zswap.c', lines(40), 'zswap v1');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('apply', () => {
  it('refuses a folder that is not a kernel tree', async () => {
    const plain = await mkdtemp(path.join(root, 'plain-'));
    await g(plain, 'init', '-q');
    await expect(openKernelTree(plain, work)).rejects.toThrow(/not a Linux kernel tree/);
    await expect(openKernelTree(path.join(root, 'nope'), work)).rejects.toBeInstanceOf(InputError);
  });

  it('applies clean patches as commits, falls back to -3, fails a conflict naming the file, skips the rest', async () => {
    const v1 = await g(repo, 'rev-parse', 'HEAD');
    const clean = await patchOn(v1, lines(40).replace('line 5\n', 'line 5 changed\n'), 'clean change');
    // The tree moves on next to line 11; a patch made on v1 touching line 14 (its context reaches line 11) needs the 3-way merge.
    const v2 = await commitFile(repo, 'mm/zswap.c', lines(40, ' (v2)'), 'zswap v2');
    const threeWay = await patchOn(v1, lines(40).replace('line 14\n', 'line 14 changed\n'), 'three-way change');
    const conflict = await patchOn(v1, lines(40).replace('line 11\n', 'line 11 mine\n'), 'conflicting change');
    const after = await patchOn(v1, lines(40).replace('line 30\n', 'line 30 x\n'), 'after the conflict');
    const mbox = path.join(root, 'series.mbox');
    await writeFile(mbox, [clean, threeWay, conflict, after].join('\n'));

    const tree = await openKernelTree(repo, work);
    const base = await chooseBase(tree, { seriesBase: v1 });
    expect(base).toMatchObject({ commit: v1, source: 'series' });
    const headBase = await chooseBase(tree, { seriesBase: 'ffffffffffffffffffffffffffffffffffffffff' });
    expect(headBase.source).toBe('head');
    expect(headBase.reason).toMatch(/does not have; using HEAD/);

    const result = await applySeries(tree, mbox, { commit: v2, source: 'head', reason: 'test' });
    expect(result.patches.map((p) => p.status)).toEqual(['applied', 'applied-3way', 'failed', 'skipped']);
    expect(result.patches[2]!.conflicts.map((c) => c.file)).toEqual(['mm/zswap.c']);
    expect(result.patches[3]!.commit).toBeUndefined();
    const log = await g(tree.worktree, 'log', '--format=%s', `${v2}..refs/worktree/kharness/patch-2`);
    expect(log.split('\n')).toEqual(['three-way change', 'clean change']);
    // The user's checkout did not move and holds nothing new.
    expect(await g(repo, 'rev-parse', 'HEAD')).toBe(v2);
    expect(await g(repo, 'status', '--porcelain')).toBe('');
    expect(await g(repo, 'branch', '--list')).toBe('* master');
  });

  it('locks a tree against a second run', async () => {
    const tree = await openKernelTree(repo, work);
    const unlock = await lockTree(tree);
    await expect(lockTree(tree)).rejects.toBeInstanceOf(InfraError);
    await unlock();
    const again = await lockTree(tree);
    await again();
  });
});

describe('parseApplyErrors', () => {
  it('reads what git apply --check -v and git am -3 print', () => {
    const out = [
      'Checking patch mm/zswap.c...',
      'error: while searching for:',
      '\tentry = xa_erase(tree, offset);',
      '\tif (entry)',
      'error: patch failed: mm/zswap.c:1679',
      'error: mm/zswap.c: patch does not apply',
      'error: include/linux/zswap.h: does not exist in index',
      'CONFLICT (content): Merge conflict in mm/swapfile.c',
      'error: sha1 information is lacking or useless (mm/page_io.c).',
    ].join('\n');
    const c = parseApplyErrors(out);
    expect(c.map((x) => x.file)).toEqual(['mm/zswap.c', 'include/linux/zswap.h', 'mm/swapfile.c', 'mm/page_io.c']);
    expect(c[0]!.hunks[0]).toMatch(/^@@ line 1679 @@ could not find:\n\tentry = xa_erase/);
    expect(c[2]!.hunks).toEqual(['merge conflict (3-way)']);
  });
});
