import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InfraError, InputError } from '../common/errors.js';
import { cacheDir, projectRoot } from '../common/paths.js';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { bootAndRun, makeDiskImage, type BootOutcome } from '../boot/vm.js';
import type { Finding } from '../boot/triage.js';
import { SUITE_PATHS, judgeTest, type CoverageEntry, type TestJudgement } from './judge.js';
import { LIFETIME_PATHS } from '../model/replay.js';
import { ALL_TESTS, PROFILES, profileEnv, type GuestTestName, type SuiteProfile } from './profiles.js';
import { parseResultsJsonl, type GuestTestLine } from './results.js';
import { planProbes, type ProbePlan } from './trace-capture.js';

export * from './profiles.js';
export type { TestJudgement } from './judge.js';

/** The kernel to test: a bzImage and what its build left for us. */
export interface KernelUnderTest {
  image: string;
  systemMap?: string;
  zswapPreprocessed?: string;
  selftest?: string;
}

export interface SuiteOptions {
  kernel: KernelUnderTest;
  tests?: GuestTestName[];
  profile?: string;
  /** overrides the race test's duration */
  durationS?: number;
  /** where the run directory goes (shared with the guest) */
  outDir: string;
  trace?: boolean;
  accel?: 'kvm' | 'tcg';
  /** swap on virtio disk images made per run (default), or on zram in the guest */
  swap?: 'disk' | 'zram';
  /** override the profile's whole-boot budget and console-silence limit (seconds) */
  budgetS?: number;
  silenceS?: number;
  onLine?: (line: string) => void;
}

export interface SuiteResult {
  verdict: Verdict;
  summary: string;
  boot: Omit<BootOutcome, 'findings'>;
  /** console findings (oops, WARN, KASAN, ...) with the test that was running */
  findings: (Finding & { test?: string })[];
  tests: TestJudgement[];
  probes?: { placed: string[]; missing: { fn: string; reason: string }[] };
  /** every lifetime path, summed over the traced tests (undefined: nothing was traced) */
  coverage?: CoverageEntry[];
  /** lifetime paths no traced test ran: visible gaps, not silent passes */
  gaps: string[];
  runDir: string;
  profile: string;
  /** host time spent judging: trace decoding, model replay, oracles */
  judgeMs?: number;
}

/** Compiles the guest workload once per source version (static, so the guest needs no libs). */
export async function workloadBinary(): Promise<string> {
  const source = path.join(projectRoot, 'src', 'guest', 'zswap-stress.c');
  const hash = createHash('sha256').update(await readFile(source)).digest('hex').slice(0, 12);
  const out = path.join(cacheDir(), 'bin', `zswap-stress-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  const r = await execa('gcc', ['-O2', '-Wall', '-static', '-pthread', '-o', `${out}.tmp`, source], { reject: false, all: true });
  if (r.exitCode !== 0) throw new InfraError(`cannot compile the guest workload: ${String(r.all)}`);
  await execa('mv', [`${out}.tmp`, out]);
  return out;
}

export function resolveTests(list?: string | string[]): GuestTestName[] {
  if (!list || (Array.isArray(list) && list.length === 0)) return [...ALL_TESTS];
  const names = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(ALL_TESTS as readonly string[]).includes(n)) throw new InputError(`unknown test "${n}"`, `tests: ${ALL_TESTS.join(', ')}`);
  }
  return names as GuestTestName[];
}

export function resolveProfile(name = 'quick'): SuiteProfile {
  const p = PROFILES[name];
  if (!p) throw new InputError(`unknown profile "${name}"`, `profiles: ${Object.keys(PROFILES).join(', ')}`);
  return p;
}

/**
 * Boots the kernel once and runs the guest suite in it, then judges every test: its own
 * status, the data it read back, the console, and (when traced) the kernel's zswap history
 * replayed through the reference model.
 */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const profile = resolveProfile(opts.profile);
  const tests = opts.tests ?? [...ALL_TESTS];
  const runDir = opts.outDir;
  await rm(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  if (!existsSync(opts.kernel.image)) throw new InputError(`kernel image ${opts.kernel.image} does not exist`);

  await copyFile(await workloadBinary(), path.join(runDir, 'zswap-stress'));
  if (opts.kernel.selftest && existsSync(opts.kernel.selftest)) await copyFile(opts.kernel.selftest, path.join(runDir, 'test_zswap'));

  let probePlan: ProbePlan | undefined;
  const trace = opts.trace !== false && opts.kernel.systemMap !== undefined;
  if (trace) {
    probePlan = await planProbes(opts.kernel.systemMap!, opts.kernel.zswapPreprocessed);
    await writeFile(path.join(runDir, 'probes.txt'), `${probePlan.lines.join('\n')}\n`);
  }
  const zram = opts.swap === 'zram';
  const disks = zram ? [] : [path.join(runDir, 'swap0.img'), path.join(runDir, 'swap1.img')];
  for (const d of disks) await makeDiskImage(d, profile.swapMiB);
  const env: Record<string, string> = {
    TESTS: tests.join(' '),
    SWAP_KIND: zram ? 'zram' : 'disk',
    SWAP_MIB: String(profile.swapMiB),
    SWAP_DEVICES: '/dev/vda /dev/vdb',
    TRACE: trace ? '1' : '0',
    TRACE_TESTS: tracedTests(tests).join(' '),
    // The counter clock is a global atomic: it totally orders events across CPUs.
    TRACE_CLOCK: 'counter',
    TRACE_BUFFER_KB: '16384',
    TEST_TIMEOUT: String(Math.max(60, Math.round((opts.budgetS ?? profile.budgetS) / 2))),
    ...profileEnv(profile, { durationS: opts.durationS }),
  };
  await writeFile(path.join(runDir, 'plan.env'), `${Object.entries(env).map(([k, v]) => `${k}="${v}"`).join('\n')}\n`);

  const budgetS = opts.budgetS ?? profile.budgetS + (opts.durationS ? opts.durationS : 0);
  const boot = await bootAndRun({
    image: opts.kernel.image,
    runDir,
    command: `bash ${path.join(projectRoot, 'src', 'guest', 'suite.sh')} ${runDir}`,
    memory: profile.memory,
    cpus: profile.cpus,
    timeoutS: budgetS,
    silenceS: opts.silenceS ?? profile.silenceS,
    disks,
    // On an oops the kernel prints what the trace pipe had not yet carried out: the last events
    // before the crash, which the model replays with the rest.
    append: trace ? ['ftrace_dump_on_oops'] : [],
    accel: opts.accel,
    onLine: opts.onLine,
  });
  // Disk images are large and worthless after the run.
  for (const d of disks) await rm(d, { force: true });

  const consoleText = await readFile(boot.consoleLog, 'utf8').catch(() => '');
  const findings = attributeFindings(boot.findings, consoleText);
  const resultsText = await readFile(path.join(runDir, 'results.jsonl'), 'utf8').catch(() => '');
  const { lines } = parseResultsJsonl(resultsText);
  const statusText = (await readFile(path.join(runDir, 'status'), 'utf8').catch(() => '')).trim();
  const probeStatus = await readFile(path.join(runDir, 'probes.status'), 'utf8').catch(() => '');
  const placed = probeStatus.split('\n').filter((l) => l.startsWith('ok ')).map((l) => l.slice(3));
  const failedProbes = probeStatus.split('\n').filter((l) => l.startsWith('fail ')).map((l) => ({ fn: l.slice(5).split(' ')[1] ?? l, reason: 'tracefs refused the probe' }));

  const judged: TestJudgement[] = [];
  const judgeStarted = Date.now();
  for (const name of tests) {
    const line: GuestTestLine | undefined = lines.find((l) => l.test === name);
    judged.push(
      await judgeTest({
        name,
        line,
        runDir,
        boot,
        findings: findings.filter((f) => f.test === name),
        tracing: trace && tracedTests(tests).includes(name) ? { probes: probePlan!, placed, failed: failedProbes } : undefined,
        setupError: statusText.startsWith('error') ? statusText : undefined,
      }),
    );
  }
  const orphanFindings = findings.filter((f) => !f.test || !tests.includes(f.test as GuestTestName));
  let verdict = combineVerdicts(judged.map((t) => t.verdict));
  if (orphanFindings.length > 0 && verdict !== 'error') verdict = 'fail';
  const { findings: _f, ...bootRest } = boot;
  void _f;
  const failedTests = judged.filter((t) => t.verdict === 'fail' || t.verdict === 'error');
  const summary =
    boot.status !== 'completed'
      ? `${boot.status}: ${boot.reason}`
      : failedTests.length
        ? failedTests.map((t) => `${t.name}: ${t.summary}`).join('; ')
        : orphanFindings.length
          ? `kernel reported ${orphanFindings[0]!.title}`
          : `all ${judged.filter((t) => t.verdict === 'pass').length} test(s) passed`;
  const traced = judged.filter((t) => t.coverage.some((c) => c.source === 'trace'));
  const coverage = traced.length
    ? traced[0]!.coverage.map((c) => ({ ...c, count: traced.reduce((sum, t) => sum + (t.coverage.find((x) => x.path === c.path)?.count ?? 0), 0) }))
    : undefined;
  const gaps = coverage ? SUITE_PATHS.filter((p) => (coverage.find((c) => c.path === p)?.count ?? 0) === 0).map((p) => LIFETIME_PATHS[p]) : [];
  return {
    verdict,
    summary,
    coverage,
    gaps,
    boot: bootRest,
    findings,
    tests: judged,
    probes: trace ? { placed, missing: [...(probePlan?.missing ?? []), ...failedProbes] } : undefined,
    runDir,
    profile: profile.name,
    judgeMs: Date.now() - judgeStarted,
  };
}

/**
 * The tests whose zswap history is traced and replayed. The kernel's own selftest is not: it
 * moves hundreds of thousands of pages whose data nobody checks, and its trace would dominate
 * the run's time without adding a judged history.
 */
export function tracedTests(tests: readonly GuestTestName[]): GuestTestName[] {
  return tests.filter((t) => t !== 'selftest-zswap');
}

/** Which test was running when the kernel printed each finding (suite.sh marks test starts). */
export function attributeFindings(findings: Finding[], consoleText: string): (Finding & { test?: string })[] {
  const lines = consoleText.split('\n');
  const starts: { line: number; test: string }[] = [];
  lines.forEach((l, i) => {
    const m = /kharness-guest: test (\S+): start/.exec(l);
    if (m) starts.push({ line: i + 1, test: m[1]! });
  });
  return findings.map((f) => {
    const running = [...starts].reverse().find((s) => s.line <= f.line);
    return { ...f, test: running?.test };
  });
}
