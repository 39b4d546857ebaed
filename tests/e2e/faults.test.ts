import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTreePath, patchesDir, projectRoot } from '../../src/common/paths.js';
import type { Verdict } from '../../src/common/verdict.js';
import { RunReportSchema } from '../../src/report/index.js';
import type { RunReport, StageName } from '../../src/report/types.js';
import {
  fixtures,
  kharness,
  killMatching,
  makeFakeKernelTree,
  mountTmpfs,
  pathWithout,
  processesMatching,
  regularFilesUnder,
  requireEnvironment,
  startKharness,
  stillAlive,
  descendantsOf,
  waitFor,
  type FakeTreeRecipes,
} from './helpers.js';

// The fault matrix: each row injects one real fault into one real `kharness run` (a tree whose
// make fails, make killed, a full disk, no compiler, no vng, QEMU killed, a hanging kernel, a
// guest that lies, Ctrl-C and kill -9 at each phase) and checks what README and DESIGN promise:
// the exit code, `fail` versus `error` on the stage that broke, report.json and report.md saying
// what happened, and no "passed" anywhere when kharness could not test. Nothing is mocked.
//
// Cost: rows under "without a kernel" use a fake kernel tree (a git repo with a Makefile that
// misbehaves on purpose) or stop before any build: seconds each. Rows under "on the real 6.12
// tree" reuse the default cache's build of the demo base (fa8f9df0f573) with the zswap config;
// the control row builds clean-1.mbox's patch incrementally once, later rows find it cached.

const DEMO_MBOX = path.join(patchesDir, 'zswap-lifetime-demo.mbox');
const CLEAN_1 = path.join(fixtures, 'faults', 'clean-1.mbox');
const HANG = path.join(fixtures, 'kernel-bugs', 'hang-double-lock.mbox');
// --retest-kept: every row boots its kernel, even one an earlier row's pass was kept for.
const CHEAP = ['--no-base-test', '--tests', 'swap-cycle', '--variants', 'default', '--retest-kept'];

// ---- the matrix ------------------------------------------------------------------------------

interface MatrixRow {
  row: string;
  title: string;
  expected: string;
  got: string;
  ok: boolean;
  seconds: number;
  problems: string[];
}
const matrix: MatrixRow[] = [];

class Row {
  readonly problems: string[] = [];
  readonly got: string[] = [];
  readonly started = Date.now();
  constructor(
    readonly id: string,
    readonly title: string,
    readonly expected: string,
  ) {}
  check(label: string, ok: boolean, detail?: string): boolean {
    if (!ok) this.problems.push(detail ? `${label}: ${detail.slice(0, 400)}` : label);
    return ok;
  }
  note(s: string): void {
    this.got.push(s);
  }
}

/** Runs a row's body, records it in the matrix whatever happens, then fails on any problem. */
async function row(id: string, title: string, expected: string, body: (r: Row) => Promise<void>): Promise<void> {
  const r = new Row(id, title, expected);
  try {
    await body(r);
  } catch (err) {
    r.problems.push(`threw: ${err instanceof Error ? err.message : String(err)}`.slice(0, 600));
  }
  matrix.push({ row: id, title, expected, got: r.got.join('; '), ok: r.problems.length === 0, seconds: Math.round((Date.now() - r.started) / 1000), problems: r.problems });
  expect(r.problems, `row ${id} (${title}): expected ${expected}; got ${r.got.join('; ')}`).toEqual([]);
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

afterAll(() => {
  if (matrix.length === 0) return;
  const lines = [
    '# kharness fault matrix',
    '',
    `Written by tests/e2e/faults.test.ts on ${new Date().toISOString()} (${matrix.length} row(s) ran).`,
    '',
    '| row | fault | expected | got | ok | time |',
    '|---|---|---|---|---|---|',
    ...matrix.map((m) => `| ${m.row} | ${cell(m.title)} | ${cell(m.expected)} | ${cell(m.got)} | ${m.ok ? 'ok' : '**WRONG**'} | ${m.seconds}s |`),
    '',
  ];
  const wrong = matrix.filter((m) => !m.ok);
  if (wrong.length) {
    lines.push('## What is wrong', '');
    for (const m of wrong) lines.push(`- row ${m.row} (${m.title}):`, ...m.problems.map((p) => `  - ${p.replace(/\n/g, ' ')}`));
    lines.push('');
  }
  const text = lines.join('\n');
  console.log(`\n${text}`);
  mkdirSync(path.join(projectRoot, 'reports'), { recursive: true });
  writeFileSync(path.join(projectRoot, 'reports', 'fault-matrix.md'), text);
});

// ---- what every row checks -------------------------------------------------------------------

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'kh-faults-'));
});
afterAll(async () => {
  if (scratch && !process.env.KHARNESS_KEEP_FAULTS) await rm(scratch, { recursive: true, force: true });
});

/** A fresh folder for one row (work, out, trees), unique so its processes can be found by path. */
function rowDir(id: string): { dir: string; work: string; out: string } {
  const dir = path.join(scratch, `row-${id}`);
  mkdirSync(dir, { recursive: true });
  return { dir, work: path.join(dir, 'work'), out: path.join(dir, 'out') };
}

interface Observed {
  exitCode: number | undefined;
  signal?: string;
  stdout: string;
  stderr: string;
  out: string;
}

interface Expectation {
  exit: number;
  /** the stage that broke, with the verdict it must have (on some patch, or on PATCH) */
  stage?: { stage: StageName; verdict: Verdict[]; patch?: number };
  /** must appear in report.md (exit 2: in stderr) */
  message?: RegExp;
  /** report.json and report.md must exist (default: unless exit 2) */
  report?: boolean;
}

function readReportJson(out: string): RunReport | undefined {
  const p = path.join(out, 'report.json');
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as RunReport;
}

function stageLine(report: RunReport): string {
  const bad = report.patches.flatMap((p) =>
    (Object.entries(p.stages) as [StageName, { verdict: Verdict }][]).filter(([, s]) => s.verdict !== 'pass' && s.verdict !== 'skipped').map(([n, s]) => `${p.label} ${n}=${s.verdict}`),
  );
  const verdicts = report.patches.map((p) => `${p.label}:${p.verdict}`).join(',');
  return `status=${report.status} verdict=${report.verdict} patches=[${verdicts}]${bad.length ? ` ${bad.join(' ')}` : ''}`;
}

/** "passed" as a word (a claim), not inside a file name such as test_is_test_passed-all_passed.log */
const PASSED = /(?<![\w./-])passed(?![\w/-])/i;

/** The checks every row makes on a finished run; returns report.json when there is one. */
function judgeRun(r: Row, o: Observed, e: Expectation): RunReport | undefined {
  r.note(`exit ${o.exitCode ?? o.signal}`);
  r.check(`exit code ${e.exit}`, o.exitCode === e.exit, `got ${o.exitCode ?? o.signal}; stderr: ${o.stderr.slice(-600)}`);
  const wantReport = e.report ?? e.exit !== 2;
  const report = readReportJson(o.out);
  const mdPath = path.join(o.out, 'report.md');
  const md = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
  if (wantReport) {
    r.check('report.json exists', report !== undefined);
    r.check('report.md exists', existsSync(mdPath));
  }
  const errorRun = e.exit === 3 || e.exit === 130 || e.exit === 2;
  if (!report) {
    const said = o.stderr.split('\n').filter((l) => l.startsWith('kharness:')).pop();
    if (said) r.note(`no report; stderr: ${said.slice(0, 200)}`);
  }
  if (report) {
    r.note(stageLine(report));
    const parsed = RunReportSchema.safeParse(report);
    r.check('report.json is valid against its schema', parsed.success, parsed.success ? '' : parsed.error.message);
    r.check('report.json exitCode is the exit code', report.exitCode === o.exitCode, `report says ${report.exitCode}, process exited ${o.exitCode}`);
    if (e.exit === 130) r.check('status interrupted', report.status === 'interrupted', `status ${report.status}`);
    if (e.exit === 3) r.check('top-level verdict error', report.verdict === 'error', `verdict ${report.verdict}: ${report.summary}`);
    if (errorRun) {
      r.check('top-level verdict is not pass', report.verdict !== 'pass');
      r.check('no patch is pass', report.patches.every((p) => p.verdict !== 'pass'), report.patches.map((p) => `${p.label} ${p.verdict}`).join(', '));
      // fail blames the kernel: an environment fault must never show up as one
      const fails = report.patches.flatMap((p) => (Object.entries(p.stages) as [StageName, { verdict: Verdict; summary: string }][]).filter(([, s]) => s.verdict === 'fail').map(([n, s]) => `${p.label} ${n}: ${s.summary}`));
      r.check('no stage is fail (fail and error not mixed up)', fails.length === 0, fails.join('; '));
    }
    if (e.exit === 1) {
      const errors = report.patches.flatMap((p) => (Object.entries(p.stages) as [StageName, { verdict: Verdict; summary: string }][]).filter(([, s]) => s.verdict === 'error').map(([n, s]) => `${p.label} ${n}: ${s.summary}`));
      r.check('no stage is error', errors.length === 0, errors.join('; '));
    }
    if (e.stage) {
      const { stage, verdict, patch } = e.stage;
      const candidates = report.patches.filter((p) => patch === undefined || p.index === patch);
      const hit = candidates.some((p) => verdict.includes(p.stages[stage].verdict));
      r.check(`${patch === undefined ? 'a patch' : `patch ${patch}`}: ${stage} is ${verdict.join(' or ')}`, hit, candidates.map((p) => `${p.label} ${stage}=${p.stages[stage].verdict}: ${p.stages[stage].summary}`).join('; ') || 'no patch in the report');
    }
  } else if (e.stage) {
    r.check(`${e.stage.stage} is ${e.stage.verdict.join(' or ')}`, false, 'no report.json');
  }
  if (e.message) {
    if (e.exit === 2) r.check(`stderr says ${e.message}`, e.message.test(o.stderr), o.stderr.slice(-600));
    else r.check(`report.md says ${e.message}`, e.message.test(md), md ? `report.md: ${md.slice(0, 600)}` : 'no report.md');
  }
  if (errorRun) {
    const said = [
      ['summary', report?.summary ?? ''],
      ['report.md', md],
      ['stdout', o.stdout],
    ].filter(([, text]) => PASSED.test(text!));
    r.check('nothing says "passed"', said.length === 0, said.map(([where, text]) => `${where}: …${new RegExp(`.{0,80}${PASSED.source}.{0,40}`, 'is').exec(text!)?.[0]}…`).join('; '));
  }
  return report;
}

/** Nothing was built: no build folder and no artifacts under WORK. */
function checkNothingBuilt(r: Row, work: string): void {
  const built: string[] = [];
  if (existsSync(work)) {
    for (const key of readdirSync(work)) {
      const d = path.join(work, key);
      try {
        for (const f of readdirSync(d)) if (f.startsWith('build-') || f === 'artifacts') built.push(path.join(key, f));
      } catch {
        /* a file */
      }
    }
  }
  r.check('nothing built', built.length === 0, built.join(', '));
}

/**
 * No process started for the run is left: make, QEMU, vng. Found two ways: by the run's unique
 * path in the command line, and as the pids that were below kharness before it was signalled.
 */
async function checkNoLeftovers(r: Row, needle: string, withinMs: number, tracked: number[] = []): Promise<void> {
  const deadline = Date.now() + withinMs;
  const left = () => {
    const byPath = processesMatching(needle);
    return [...byPath, ...stillAlive(tracked).filter((p) => !byPath.some((b) => b.pid === p.pid))];
  };
  let now = left();
  while (now.length && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 500));
    now = left();
  }
  r.check(`no process left within ${withinMs / 1000}s`, now.length === 0, now.map((p) => `${p.pid} ${p.cmdline.slice(0, 120)}`).join('; '));
  // Whatever the check found was started by this row: end it, by pid, so later rows run clean.
  for (const p of now) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function run(args: string[], out: string, env: Record<string, string> = {}): Promise<Observed> {
  // One boot per step: the variants have their own tests (guest.test.ts, demo.test.ts).
  const res = await kharness(['run', ...args, ...(args.includes('--variants') ? [] : ['--variants', 'default']), '--out', out], { env });
  return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, out };
}

async function fakeTree(dir: string, recipes: FakeTreeRecipes): Promise<{ tree: string; series: string }> {
  return makeFakeKernelTree(path.join(dir, 'tree'), recipes);
}

/** P, or an error saying WHAT did not happen in time. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not in time: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const SLOW_BUILD = ['@echo "fake build in $(O)"; while :; do sleep 1; done'];

/** The make of the fake tree's bzImage, once it runs. */
function bzImageMake(work: string): Promise<unknown> {
  return waitFor('make bzImage to start', 120_000, () => processesMatching(`O=${work}/`).find((p) => p.cmdline.includes('bzImage')));
}

// ---- rows without a kernel build -------------------------------------------------------------

describe('fault matrix without a kernel (cheap)', () => {
  it('row 10: --base names a commit the tree does not have', async () => {
    await row('10', '--base deadbeef… (not in the tree)', 'exit 2, message names the commit, nothing built', async (r) => {
      requireEnvironment(); // the default tree: the row is about the commit, not a missing tree
      const { work, out } = rowDir('10');
      const o = await run([DEMO_MBOX, '--base', 'deadbeef'.repeat(5), ...CHEAP, '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 2, message: /deadbeef(deadbeef)*.*(not|no such|unknown|missing)|(not|no such|unknown|missing).*deadbeef/i });
      checkNothingBuilt(r, work);
    });
  }, 300_000);

  it('row 11a: --tree is an empty git repository', async () => {
    await row('11a', '--tree: empty git repo', 'exit 2, "not a Linux kernel tree"', async (r) => {
      const { dir, work, out } = rowDir('11a');
      const tree = path.join(dir, 'empty-repo');
      mkdirSync(tree);
      await execa('git', ['init', '-q', tree]);
      const o = await run([CLEAN_1, '--tree', tree, ...CHEAP, '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 2, message: /not a Linux kernel tree|no commits/i });
      checkNothingBuilt(r, work);
    });
  }, 300_000);

  it('row 11b: --tree is a plain folder', async () => {
    await row('11b', '--tree: plain dir, not git', 'exit 2, "not a git repository"', async (r) => {
      const { dir, work, out } = rowDir('11b');
      const tree = path.join(dir, 'plain');
      mkdirSync(tree);
      writeFileSync(path.join(tree, 'Makefile'), 'all:\n');
      const o = await run([CLEAN_1, '--tree', tree, ...CHEAP, '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 2, message: /not a git repository/i });
      checkNothingBuilt(r, work);
    });
  }, 300_000);

  it('row 12a: the series is an mbox of garbage', async () => {
    await row('12a', 'corrupt series: garbage mbox', 'exit 2, nothing built', async (r) => {
      const { work, out } = rowDir('12a');
      const o = await run([path.join(fixtures, 'faults', 'garbage.mbox'), ...CHEAP, '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 2, message: /garbage\.mbox|no patch|not an mbox|cannot|no message/i });
      checkNothingBuilt(r, work);
    });
  }, 300_000);

  it('row 12b: the series is a truncated .gz', async () => {
    await row('12b', 'corrupt series: truncated .mbox.gz', 'exit 2, nothing built', async (r) => {
      const { work, out } = rowDir('12b');
      const o = await run([path.join(fixtures, 'faults', 'truncated.mbox.gz'), ...CHEAP, '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 2, message: /truncated|gzip|unexpected end|corrupt|incorrect header|cannot/i });
      checkNothingBuilt(r, work);
    });
  }, 300_000);

  it('row 1: the tree cannot make its config (tinyconfig fails)', async () => {
    await row('1', 'tree whose make tinyconfig fails (base tested)', 'exit 3, base build error, make error text in report.md', async (r) => {
      const { dir, work, out } = rowDir('1');
      const { tree, series } = await fakeTree(dir, { tinyconfig: ['@echo "*** fake-kernel: tinyconfig is not supported here (kh-fault-row-1)" >&2; exit 2'] });
      const o = await run([series, '--tree', tree, '--tests', 'swap-cycle', '--work', work, '--json'], out);
      judgeRun(r, o, { exit: 3, stage: { stage: 'build', verdict: ['error'], patch: 0 }, message: /kh-fault-row-1/ });
    });
  }, 300_000);

  it('row 4: the compiler is missing from PATH', async () => {
    await row('4', 'no gcc/cc on PATH', 'exit 3, build error naming gcc', async (r) => {
      const { dir, work, out } = rowDir('4');
      const { tree, series } = await fakeTree(dir, { bzImage: ['$(CC) -c -o $(O)/zswap.o mm/zswap.c', '@mkdir -p $(O)/arch/x86/boot && cp $(O)/zswap.o $(O)/arch/x86/boot/bzImage'] });
      const bin = pathWithout(path.join(dir, 'bin'), /^(x86_64-linux-gnu-)?(gcc|cc|c89|c99|cpp|g\+\+|c\+\+)(-\d+(\.\d+)*)?$/);
      const which = await execa('sh', ['-c', 'command -v gcc cc || true'], { env: { PATH: bin } });
      r.check('the PATH really has no gcc', which.stdout.trim() === '', which.stdout);
      const o = await run([series, '--tree', tree, ...CHEAP, '--work', work, '--json'], out, { PATH: bin });
      judgeRun(r, o, { exit: 3, stage: { stage: 'build', verdict: ['error'] }, message: /gcc|compiler/i });
    });
  }, 300_000);

  it('row 3a: disk full while checking out the worktree (real tree, 50 MiB tmpfs)', async () => {
    await row('3a', '--work on a 50M tmpfs, real 6.12 tree (worktree checkout fills it)', 'exit 3, crashed before any step, "No space left on device"', async (r) => {
      requireEnvironment();
      const { work, out } = rowDir('3a');
      const unmount = await mountTmpfs(work, 50);
      try {
        const o = await run([DEMO_MBOX, ...CHEAP, '--work', work, '--json'], out);
        // the worktree is made before any step exists: the run stops (status crashed), saying why
        const rep = judgeRun(r, o, { exit: 3, message: /No space left on device|ENOSPC/ });
        r.check('status crashed, no step passed', rep?.status === 'crashed' && rep.patches.every((p) => p.verdict !== 'pass'), `status ${rep?.status}`);
      } finally {
        await unmount();
        // the half-made worktree is registered in the tree's .git: drop the stale entry
        await execa('git', ['-C', defaultTreePath(), 'worktree', 'prune'], { reject: false });
      }
    });
  }, 600_000);

  it('row 3b: disk full during the build (fake tree, 50 MiB tmpfs)', async () => {
    await row('3b', '--work on a 50M tmpfs, the build writes 200M', 'exit 3, build error, "No space left on device"', async (r) => {
      const { dir, work, out } = rowDir('3b');
      const { tree, series } = await fakeTree(dir, { bzImage: ['dd if=/dev/zero of=$(O)/vmlinux bs=1M count=200'] });
      const unmount = await mountTmpfs(work, 50);
      try {
        const o = await run([series, '--tree', tree, ...CHEAP, '--work', work, '--json'], out);
        judgeRun(r, o, { exit: 3, stage: { stage: 'build', verdict: ['error'] }, message: /No space left on device|ENOSPC/ });
      } finally {
        await unmount();
      }
    });
  }, 300_000);

  it('row 2: make is killed mid-build', async () => {
    await row('2', 'make (and its job) SIGKILLed mid-build', 'exit 3, build error (killed, not the patch)', async (r) => {
      const { dir, work, out } = rowDir('2');
      const { tree, series } = await fakeTree(dir, { bzImage: SLOW_BUILD });
      const child = startKharness(['run', series, '--tree', tree, ...CHEAP, '--work', work, '--out', out, '--json']);
      try {
        await bzImageMake(work);
        await new Promise((res) => setTimeout(res, 2000));
        const killed = killMatching(`${work}/`, [child.pid!]);
        r.note(`killed ${killed.length} process(es)`);
        const done = await within(child, 120_000, 'kharness finished within 120s of make dying');
        judgeRun(r, { exitCode: done.exitCode, stdout: String(done.stdout), stderr: String(done.stderr), out }, { exit: 3, stage: { stage: 'build', verdict: ['error'] }, message: /killed|SIGKILL|signal/i });
      } finally {
        child.kill('SIGKILL');
        killMatching(`${work}/`);
      }
    });
  }, 300_000);

  it('row 14: Ctrl-C during the build', async () => {
    await row('14', 'SIGINT to kharness while make runs', 'exit 130, interrupted, patch not pass, no make left', async (r) => {
      const { dir, work, out } = rowDir('14');
      const { tree, series } = await fakeTree(dir, { bzImage: SLOW_BUILD });
      const child = startKharness(['run', series, '--tree', tree, ...CHEAP, '--work', work, '--out', out, '--json']);
      try {
        await bzImageMake(work);
        await new Promise((res) => setTimeout(res, 2000));
        const tracked = descendantsOf(child.pid!).map((p) => p.pid);
        r.note(`${tracked.length} process(es) below kharness`);
        child.kill('SIGINT');
        const done = await within(child, 60_000, 'kharness exited within 60s of Ctrl-C');
        const report = judgeRun(r, { exitCode: done.exitCode, stdout: String(done.stdout), stderr: String(done.stderr), out }, { exit: 130 });
        r.check('patch 1 is in the report, not pass nor fail', !!report?.patches.some((p) => p.index === 1 && p.verdict !== 'pass' && p.verdict !== 'fail'), report ? stageLine(report) : 'no report');
        await checkNoLeftovers(r, `${work}/`, 10_000, tracked);
      } finally {
        child.kill('SIGKILL');
        killMatching(`${work}/`);
      }
    });
  }, 300_000);
});

// ---- rows that boot the real 6.12 kernel -----------------------------------------------------

describe('fault matrix on the real 6.12 tree (boots)', () => {
  beforeAll(() => {
    requireEnvironment();
  });

  /** the guest's "test X started" line: old (`test X: start`) and new (JSON event) protocol */
  const TEST_STARTED = /kharness-guest: (test \S+: start|\{"ev":"test"[^\n]*"state":"start")/;
  const consoleOf = (out: string): string => path.join(out, 'patch-1', 'console.log');
  const consoleHas = (out: string, re: RegExp): boolean => existsSync(consoleOf(out)) && re.test(readFileSync(consoleOf(out), 'utf8'));
  const isQemu = (p: { cmdline: string }): boolean => /qemu-system/.test(p.cmdline.split(' ')[0] ?? '');
  /** this run's QEMU: below kharness, or naming the run's folder (the guest's --rwdir) */
  const qemuOf = (out: string, kharnessPid?: number) => [...(kharnessPid ? descendantsOf(kharnessPid) : []), ...processesMatching(`${out}/`)].filter(isQemu);
  let controlExit: number | undefined;

  it('row 0 (control): the clean 1-patch series passes, no fault injected', async () => {
    await row('0', 'control: clean-1.mbox, no fault', 'exit 0, patch 1 pass (so the rows below are about their faults)', async (r) => {
      const { out } = rowDir('0');
      const o = await run([CLEAN_1, ...CHEAP, '--json'], out);
      controlExit = o.exitCode;
      r.note(`exit ${o.exitCode}`);
      r.check('exit 0', o.exitCode === 0, o.stderr.slice(-600));
      const report = readReportJson(out);
      if (report) r.note(stageLine(report));
      r.check('patch 1 pass', report?.patches.find((p) => p.index === 1)?.verdict === 'pass', report ? stageLine(report) : 'no report');
      r.check('status complete', report?.status === 'complete');
    });
  }, 1_800_000);

  it('row 5: vng is missing (KHARNESS_VNG=/nonexistent/vng)', async () => {
    await row('5', 'vng missing (KHARNESS_VNG=/nonexistent/vng)', 'exit 3, boot error naming the path, no QEMU started', async (r) => {
      const { out } = rowDir('5');
      const o = await run([CLEAN_1, ...CHEAP, '--json'], out, { KHARNESS_VNG: '/nonexistent/vng' });
      judgeRun(r, o, { exit: 3, stage: { stage: 'boot', verdict: ['error'] }, message: /\/nonexistent\/vng|virtme-ng/ });
      r.check('no console was written (nothing booted)', !consoleHas(out, /Linux version/));
    });
  }, 1_800_000);

  it('row 8: the guest writes malformed results (KHARNESS_TEST_FAULT=malformed-results)', async () => {
    await row('8', 'guest writes broken JSON lines', 'exit 3, test error naming results.jsonl and a line', async (r) => {
      const { out } = rowDir('8');
      const o = await run([CLEAN_1, ...CHEAP, '--json'], out, { KHARNESS_TEST_FAULT: 'malformed-results' });
      judgeRun(r, o, { exit: 3, stage: { stage: 'test', verdict: ['error'] }, message: /results\.jsonl[^\n]*line \d+|line \d+[^\n]*results\.jsonl/ });
    });
  }, 1_800_000);

  it('row 9: the guest makes results.jsonl a symlink to /etc/shadow', async () => {
    await row('9', 'guest symlinks results.jsonl -> /etc/shadow', 'exit 3, test error "symbolic link", /etc/shadow never copied', async (r) => {
      const { out } = rowDir('9');
      const o = await run([CLEAN_1, ...CHEAP, '--json'], out, { KHARNESS_TEST_FAULT: 'symlink-results' });
      judgeRun(r, o, { exit: 3, stage: { stage: 'test', verdict: ['error'] }, message: /symbolic link/i });
      const shadow = readFileSync('/etc/shadow', 'utf8').split('\n').filter((l) => l.length >= 10);
      const leaked: string[] = [];
      for (const f of regularFilesUnder(out)) {
        const text = readFileSync(f, 'utf8');
        if (shadow.some((l) => text.includes(l))) leaked.push(path.relative(out, f));
      }
      if (shadow.some((l) => o.stdout.includes(l) || o.stderr.includes(l))) leaked.push('stdout/stderr');
      r.check('no /etc/shadow line in any report file or output', leaked.length === 0, leaked.join(', '));
    });
  }, 1_800_000);

  it('row 6: QEMU is killed while the guest runs the tests', async () => {
    await row('6', 'qemu-system SIGKILLed after the guest started', 'exit 3, boot or test error (QEMU died, not the kernel)', async (r) => {
      const { out } = rowDir('6');
      const child = startKharness(['run', CLEAN_1, ...CHEAP, '--out', out, '--json']);
      try {
        await waitFor('the guest to start', 900_000, () => consoleHas(out, /kharness-guest: start/), 1000);
        await new Promise((res) => setTimeout(res, 3000));
        const qemu = await waitFor('the QEMU process of this run', 30_000, () => {
          const q = qemuOf(out, child.pid);
          return q.length ? q : undefined;
        });
        // A QEMU can be listed twice (a descendant, and by its command line): kill each pid once,
        // and one that is gone already (reaped between listing and kill) is not an error.
        const pids = [...new Set(qemu.map((q) => q.pid))];
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
          }
        }
        r.note(`killed qemu ${pids.join(',')}`);
        const done = await within(child, 300_000, 'kharness finished within 5 min of QEMU dying');
        const rep = judgeRun(r, { exitCode: done.exitCode, stdout: String(done.stdout), stderr: String(done.stderr), out }, { exit: 3, message: /qemu|virtme|vng|killed|signal/i });
        // Before the suite started it is the boot stage's error; once a test was running, that test's.
        const broke = rep?.patches.filter((p) => p.stages.boot.verdict === 'error' || p.stages.test.verdict === 'error') ?? [];
        r.check('patch 1: boot or test is error (QEMU died, not the kernel)', broke.some((p) => p.index === 1), rep?.patches.map((p) => `${p.label} boot=${p.stages.boot.verdict} test=${p.stages.test.verdict}`).join('; ') ?? 'no report');
      } finally {
        child.kill('SIGKILL');
        killMatching(`${out}/`);
      }
    });
  }, 1_800_000);

  async function interruptRun(r: Row, id: string, when: 'boot' | 'test', signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
    const { out } = rowDir(id);
    const child = startKharness(['run', CLEAN_1, ...CHEAP, '--out', out]);
    // A run that ends before the moment to signal it (a broken build) fails the row at once,
    // instead of the wait running out its 15 minutes.
    const running = (): true => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kharness exited (${child.exitCode ?? child.signalCode}) before the ${when} began: see ${out}/report.md`);
      return true;
    };
    try {
      if (when === 'boot') {
        await waitFor('QEMU to start', 900_000, () => running() && qemuOf(out, child.pid).length > 0, 250);
      } else {
        await waitFor('the first guest test to start', 900_000, () => running() && consoleHas(out, TEST_STARTED), 250);
        await new Promise((res) => setTimeout(res, 1500)); // swap-cycle runs ~10s of guest time
      }
      r.note(`signalled ${when === 'boot' && consoleHas(out, /kharness-guest: start/) ? 'after the guest started (too late for "boot")' : `during ${when}`}`);
      const tracked = descendantsOf(child.pid!).map((p) => p.pid);
      r.note(`${tracked.length} process(es) below kharness, ${qemuOf(out, child.pid).length} QEMU`);
      child.kill(signal);
      const done = await within(child, 120_000, `kharness exited within 120s of ${signal}`);
      if (signal === 'SIGINT') {
        const report = judgeRun(r, { exitCode: done.exitCode, stdout: String(done.stdout), stderr: String(done.stderr), out }, { exit: 130 });
        r.check('patch 1 is in the report, not pass nor fail', !!report?.patches.some((p) => p.index === 1 && p.verdict !== 'pass' && p.verdict !== 'fail'), report ? stageLine(report) : 'no report');
        await checkNoLeftovers(r, `${out}/`, 15_000, tracked);
      } else {
        r.note(`killed (${done.signal ?? done.exitCode})`);
        const report = readReportJson(out);
        if (report) {
          r.note(stageLine(report));
          r.check('the report left behind does not claim a pass', report.verdict !== 'pass' && report.patches.every((p) => p.verdict !== 'pass'), stageLine(report));
        }
        await checkNoLeftovers(r, `${out}/`, 15_000, tracked);
      }
    } finally {
      child.kill('SIGKILL');
      killMatching(`${out}/`);
    }
  }

  it('row 15: Ctrl-C during the boot', async () => {
    await row('15', 'SIGINT while QEMU boots', 'exit 130, interrupted, patch not pass, no QEMU left', (r) => interruptRun(r, '15', 'boot', 'SIGINT'));
  }, 1_800_000);

  it('row 16: Ctrl-C during the guest tests', async () => {
    await row('16', 'SIGINT while the guest tests run', 'exit 130, interrupted, patch not pass, no QEMU left', (r) => interruptRun(r, '16', 'test', 'SIGINT'));
  }, 1_800_000);

  it('row 17: kill -9 of kharness during the guest tests', async () => {
    await row('17', 'SIGKILL to kharness while the guest tests run', 'no qemu-system left within 15s', (r) => interruptRun(r, '17', 'test', 'SIGKILL'));
  }, 1_800_000);

  it('row 13: two runs at once on the same cache and tree', async () => {
    await row('13', 'two runs at once, same cache and tree', 'both exit like a single run (control), both reports; a waiter names the holder pid', async (r) => {
      const a = rowDir('13a');
      const b = rowDir('13b');
      const single = controlExit ?? 0;
      const first = startKharness(['run', CLEAN_1, ...CHEAP, '--out', a.out, '--json']);
      await new Promise((res) => setTimeout(res, 2000));
      const second = startKharness(['run', CLEAN_1, ...CHEAP, '--out', b.out, '--json']);
      try {
        const [ra, rb] = await Promise.all([first, second]);
        r.note(`exits ${ra.exitCode}/${rb.exitCode}`);
        r.check(`first exits ${single} like a single run`, ra.exitCode === single, String(ra.stderr).slice(-600));
        r.check(`second exits ${single} like a single run`, rb.exitCode === single, String(rb.stderr).slice(-600));
        for (const [name, res, out, other] of [
          ['first', ra, a.out, second.pid],
          ['second', rb, b.out, first.pid],
        ] as const) {
          const report = readReportJson(out);
          r.check(`${name}: report.json exists`, report !== undefined);
          r.check(`${name}: report.md exists`, existsSync(path.join(out, 'report.md')));
          if (report) {
            r.note(`${name} ${stageLine(report)}`);
            r.check(`${name}: status complete`, report.status === 'complete', stageLine(report));
          }
          const stderr = String(res.stderr);
          // The holder may be the other run (pid `other`) or, on a shared machine, a third run.
          if (/in use|waiting|locked|lock/i.test(stderr)) r.check(`${name}: the lock message names the holder's pid (the other run is ${other})`, stderr.includes(String(other)) || /process \d+/.test(stderr), stderr.slice(-400));
        }
      } finally {
        first.kill('SIGKILL');
        second.kill('SIGKILL');
        killMatching(`${a.out}/`);
        killMatching(`${b.out}/`);
      }
    });
  }, 3_600_000);

  it('row 7: the kernel hangs (hang-double-lock.mbox)', async () => {
    await row('7', 'guest hang: zswap_invalidate() self-deadlock', 'exit 1, test fail (hang), no error', async (r) => {
      const { out } = rowDir('7');
      // A small budget so the hang is seen in minutes: per-test budget 120 s, then blocked-task dumps.
      const o = await run([HANG, ...CHEAP, '--budget', '240', '--json'], out);
      judgeRun(r, o, { exit: 1, stage: { stage: 'test', verdict: ['fail'] }, message: /hang|printed nothing|heartbeat|budget/i });
      await checkNoLeftovers(r, `${out}/`, 15_000);
    });
  }, 2_400_000);
});
