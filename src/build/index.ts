import { describeUnread, onlyUnreadChanges } from './unchanged.js';
import { existsSync, mkdirSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InfraError, InputError } from '../common/errors.js';
import type { Verdict } from '../common/verdict.js';
import { deniedBySandbox } from '../sandbox/index.js';
import { git, type KernelTree } from '../tree/worktree.js';
import { CALLS_FILE, writeObjectCalls } from './call-sites.js';
import { checkpatchCommit, extractReviewTools, type CheckpatchResult } from './checkpatch.js';
import { makeConfig, parseKernelVersion, resolveConfig, type ConfigPlan } from './config.js';
import { allWarnings, newWarnings, parseDiagnostics, updateWarningDb, type Diagnostic, type WarningDb } from './diagnostics.js';
import { inTreeSandbox, makeEnv, runMake, type MakeOutcome } from './make.js';
import { CompileCounter, buildProgressLine, countCompiled, every, fullBuildRecordPath, readFullBuildRecord, writeFullBuildRecord } from './progress.js';

export * from './config.js';
export * from './diagnostics.js';
export * from './checkpatch.js';

/** What one build of one commit left behind, kept after the build dir moves on. */
export interface BuildArtifacts {
  dir: string;
  image: string;
  systemMap: string;
  config: string;
  /** preprocessed mm/zswap.c of this build: struct layouts for the trace probes come from it */
  zswapPreprocessed?: string;
  /** test_zswap built from this tree's own selftest sources */
  selftest?: string;
}

export interface BuildResult {
  commit: string;
  config: string;
  verdict: Verdict;
  /** one line saying why, for reports */
  summary: string;
  durationMs: number;
  errors: Diagnostic[];
  /** warnings this commit introduced over the previous build of the series (NIPA-style delta) */
  newWarnings: Diagnostic[];
  warningsTotal: number;
  checkpatch?: CheckpatchResult;
  logPath: string;
  artifacts?: BuildArtifacts;
  /** objects make recompiled: shows the build was incremental */
  objectsBuilt: number;
  /** the whole result came from an earlier identical build (same commit and config) */
  cached: boolean;
  /** what the sandbox refused the tree's config and build (writes, connections, hidden paths), as their output said */
  sandboxDenied?: string[];
  artifactVersion?: number;
  /**
   * Building the tree's own test_zswap: `fail` when gcc rejected the tree's code, `error` when the
   * toolchain failed, `skipped` when the tree has none. Not folded into `verdict` (the kernel
   * itself built and can still be tested): the run's build stage decides. Undefined in results
   * cached before this field existed.
   */
  selftestBuild?: SelftestBuildStatus;
  /** not built: the commit it took its kernel from, and the changed files no build reads */
  unchangedSince?: { commit: string; files: string[] };
}

export interface BuildOptions {
  tree: KernelTree;
  commit: string;
  configName: string;
  /** the commit built before this one in the series: its warnings are the baseline */
  previousCommit?: string;
  /** run checkpatch on the commit (patches of a series; not the base) */
  checkpatch?: boolean;
  /**
   * the commit whose review scripts (checkpatch.pl and what it calls) judge this one: the
   * series' base. Absent, the commit's parent (a single commit on its own base).
   */
  reviewBase?: string;
  logDir: string;
  /** reuse an earlier result for the same commit and config (default true) */
  reuse?: boolean;
  /**
   * when every file changed since previousCommit is one the build never reads (unchanged.ts),
   * take previousCommit's kernel and test_zswap instead of running make (checkpatch still runs)
   */
  skipUnchanged?: boolean;
  /** a progress line at the start and then every PROGRESS_INTERVAL_MS while make runs (objects, elapsed, ETA) */
  onProgress?: (line: string) => void;
}

/** How often a build says how far it got: a run without a TTY must not look hung. */
export const PROGRESS_INTERVAL_MS = 30_000;

/** The config NAME as COMMIT's kernel version spells it (its `@VERSION` fragments merged). */
export async function planForCommit(tree: KernelTree, commit: string, name: string): Promise<ConfigPlan> {
  // Our worktree shares the repository's objects: its patch commits read from there too.
  const makefile = await git(tree.repo).raw(['show', `${commit}:Makefile`]).catch(() => '');
  return resolveConfig(name, undefined, parseKernelVersion(makefile));
}

export function buildDirFor(tree: KernelTree, plan: ConfigPlan): string {
  return path.join(tree.workDir, `build-${plan.name}-${plan.hash}`);
}

/**
 * Bumped whenever what a build leaves behind changes (e.g. how test_zswap is compiled): cached
 * results from an older kharness are rebuilt rather than trusted.
 */
export const ARTIFACT_VERSION = 2;

/**
 * Artifacts are keyed by the commit's source tree, not the commit: re-applying a series makes
 * new commits (new committer dates) with the same sources, and their builds are reused.
 */
async function artifactDir(tree: KernelTree, plan: ConfigPlan, commit: string): Promise<string> {
  const sources = (await git(tree.worktree).raw(['rev-parse', `${commit}^{tree}`])).trim();
  return path.join(tree.workDir, 'artifacts', `${sources.slice(0, 12)}-${plan.name}-${plan.hash}`);
}

async function readJson<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * runMake with a progress line every PROGRESS_INTERVAL_MS; a full build (`record` names where
 * its count is kept) is estimated from the previous full build's count and recorded when it
 * succeeds.
 */
async function makeWithProgress(opts: BuildOptions, buildDir: string, targets: string[], logPath: string, record: string | undefined): Promise<MakeOutcome> {
  const previous = record ? await readFullBuildRecord(record) : undefined;
  const counter = new CompileCounter();
  const started = Date.now();
  const report = (): void => opts.onProgress?.(buildProgressLine(counter.compiled, Date.now() - started, previous));
  report();
  const stop = opts.onProgress ? every(PROGRESS_INTERVAL_MS, report) : () => undefined;
  try {
    const outcome = await runMake(opts.tree.worktree, buildDir, targets, logPath, [], (chunk) => counter.feed(chunk));
    if (record && outcome.exitCode === 0 && counter.compiled > 0) await writeFullBuildRecord(record, { objects: counter.compiled, durationMs: outcome.durationMs }).catch(() => undefined);
    return outcome;
  } finally {
    stop();
  }
}

/** The last lines of a log, for errors we cannot parse into diagnostics. */
function tail(log: string, n = 20): string {
  return log.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Diagnostics of make, the compiler driver, ccache, the linker or the shell that say the build
 * machine failed, not the code. Each is anchored at the start of a line after the usual
 * `program: ` prefixes (make[N]:, gcc:, cc1:, /bin/sh: 1:, ld:, fatal error: ...).
 */
const ENVIRONMENT_ALTERNATIVES = [
  'No space left on device',
  "can't (?:write|close|create) .*No space left on device",
  'final link failed: No space left on device',
  'error (?:writing to|closing) .*: No space left on device',
  'Cannot allocate memory',
  'virtual memory exhausted',
  'out of memory allocating',
  'Killed signal terminated program',
  'fork: Resource temporarily unavailable',
  'fork: retry: Resource temporarily unavailable',
  "\\*\\*\\* No rule to make target 'bzImage'",
  // the toolchain itself missing: nothing a patch can do
  'Could not find compiler "[^"]+" in PATH',
  '(?:gcc|cc|ld|as|ccache|make|perl|flex|bison|bc): not found',
  '(?:gcc|cc|ld|as|ccache): (?:No such file or directory|Command not found)',
  'cannot execute',
  'cannot find -l(?:c|pthread|m|rt|dl)\\b',
  // the sandbox could not start the program, or could not be made (bwrap's and prlimit's own words)
  'execvp [^:]+: (?:No such file or directory|Permission denied)',
];
/** The sandbox itself failing: its tools' own prefixes, never the tree's output. */
const SANDBOX_FAILURE = /^(?:bwrap|prlimit): /;
/** The prefixes a tool's own diagnostic starts with: program names, paths, `fatal error:`, a shell's line number. */
const DIAGNOSTIC_PREFIX = "(?:(?:[\\w./+\\-\\[\\]{}]+|\\{standard input\\}|fatal error|error|Fatal error|\\d+): ?)*";
const ENVIRONMENT_FAILURE = new RegExp(`^${DIAGNOSTIC_PREFIX}(${ENVIRONMENT_ALTERNATIVES.join('|')})`);
/**
 * Lines that are the code's, not a tool's: gcc's quoted source and caret lines (`  123 |  ...`,
 * `      |  ^~~`, indented), and diagnostics located in a source file (`mm/zswap.c:12:5: error:
 * #error "No space left on device"`, `Makefile:3: *** ...`), and the assembler's messages about
 * its input (inline asm's `.error`): the tree controls their text. Only the assembler's own
 * `{standard input}:N: Fatal error: can't write ...` is a tool's.
 */
const CODE_LINE = /^\s|^[^\s:{]+:\d+(?::\d+)?: |^\{standard input\}:\d+: (?!Fatal error: can't (?:write|close|create) )/;

/** The first line of a make log that is a tool saying the environment failed (see ENVIRONMENT_FAILURE), or undefined. */
export function environmentFailure(log: string): string | undefined {
  for (const raw of log.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (SANDBOX_FAILURE.test(line) && !/^bwrap: execvp /.test(line)) return line;
    if (CODE_LINE.test(line)) continue;
    const m = ENVIRONMENT_FAILURE.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Builds COMMIT of the tree's worktree with the named config in the persistent build dir, so
 * only what changed since the last build is recompiled. A compiler error is the patch's `fail`;
 * make killed, a full disk or a broken toolchain is our `error`.
 */
export async function buildCommit(opts: BuildOptions): Promise<BuildResult> {
  const plan = await planForCommit(opts.tree, opts.commit, opts.configName);
  const buildDir = buildDirFor(opts.tree, plan);
  const artifacts = await artifactDir(opts.tree, plan, opts.commit);
  const resultPath = path.join(artifacts, 'result.json');
  const logPath = path.join(opts.logDir, `build-${opts.commit.slice(0, 12)}-${plan.name}.log`);
  mkdirSync(opts.logDir, { recursive: true });

  if (opts.reuse !== false) {
    const cached = await readJson<BuildResult>(resultPath);
    if (cached && cached.artifactVersion === ARTIFACT_VERSION && cached.verdict !== 'error' && (!cached.artifacts || existsSync(cached.artifacts.image))) {
      if (existsSync(cached.logPath) && cached.logPath !== logPath) await copyFile(cached.logPath, logPath).catch(() => undefined);
      const baseline = opts.previousCommit ? await readJson<WarningDb>(path.join(await artifactDir(opts.tree, plan, opts.previousCommit), 'warnings.json')) : undefined;
      const mine = await readJson<WarningDb>(path.join(artifacts, 'warnings.json'));
      const fresh = baseline && mine ? newWarnings(allWarnings(baseline), allWarnings(mine)) : cached.newWarnings;
      const checkpatch = opts.checkpatch ? (cached.checkpatch ?? (await checkpatchWithBaseTools(opts))) : undefined;
      return finish({ ...cached, commit: opts.commit, logPath: existsSync(logPath) ? logPath : cached.logPath, newWarnings: fresh, checkpatch, cached: true });
    }
  }

  if (opts.skipUnchanged && opts.previousCommit) {
    const same = await unchangedBuild(opts, plan, artifacts, logPath);
    if (same) return finish(same);
  }

  const wt = git(opts.tree.worktree);
  await wt.raw(['checkout', '--quiet', '--detach', opts.commit]);

  const configLog: string[] = [];
  await makeConfig(opts.tree.worktree, buildDir, plan, (l) => configLog.push(l));
  const dbPath = path.join(buildDir, '.kharness-warnings.json');
  let db = await readJson<WarningDb>(dbPath);
  // From an empty build dir (or one cleaned below): a full build, whose count gives the next one its ETA.
  const full = !db || !existsSync(path.join(buildDir, 'vmlinux'));
  if (!db) {
    // Objects without a record of their warnings cannot give an honest delta: start clean.
    const keep = path.join(buildDir, '.config');
    if (existsSync(path.join(buildDir, 'vmlinux'))) {
      const clean = inTreeSandbox(opts.tree.worktree, [buildDir], makeEnv(), 'make', [`O=${buildDir}`, 'clean']);
      await execa(clean.file, clean.args, { ...clean.options, reject: false });
    }
    if (!existsSync(keep)) throw new InfraError(`build dir ${buildDir} lost its .config`);
    db = {};
  }

  const targets = ['bzImage'];
  const hasZswap = existsSync(path.join(opts.tree.worktree, 'mm', 'zswap.c'));
  if (hasZswap) targets.push('mm/zswap.i');
  // test_zswap needs nothing make makes: compiled beside it, it fills make's single-threaded link
  // and compression steps instead of adding its seconds after them.
  mkdirSync(artifacts, { recursive: true });
  const selftestBuilt = buildSelftest(opts.tree.worktree, artifacts, path.join(buildDir, '.kharness-selftests'));
  // Handled at once (awaited below, so not an unhandled rejection meanwhile); make's failure waits for gcc too.
  const selftestSettled = selftestBuilt.catch(() => undefined);
  const outcome = await makeWithProgress(opts, buildDir, targets, logPath, full ? fullBuildRecordPath(opts.tree.workDir, `${plan.name}-${plan.hash}`) : undefined).finally(() => selftestSettled);
  const roots = [opts.tree.worktree, buildDir, '..'];
  const diagnostics = parseDiagnostics(outcome.log, roots);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  db = updateWarningDb(db, outcome.log, roots);
  await writeFile(dbPath, JSON.stringify(db));
  // Kept even when the build fails, so the next patch's warning delta has a baseline.
  mkdirSync(artifacts, { recursive: true });
  await writeFile(path.join(artifacts, 'warnings.json'), JSON.stringify(db));
  const objectsBuilt = countCompiled(outcome.log);
  const sandboxDenied = deniedBySandbox([...configLog, outcome.log].join('\n'));

  const baseline = opts.previousCommit ? await readJson<WarningDb>(path.join(await artifactDir(opts.tree, plan, opts.previousCommit), 'warnings.json')) : undefined;
  const warnings = allWarnings(db);
  const fresh = baseline ? newWarnings(allWarnings(baseline), warnings) : [];
  const checkpatch = opts.checkpatch ? await checkpatchWithBaseTools(opts) : undefined;

  const base = {
    commit: opts.commit,
    config: plan.name,
    durationMs: outcome.durationMs,
    errors,
    newWarnings: fresh,
    warningsTotal: warnings.length,
    checkpatch,
    logPath,
    objectsBuilt,
    cached: false,
    ...(sandboxDenied.length ? { sandboxDenied } : {}),
  };

  const failed = classifyMakeFailure(outcome, errors);
  if (failed) return finish({ ...base, ...failed });

  // Keep what later stages need, since the build dir moves on to the next patch.
  mkdirSync(artifacts, { recursive: true });
  const art: BuildArtifacts = {
    dir: artifacts,
    image: path.join(artifacts, 'bzImage'),
    systemMap: path.join(artifacts, 'System.map'),
    config: path.join(artifacts, 'config'),
  };
  await copyFile(path.join(buildDir, 'arch/x86/boot/bzImage'), art.image);
  await copyFile(path.join(buildDir, 'System.map'), art.systemMap);
  await copyFile(path.join(buildDir, '.config'), art.config);
  if (hasZswap && existsSync(path.join(buildDir, 'mm/zswap.i'))) {
    art.zswapPreprocessed = path.join(artifacts, 'zswap.i');
    await copyFile(path.join(buildDir, 'mm/zswap.i'), art.zswapPreprocessed);
    // Which zswap functions gcc inlined somewhere: the probes must not trust those (call-sites.ts).
    if (existsSync(path.join(buildDir, 'mm/zswap.o'))) await writeObjectCalls(path.join(buildDir, 'mm/zswap.o'), path.join(artifacts, CALLS_FILE));
  }
  const selftest = await selftestBuilt;
  if (selftest.kind === 'built') art.selftest = selftest.path;
  const newCount = fresh.length;
  const result: BuildResult = {
    ...base,
    selftestBuild: selftestBuildStatus(selftest),
    verdict: newCount > 0 ? 'fail' : 'pass',
    summary: newCount > 0 ? `built with ${newCount} new warning(s): ${fresh.map((w) => `${w.file}:${w.line}: ${w.message}`).join('; ')}` : `built in ${(outcome.durationMs / 1000).toFixed(1)}s (${objectsBuilt} objects compiled)`,
    artifacts: art,
  };
  await writeFile(resultPath, JSON.stringify({ ...result, checkpatch: undefined, artifactVersion: ARTIFACT_VERSION }, null, 2));
  return finish(result);
}

/**
 * The previous commit's build as this commit's, when nothing this commit changed is read by the
 * build: its kernel and test_zswap, no new warnings, and this commit's own checkpatch. Undefined
 * (so make runs) when anything read changed or the previous build left no kernel.
 */
async function unchangedBuild(opts: BuildOptions, plan: ConfigPlan, mine: string, logPath: string): Promise<BuildResult | undefined> {
  const diff = await git(opts.tree.repo).raw(['diff', '--name-only', '--no-renames', opts.previousCommit!, opts.commit]).catch(() => undefined);
  if (diff === undefined) return undefined;
  const files = onlyUnreadChanges(diff.split('\n').filter(Boolean));
  if (!files) return undefined;
  const previousArtifacts = await artifactDir(opts.tree, plan, opts.previousCommit!);
  const prev = await readJson<BuildResult>(path.join(previousArtifacts, 'result.json'));
  if (!prev || prev.artifactVersion !== ARTIFACT_VERSION || prev.verdict === 'error' || !prev.artifacts || !existsSync(prev.artifacts.image)) return undefined;
  await writeFile(logPath, `not built: ${describeUnread(files)} changed since ${opts.previousCommit}, none read by the build\n`);
  // The next patch's new-warning baseline is this commit's: the previous build's warnings.
  mkdirSync(mine, { recursive: true });
  await copyFile(path.join(previousArtifacts, 'warnings.json'), path.join(mine, 'warnings.json')).catch(() => undefined);
  const checkpatch = opts.checkpatch ? await checkpatchWithBaseTools(opts) : undefined;
  const result: BuildResult = {
    ...prev,
    commit: opts.commit,
    verdict: 'pass',
    summary: `not rebuilt: only ${describeUnread(files)} changed, nothing the build reads; the kernel and test_zswap are ${opts.previousCommit!.slice(0, 12)}'s`,
    durationMs: 0,
    objectsBuilt: 0,
    newWarnings: [],
    errors: [],
    checkpatch,
    logPath,
    cached: false,
    unchangedSince: { commit: opts.previousCommit!, files: [...files] },
  };
  // A later doc-only step can take this one's kernel in turn.
  await writeFile(path.join(mine, 'result.json'), JSON.stringify({ ...result, checkpatch: undefined, artifactVersion: ARTIFACT_VERSION }, null, 2));
  return result;
}

/** checkpatch of the commit, with the review scripts of its base (BuildOptions.reviewBase). */
async function checkpatchWithBaseTools(opts: BuildOptions): Promise<CheckpatchResult> {
  const base = (await git(opts.tree.worktree).raw(['rev-parse', opts.reviewBase ?? `${opts.commit}^`]).catch(() => '')).trim();
  if (!base) return { findings: [], errors: 0, warnings: 0, checks: 0, output: '', infraError: `no base commit to take checkpatch.pl from (${opts.reviewBase ?? `${opts.commit}^`})` };
  const scripts = await extractReviewTools(opts.tree.worktree, base, path.join(opts.tree.workDir, 'review-tools', base.slice(0, 16)));
  return checkpatchCommit(opts.tree.worktree, opts.commit, scripts);
}

/**
 * Why a make run did not produce a kernel, as a verdict: a compiler error is the patch's
 * `fail`; make killed, a full disk, memory exhaustion is the environment's `error`. Undefined
 * when make succeeded. Pure, so every case is tested.
 */
export function classifyMakeFailure(outcome: Pick<MakeOutcome, 'exitCode' | 'signal' | 'log'>, errors: Diagnostic[]): { verdict: Verdict; summary: string } | undefined {
  if (outcome.signal || outcome.exitCode === undefined) return { verdict: 'error', summary: `make was killed (${outcome.signal ?? 'no exit code'}); not the patch's fault` };
  if (outcome.exitCode === 0) return undefined;
  const env = environmentFailure(outcome.log);
  if (env && errors.length === 0) return { verdict: 'error', summary: `the build environment failed: ${env}` };
  if (env) return { verdict: 'error', summary: `the build environment failed (${env}) while compiling; errors are not trusted` };
  if (errors.length === 0) return { verdict: 'fail', summary: `make exited ${outcome.exitCode} without a compiler diagnostic:\n${tail(outcome.log)}` };
  const first = errors[0]!;
  return { verdict: 'fail', summary: `build error: ${first.file}${first.line ? `:${first.line}` : ''}: ${first.message}` };
}

/** A checkpatch ERROR fails the patch; warnings and checks are reported but do not. */
function finish(r: BuildResult): BuildResult {
  if (r.verdict === 'pass' && r.checkpatch && r.checkpatch.errors > 0) {
    const first = r.checkpatch.findings.find((f) => f.level === 'ERROR')!;
    return { ...r, verdict: 'fail', summary: `checkpatch: ${r.checkpatch.errors} error(s), first: ${first.type ? `${first.type}: ` : ''}${first.message}` };
  }
  return r;
}

/** How building the tree's own test_zswap went. */
export type SelftestBuild =
  | { kind: 'built'; path: string }
  /** the tree has no tools/testing/selftests/cgroup/test_zswap.c */
  | { kind: 'absent'; reason: string }
  /**
   * It did not compile. `fail`: gcc ran and rejected the tree's own test_zswap.c and its headers
   * (the tree's code); `error`: the toolchain is missing or broken (ours). `output` is gcc's.
   */
  | { kind: 'failed'; verdict: 'fail' | 'error'; summary: string; output: string; logPath: string };

/** The build result's one-line account of the selftest, for BuildResult.selftestBuild. */
export interface SelftestBuildStatus {
  verdict: Verdict;
  summary: string;
  logPath?: string;
}

export function selftestBuildStatus(b: SelftestBuild): SelftestBuildStatus {
  if (b.kind === 'built') return { verdict: 'pass', summary: 'test_zswap built from the tree' };
  if (b.kind === 'absent') return { verdict: 'skipped', summary: b.reason };
  return { verdict: b.verdict, summary: b.summary, logPath: b.logPath };
}

/**
 * Builds tools/testing/selftests/cgroup/test_zswap from the tree under test. The binary depends
 * only on the selftests folder and the host's libc, so it is kept under that folder's git tree
 * hash: a series that does not touch the selftests compiles it once, not once per patch.
 */
export async function buildSelftest(src: string, outDir: string, cacheDir?: string, opts: { cc?: string } = {}): Promise<SelftestBuild> {
  const dir = path.join(src, 'tools/testing/selftests/cgroup');
  const source = path.join(dir, 'test_zswap.c');
  if (!existsSync(source)) return { kind: 'absent', reason: 'the tree has no tools/testing/selftests/cgroup/test_zswap.c' };
  const out = path.join(outDir, 'test_zswap');
  const key = cacheDir ? await git(src).raw(['rev-parse', 'HEAD:tools/testing/selftests']).then((h) => h.trim(), () => '') : '';
  const cached = key && cacheDir ? path.join(cacheDir, `test_zswap-${key.slice(0, 16)}`) : undefined;
  if (cached && existsSync(cached)) {
    await copyFile(cached, out);
    return { kind: 'built', path: out };
  }
  // The flags of tools/testing/selftests/cgroup/Makefile (-Wall -pthread, no -O): at -O2 gcc
  // deletes the selftest's write-then-free allocations, and test_zswap_usage then sees no
  // zswap traffic at all. -static so the guest needs nothing but the binary.
  const cc = opts.cc ?? 'gcc';
  const gcc = inTreeSandbox(src, [outDir], {}, cc, ['-Wall', '-pthread', '-static', '-o', out, source, path.join(dir, 'cgroup_util.c')]);
  const r = await execa(gcc.file, gcc.args, { ...gcc.options, cwd: dir, reject: false, all: true });
  if (r.exitCode !== 0) {
    const output = String(r.all ?? '') || String((r as { message?: string }).message ?? '');
    const logPath = path.join(outDir, 'test_zswap.build.log');
    await writeFile(logPath, output);
    // gcc never ran (not installed), was killed, or a tool under it failed: the machine's fault.
    const env = r.exitCode === undefined || r.signal ? (r.signal ? `${cc} was killed (${r.signal})` : `${cc} could not be started: ${(r as { code?: string }).code ?? (r as { message?: string }).message ?? 'unknown'}`) : environmentFailure(output);
    if (env) return { kind: 'failed', verdict: 'error', summary: `test_zswap could not be compiled: the toolchain failed: ${env}`, output, logPath };
    const first = parseDiagnostics(output, [src]).find((d) => d.severity === 'error');
    const where = first ? `${first.file}${first.line ? `:${first.line}` : ''}: ${first.message}` : (output.trim().split('\n').slice(-1)[0] ?? `${cc} exited ${r.exitCode}`);
    return { kind: 'failed', verdict: 'fail', summary: `the tree's test_zswap does not compile: ${where}`, output, logPath };
  }
  if (cached) {
    mkdirSync(path.dirname(cached), { recursive: true });
    await copyFile(out, cached);
  }
  return { kind: 'built', path: out };
}

export { InputError };
