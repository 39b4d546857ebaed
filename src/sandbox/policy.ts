import path from 'node:path';

/**
 * What a sandboxed command may see. Nothing of the host is visible unless named here or in
 * the system folders: the toolchain folders read-only, then these.
 */
export interface SandboxSpec {
  /** where the command starts; must be inside a writable or readable folder */
  cwd: string;
  /** folders it may write (the worktree, its build dir, the ccache dir) */
  writable: string[];
  /** folders or files it may read beyond the system folders (the repository's git dir, config fragments) */
  readable?: string[];
  /** files shown at a path in place of what is there (the base tree's review scripts over the patched tree's) */
  overlays?: { source: string; target: string }[];
  /** empty folders made in the sandbox's root (the mount points virtme-ng's guest init expects) */
  dirs?: string[];
  /** empty private tmpfs folders */
  tmpfs?: string[];
  /** device nodes passed through (/dev/kvm for a KVM guest) */
  devices?: string[];
  /** the whole environment of the command: nothing of kharness's own environment leaks in */
  env: Record<string, string>;
  limits?: Partial<ResourceLimits>;
}

/** Per-process caps (rlimits), applied to the sandbox and everything it starts. */
export interface ResourceLimits {
  /** address space per process, bytes ('unlimited' for QEMU, whose TCG and guest RAM reservations are virtual) */
  addressSpace: number | 'unlimited';
  /** CPU seconds per process */
  cpuSeconds: number;
  /** largest file a process may write, bytes */
  fileSize: number;
  /** open files per process */
  openFiles: number;
}

const GiB = 1024 ** 3;

/** Generous for a kernel build (cc1 of the biggest unit stays under 2 GiB, vmlinux under 1 GiB), fatal for a runaway. */
export const DEFAULT_LIMITS: ResourceLimits = { addressSpace: 8 * GiB, cpuSeconds: 3600, fileSize: 8 * GiB, openFiles: 4096 };

/** The host facts the argv depends on, so building it stays pure. */
export interface HostLayout {
  /** the real home folder, hidden */
  home: string;
  /** system folders that exist, with their symlink target when they are one (merged /usr) */
  system: { path: string; symlink?: string }[];
  /** secret files under /etc that exist: shown as empty */
  secretFiles: string[];
  /** secret folders under /etc that exist: shown as empty */
  secretDirs: string[];
}

/** Read-only system folders: the toolchain, perl, python, their libraries and /etc. */
export const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];
/** What /etc holds that no build needs and a hostile one would want. */
export const ETC_SECRET_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/machine-id'];
export const ETC_SECRET_DIRS = ['/etc/ssh', '/etc/ssl/private', '/etc/sudoers.d', '/etc/wireguard', '/etc/NetworkManager/system-connections'];

function rlimitArgs(limits: ResourceLimits): string[] {
  return [`--as=${limits.addressSpace}`, `--cpu=${limits.cpuSeconds}`, `--fsize=${limits.fileSize}`, `--nofile=${limits.openFiles}`, '--core=0'];
}

/** Parents before children, so a bind inside another bind is not hidden by it. */
function byDepth(paths: string[]): string[] {
  return [...new Set(paths.map((p) => path.resolve(p)))].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/**
 * The argv that runs FILE ARGS in a bubblewrap sandbox: new user, PID, network, IPC, UTS and
 * cgroup namespaces (no network at all, nothing outlives it), no capabilities, a root of its
 * own holding only the system folders read-only and the spec's folders, an empty home, a
 * private /tmp, and rlimits through prlimit. Pure: every rule is unit-tested.
 */
export function sandboxArgv(spec: SandboxSpec, file: string, args: readonly string[], host: HostLayout): [string, string[]] {
  const limits = { ...DEFAULT_LIMITS, ...spec.limits };
  const a: string[] = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
  for (const s of host.system) a.push(...(s.symlink ? ['--symlink', s.symlink, s.path] : ['--ro-bind', s.path, s.path]));
  for (const f of host.secretFiles) a.push('--ro-bind', '/dev/null', f);
  for (const d of host.secretDirs) a.push('--tmpfs', d);
  a.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp');
  for (const d of spec.devices ?? []) a.push('--dev-bind', d, d);
  for (const d of spec.dirs ?? []) a.push('--dir', d);
  for (const d of spec.tmpfs ?? []) a.push('--tmpfs', d);
  // The home folder exists but is empty and private, whatever is bound inside it below.
  if (host.home && host.home !== '/') a.push('--tmpfs', host.home);
  const writable = new Set(spec.writable.map((p) => path.resolve(p)));
  for (const p of byDepth([...spec.writable, ...(spec.readable ?? [])])) a.push(writable.has(p) ? '--bind' : '--ro-bind', p, p);
  for (const o of spec.overlays ?? []) a.push('--ro-bind', o.source, o.target);
  a.push('--chdir', spec.cwd);
  return ['prlimit', [...rlimitArgs(limits), '--', 'bwrap', ...a, '--', file, ...args]];
}

/**
 * Lines of a sandboxed command's output that show the sandbox refusing something: a write to
 * a read-only folder, a connection with no network (the sandbox has only a loopback of its own: connection refused), a hidden path that was not there. What
 * the report can tell of what was blocked; silence proves nothing was tried.
 */
export function sandboxDenials(log: string, hidden: string[]): string[] {
  const hiddenPaths = hidden.filter((h) => h && h !== '/');
  const found: string[] = [];
  for (const raw of log.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const denied =
      /Read-only file system/.test(line) ||
      /Network is unreachable|Connection refused|Cannot assign requested address|Temporary failure in name resolution|Name or service not known|Could not resolve host/.test(line) ||
      (/No such file or directory|Permission denied/.test(line) && hiddenPaths.some((h) => line.includes(h)));
    if (denied && !found.includes(line)) found.push(line.slice(0, 300));
    if (found.length >= 20) break;
  }
  return found;
}
