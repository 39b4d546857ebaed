import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InfraError } from '../common/errors.js';
import { cacheDir } from '../common/paths.js';
import { DEFAULT_LIMITS, ETC_SECRET_DIRS, ETC_SECRET_FILES, SYSTEM_PATHS, sandboxArgv, sandboxDenials, type HostLayout, type ResourceLimits, type SandboxSpec } from './policy.js';

export * from './policy.js';

/** How this kharness process runs the tree's code: in bubblewrap, or (asked for) without. */
export type SandboxInfo =
  | { mode: 'bubblewrap'; version: string; network: 'none'; limits: ResourceLimits }
  | { mode: 'none'; reason: string };

let current: SandboxInfo | undefined;

/** `--no-sandbox`'s help, the same for every command that runs the tree's code. */
export const NO_SANDBOX_HELP = "run the tree's Makefiles and scripts without the bubblewrap sandbox (as you, with your files and network; the report says so)";

export function hostLayout(): HostLayout {
  const system: HostLayout['system'] = [];
  for (const p of SYSTEM_PATHS) {
    try {
      const st = lstatSync(p);
      system.push(st.isSymbolicLink() ? { path: p, symlink: readlinkSync(p) } : { path: p });
    } catch {
      /* not on this host */
    }
  }
  return {
    home: process.env.HOME || homedir(),
    system,
    secretFiles: ETC_SECRET_FILES.filter((f) => existsSync(f)),
    secretDirs: ETC_SECRET_DIRS.filter((d) => existsSync(d)),
  };
}

/** What is hidden from a sandboxed command: a denial naming one of these is reported. */
export function hiddenRoots(): string[] {
  return [hostLayout().home, cacheDir(), '/root', '/home'];
}

/** The repository folder a git worktree reads (its common git dir), so git in the sandbox can describe the tree. */
export function gitCommonDir(worktree: string): string | undefined {
  const dotGit = path.join(worktree, '.git');
  try {
    if (lstatSync(dotGit).isDirectory()) return dotGit;
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
    if (!gitdir) return undefined;
    const abs = path.resolve(worktree, gitdir);
    const common = path.join(abs, 'commondir');
    return existsSync(common) ? path.resolve(abs, readFileSync(common, 'utf8').trim()) : abs;
  } catch {
    return undefined;
  }
}

/**
 * The PATH's folders outside the system ones, read-only, so a toolchain in /opt/cross/bin or a
 * folder of wrappers is found in the sandbox too. Not those under the home folder (that would
 * show the home, and a half-visible install there, pyenv's shims say, breaks what it shadows),
 * the cache, or the root.
 */
export function pathFolders(PATH: string, home: string): string[] {
  const under = (d: string, root: string): boolean => `${path.resolve(d)}/`.startsWith(`${path.resolve(root)}/`);
  return PATH.split(':').filter((d) => path.isAbsolute(d) && path.resolve(d) !== '/' && !under(d, home) && !under(d, cacheDir()) && !SYSTEM_PATHS.some((s) => under(d, s)));
}

/** The command to start for FILE ARGS under the current policy, with the environment it gets. */
export interface WrappedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** whether the caller's environment is added (only when unsandboxed, as before) */
  extendEnv: boolean;
}

export function wrapCommand(file: string, args: readonly string[], spec: SandboxSpec): WrappedCommand {
  const info = sandboxInfo();
  if (info.mode === 'none') return { file, args: [...args], env: spec.env, extendEnv: true };
  const layout = hostLayout();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: layout.home, LC_ALL: 'C', TMPDIR: '/tmp', ...spec.env };
  // A folder that is not there cannot be bound (bwrap refuses): the command finds it missing, as it would.
  spec = { ...spec, writable: spec.writable.filter((p) => existsSync(p)), readable: [...(spec.readable ?? []), ...pathFolders(env.PATH, layout.home)].filter((p) => existsSync(p)) };
  const [cmd, argv] = sandboxArgv({ ...spec, limits: { ...info.limits, ...spec.limits } }, file, args, layout);
  return { file: cmd, args: argv, env, extendEnv: false };
}

/** Denials in a sandboxed command's output, for the report (empty when unsandboxed). */
export function deniedBySandbox(log: string): string[] {
  return sandboxInfo().mode === 'none' ? [] : sandboxDenials(log, hiddenRoots());
}

/** The policy in force: bubblewrap unless `useNoSandbox` said otherwise. */
export function sandboxInfo(): SandboxInfo {
  return current ?? { mode: 'bubblewrap', version: 'unprobed', network: 'none', limits: DEFAULT_LIMITS };
}

/** Whether bubblewrap can make a sandbox here, and its version; the reason when it cannot. */
export async function probeSandbox(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  const version = await execa('bwrap', ['--version'], { reject: false });
  if (version.exitCode !== 0) return { ok: false, reason: 'bubblewrap (bwrap) is not installed: run `bash scripts/setup.sh`' };
  const tmp = path.join(cacheDir(), 'tmp');
  const spec: SandboxSpec = { cwd: '/', writable: [], env: {} };
  // The system's own shell and PATH: this checks the sandbox, not the user's PATH.
  const [cmd, argv] = sandboxArgv(spec, '/bin/sh', ['-c', 'test ! -e "$1" && [ "$(wc -l < /proc/net/route)" -le 1 ]', 'probe', tmp], hostLayout());
  const r = await execa(cmd, argv, { reject: false, all: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false, timeout: 20_000 });
  if (r.exitCode !== 0) return { ok: false, reason: `bubblewrap cannot make a sandbox here (exit ${r.exitCode}): ${String(r.all ?? '').trim().slice(0, 300) || 'no output'} (user namespaces off?)` };
  return { ok: true, version: String(version.stdout).trim() };
}

/**
 * Settles the policy for this process before any tree code runs: `--no-sandbox` turns it off
 * (and every report says so); otherwise bubblewrap must work here, or the command refuses.
 */
export async function settleSandbox(noSandbox: boolean): Promise<SandboxInfo> {
  if (noSandbox || process.env.KHARNESS_NO_SANDBOX === '1') {
    current = { mode: 'none', reason: noSandbox ? 'asked for: --no-sandbox' : 'asked for: KHARNESS_NO_SANDBOX=1' };
    // The commands we start (git bisect run's steps) inherit the choice.
    process.env.KHARNESS_NO_SANDBOX = '1';
    return current;
  }
  const probe = await probeSandbox();
  if (!probe.ok) {
    throw new InfraError(`the tree's code cannot be sandboxed here: ${probe.reason}`, '--no-sandbox runs it as you, with your files and network (the report says it ran unsandboxed)');
  }
  current = { mode: 'bubblewrap', version: probe.version, network: 'none', limits: DEFAULT_LIMITS };
  return current;
}

/** For tests and the bench: set the policy directly. */
export function setSandboxInfo(info: SandboxInfo | undefined): void {
  current = info;
}

/** One line for reports. */
export function describeSandbox(info: SandboxInfo): string {
  if (info.mode === 'none') return `UNSANDBOXED (${info.reason}): the tree's Makefiles and scripts ran as the user, with the user's files and network`;
  const gib = (n: number | 'unlimited'): string => (n === 'unlimited' ? 'unlimited' : `${Math.round(n / 1024 ** 3)} GiB`);
  return `${info.version}: no network, no host files but the system's (read-only), writable only the worktree, build and ccache folders (builds) and the run folder (guests), empty home; per build process ${gib(info.limits.addressSpace)} memory, ${info.limits.cpuSeconds} CPU s, ${gib(info.limits.fileSize)} files`;
}
