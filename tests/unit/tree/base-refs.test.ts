import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBase } from '../../../src/tree/apply.js';
import { candidateRefs } from '../../../src/tree/base-refs.js';
import { openKernelTree } from '../../../src/tree/worktree.js';

// Base selection as 0-day does it, on a real git repository shaped like a kernel tree: when the
// series' base-commit is missing, the newest branch or tag the whole series applies on.
let root: string;
let repo: string;
let work: string;
const lines = (n: number, changed: Record<number, string> = {}): string => Array.from({ length: n }, (_, i) => changed[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';
const at = (day: number) => ({ GIT_AUTHOR_DATE: `2024-02-${String(day).padStart(2, '0')}T00:00:00Z`, GIT_COMMITTER_DATE: `2024-02-${String(day).padStart(2, '0')}T00:00:00Z` });
const env = { GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com', GIT_CONFIG_GLOBAL: '/dev/null' };
const g = async (cwd: string, args: string[], day = 1): Promise<string> => (await execa('git', args, { cwd, env: { ...env, ...at(day) } })).stdout.trim();

async function commitOn(branch: string, from: string, content: string, day: number): Promise<string> {
  await g(repo, ['checkout', '-q', '-B', branch, from]);
  await writeFile(path.join(repo, 'mm', 'zswap.c'), content);
  await g(repo, ['commit', '-qam', `${branch} on day ${day}`], day);
  return g(repo, ['rev-parse', 'HEAD']);
}

/** A one-patch series made on `parent`, as format-patch writes it, naming a base the tree lacks. */
async function seriesOn(parent: string, content: string, name: string): Promise<string> {
  const clone = await mkdtemp(path.join(root, 'clone-'));
  await execa('git', ['clone', '-q', '--shared', repo, clone]);
  await g(clone, ['checkout', '-q', parent]);
  await writeFile(path.join(clone, 'mm', 'zswap.c'), content);
  await g(clone, ['commit', '-qam', 'mm: zswap: a change'], 20);
  const patch = await g(clone, ['format-patch', '-1', '--stdout']);
  const file = path.join(root, `${name}.mbox`);
  await writeFile(file, `${patch.replace(/^-- $/m, 'base-commit: ffffffffffffffffffffffffffffffffffffffff\n-- ')}\n`);
  return file;
}

let master: string;
let mmNew: string;
let stable: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kh-base-refs-'));
  repo = path.join(root, 'linux');
  work = path.join(root, 'work');
  await mkdir(path.join(repo, 'mm'), { recursive: true });
  await mkdir(path.join(repo, 'scripts', 'kconfig'), { recursive: true });
  for (const f of ['Makefile', 'Kconfig', 'mm/Kconfig', 'scripts/kconfig/merge_config.sh']) await writeFile(path.join(repo, f), `# ${f}\n`);
  await writeFile(path.join(repo, 'mm', 'zswap.c'), lines(40));
  await g(root, ['init', '-q', '-b', 'master', repo]);
  await g(repo, ['add', '.']);
  await g(repo, ['commit', '-q', '-m', 'base'], 1);
  master = await g(repo, ['rev-parse', 'HEAD']);
  mmNew = await commitOn('mm-new', master, lines(40, { 5: 'line 5 in mm-new' }), 5);
  // the newest ref of all, where line 5 changed differently: nothing made on mm-new applies there
  stable = await commitOn('linux-6.1.y', master, lines(40, { 5: 'line 5 in stable' }), 9);
  await g(repo, ['tag', 'v6.1.99', stable]);
  await g(repo, ['checkout', '-q', 'master']);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const indexHash = async () => createHash('sha1').update(await readFile(path.join(repo, '.git', 'index'))).digest('hex');

describe('the base when the series names one the tree lacks', () => {
  it('lists branches and tags newest first, the named tree first of all', async () => {
    expect((await candidateRefs(repo)).map((c) => c.ref)).toEqual(['linux-6.1.y', 'v6.1.99', 'mm-new', 'master']);
    expect((await candidateRefs(repo, 'mm-new')).map((c) => c.ref)).toEqual(['mm-new', 'linux-6.1.y', 'v6.1.99', 'master']);
    expect((await candidateRefs(repo)).find((c) => c.ref === 'v6.1.99')?.commit).toBe(stable);
  });

  it('takes the newest branch where the whole series applies, says so, and changes nothing in the user’s checkout', async () => {
    const mbox = await seriesOn(mmNew, lines(40, { 5: 'line 5 in mm-new', 6: 'line 6 changed' }), 'on-mm-new');
    const tree = await openKernelTree(repo, work);
    const status = await g(repo, ['status', '--porcelain']);
    const index = await indexHash();
    const base = await chooseBase(tree, { seriesBase: 'ffffffffffffffffffffffffffffffffffffffff', mboxPath: mbox });
    expect(base).toMatchObject({ commit: mmNew, source: 'ref' });
    expect(base.reason).toMatch(/does not have; the series applies cleanly on mm-new \([0-9a-f]{12}\), the newest of 2 branch or tag head\(s\) tried/);
    expect(await g(repo, ['status', '--porcelain'])).toBe(status);
    expect(await indexHash()).toBe(index);
    expect(await g(repo, ['rev-parse', 'HEAD'])).toBe(master);
  });

  it('prefers the tree the series names over a newer ref it also applies on', async () => {
    const anywhere = await seriesOn(master, lines(40, { 30: 'line 30 changed' }), 'anywhere');
    const tree = await openKernelTree(repo, work);
    expect((await chooseBase(tree, { seriesBase: 'ffffffffffffffffffffffffffffffffffffffff', mboxPath: anywhere })).commit).toBe(stable);
    const named = await chooseBase(tree, { namedTree: 'mm-new', mboxPath: anywhere });
    expect(named).toMatchObject({ commit: mmNew, source: 'ref' });
    expect(named.reason).toMatch(/names the tree mm-new and no base-commit/);
  });

  it('falls back to HEAD, saying why, when no branch or tag takes the series', async () => {
    const nowhere = await seriesOn(master, lines(40, { 5: 'line 5 mine' }), 'base-only');
    // applies on master only; make master's HEAD move on so it does not either
    await writeFile(path.join(repo, 'mm', 'zswap.c'), lines(40, { 5: 'line 5 moved on' }));
    await g(repo, ['commit', '-qam', 'master moves on'], 12);
    try {
      const tree = await openKernelTree(repo, work);
      const base = await chooseBase(tree, { seriesBase: 'ffffffffffffffffffffffffffffffffffffffff', mboxPath: nowhere });
      expect(base.source).toBe('head');
      expect(base.reason).toMatch(/does not have; using HEAD/);
    } finally {
      await g(repo, ['reset', '-q', '--hard', master]);
    }
  });
});
