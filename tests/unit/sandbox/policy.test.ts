import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, sandboxArgv, sandboxDenials, type HostLayout } from '../../../src/sandbox/policy.js';

const host: HostLayout = {
  home: '/home/maint',
  system: [{ path: '/usr' }, { path: '/bin', symlink: 'usr/bin' }, { path: '/etc' }],
  secretFiles: ['/etc/shadow'],
  secretDirs: ['/etc/ssh'],
};

const spec = {
  cwd: '/home/maint/.cache/kharness/work/linux/src',
  writable: ['/home/maint/.cache/kharness/work/linux/build-zswap', '/home/maint/.cache/kharness/work/linux/src', '/home/maint/.cache/kharness/ccache'],
  readable: ['/home/maint/linux/.git', '/home/maint/kharness/kernel-configs'],
  env: {},
};

/** The bwrap options as [option, ...operands] groups, in order. */
function groups(argv: string[]): string[][] {
  const bwrap = argv.indexOf('bwrap');
  const end = argv.indexOf('--', bwrap);
  const out: string[][] = [];
  const arity: Record<string, number> = { '--ro-bind': 2, '--bind': 2, '--symlink': 2, '--tmpfs': 1, '--dev': 1, '--proc': 1, '--chdir': 1, '--cap-drop': 1 };
  for (let i = bwrap + 1; i < end; ) {
    const n = arity[argv[i]!] ?? 0;
    out.push(argv.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

describe('the sandbox argv', () => {
  const [cmd, argv] = sandboxArgv(spec, 'make', ['-j2', 'bzImage'], host);
  const g = groups(argv);
  const at = (...group: string[]): number => g.findIndex((x) => x.join('\0') === group.join('\0'));

  it('runs the command under prlimit and bwrap with every namespace unshared and no capabilities', () => {
    expect(cmd).toBe('prlimit');
    expect(argv.slice(0, argv.indexOf('bwrap'))).toEqual([`--as=${DEFAULT_LIMITS.addressSpace}`, `--cpu=${DEFAULT_LIMITS.cpuSeconds}`, `--fsize=${DEFAULT_LIMITS.fileSize}`, `--nofile=${DEFAULT_LIMITS.openFiles}`, '--core=0', '--']);
    for (const flag of ['--unshare-all', '--die-with-parent', '--new-session']) expect(at(flag)).toBeGreaterThanOrEqual(0);
    expect(at('--cap-drop', 'ALL')).toBeGreaterThanOrEqual(0);
    expect(g.some((x) => x[0] === '--share-net')).toBe(false);
    expect(argv.slice(argv.lastIndexOf('--'))).toEqual(['--', 'make', '-j2', 'bzImage']);
  });

  it('shows the system read-only, masks /etc secrets, and never binds / or the home folder itself', () => {
    expect(at('--ro-bind', '/usr', '/usr')).toBeGreaterThanOrEqual(0);
    expect(at('--symlink', 'usr/bin', '/bin')).toBeGreaterThanOrEqual(0);
    expect(at('--ro-bind', '/dev/null', '/etc/shadow')).toBeGreaterThan(at('--ro-bind', '/etc', '/etc'));
    expect(at('--tmpfs', '/etc/ssh')).toBeGreaterThan(at('--ro-bind', '/etc', '/etc'));
    expect(g.some((x) => (x[0] === '--bind' || x[0] === '--ro-bind') && (x[1] === '/' || x[1] === '/home/maint' || x[1] === '/home'))).toBe(false);
    expect(at('--tmpfs', '/tmp')).toBeGreaterThanOrEqual(0);
  });

  it('binds the spec folders after the empty home, parents first, writable only where asked', () => {
    const home = at('--tmpfs', '/home/maint');
    expect(home).toBeGreaterThanOrEqual(0);
    const src = at('--bind', spec.writable[1]!, spec.writable[1]!);
    const build = at('--bind', spec.writable[0]!, spec.writable[0]!);
    expect(src).toBeGreaterThan(home);
    expect(build).toBeGreaterThan(home);
    expect(at('--ro-bind', '/home/maint/linux/.git', '/home/maint/linux/.git')).toBeGreaterThan(home);
    expect(at('--bind', '/home/maint/linux/.git', '/home/maint/linux/.git')).toBe(-1);
    expect(at('--chdir', spec.cwd)).toBeGreaterThan(build);
  });

  it('puts overlays after the folder they sit in', () => {
    const target = `${spec.writable[1]}/scripts/get_maintainer.pl`;
    const [, a] = sandboxArgv({ ...spec, overlays: [{ source: '/base/scripts/get_maintainer.pl', target }] }, 'perl', [], host);
    const gg = groups(a);
    const overlay = gg.findIndex((x) => x[0] === '--ro-bind' && x[2] === target);
    const tree = gg.findIndex((x) => x[0] === '--bind' && x[1] === spec.writable[1]);
    expect(overlay).toBeGreaterThan(tree);
  });
});

describe('what the sandbox blocked, from the output', () => {
  it('names writes to read-only folders, connections and hidden paths, and nothing else', () => {
    const log = [
      '  CC      mm/zswap.o',
      "touch: cannot touch '/usr/pwned': Read-only file system",
      'bash: connect: Connection refused',
      'cat: /home/maint/.ssh/id_ed25519: No such file or directory',
      'cat: include/missing.h: No such file or directory',
      'curl: (6) Could not resolve host: example.com',
      'ssh: Could not resolve hostname evil: Temporary failure in name resolution',
    ].join('\n');
    expect(sandboxDenials(log, ['/home/maint', '/'])).toEqual([
      "touch: cannot touch '/usr/pwned': Read-only file system",
      'bash: connect: Connection refused',
      'cat: /home/maint/.ssh/id_ed25519: No such file or directory',
      'curl: (6) Could not resolve host: example.com',
      'ssh: Could not resolve hostname evil: Temporary failure in name resolution',
    ]);
    expect(sandboxDenials('  CC      mm/zswap.o\n  LD      vmlinux\n', ['/home/maint'])).toEqual([]);
  });
});

describe('PATH folders the sandbox shows', () => {
  it('adds folders outside the system, the home and the cache, read-only, and nothing else', async () => {
    const { pathFolders } = await import('../../../src/sandbox/index.js');
    const saved = process.env.KHARNESS_CACHE;
    process.env.KHARNESS_CACHE = '/var/cache/kh';
    try {
      expect(pathFolders('/home/maint/.pyenv/shims:/opt/cross/bin:/usr/local/bin:/usr/bin:/bin:/:relative/bin:/var/cache/kh/bin:/tmp/faults/bin:/home/maint', '/home/maint')).toEqual(['/tmp/faults/bin']);
    } finally {
      if (saved === undefined) delete process.env.KHARNESS_CACHE;
      else process.env.KHARNESS_CACHE = saved;
    }
  });
});
