import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { InputError, InfraError } from '../common/errors.js';
import { acquireLock, describeHolder, LockBusyError } from '../common/lock.js';
import { cacheDir } from '../common/paths.js';

/**
 * A kernel tree the user named (or the default one from setup). kharness never touches its
 * checkout: all work happens in one git worktree per tree under the cache, reused across runs so
 * the build directory next to it stays valid (kbuild records absolute source paths).
 */
export interface KernelTree {
  /** the user's repository (its top level) */
  repo: string;
  /** stable key for cache paths: hash of the repository's real path */
  key: string;
  /** our worktree: where patches are applied and from where we build */
  worktree: string;
  /** the cache folder of this tree: worktree, build dirs, logs */
  workDir: string;
}

export function treeKey(repo: string): string {
  return `${path.basename(repo).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(realpathSync(repo)).digest('hex').slice(0, 10)}`;
}

/** Checks that DIR is a git repository holding a Linux kernel tree. */
export async function openKernelTree(dir: string, workRoot?: string): Promise<KernelTree> {
  if (!existsSync(dir)) throw new InputError(`kernel tree ${dir} does not exist`, 'run `bash scripts/setup.sh` for the default tree, or pass --tree DIR');
  let top: string;
  try {
    top = (await simpleGit(dir).revparse(['--show-toplevel'])).trim();
  } catch {
    throw new InputError(`${dir} is not a git repository`, 'kharness applies patches with git; pass a git kernel tree with --tree');
  }
  for (const marker of ['Makefile', 'Kconfig', 'mm/Kconfig', 'scripts/kconfig/merge_config.sh']) {
    if (!existsSync(path.join(top, marker))) throw new InputError(`${top} is not a Linux kernel tree (no ${marker})`);
  }
  const key = treeKey(top);
  const workDir = path.join(workRoot ?? path.join(cacheDir(), 'work'), key);
  return { repo: top, key, workDir, worktree: path.join(workDir, 'src') };
}

export function git(dir: string): SimpleGit {
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 1, trimmed: true });
}

/** Resolves a revision in the user's repository, or undefined when it does not exist there. */
export async function resolveCommit(repo: string, rev: string): Promise<string | undefined> {
  try {
    return (await git(repo).raw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure our worktree exists and is checked out (detached) at `commit`, with no leftover
 * state from an interrupted run (an unfinished `git am`, stray files). Only the files that differ
 * between the old and new commit are rewritten, so make rebuilds only what changed.
 */
export async function prepareWorktree(tree: KernelTree, commit: string): Promise<void> {
  mkdirSync(tree.workDir, { recursive: true });
  const repoGit = git(tree.repo);
  if (!existsSync(path.join(tree.worktree, '.git'))) {
    await repoGit.raw(['worktree', 'prune']);
    await repoGit.raw(['worktree', 'add', '--detach', '--force', tree.worktree, commit]);
    return;
  }
  const wt = git(tree.worktree);
  // Leftovers of an interrupted run: an unfinished `git am`, a bisection.
  await wt.raw(['am', '--abort']).catch(() => undefined);
  await wt.raw(['bisect', 'reset']).catch(() => undefined);
  await wt.raw(['reset', '--quiet', '--hard']);
  await wt.raw(['checkout', '--quiet', '--detach', commit]);
  // -x would also drop ignored build products; we build out of tree (O=), so only untracked
  // leftovers from a failed apply can be here. The Debian tree ignores everything ('/*'), so -x.
  await wt.raw(['clean', '-fdqx']);
}

export interface LockTreeOptions {
  /** false: fail at once when another run holds the tree, instead of waiting for it */
  wait?: boolean;
  /** where the one "waiting for ..." line goes (default: stderr) */
  onWait?: (message: string) => void;
}

/**
 * Cross-process lock on a tree's work folder: two runs on one worktree would corrupt each other.
 * A second run waits for the first (saying once who that is) and goes on when it ends, even when
 * it ends by SIGKILL: the lock is flock(2), released by the kernel (src/common/lock.ts).
 */
export async function lockTree(tree: KernelTree, opts: LockTreeOptions = {}): Promise<() => Promise<void>> {
  const lockPath = path.join(tree.workDir, 'lock');
  const say = opts.onWait ?? ((m: string) => process.stderr.write(`${m}\n`));
  try {
    return await acquireLock(lockPath, {
      wait: opts.wait,
      onWait: (holder) => say(`kharness: the kernel tree ${tree.repo} is in use by ${describeHolder(holder)}; waiting for it to finish`),
    });
  } catch (err) {
    if (err instanceof LockBusyError) {
      throw new InfraError(`the kernel tree ${tree.repo} is in use by ${describeHolder(err.holder)}`, 'wait for that run to finish; without the no-wait option kharness waits by itself');
    }
    throw new InfraError(`cannot lock ${lockPath}: ${(err as Error).message}`);
  }
}

export async function fileExists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export async function writeText(p: string, text: string): Promise<void> {
  mkdirSync(path.dirname(p), { recursive: true });
  await writeFile(p, text);
}
