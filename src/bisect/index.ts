import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../common/errors.js';
import type { Verdict } from '../common/verdict.js';
import { buildCommit } from '../build/index.js';
import { runSuite, splitVariantTestName, type GuestTestName, type SuiteResult } from '../guest/index.js';
import { applySeries, chooseBase } from '../tree/apply.js';
import type { LoadedSeries } from '../tree/input.js';
import type { KernelTree } from '../tree/worktree.js';

/** What makes a commit bad: any failure, or a failure of one stage or one guest test. */
export interface BadWhen {
  stage: 'any' | 'build' | 'test' | 'model';
  /** only this guest test's failure counts */
  test?: GuestTestName;
}

export type StepOutcome = 'good' | 'bad' | 'skip' | 'error';

export interface BisectStep {
  commit: string;
  subject: string;
  /** 1-based patch index in series mode */
  patch?: number;
  outcome: StepOutcome;
  /** outcomes of each repeated run, when --runs > 1 */
  runs: StepOutcome[];
  /** a step whose outcome changed between runs: reported, never guessed */
  flaky?: Partial<Record<StepOutcome, number>>;
  reason: string;
  evidence: string[];
  durationMs: number;
}

export interface BisectResult {
  mode: 'series' | 'range';
  badWhen: BadWhen;
  good: string;
  bad: string;
  /** the first bad commit, when bisection converged on one */
  culprit?: { commit: string; subject: string; patch?: number; evidence: string[] };
  /** when skipped (flaky or unbuildable) steps leave several candidates */
  candidates: { commit: string; subject: string }[];
  steps: BisectStep[];
  conclusion: string;
}

export interface EvaluateOptions {
  tree: KernelTree;
  config: string;
  tests: GuestTestName[];
  /** the variants each step boots (default: default only, one boot per step) */
  variants?: string[];
  profile: string;
  runs: number;
  badWhen: BadWhen;
  outDir: string;
  trace: boolean;
  accel?: 'kvm' | 'tcg';
  onProgress?: (line: string) => void;
}

/**
 * The series applied on its base (--base, else its own base-commit or named tree) in TREE's
 * worktree: the base and each patch's commit, in order. Bisecting needs every patch: one that does
 * not apply is bad input. The caller holds the tree's lock.
 */
export async function seriesCommits(tree: KernelTree, loaded: LoadedSeries, base?: string): Promise<{ commit: string; subject: string }[]> {
  const chosen = await chooseBase(tree, { base, seriesBase: loaded.series.baseCommit, namedTree: loaded.series.baseTree?.name, mboxPath: loaded.mboxPath });
  const applied = await applySeries(tree, loaded.mboxPath, chosen, loaded.series.patches.map((p) => p.subject));
  const failed = applied.patches.find((p) => !p.commit);
  if (failed) throw new InputError(`patch ${failed.index} does not apply (${failed.conflicts.map((c) => c.file).join(', ') || failed.status}): bisect needs every patch applied`);
  return [{ commit: chosen.commit, subject: `base (${chosen.reason})` }, ...applied.patches.map((p) => ({ commit: p.commit!, subject: p.subject }))];
}

/** Judges one guest run by the bisect's definition of bad. Pure. */
export function judgeSuite(suite: SuiteResult, badWhen: BadWhen): { outcome: StepOutcome; reason: string; evidence: string[] } {
  if (suite.verdict === 'error' || suite.boot.status === 'error') return { outcome: 'error', reason: suite.summary, evidence: [] };
  // `--test writeback` means writeback in every variant booted (writeback, writeback@nomemcg, ...).
  const tests = badWhen.test ? suite.tests.filter((t) => splitVariantTestName(t.name).test === badWhen.test) : suite.tests;
  const failing = tests.filter((t) => {
    if (badWhen.stage === 'test') return t.workloadVerdict === 'fail';
    if (badWhen.stage === 'model') return t.modelVerdict === 'fail';
    return t.verdict === 'fail';
  });
  const bootBad = suite.boot.bootToCommandMs === undefined && suite.boot.status !== 'completed';
  // A splat no test owns (a panic in swapon before the first test) is the kernel's too.
  const orphans = badWhen.test || badWhen.stage === 'model' ? [] : suite.findings.filter((f) => !f.test);
  if (orphans.length) return { outcome: 'bad', reason: `kernel: ${orphans[0]!.title}`, evidence: orphans.map((f) => f.excerpt.split('\n').slice(0, 6).join('\n')) };
  if (failing.length === 0 && !(bootBad && badWhen.stage === 'any')) {
    if (badWhen.test && tests.every((t) => t.verdict === 'skipped')) return { outcome: 'skip', reason: `${badWhen.test} did not run`, evidence: [] };
    return { outcome: 'good', reason: `passed${badWhen.test ? ` ${badWhen.test}` : ''}`, evidence: [] };
  }
  const evidence = failing.flatMap((t) => [`${t.name}: ${t.summary}`, ...t.evidence.slice(0, 4)]);
  return { outcome: 'bad', reason: failing.length ? failing.map((t) => `${t.name} failed`).join(', ') : `the kernel did not boot: ${suite.boot.reason}`, evidence };
}

/** Combines repeated runs: agreeing runs give their outcome; disagreeing runs are flaky (skip). */
export function combineRuns(outcomes: StepOutcome[]): { outcome: StepOutcome; flaky?: Partial<Record<StepOutcome, number>> } {
  if (outcomes.includes('error')) return { outcome: 'error' };
  const counts: Partial<Record<StepOutcome, number>> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  if (Object.keys(counts).length === 1) return { outcome: outcomes[0]! };
  return { outcome: 'skip', flaky: counts };
}

/** Builds and tests one commit (builds are incremental and cached per commit), `runs` times. */
export async function evaluateCommit(commit: string, subject: string, previous: string | undefined, opts: EvaluateOptions, patch?: number): Promise<BisectStep> {
  const t0 = Date.now();
  const stepDir = path.join(opts.outDir, `step-${commit.slice(0, 12)}`);
  mkdirSync(stepDir, { recursive: true });
  opts.onProgress?.(`building ${commit.slice(0, 12)} ${subject}`);
  const build = await buildCommit({ tree: opts.tree, commit, configName: opts.config, previousCommit: previous, checkpatch: false, logDir: stepDir });
  const done = (outcome: StepOutcome, reason: string, evidence: string[] = [], runs: StepOutcome[] = [outcome], flaky?: BisectStep['flaky']): BisectStep => ({
    commit,
    subject,
    patch,
    outcome,
    runs,
    flaky,
    reason,
    evidence,
    durationMs: Date.now() - t0,
  });
  if (build.verdict === 'error') return done('error', build.summary);
  if (!build.artifacts) {
    // A commit that does not build: bad when builds are what we bisect, else untestable.
    return opts.badWhen.stage === 'build' || opts.badWhen.stage === 'any' ? done('bad', build.summary, build.errors.slice(0, 5).map((e) => `${e.file}:${e.line}: ${e.message}`)) : done('skip', `does not build: ${build.summary}`);
  }
  if (opts.badWhen.stage === 'build') return done(build.verdict === 'fail' ? 'bad' : 'good', build.summary);
  const outcomes: StepOutcome[] = [];
  let last: ReturnType<typeof judgeSuite> | undefined;
  for (let i = 1; i <= Math.max(1, opts.runs); i++) {
    opts.onProgress?.(`testing ${commit.slice(0, 12)} (run ${i}/${opts.runs})`);
    const suite = await runSuite({
      kernel: { image: build.artifacts.image, systemMap: build.artifacts.systemMap, zswapPreprocessed: build.artifacts.zswapPreprocessed, selftest: build.artifacts.selftest },
      tests: opts.tests,
      variants: opts.variants ?? ['default'],
      profile: opts.profile,
      outDir: path.join(stepDir, `run-${i}`),
      trace: opts.trace,
      accel: opts.accel,
    });
    const judged = judgeSuite(suite, opts.badWhen);
    outcomes.push(judged.outcome);
    if (judged.outcome === 'bad' || !last) last = judged;
    if (judged.outcome === 'error') break;
  }
  const combined = combineRuns(outcomes);
  const reason = combined.flaky ? `flaky: ${Object.entries(combined.flaky).map(([o, n]) => `${o} ${n}x`).join(', ')}` : last!.reason;
  return done(combined.outcome, reason, last!.evidence, outcomes, combined.flaky);
}

/**
 * Series mode: the first bad patch by binary search over patches 1..N (0 = the base), after
 * checking that the base is good and the last patch bad. Skipped steps are stepped around.
 */
export async function bisectSeries(
  commits: { commit: string; subject: string }[],
  opts: Pick<EvaluateOptions, 'badWhen'> & Partial<EvaluateOptions>,
  // Injected so the search itself is tested without a kernel; by default: build and boot.
  evaluateStep: (commit: string, subject: string, previous: string | undefined, patch: number) => Promise<BisectStep> = (commit, subject, previous, patch) =>
    evaluateCommit(commit, subject, previous, opts as EvaluateOptions, patch),
): Promise<BisectResult> {
  if (commits.length < 2) throw new InputError('bisect needs a base and at least one patch');
  const steps: BisectStep[] = [];
  const known = new Map<number, StepOutcome>();
  const evaluate = async (i: number): Promise<StepOutcome> => {
    const cached = known.get(i);
    if (cached) return cached;
    const step = await evaluateStep(commits[i]!.commit, commits[i]!.subject, i > 0 ? commits[i - 1]!.commit : undefined, i);
    steps.push(step);
    known.set(i, step.outcome);
    return step.outcome;
  };
  const result = (conclusion: string, culpritIndex?: number, candidates: number[] = []): BisectResult => ({
    mode: 'series',
    badWhen: opts.badWhen,
    good: commits[0]!.commit,
    bad: commits[commits.length - 1]!.commit,
    culprit:
      culpritIndex !== undefined
        ? { ...commits[culpritIndex]!, patch: culpritIndex, evidence: steps.find((s) => s.commit === commits[culpritIndex]!.commit)?.evidence ?? [] }
        : undefined,
    candidates: candidates.map((i) => commits[i]!),
    steps,
    conclusion,
  });
  const baseOutcome = await evaluate(0);
  if (baseOutcome === 'error') return result(`the base could not be evaluated: ${steps[0]!.reason}`);
  if (baseOutcome !== 'good') return result(`the base is already ${baseOutcome} (${steps[0]!.reason}): nothing in the series to blame`);
  const last = commits.length - 1;
  const tipOutcome = await evaluate(last);
  if (tipOutcome === 'error') return result(`the last patch could not be evaluated: ${steps.at(-1)!.reason}`);
  if (tipOutcome === 'good') return result('the last patch is good: no patch of the series is bad by this definition');
  if (tipOutcome === 'skip') return result(`the last patch is ${steps.at(-1)!.reason}: cannot bisect`);
  // Invariant: lo is good, hi is bad; skipped patches in between are candidates too.
  let lo = 0;
  let hi = last;
  const skipped = new Set<number>();
  while (hi - lo > 1) {
    const inside = [];
    for (let i = lo + 1; i < hi; i++) if (!skipped.has(i)) inside.push(i);
    if (inside.length === 0) break;
    // The middle of the untested ones, like git bisect.
    const mid = inside[Math.floor((inside.length - 1) / 2)]!;
    const outcome = await evaluate(mid);
    if (outcome === 'error') return result(`patch ${mid} could not be evaluated: ${steps.at(-1)!.reason}`);
    if (outcome === 'good') lo = mid;
    else if (outcome === 'bad') hi = mid;
    else skipped.add(mid);
  }
  const between = [...skipped].filter((i) => i > lo && i < hi).sort((a, b) => a - b);
  if (between.length === 0) return result(`patch ${hi} is the first bad patch: ${steps.find((s) => s.patch === hi)?.reason ?? ''}`, hi);
  return result(`the first bad patch is one of ${[...between, hi].join(', ')} (patches ${between.join(', ')} could not be judged: ${between.map((i) => steps.find((s) => s.patch === i)?.reason).join('; ')})`, undefined, [...between, hi]);
}

export function renderBisectMarkdown(r: BisectResult): string {
  const lines = [
    `# kharness bisect (${r.mode})`,
    '',
    `Bad when: ${r.badWhen.stage === 'any' ? 'any stage fails' : `the ${r.badWhen.stage} stage fails`}${r.badWhen.test ? `, test ${r.badWhen.test}` : ''}.`,
    `Good: \`${r.good.slice(0, 12)}\`, bad: \`${r.bad.slice(0, 12)}\`.`,
    '',
    `**${r.conclusion}**`,
    '',
  ];
  if (r.culprit) {
    lines.push(`## Culprit`, '', `\`${r.culprit.commit.slice(0, 12)}\` ${r.culprit.subject}${r.culprit.patch !== undefined && r.mode === 'series' ? ` (patch ${r.culprit.patch})` : ''}`, '');
    if (r.culprit.evidence.length) lines.push('```', ...r.culprit.evidence, '```', '');
  }
  if (r.candidates.length) lines.push('## Candidates', '', ...r.candidates.map((c) => `- \`${c.commit.slice(0, 12)}\` ${c.subject}`), '');
  lines.push('## Steps', '', '| # | commit | subject | outcome | runs | reason | time |', '|---|---|---|---|---|---|---|');
  r.steps.forEach((s, i) => {
    lines.push(`| ${i + 1} | \`${s.commit.slice(0, 12)}\` | ${s.subject.replace(/\|/g, '\\|')} | ${s.outcome}${s.flaky ? ' (flaky)' : ''} | ${s.runs.join(', ')} | ${s.reason.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${(s.durationMs / 1000).toFixed(0)}s |`);
  });
  return `${lines.join('\n')}\n`;
}

export async function writeBisect(dir: string, r: BisectResult): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeFile(path.join(dir, 'bisect.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(path.join(dir, 'bisect.md'), renderBisectMarkdown(r));
}

export type { Verdict };
