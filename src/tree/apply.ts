import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InputError } from '../common/errors.js';
import { newestRefThatApplies } from './base-refs.js';
import { git, prepareWorktree, resolveCommit, type KernelTree } from './worktree.js';

export type ApplyStatus = 'applied' | 'applied-3way' | 'failed' | 'skipped';

export interface Conflict {
  file: string;
  /** the hunks or context lines git could not place, as git reported them */
  hunks: string[];
}

export interface PatchApplyResult {
  index: number;
  subject: string;
  status: ApplyStatus;
  /** the commit this patch became in our worktree */
  commit?: string;
  conflicts: Conflict[];
  /** git's own words, for the report */
  log: string;
  /** wall time of git am for this patch (with its 3-way retry) */
  durationMs?: number;
}

export interface BaseChoice {
  commit: string;
  /** `ref`: a branch or tag of the tree, found by applying the series (the named base was missing) */
  source: 'option' | 'series' | 'ref' | 'head';
  reason: string;
}

export interface ApplyResult {
  tree: string;
  worktree: string;
  base: BaseChoice;
  patches: PatchApplyResult[];
}

/**
 * Picks the base: --base, else the series' base-commit when the tree has it, else the tree's HEAD.
 * The reason is kept for the report so a reviewer knows what the series was tested on.
 */
export async function chooseBase(tree: KernelTree, opts: { base?: string; seriesBase?: string; namedTree?: string; mboxPath?: string }): Promise<BaseChoice> {
  if (opts.base) {
    const commit = await resolveCommit(tree.repo, opts.base);
    if (!commit) throw new InputError(`--base ${opts.base} is not a commit in ${tree.repo}`);
    return { commit, source: 'option', reason: `--base ${opts.base}` };
  }
  const head = await resolveCommit(tree.repo, 'HEAD');
  if (!head) throw new InputError(`${tree.repo} has no commits`);
  if (opts.seriesBase) {
    const commit = await resolveCommit(tree.repo, opts.seriesBase);
    if (commit) return { commit, source: 'series', reason: `base-commit ${opts.seriesBase} named by the series` };
    const missing = `the series names base-commit ${opts.seriesBase}, which ${tree.repo} does not have`;
    return (await refWhereSeriesApplies(tree, opts, missing)) ?? { commit: head, source: 'head', reason: `${missing}; using HEAD` };
  }
  if (opts.namedTree) {
    const named = `the series names the tree ${opts.namedTree} and no base-commit`;
    return (await refWhereSeriesApplies(tree, opts, named)) ?? { commit: head, source: 'head', reason: `${named}; using HEAD` };
  }
  return { commit: head, source: 'head', reason: 'the series names no base-commit; using the tree HEAD' };
}

/**
 * Without the named base, the newest branch or tag where the whole series applies cleanly (the
 * ref named like the series' tree first), as 0-day picks a base; undefined when none does.
 */
async function refWhereSeriesApplies(tree: KernelTree, opts: { namedTree?: string; mboxPath?: string }, why: string): Promise<BaseChoice | undefined> {
  if (!opts.mboxPath) return undefined;
  const { dir, files } = await splitMbox(opts.mboxPath);
  try {
    const { found, tried } = await newestRefThatApplies(tree.repo, files, opts.namedTree);
    if (!found) return undefined;
    return { commit: found.commit, source: 'ref', reason: `${why}; the series applies cleanly on ${found.ref} (${found.commit.slice(0, 12)}), the newest of ${tried} branch or tag head(s) tried` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Splits an mbox into one file per message with git's own splitter, in order. */
export async function splitMbox(mboxPath: string): Promise<{ dir: string; files: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-split-'));
  const r = await execa('git', ['mailsplit', '-b', `-o${dir}`, '--keep-cr', mboxPath], { reject: false });
  if (r.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new InputError(`cannot split ${mboxPath} into patches: ${String(r.stderr).trim()}`);
  }
  const files = (await readdir(dir)).sort().map((f) => path.join(dir, f));
  return { dir, files };
}

const AM_ENV = {
  GIT_COMMITTER_NAME: 'kharness',
  GIT_COMMITTER_EMAIL: 'kharness@localhost',
};

/**
 * Parses what `git apply --check -v` and `git am` print when a patch does not apply into
 * per-file conflicts. Pure: tests feed it git's real messages.
 */
export function parseApplyErrors(output: string): Conflict[] {
  const byFile = new Map<string, string[]>();
  const add = (file: string, hunk?: string): void => {
    const list = byFile.get(file) ?? [];
    if (hunk && !list.includes(hunk)) list.push(hunk);
    byFile.set(file, list);
  };
  const lines = output.split('\n');
  let searching: string[] | undefined;
  for (const line of lines) {
    if (searching) {
      const failed = /^error: patch failed: (.+):(\d+)$/.exec(line);
      if (failed) {
        add(failed[1]!, `@@ line ${failed[2]} @@ could not find:\n${searching.join('\n')}`);
        searching = undefined;
        continue;
      }
      if (/^error: /.test(line)) searching = undefined;
      else {
        searching.push(line);
        continue;
      }
    }
    if (line === 'error: while searching for:') {
      searching = [];
      continue;
    }
    let m = /^error: patch failed: (.+):(\d+)$/.exec(line);
    if (m) {
      add(m[1]!, `@@ line ${m[2]} @@`);
      continue;
    }
    m = /^error: (.+): (patch does not apply|does not exist in index|already exists in (?:index|working directory)|No such file or directory)$/.exec(line);
    if (m) {
      add(m[1]!, m[2] === 'patch does not apply' ? undefined : m[2]);
      continue;
    }
    m = /^error: sha1 information is lacking or useless \((.+)\)\.$/.exec(line);
    if (m) {
      add(m[1]!, 'no 3-way merge possible: the preimage blob is not in this repository');
      continue;
    }
    m = /^CONFLICT \([^)]*\): Merge conflict in (.+)$/.exec(line);
    if (m) {
      add(m[1]!, 'merge conflict (3-way)');
      continue;
    }
    m = /^Applying: .*|^Patch failed at .*/.exec(line);
    if (m) continue;
  }
  return [...byFile.entries()].map(([file, hunks]) => ({ file, hunks }));
}

function subjectOf(patchText: string): string {
  const m = /^Subject: (.*(?:\n[ \t].*)*)/m.exec(patchText);
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : '(no subject)';
}

/**
 * Applies each message of `mboxPath` as one commit on top of `base` in our worktree: `git am`,
 * then `git am -3` when the plain apply fails. After a failed patch, the rest are `skipped`.
 */
export async function applySeries(tree: KernelTree, mboxPath: string, base: BaseChoice, subjects?: string[]): Promise<ApplyResult> {
  await prepareWorktree(tree, base.commit);
  const { dir, files } = await splitMbox(mboxPath);
  const wt = tree.worktree;
  const results: PatchApplyResult[] = [];
  try {
    if (files.length === 0) throw new InputError(`${mboxPath} holds no messages`);
    let failed = false;
    for (const [i, file] of files.entries()) {
      const text = await readFile(file, 'utf8');
      const subject = subjects?.[i] ?? subjectOf(text);
      const index = i + 1;
      if (failed) {
        results.push({ index, subject, status: 'skipped', conflicts: [], log: 'an earlier patch did not apply' });
        continue;
      }
      const t0 = Date.now();
      const plain = await execa('git', ['am', '--quiet', '--keep-cr', file], { cwd: wt, reject: false, env: AM_ENV, all: true });
      if (plain.exitCode === 0) {
        results.push({ index, subject, status: 'applied', commit: await head(wt), conflicts: [], log: String(plain.all ?? ''), durationMs: Date.now() - t0 });
        continue;
      }
      // Details of why the plain apply failed (which hunks), from the diff git am stopped on,
      // before trying the 3-way merge.
      const diff = await execa('git', ['am', '--show-current-patch=diff'], { cwd: wt, reject: false });
      const check = await execa('git', ['apply', '--check', '--verbose'], { cwd: wt, reject: false, all: true, input: String(diff.stdout ?? '') });
      await execa('git', ['am', '--abort'], { cwd: wt, reject: false });
      const threeWay = await execa('git', ['am', '--quiet', '--3way', '--keep-cr', file], { cwd: wt, reject: false, env: AM_ENV, all: true });
      if (threeWay.exitCode === 0) {
        results.push({
          index,
          subject,
          status: 'applied-3way',
          commit: await head(wt),
          conflicts: parseApplyErrors(String(check.all ?? '')),
          log: `${String(plain.all ?? '')}\n--- retried with --3way ---\n${String(threeWay.all ?? '')}`,
          durationMs: Date.now() - t0,
        });
        continue;
      }
      const conflicted = await execa('git', ['diff', '--name-only', '--diff-filter=U'], { cwd: wt, reject: false });
      await execa('git', ['am', '--abort'], { cwd: wt, reject: false });
      const conflicts = parseApplyErrors(`${String(plain.all ?? '')}\n${String(check.all ?? '')}\n${String(threeWay.all ?? '')}`);
      for (const f of String(conflicted.stdout).split('\n').filter(Boolean)) {
        if (!conflicts.some((c) => c.file === f)) conflicts.push({ file: f, hunks: ['merge conflict (3-way)'] });
      }
      if (conflicts.length === 0 && /does not look like a patch|Patch is empty|patch format detection failed/i.test(String(plain.all ?? ''))) {
        conflicts.push({ file: '(none)', hunks: ['the message carries no diff git can apply'] });
      }
      results.push({
        index,
        subject,
        status: 'failed',
        conflicts,
        log: `${String(plain.all ?? '')}\n${String(check.all ?? '')}\n--- retried with --3way ---\n${String(threeWay.all ?? '')}`,
        durationMs: Date.now() - t0,
      });
      failed = true;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Per-worktree refs keep the patch commits reachable for later builds and bisects without
  // creating branches in the user's repository.
  for (const p of results) {
    if (p.commit) await git(wt).raw(['update-ref', `refs/worktree/kharness/patch-${p.index}`, p.commit]);
  }
  await git(wt).raw(['update-ref', 'refs/worktree/kharness/base', base.commit]);
  return { tree: tree.repo, worktree: wt, base, patches: results };
}

async function head(cwd: string): Promise<string> {
  return (await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout.trim();
}
