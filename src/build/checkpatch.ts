import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { wrapCommand } from '../sandbox/index.js';
import { treeSandbox } from './make.js';

export interface CheckpatchFinding {
  level: 'ERROR' | 'WARNING' | 'CHECK';
  type: string;
  message: string;
  /** file:line in the tree, when checkpatch names one */
  location?: string;
}

export interface CheckpatchResult {
  findings: CheckpatchFinding[];
  errors: number;
  warnings: number;
  checks: number;
  /** checkpatch's own output, for the report */
  output: string;
  /** checkpatch.pl could not run (no perl, script missing): not the patch's fault */
  infraError?: string;
}

/** Parses `checkpatch.pl --show-types` output. Pure, for tests. */
export function parseCheckpatch(output: string): CheckpatchFinding[] {
  const findings: CheckpatchFinding[] = [];
  const lines = output.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(ERROR|WARNING|CHECK):(?:([A-Z0-9_]+):)? (.*)$/.exec(lines[i]!);
    if (!m) continue;
    let location: string | undefined;
    for (let j = i + 1; j < Math.min(lines.length, i + 4); j++) {
      const loc = /^#\d+: FILE: (\S+?):?$/.exec(lines[j]!) ?? /^#\d+: FILE: (.+)$/.exec(lines[j]!);
      if (loc) {
        location = loc[1]!.replace(/:$/, '');
        break;
      }
      if (lines[j] === '') break;
    }
    findings.push({ level: m[1] as CheckpatchFinding['level'], type: m[2] ?? '', message: m[3]!.trim(), location });
  }
  return findings;
}

/**
 * The review scripts checkpatch runs or reads. They are taken from the series' base, never from
 * the patched tree: a series that edits checkpatch.pl (or the get_maintainer.pl and
 * spdxcheck.py it calls) must not change how it is judged.
 */
export const REVIEW_SCRIPTS = ['checkpatch.pl', 'spelling.txt', 'const_structs.checkpatch', 'get_maintainer.pl', 'spdxcheck.py'];

/** Writes the base's review scripts once into TOOLSDIR/scripts/ (keyed by the caller). Missing ones are left out. */
export async function extractReviewTools(worktree: string, base: string, toolsDir: string): Promise<string> {
  const scripts = path.join(toolsDir, 'scripts');
  if (existsSync(path.join(scripts, '.complete'))) return scripts;
  await mkdir(scripts, { recursive: true });
  for (const name of REVIEW_SCRIPTS) {
    const r = await execa('git', ['show', `${base}:scripts/${name}`], { cwd: worktree, reject: false, stripFinalNewline: false, encoding: 'buffer' });
    if (r.exitCode === 0) await writeFile(path.join(scripts, name), r.stdout as Uint8Array, { mode: name.endsWith('.txt') || name.endsWith('.checkpatch') ? 0o644 : 0o755 });
  }
  await writeFile(path.join(scripts, '.complete'), `${base}\n`);
  return scripts;
}

/**
 * Runs the base tree's scripts/checkpatch.pl (in REVIEWSCRIPTS, see extractReviewTools) on one
 * commit of the worktree, as `git format-patch` would send it, in the tree's sandbox: checkpatch
 * runs scripts of the tree it checks (get_maintainer.pl, spdxcheck.py), and those are the
 * base's too, shown over the worktree's. --strict adds the CHECK level mm reviewers look at.
 */
export async function checkpatchCommit(worktree: string, commit: string, reviewScripts: string): Promise<CheckpatchResult> {
  const script = path.join(reviewScripts, 'checkpatch.pl');
  if (!existsSync(script)) return empty(`the base tree has no scripts/checkpatch.pl`);
  const patch = await execa('git', ['format-patch', '-1', '--stdout', commit], { cwd: worktree, reject: false });
  if (patch.exitCode !== 0) return empty(`git format-patch failed: ${String(patch.stderr)}`);
  const spec = treeSandbox(worktree, [], { NO_COLOR: '1' }, [reviewScripts]);
  // Only over a file the worktree has: a bind cannot make one (and must not write into the tree).
  spec.overlays = REVIEW_SCRIPTS.filter((n) => n !== 'checkpatch.pl' && existsSync(path.join(reviewScripts, n)) && existsSync(path.join(worktree, 'scripts', n))).map((n) => ({
    source: path.join(reviewScripts, n),
    target: path.join(worktree, 'scripts', n),
  }));
  const cmd = wrapCommand('perl', [script, '--strict', '--show-types', '--no-signoff', '--mailback', '-'], spec);
  const r = await execa(cmd.file, cmd.args, { cwd: worktree, env: cmd.env, extendEnv: cmd.extendEnv, input: String(patch.stdout), reject: false, all: true });
  const output = String(r.all ?? '');
  // checkpatch exits 1 when it found something; anything else without findings means it broke.
  const findings = parseCheckpatch(output);
  if (r.exitCode !== 0 && r.exitCode !== 1) return empty(`checkpatch.pl exited ${r.exitCode}: ${output.slice(-500)}`);
  if (r.exitCode === 1 && findings.length === 0) return empty(`checkpatch.pl failed without findings: ${output.slice(-500)}`);
  return {
    findings,
    errors: findings.filter((f) => f.level === 'ERROR').length,
    warnings: findings.filter((f) => f.level === 'WARNING').length,
    checks: findings.filter((f) => f.level === 'CHECK').length,
    output,
  };
}

function empty(infraError: string): CheckpatchResult {
  return { findings: [], errors: 0, warnings: 0, checks: 0, output: '', infraError };
}
