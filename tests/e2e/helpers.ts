import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { defaultTreePath, projectRoot } from '../../src/common/paths.js';

/**
 * End-to-end tests drive the real CLI (compiled by setup) on the real Debian 6.12 tree, with
 * real builds and real virtme-ng boots. Nothing here is mocked: without the tree, the
 * toolchain or QEMU these tests fail, they do not skip.
 */
export const CLI = path.join(projectRoot, 'bin', 'kharness.js');
export const fixtures = path.join(projectRoot, 'tests', 'fixtures');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json<T = unknown>(): T;
}

export async function kharness(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { ...opts.env },
    timeout: opts.timeoutMs ?? 3_600_000,
    maxBuffer: 512 * 1024 * 1024,
    stdin: 'ignore',
  });
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  return {
    exitCode: r.exitCode ?? -1,
    stdout,
    stderr,
    json<T>(): T {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`kharness ${args.join(' ')} did not print JSON (exit ${r.exitCode}):\n${stdout.slice(-2000)}\n${stderr.slice(-4000)}`);
      }
    },
  };
}

/** Fails loudly when the environment is not there: an e2e test never passes without a kernel. */
export function requireEnvironment(): string {
  const tree = defaultTreePath();
  for (const p of [CLI, path.join(projectRoot, 'dist', 'cli.js'), path.join(tree, 'Makefile'), path.join(projectRoot, '.venv', 'bin', 'vng')]) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`bash scripts/setup.sh\` (npm test does)`);
  }
  return tree;
}

export interface AppliedJson {
  worktree: string;
  base: { commit: string; source: string; reason: string };
  patches: { index: number; subject: string; status: string; commit?: string; conflicts: { file: string; hunks: string[] }[] }[];
}

export interface BuildJson {
  commit: string;
  verdict: string;
  summary: string;
  errors: { file: string; line?: number; message: string; severity: string }[];
  newWarnings: { file: string; line?: number; message: string; flag?: string }[];
  objectsBuilt: number;
  durationMs: number;
  cached: boolean;
  artifacts?: { dir: string; image: string };
  checkpatch?: { errors: number; warnings: number; checks: number };
}

/** Applies a one-patch bug mbox to the default tree and builds it: the artifact folder to boot. */
export async function buildBugKernel(mbox: string): Promise<{ applied: AppliedJson; build: BuildJson }> {
  const apply = await kharness(['apply', mbox, '--json']);
  const applied = apply.json<AppliedJson>();
  if (apply.exitCode !== 0) throw new Error(`${mbox} did not apply: ${apply.stderr}`);
  const build = await kharness(['build', applied.worktree, '--patch', '1', '--json']);
  const [result] = build.json<BuildJson[]>();
  if (!result?.artifacts) throw new Error(`${mbox} did not build: ${result?.summary}\n${build.stderr}`);
  return { applied, build: result };
}

export function readJson<T>(p: string): T {
  return JSON.parse(readFileSync(p, 'utf8')) as T;
}
