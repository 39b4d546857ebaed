import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InputError } from '../common/errors.js';
import type { ApplyResult } from './apply.js';
import { openKernelTree, type KernelTree } from './worktree.js';

/** What `kharness apply` leaves in the tree's work folder, for `build` and `test` to pick up. */
export interface AppliedSeriesState {
  slug: string;
  seriesDir?: string;
  apply: ApplyResult;
}

const STATE = 'applied.json';

export async function saveApplied(tree: KernelTree, state: AppliedSeriesState): Promise<void> {
  await writeFile(path.join(tree.workDir, STATE), `${JSON.stringify(state, null, 2)}\n`);
}

export async function loadApplied(tree: KernelTree): Promise<AppliedSeriesState | undefined> {
  const p = path.join(tree.workDir, STATE);
  if (!existsSync(p)) return undefined;
  return JSON.parse(await readFile(p, 'utf8')) as AppliedSeriesState;
}

/**
 * Finds the kernel tree behind DIR: one of our worktrees (made by `kharness apply`), or a
 * kernel tree of the user's (then we work in our own worktree of it, never in theirs).
 */
export async function treeFromDir(dir: string, workRoot?: string): Promise<{ tree: KernelTree; ours: boolean }> {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) throw new InputError(`${dir} does not exist`);
  const common = await execa('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: abs, reject: false });
  if (common.exitCode !== 0) throw new InputError(`${dir} is not a git repository`);
  const repo = path.dirname(String(common.stdout).trim());
  const tree = await openKernelTree(repo, workRoot);
  return { tree, ours: path.resolve(tree.worktree) === abs };
}
