import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/** How many branches and tags are tried at most: each try applies the whole series once. */
const MAX_CANDIDATES = 20;

export interface RefCandidate {
  ref: string;
  commit: string;
}

/**
 * The tree's branches and tags as candidate bases, newest commit first; a ref whose name is the
 * tree the series names (`[PATCH mm-new ...]`, `Based-on: mm-new`) goes first, as 0-day does.
 */
export async function candidateRefs(repo: string, namedTree?: string): Promise<RefCandidate[]> {
  const r = await execa('git', ['for-each-ref', '--sort=-committerdate', '--format=%(refname:short)%00%(objectname)%00%(*objectname)', 'refs/heads', 'refs/tags'], { cwd: repo, reject: false });
  if (r.exitCode !== 0) return [];
  const refs: RefCandidate[] = [];
  for (const line of String(r.stdout).split('\n')) {
    const [ref, object, peeled] = line.split('\0');
    if (ref && object) refs.push({ ref, commit: peeled || object });
  }
  const named = namedTree ? refs.filter((c) => c.ref === namedTree || c.ref.endsWith(`/${namedTree}`)) : [];
  const seen = new Set<string>();
  return [...named, ...refs].filter((c) => !seen.has(c.ref) && seen.add(c.ref)).slice(0, MAX_CANDIDATES);
}

/**
 * Whether every patch applies cleanly, in order, on `commit`: `git apply --cached` into a
 * throwaway index, so neither the user's checkout nor our worktree changes.
 */
export async function seriesApplies(repo: string, commit: string, patchFiles: readonly string[]): Promise<boolean> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-base-'));
  const env = { GIT_INDEX_FILE: path.join(dir, 'index') };
  try {
    const read = await execa('git', ['read-tree', commit], { cwd: repo, env, reject: false });
    if (read.exitCode !== 0) return false;
    for (const file of patchFiles) {
      const applied = await execa('git', ['apply', '--cached', file], { cwd: repo, env, reject: false });
      if (applied.exitCode !== 0) return false;
    }
    return true;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The newest candidate the whole series applies on, if any. */
export async function newestRefThatApplies(repo: string, patchFiles: readonly string[], namedTree?: string): Promise<{ found?: RefCandidate; tried: number }> {
  const tried = new Set<string>();
  for (const c of await candidateRefs(repo, namedTree)) {
    // a tag on a branch head is the same base: one try
    if (tried.has(c.commit)) continue;
    tried.add(c.commit);
    if (await seriesApplies(repo, c.commit, patchFiles)) return { found: c, tried: tried.size };
  }
  return { tried: tried.size };
}
