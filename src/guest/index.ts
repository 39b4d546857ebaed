import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { publishFileAtomic, uniqueTmpPath } from '../common/atomic.js';
import { InfraError, InputError } from '../common/errors.js';
import { cacheDir, projectRoot } from '../common/paths.js';
import { readUntrusted } from '../common/untrusted-file.js';
import { probeAccel } from '../boot/kvm.js';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { bootAndRun, makeDiskImage, type BootOutcome } from '../boot/vm.js';
import type { Finding } from '../boot/triage.js';
import { suiteGaps, judgeRunDir as judgeGuestFiles, type CoverageEntry, type TestJudgement } from './judge.js';
import { ALL_TESTS, PROFILES, profileEnv, profileForKernel, type GuestTestName, type SuiteProfile } from './profiles.js';
import { planProbes, type ProbePlan } from './trace-capture.js';
import { detectApi, eraById, type ApiEra, type ApiSelection } from '../api/index.js';
import { testStarts } from './console-marks.js';
import { DEFAULT_VARIANTS, VARIANTS, resolveVariants, variantTestName, variantTests, type Variant } from './variants.js';

export * from './profiles.js';
export * from './variants.js';
export type { TestJudgement } from './judge.js';

/** The kernel to test: a bzImage and what its build left for us. */
export interface KernelUnderTest {
  image: string;
  systemMap?: string;
  zswapPreprocessed?: string;
  selftest?: string;
  /** why there is no selftest binary (the tree has no test_zswap.c): selftest-zswap's skip reason */
  selftestAbsent?: string;
  /** the built kernel's .config: budgets scale for debug kernels */
  config?: string;
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
  /** the variant this boot runs (bootGuest; default: default) */
  variant?: string;
  /** the variants runSuite boots one after another (default: DEFAULT_VARIANTS) */
  variants?: string[];
}

export interface SuiteResult {
  verdict: Verdict;
  summary: string;
  boot: Omit<BootOutcome, 'findings'>;
  /** console findings (oops, WARN, KASAN, ...) with the test that was running */
  findings: (Finding & { test?: string })[];
  tests: TestJudgement[];
  /** probes placed and not, and the zswap API era the prototype checks chose (why, when none) */
  probes?: { placed: string[]; missing: { fn: string; reason: string }[]; api?: ProbePlan['api'] };
  /** every lifetime path, summed over the traced tests (undefined: nothing was traced) */
  coverage?: CoverageEntry[];
  /** lifetime paths no traced test ran: visible gaps, not silent passes */
  gaps: string[];
  runDir: string;
  profile: string;
  /** host time spent judging: trace decoding, model replay, oracles */
  judgeMs?: number;
  plan?: GuestPlan;
  /** guest records no test claims: each an error naming its file and line */
  suiteErrors?: string[];
  /** the variants booted, each with its run directory, boot status and verdict (merged results) */
  variants?: { name: string; runDir: string; status: BootOutcome['status']; verdict: Verdict; tests: string[]; bootToCommandMs?: number; durationMs: number }[];
}

/** Compiles the guest workload once per source version (static, so the guest needs no libs). */
export async function workloadBinary(): Promise<string> {
  const source = path.join(projectRoot, 'src', 'guest', 'zswap-stress.c');
  const hash = createHash('sha256').update(await readFile(source)).digest('hex').slice(0, 12);
  const out = path.join(cacheDir(), 'bin', `zswap-stress-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  // A name of our own: concurrent runs compiling the same binary must not clobber each other.
  const tmp = uniqueTmpPath(out);
  const r = await execa('gcc', ['-O2', '-Wall', '-static', '-pthread', '-o', tmp, source], { reject: false, all: true });
  if (r.exitCode !== 0) throw new InfraError(`cannot compile the guest workload: ${String(r.all)}`);
  await publishFileAtomic(tmp, out);
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

/** What the host decided before the boot, saved beside the guest's files so judging can rerun offline. */
export interface GuestPlan {
  tests: GuestTestName[];
  /** the variant booted (absent in runs from before variants: default) */
  variant?: string;
  profile: string;
  trace: boolean;
  probes?: ProbePlan;
  /** budgets the guest ran under (seconds), after scaling for slow kernels */
  budgetS: number;
  testTimeoutS: number;
  selftestTimeoutS: number;
  /** why the budgets were scaled, when they were */
  slowdown?: string;
  /** how the writeback tests make this kernel write back (its API era's way; memcg when unknown) */
  writebackLimit?: ApiEra['writebackLimit'];
  /** why selftest-zswap has no binary to run, when the build said */
  selftestAbsent?: string;
}

/** A finished VM session: the guest's files in runDir, the host's records beside them. */
export interface GuestRun {
  runDir: string;
  plan: GuestPlan;
  boot: BootOutcome;
}

const PLAN_FILE = 'host-plan.json';
const BOOT_FILE = 'host-boot.json';

/**
 * Debug kernels (KASAN, lockdep, KCSAN) run several times slower, and much more so under TCG:
 * budgets sized for a plain kernel would read a slow but healthy kernel as hung. Read from the
 * built kernel's own .config, never from the config's name.
 */
export function budgetScale(kernelConfig: string | undefined, accel: 'kvm' | 'tcg' | undefined): { factor: number; why?: string } {
  if (!kernelConfig) return { factor: 1 };
  const on = (opt: string): boolean => new RegExp(`^CONFIG_${opt}=y$`, 'm').test(kernelConfig);
  const slow: string[] = [];
  let factor = 1;
  if (on('KASAN')) {
    factor *= accel === 'kvm' ? 2 : 4;
    slow.push('KASAN');
  }
  if (on('PROVE_LOCKING') || on('LOCKDEP')) {
    factor *= 1.5;
    slow.push('lockdep');
  }
  if (on('KCSAN')) {
    factor *= 2;
    slow.push('KCSAN');
  }
  return factor === 1 ? { factor } : { factor, why: `budgets x${factor} for ${slow.join(' + ')}${accel === 'kvm' ? '' : ' under TCG'}` };
}

/**
 * The boot stage: boots the kernel once and lets the guest suite run in it. Leaves the guest's
 * files in runDir and the host's own records (plan, boot outcome) beside them; judges nothing.
 */
export async function bootGuest(opts: SuiteOptions): Promise<GuestRun> {
  const asked = resolveProfile(opts.profile);
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
  const api: ApiSelection | undefined = probePlan?.api ?? (opts.kernel.zswapPreprocessed ? await detectApi(opts.kernel.zswapPreprocessed).catch(() => undefined) : undefined);
  const kernelConfig = opts.kernel.config ? await readFile(opts.kernel.config, 'utf8').catch(() => undefined) : undefined;
  const scale = budgetScale(kernelConfig, opts.accel ?? (await probeAccel()).accel);
  const profile = profileForKernel(asked, /^CONFIG_KASAN=y$/m.test(kernelConfig ?? ''));
  const budgetS = Math.round((opts.budgetS ?? profile.budgetS + (opts.durationS ?? 0)) * scale.factor);
  const variant: Variant = VARIANTS[opts.variant ?? 'default'] ?? VARIANTS.default!;
  const plan: GuestPlan = {
    tests,
    variant: variant.name,
    profile: profile.name,
    trace,
    probes: probePlan,
    budgetS,
    testTimeoutS: Math.max(60, Math.round(budgetS / 2)),
    writebackLimit: api?.era ? eraById(api.era).writebackLimit : 'memcg',
    selftestAbsent: opts.kernel.selftestAbsent,
    selftestTimeoutS: Math.round(profile.selftestTimeoutS * scale.factor),
    slowdown: profile === asked ? scale.why : `${scale.why}; ${profile.name} sizes and durations x${profile.debugScale}`,
  };
  const zram = (opts.swap ?? variant.swap) === 'zram';
  const disks = zram ? [] : [path.join(runDir, 'swap0.img'), path.join(runDir, 'swap1.img')];
  for (const d of disks) await makeDiskImage(d, profile.swapMiB);
  await writeFile(path.join(runDir, 'plan.env'), planEnv(plan, profile, { zram, durationS: opts.durationS, variant }));

  const boot = await bootAndRun({
    image: opts.kernel.image,
    runDir,
    command: `bash ${path.join(projectRoot, 'src', 'guest', 'suite.sh')} ${runDir}`,
    readable: [path.join(projectRoot, 'src', 'guest')],
    memory: profile.memory,
    cpus: profile.cpus,
    timeoutS: budgetS,
    silenceS: Math.round((opts.silenceS ?? profile.silenceS) * Math.max(1, scale.factor / 2)),
    disks,
    // On an oops the kernel prints what the trace pipe had not yet carried out: the last events
    // before the crash, which the model replays with the rest.
    // 4-level paging: TCG's `-cpu max` offers LA57, and a 6.12 KASAN kernel under 5-level paging
    // reports a wild-memory-access from an interrupt in early boot (before any test, outside
    // zswap), which taints it and turns lockdep off for the rest of the boot.
    append: [...(trace ? ['ftrace_dump_on_oops'] : []), 'no5lvl', ...variant.append],
    accel: opts.accel,
    onLine: opts.onLine,
  });
  // Disk images are large and worthless after the run.
  for (const d of disks) await rm(d, { force: true });
  // Written once the guest is gone (it shares runDir), by rename, so a link it left is replaced, not followed.
  await writeHostRecord(path.join(runDir, PLAN_FILE), plan);
  await writeHostRecord(path.join(runDir, BOOT_FILE), boot);
  return { runDir, plan, boot };
}

function planEnv(plan: GuestPlan, profile: SuiteProfile, o: { zram: boolean; durationS?: number; variant: Variant }): string {
  const env: Record<string, string> = {
    TESTS: plan.tests.join(' '),
    SWAP_KIND: o.zram ? 'zram' : 'disk',
    SWAP_MIB: String(profile.swapMiB),
    SWAP_DEVICES: '/dev/vda /dev/vdb',
    TRACE: plan.trace ? '1' : '0',
    TRACE_TESTS: tracedTests(plan.tests).join(' '),
    // The counter clock is a global atomic: it totally orders events across CPUs.
    TRACE_CLOCK: 'counter',
    TRACE_BUFFER_KB: '16384',
    ...profileEnv(profile, { durationS: o.durationS }),
    TEST_TIMEOUT: String(plan.testTimeoutS),
    SELFTEST_TIMEOUT: String(plan.selftestTimeoutS),
    WRITEBACK_LIMIT: plan.writebackLimit ?? 'memcg',
    // Our own text (the build's reason), still kept to characters plan.env's quoting leaves alone.
    ...(plan.selftestAbsent ? { SELFTEST_ABSENT: plan.selftestAbsent.replace(/[^\w ./:()-]/g, '_') } : {}),
    VARIANT: 'default',
    ...o.variant.env,
  };
  // Test-only fault injection (the fault matrix): the guest misbehaves on purpose.
  const fault = process.env.KHARNESS_TEST_FAULT;
  if (fault && /^[a-z-]+$/.test(fault)) env.FAULT = fault;
  return `${Object.entries(env).map(([k, v]) => `${k}="${v}"`).join('\n')}\n`;
}

/**
 * A host record in the guest's share: a fresh exclusive file renamed over the name, so a link the
 * guest left there is replaced, never followed (write-file-atomic resolves links: not here).
 */
async function writeHostRecord(file: string, value: unknown): Promise<void> {
  const tmp = uniqueTmpPath(file);
  await writeFile(tmp, JSON.stringify(value, null, 2), { flag: 'wx' });
  await rename(tmp, file);
}

/** Boot, then judge, once per variant: the whole guest side of one kernel. */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  return runVariants(opts, async (o) => judgeRun(await bootGuest(o)));
}

/** Where a variant's guest run goes: the default's in outDir itself, the others beside it. */
export function variantDir(outDir: string, variant: string): string {
  return variant === 'default' ? outDir : `${outDir}-${variant}`;
}

/** The guest runs a suite makes: one per variant with a test left to run, each with its own options. */
export function variantPlans(opts: SuiteOptions): { variant: string; opts: SuiteOptions }[] {
  const plans = resolveVariants(opts.variants)
    .map((v) => ({ variant: v.name, tests: variantTests(v, opts.tests ?? [...ALL_TESTS]) }))
    .filter((p) => p.tests.length > 0)
    .map(({ variant, tests }) => ({ variant, opts: { ...opts, tests, variant, variants: undefined, outDir: variantDir(opts.outDir, variant) } }));
  if (!plans.length) throw new InputError(`no variant of ${(opts.variants ?? DEFAULT_VARIANTS).join(',')} runs any of the tests asked for (${(opts.tests ?? ALL_TESTS).join(', ')})`);
  return plans;
}

/**
 * One guest run per variant (those with a test left to run), merged into one result. `once` boots
 * and judges one variant; the caller decides what a failure to do so means.
 */
export async function runVariants(opts: SuiteOptions, once: (o: SuiteOptions) => Promise<SuiteResult>): Promise<SuiteResult> {
  const parts: { variant: string; suite: SuiteResult }[] = [];
  for (const plan of variantPlans(opts)) parts.push({ variant: plan.variant, suite: await once(plan.opts) });
  return mergeVariantSuites(parts);
}

/**
 * Merges the variants' results: tests and findings renamed `test@variant`, coverage summed, the
 * boot of the first variant that did not get to its suite (else the default's, else the first).
 * One variant's result comes back as it is, but for its test names.
 */
export function mergeVariantSuites(parts: { variant: string; suite: SuiteResult }[]): SuiteResult {
  const renamed = parts.map(({ variant, suite }) => ({
    variant,
    suite: {
      ...suite,
      tests: suite.tests.map((t) => ({ ...t, name: variantTestName(t.name, variant) })),
      findings: suite.findings.map((f) => (f.test ? { ...f, test: variantTestName(f.test, variant) } : f)),
    },
  }));
  const variants = renamed.map(({ variant, suite }) => ({ name: variant, runDir: suite.runDir, status: suite.boot.status, verdict: suite.verdict, tests: suite.tests.map((t) => t.name), bootToCommandMs: suite.boot.bootToCommandMs, durationMs: suite.boot.durationMs }));
  if (renamed.length === 1) return { ...renamed[0]!.suite, variants };
  // The boot stage speaks for all: a variant that never got to its suite (or broke on our side)
  // leads, else the default's boot (a variant's panic mid-suite is its tests' failure).
  const lead = renamed.find((p) => p.suite.boot.status === 'error' || p.suite.boot.bootToCommandMs === undefined) ?? renamed.find((p) => p.variant === 'default') ?? renamed[0]!;
  const tag = (p: (typeof renamed)[number], text: string): string => (p.variant === 'default' ? text : `[${p.variant}] ${text}`);
  const verdict = combineVerdicts(renamed.map((p) => p.suite.verdict));
  const bad = renamed.filter((p) => p.suite.verdict !== 'pass' && p.suite.verdict !== 'skipped');
  const coverage = sumCoverage(renamed.map((p) => p.suite.coverage));
  return {
    ...lead.suite,
    verdict,
    summary: bad.length ? bad.map((p) => tag(p, p.suite.summary)).join('; ') : renamed.map((p) => tag(p, p.suite.summary)).join('; '),
    boot: { ...lead.suite.boot, reason: tag(lead, lead.suite.boot.reason), durationMs: renamed.reduce((s, p) => s + p.suite.boot.durationMs, 0) },
    findings: renamed.flatMap((p) => p.suite.findings),
    tests: renamed.flatMap((p) => p.suite.tests),
    coverage,
    gaps: suiteGaps(coverage),
    judgeMs: renamed.reduce((s, p) => s + (p.suite.judgeMs ?? 0), 0),
    suiteErrors: renamed.flatMap((p) => (p.suite.suiteErrors ?? []).map((e) => tag(p, e))),
    variants,
  };
}

/** The failed (or broken) tests, each with its summary; undefined when none. */
function failedTestsSummary(tests: TestJudgement[]): string | undefined {
  const failed = tests.filter((t) => t.verdict === 'fail' || t.verdict === 'error');
  return failed.length ? failed.map((t) => `${t.name}: ${t.summary}`).join('; ') : undefined;
}

function passedSummary(tests: TestJudgement[]): string {
  return `all ${tests.filter((t) => t.verdict === 'pass').length} test(s) passed`;
}

/**
 * An earlier run of the same kernel with some of its tests run again (reuse: only the tree's
 * test_zswap changed): the fresh run's tests, findings and boot replace those of the same names,
 * and the earlier run speaks for the rest. Pure.
 */
export function withRerunTests(earlier: SuiteResult, fresh: SuiteResult): SuiteResult {
  const rerun = new Set(fresh.tests.map((t) => t.name));
  const kept = earlier.tests.filter((t) => !rerun.has(t.name));
  const keptFindings = earlier.findings.filter((f) => f.test && !rerun.has(f.test) && kept.some((t) => t.name === f.test));
  const tests = [...kept, ...fresh.tests];
  const verdict = combineVerdicts([...kept.map((t) => t.verdict), fresh.verdict]);
  const summary = fresh.boot.status !== 'completed' ? fresh.summary : (failedTestsSummary(tests) ?? (verdict === 'pass' ? passedSummary(tests) : fresh.summary));
  return { ...earlier, verdict, summary, boot: fresh.boot, findings: [...keptFindings, ...fresh.findings], tests, runDir: fresh.runDir, suiteErrors: [...(earlier.suiteErrors ?? []), ...(fresh.suiteErrors ?? [])] };
}

function sumCoverage(all: (CoverageEntry[] | undefined)[]): CoverageEntry[] | undefined {
  const present = all.filter((c): c is CoverageEntry[] => c !== undefined);
  if (!present.length) return undefined;
  const byPath = new Map<string, CoverageEntry>();
  for (const list of present) for (const c of list) byPath.set(c.path, { ...c, count: (byPath.get(c.path)?.count ?? 0) + c.count });
  return [...byPath.values()];
}

/** Judges a run folder left by bootGuest, offline: `kharness judge <run dir>`. */
export async function judgeRunDir(runDir: string): Promise<SuiteResult> {
  const read = async <T>(name: string): Promise<T> => {
    const r = await readUntrusted(path.join(runDir, name), { maxBytes: 16 * 1024 * 1024 });
    if (!r.ok) throw new InputError(`${runDir} is not a finished kharness guest run: ${r.reason}`);
    try {
      return JSON.parse(r.text) as T;
    } catch (err) {
      throw new InputError(`${path.join(runDir, name)} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const boot = await read<BootOutcome>(BOOT_FILE);
  // A run folder moved or copied since (a kept base run, a worker's results) is judged on its own
  // console log, not on the path it was first written at.
  const local = path.join(runDir, path.basename(String(boot.consoleLog)));
  if (existsSync(local)) boot.consoleLog = local;
  return judgeRun({ runDir, plan: await read<GuestPlan>(PLAN_FILE), boot });
}

/**
 * The judge stage: every test's own status, the data it read back, the console, and (when traced)
 * the kernel's zswap history replayed through the reference model. Reads only saved files.
 */
export async function judgeRun(run: GuestRun): Promise<SuiteResult> {
  const { runDir, plan, boot } = run;
  const judgeStarted = Date.now();
  const consoleRead = await readUntrusted(boot.consoleLog, { maxBytes: 64 * 1024 * 1024 });
  // judge.ts makes every test an error when the console cannot be read; the host's own triage
  // (boot.findings, from the stream it captured) still stands, unattributed.
  const consoleText = consoleRead.ok ? consoleRead.text : '';
  const findings = attributeFindings(boot.findings, consoleText);
  const judged = await judgeGuestFiles({
    runDir,
    tests: plan.tests,
    boot,
    findings,
    tracing: plan.trace && plan.probes ? { probes: plan.probes, tests: tracedTests(plan.tests) } : undefined,
  });
  return summarizeSuite({ run, judged: judged.tests, suiteErrors: judged.suiteErrors, findings, placed: judged.artifacts.probes.placed, failedProbes: judged.artifacts.probes.failed, judgeMs: Date.now() - judgeStarted });
}

function summarizeSuite(o: { run: GuestRun; judged: TestJudgement[]; suiteErrors: string[]; findings: (Finding & { test?: string })[]; placed: string[]; failedProbes: { fn: string; reason: string }[]; judgeMs: number }): SuiteResult {
  const { run, judged, findings } = o;
  const { boot, plan } = run;
  const tests = plan.tests;
  const orphanFindings = findings.filter((f) => !f.test || !tests.includes(f.test as GuestTestName));
  let verdict = combineVerdicts(judged.map((t) => t.verdict));
  if (orphanFindings.length > 0 && verdict !== 'error') verdict = 'fail';
  // Guest records no test claims (a broken line before the first test, say): our side, not the kernel's.
  if (o.suiteErrors.length > 0 && verdict !== 'fail') verdict = 'error';
  const { findings: _f, ...bootRest } = boot;
  void _f;
  const summary =
    boot.status !== 'completed'
      ? `${boot.status}: ${boot.reason}`
      : (failedTestsSummary(judged) ??
        (orphanFindings.length
          ? `kernel reported ${orphanFindings[0]!.title}`
          : o.suiteErrors.length
            ? `the guest's records cannot be trusted: ${o.suiteErrors.slice(0, 3).join('; ')}`
            : passedSummary(judged)));
  const traced = judged.filter((t) => t.coverage.some((c) => c.source === 'trace'));
  const coverage = traced.length
    ? traced[0]!.coverage.map((c) => ({ ...c, count: traced.reduce((sum, t) => sum + (t.coverage.find((x) => x.path === c.path)?.count ?? 0), 0) }))
    : undefined;
  const gaps = suiteGaps(coverage);
  return {
    verdict,
    summary,
    coverage,
    gaps,
    boot: bootRest,
    findings,
    tests: judged,
    probes: plan.trace ? { placed: o.placed, missing: [...(plan.probes?.missing ?? []), ...o.failedProbes], api: plan.probes?.api } : undefined,
    runDir: run.runDir,
    profile: plan.profile,
    judgeMs: o.judgeMs,
    plan,
    suiteErrors: o.suiteErrors,
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
  const starts = testStarts(consoleText);
  return findings.map((f) => {
    const running = [...starts].reverse().find((s) => s.line <= f.line);
    return { ...f, test: running?.test };
  });
}
