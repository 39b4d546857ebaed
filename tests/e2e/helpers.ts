import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/** Applies a one-patch bug mbox to the default tree (or `tree`) and builds it: the artifact folder to boot. */
export async function buildBugKernel(mbox: string, tree?: string): Promise<{ applied: AppliedJson; build: BuildJson }> {
  const apply = await kharness(['apply', mbox, '--json', ...(tree ? ['--tree', tree] : [])]);
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

// ---- fault injection (tests/e2e/faults.test.ts) ------------------------------------------------
// Appended for the fault matrix; imports are aliased so they never clash with the ones above.
import * as faultFs from 'node:fs';
import * as faultPath from 'node:path';
import { execa as faultExeca, type ResultPromise as FaultChild } from 'execa';

/** What the fake tree's Makefile does for a target: make recipe lines (a tab is added to each). */
export interface FakeTreeRecipes {
  tinyconfig?: string[];
  bzImage?: string[];
}

/**
 * A tiny git repository that passes for a Linux kernel tree (Makefile, Kconfig, mm/Kconfig,
 * mm/zswap.c, scripts/kconfig/merge_config.sh) with a Makefile whose targets do what a row needs:
 * fail at tinyconfig, build forever, fill the disk, call the compiler. `series` is a one-patch
 * mbox (git format-patch --base) touching mm/zswap.c that applies to the tree's HEAD.
 */
export async function makeFakeKernelTree(dir: string, recipes: FakeTreeRecipes = {}): Promise<{ tree: string; series: string }> {
  const tab = (lines: string[]): string => lines.map((l) => `\t${l}`).join('\n');
  const files: Record<string, string> = {
    Makefile: [
      '# A stand-in for a Linux kernel tree: only the targets kharness calls (kh-fake-tree).',
      'O ?= .',
      '.PHONY: tinyconfig olddefconfig bzImage mm/zswap.i clean',
      'tinyconfig:',
      tab(recipes.tinyconfig ?? ['@mkdir -p $(O) && echo "# fake tinyconfig" > $(O)/.config']),
      'olddefconfig:',
      '\t@true',
      'bzImage:',
      tab(recipes.bzImage ?? ['@mkdir -p $(O)/arch/x86/boot && echo fake > $(O)/arch/x86/boot/bzImage && echo fake > $(O)/System.map']),
      'mm/zswap.i:',
      '\t@mkdir -p $(O)/mm && cp mm/zswap.c $(O)/mm/zswap.i',
      'clean:',
      '\t@true',
      '',
    ].join('\n'),
    Kconfig: 'mainmenu "fake kernel"\nsource "mm/Kconfig"\n',
    'mm/Kconfig': 'config ZSWAP\n\tbool "fake zswap"\n',
    'mm/zswap.c': '/* fake zswap */\nint zswap_fake(void)\n{\n\treturn 0;\n}\n',
    'scripts/kconfig/merge_config.sh': [
      '#!/bin/sh',
      '# fake merge_config.sh -m -O DIR BASE FRAGMENT...: appends the fragments to BASE',
      '[ "$1" = -m ] && shift',
      '[ "$1" = -O ] && shift 2',
      'base=$1; shift',
      'cat "$@" >> "$base"',
      '',
    ].join('\n'),
  };
  for (const [name, text] of Object.entries(files)) {
    faultFs.mkdirSync(faultPath.dirname(faultPath.join(dir, name)), { recursive: true });
    faultFs.writeFileSync(faultPath.join(dir, name), text);
  }
  faultFs.chmodSync(faultPath.join(dir, 'scripts/kconfig/merge_config.sh'), 0o755);
  const env = { GIT_AUTHOR_NAME: 'Fault Row', GIT_AUTHOR_EMAIL: 'fault@example.com', GIT_COMMITTER_NAME: 'Fault Row', GIT_COMMITTER_EMAIL: 'fault@example.com', GIT_AUTHOR_DATE: '2024-12-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-12-01T00:00:00Z' };
  const g = (...args: string[]) => faultExeca('git', ['-C', dir, ...args], { env });
  await g('init', '-q', '-b', 'master');
  await g('add', '-A');
  await g('commit', '-q', '-m', 'fake kernel tree');
  faultFs.appendFileSync(faultPath.join(dir, 'mm/zswap.c'), '/* a comment from the patch */\n');
  await g('commit', '-q', '-a', '-m', 'mm: zswap: add a comment\n\nA harmless change for the fault matrix.\n\nSigned-off-by: Fault Row <fault@example.com>');
  const mbox = await g('format-patch', '-1', '--stdout', '--base=HEAD~1', 'HEAD');
  await g('reset', '-q', '--hard', 'HEAD~1');
  const series = `${dir}.mbox`;
  faultFs.writeFileSync(series, `${mbox.stdout}\n`);
  return { tree: dir, series };
}

export interface ProcInfo {
  pid: number;
  cmdline: string;
}

/** Processes whose command line contains NEEDLE (read from /proc, so nothing is guessed by name). */
export function processesMatching(needle: string, except: number[] = []): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of faultFs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || except.includes(pid)) continue;
    try {
      const cmdline = faultFs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmdline && cmdline.includes(needle)) out.push({ pid, cmdline });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** SIGKILLs, by pid, the processes a test started that contain NEEDLE (a path unique to the test). */
export function killMatching(needle: string, except: number[] = []): ProcInfo[] {
  const found = processesMatching(needle, except);
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return found;
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts `kharness ARGS` without waiting, so a test can signal it. */
export function startKharness(args: string[], env: Record<string, string> = {}): FaultChild<{ reject: false; stdin: 'ignore'; maxBuffer: number; env: Record<string, string> }> {
  return faultExeca(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore', maxBuffer: 512 * 1024 * 1024, env });
}

/** Every regular file under DIR, found without following symbolic links. */
export function regularFilesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!faultFs.existsSync(dir)) return out;
  for (const name of faultFs.readdirSync(dir)) {
    const p = faultPath.join(dir, name);
    const st = faultFs.lstatSync(p);
    if (st.isDirectory()) out.push(...regularFilesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * A PATH folder of symlinks to every program on the current PATH except those EXCLUDE matches
 * (for "the compiler is missing": everything else still works).
 */
export function pathWithout(binDir: string, exclude: RegExp): string {
  faultFs.mkdirSync(binDir, { recursive: true });
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!d || !faultFs.existsSync(d)) continue;
    for (const name of faultFs.readdirSync(d)) {
      if (exclude.test(name)) continue;
      const link = faultPath.join(binDir, name);
      if (faultFs.existsSync(link)) continue;
      try {
        faultFs.symlinkSync(faultFs.realpathSync(faultPath.join(d, name)), link);
      } catch {
        /* dangling or duplicate */
      }
    }
  }
  return binDir;
}

/** Mounts a tmpfs of SIZE MiB at DIR (the tests run as root); returns the unmount. */
export async function mountTmpfs(dir: string, sizeMiB: number): Promise<() => Promise<void>> {
  faultFs.mkdirSync(dir, { recursive: true });
  await faultExeca('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  return async () => {
    await faultExeca('umount', ['-l', dir], { reject: false });
  };
}

/** Every live process below PID (children, grandchildren, ...), from /proc. */
export function descendantsOf(pid: number): ProcInfo[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const entry of faultFs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = faultFs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      parent.set(Number(entry), Number(fields[1]));
      cmd.set(Number(entry), faultFs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      /* gone */
    }
  }
  const out: ProcInfo[] = [];
  for (const [p] of parent) {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) {
      if (q === pid) {
        out.push({ pid: p, cmdline: cmd.get(p) ?? '' });
        break;
      }
    }
  }
  return out;
}

/** The ones of PIDS still alive (zombies count as gone). */
export function stillAlive(pids: number[]): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const pid of pids) {
    try {
      const stat = faultFs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      out.push({ pid, cmdline: faultFs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      /* gone */
    }
  }
  return out;
}

// ---- the stale-entry crash (invalidate-no-erase.mbox and the demo's 2/3) -----------------------
/** Where freeing a stale zswap entry again crashes: zswap_entry_free is often inlined into zswap_store. */
const FREE_PATH = ['zswap_entry_free', 'zs_free', 'zswap_store', 'zswap_invalidate', 'zswap_lru_del'];

/**
 * The kernel tripping over an entry the tree still points to after its free: a crash in the free
 * path (its blamed function or top frames), or, when `warnings`, the WARN_ON_ONCE of the first
 * swapoff that finds the tree non-empty.
 */
export function staleEntryCrash<F extends { kind: string; function?: string; callTrace: string[] }>(findings: F[], opts: { warnings?: boolean } = {}): F | undefined {
  const inFreePath = (f: F): boolean => FREE_PATH.includes(f.function ?? '') || f.callTrace.slice(0, 3).some((fn) => FREE_PATH.includes(fn));
  return findings.find((f) => (/^(BUG|KASAN|KFENCE|general protection fault|Oops)/.test(f.kind) && inFreePath(f)) || (opts.warnings === true && f.kind === 'WARNING' && f.function === 'zswap_swapoff'));
}

/** A `kharness run … --json` into a fresh temp folder: its report, exit code and stderr. */
export interface RunInTemp<R> {
  out: string;
  report: R;
  exitCode: number;
  stderr: string;
}

export async function runInTemp<R>(prefix: string, args: string[]): Promise<RunInTemp<R>> {
  requireEnvironment();
  const out = await mkdtemp(path.join(tmpdir(), prefix));
  const r = await kharness(['run', ...args, '--out', path.join(out, 'report'), '--json']);
  return { out, report: r.json<R>(), exitCode: r.exitCode, stderr: r.stderr };
}

/**
 * What a clean kernel may show besides `pass`: a test_zswap case that failed and then passed when
 * the guest ran test_zswap again (upstream's timing-sensitive cases, e.g. test_no_kmem_bypass,
 * can lose their race under TCG). Nothing else: no failed case, no other test flaky. Returns
 * undefined for a clean test, else what is wrong with it.
 */
export function uncleanTest(t: { name: string; verdict: string; summary: string; selftest?: { status: string }[] | { cases: { status: string }[] } }): string | undefined {
  if (t.verdict === 'pass') return undefined;
  const cases = Array.isArray(t.selftest) ? t.selftest : (t.selftest?.cases ?? []);
  const onlyFlakyCases = t.name.split('@')[0] === 'selftest-zswap' && cases.some((c) => c.status === 'flaky') && !cases.some((c) => c.status === 'fail');
  return t.verdict === 'flaky' && onlyFlakyCases ? undefined : `${t.name}: ${t.verdict}: ${t.summary}`;
}

/** A step of a clean kernel: every stage passed, but for a test stage flaky only by uncleanTest's rule. */
export function uncleanStep(p: { label: string; verdict: string; stages: Record<string, { verdict: string }>; tests: Parameters<typeof uncleanTest>[0][] }): string | undefined {
  const stages = Object.entries(p.stages).filter(([n, s]) => s.verdict !== 'pass' && !(n === 'test' && s.verdict === 'flaky'));
  const tests = p.tests.map(uncleanTest).filter((x): x is string => x !== undefined);
  const problems = [...stages.map(([n, s]) => `${n} ${s.verdict}`), ...tests];
  return problems.length ? `${p.label}: ${problems.join('; ')}` : undefined;
}
