import path from 'node:path';
import { execa } from 'execa';

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
 * Runs the tree's own scripts/checkpatch.pl on one commit (as `git format-patch` would send it).
 * --strict adds the CHECK level the mm tree's reviewers also look at.
 */
export async function checkpatchCommit(worktree: string, commit: string): Promise<CheckpatchResult> {
  const script = path.join(worktree, 'scripts', 'checkpatch.pl');
  const patch = await execa('git', ['format-patch', '-1', '--stdout', commit], { cwd: worktree, reject: false });
  if (patch.exitCode !== 0) return empty(`git format-patch failed: ${String(patch.stderr)}`);
  const r = await execa('perl', [script, '--strict', '--show-types', '--no-signoff', '--mailback', '-'], {
    cwd: worktree,
    input: String(patch.stdout),
    reject: false,
    all: true,
    env: { NO_COLOR: '1' },
  });
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
