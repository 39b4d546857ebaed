import { existsSync, mkdirSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InputError, InfraError } from '../common/errors.js';
import { spawnTracked } from '../common/exec.js';
import { projectRoot } from '../common/paths.js';
import { openKernelTree, prepareWorktree, resolveCommit } from '../tree/worktree.js';
import { evaluateCommit, type BisectResult, type BisectStep, type EvaluateOptions } from './index.js';

/** What `git bisect run` hands each step (through a file: the step is a separate process). */
export interface RangeStepPlan extends Omit<EvaluateOptions, 'tree' | 'onProgress'> {
  treeRepo: string;
  work?: string;
  stepsFile: string;
}

/** git bisect run's protocol: 0 good, 1 bad, 125 cannot test, 128+ abort the bisection. */
export const EXIT_FOR: Record<BisectStep['outcome'], number> = { good: 0, bad: 1, skip: 125, error: 128 };

/** One `git bisect run` step: evaluates the worktree's HEAD, records it, exits by the protocol. */
export async function runRangeStep(planFile: string): Promise<number> {
  const plan = JSON.parse(await readFile(planFile, 'utf8')) as RangeStepPlan;
  const tree = await openKernelTree(plan.treeRepo, plan.work);
  const head = await resolveCommit(tree.worktree, 'HEAD');
  if (!head) return EXIT_FOR.error;
  const subject = (await execa('git', ['log', '-1', '--format=%s', head], { cwd: tree.worktree })).stdout.trim();
  const previous = await previousStep(plan.stepsFile);
  const step = await evaluateCommit(head, subject, previous, { ...plan, tree, outDir: plan.outDir, onProgress: (l) => process.stderr.write(`kharness bisect: ${l}\n`) });
  await appendFile(plan.stepsFile, `${JSON.stringify(step)}\n`);
  process.stderr.write(`kharness bisect: ${head.slice(0, 12)} ${subject}: ${step.outcome} (${step.reason})\n`);
  return EXIT_FOR[step.outcome];
}

async function readSteps(file: string): Promise<BisectStep[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BisectStep);
}

async function previousStep(file: string): Promise<string | undefined> {
  return (await readSteps(file)).at(-1)?.commit;
}

/**
 * Range mode: the first bad commit between GOOD and BAD, found by `git bisect run` in our own
 * worktree of the user's tree (bisect state and refs/bisect are per worktree), with a kharness
 * step as the test. The user's checkout is never touched.
 */
export async function bisectRange(opts: Omit<RangeStepPlan, 'stepsFile'> & { good: string; bad: string; onLine?: (l: string) => void }): Promise<BisectResult> {
  const tree = await openKernelTree(opts.treeRepo, opts.work);
  const good = await resolveCommit(tree.repo, opts.good);
  const bad = await resolveCommit(tree.repo, opts.bad);
  if (!good) throw new InputError(`--good ${opts.good} is not a commit in ${tree.repo}`);
  if (!bad) throw new InputError(`--bad ${opts.bad} is not a commit in ${tree.repo}`);
  const ancestor = await execa('git', ['merge-base', '--is-ancestor', good, bad], { cwd: tree.repo, reject: false });
  if (ancestor.exitCode !== 0) throw new InputError(`--good ${opts.good} is not an ancestor of --bad ${opts.bad}`);

  mkdirSync(opts.outDir, { recursive: true });
  const stepsFile = path.join(opts.outDir, 'steps.jsonl');
  await writeFile(stepsFile, '');
  const planFile = path.join(opts.outDir, 'plan.json');
  const plan: RangeStepPlan = { ...opts, stepsFile };
  await writeFile(planFile, JSON.stringify(plan, null, 2));

  await prepareWorktree(tree, bad);
  const wt = tree.worktree;
  await execa('git', ['bisect', 'reset'], { cwd: wt, reject: false });
  const start = await execa('git', ['bisect', 'start', bad, good], { cwd: wt, reject: false, all: true });
  if (start.exitCode !== 0) throw new InfraError(`git bisect start failed: ${String(start.all)}`);
  let runOutput = '';
  try {
    const child = spawnTracked('git', ['bisect', 'run', process.execPath, path.join(projectRoot, 'bin', 'kharness.js'), 'bisect-step', planFile], {
      cwd: wt,
      all: true,
      buffer: false,
      env: { KHARNESS_TREE_LOCKED: '1' },
    });
    child.all?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      runOutput += text;
      for (const l of text.split('\n')) if (l.trim()) opts.onLine?.(l);
    });
    await child;
  } finally {
    const log = await execa('git', ['bisect', 'log'], { cwd: wt, reject: false });
    await writeFile(path.join(opts.outDir, 'git-bisect.log'), String(log.stdout ?? ''));
    await execa('git', ['bisect', 'reset'], { cwd: wt, reject: false });
  }
  const steps = await readSteps(stepsFile);
  const first = /^([0-9a-f]{40}) is the first bad commit/m.exec(runOutput);
  const errorStep = steps.find((s) => s.outcome === 'error');
  const result: BisectResult = { mode: 'range', badWhen: opts.badWhen, good, bad, candidates: [], steps, conclusion: '' };
  if (first) {
    const commit = first[1]!;
    const subject = (await execa('git', ['log', '-1', '--format=%s', commit], { cwd: tree.repo })).stdout.trim();
    const evidence = steps.find((s) => s.commit === commit)?.evidence ?? [];
    result.culprit = { commit, subject, evidence };
    result.conclusion = `${commit.slice(0, 12)} ("${subject}") is the first bad commit`;
  } else if (errorStep) {
    result.conclusion = `bisection stopped: ${errorStep.commit.slice(0, 12)} could not be evaluated (${errorStep.reason})`;
  } else {
    const m = /There are only 'skip'ped commits left to test\.\nThe first bad commit could be any of:\n((?:[0-9a-f]{40}\n?)+)/.exec(runOutput);
    if (m) {
      for (const c of m[1]!.trim().split('\n')) {
        const subject = (await execa('git', ['log', '-1', '--format=%s', c], { cwd: tree.repo })).stdout.trim();
        result.candidates.push({ commit: c, subject });
      }
      result.conclusion = `the first bad commit is one of ${result.candidates.length} (the others could not be judged)`;
    } else {
      result.conclusion = `git bisect did not converge: ${runOutput.trim().split('\n').slice(-3).join(' | ')}`;
    }
  }
  return result;
}
