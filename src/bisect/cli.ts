import type { Command } from 'commander';
import path from 'node:path';
import { action, positiveInt } from '../common/command.js';
import { ExitCode, InputError, type ExitCodeValue } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { NO_CACHE_HELP } from '../lore/index.js';
import { NO_SANDBOX_HELP, settleSandbox } from '../sandbox/index.js';
import { TREE_OPTION_HELP, projectRoot } from '../common/paths.js';
import { listConfigs, resolveConfig } from '../build/config.js';
import { ALL_TESTS, PROFILES } from '../guest/profiles.js';
import { VARIANTS, resolveProfile, resolveTests, variantsFor, type GuestTestName } from '../guest/index.js';
import { KEYRING_HELP, loadSeries, MAX_PATCHES_HELP, REQUIRE_ATTESTATION_HELP, collect } from '../tree/input.js';
import { openTreeArg } from '../tree/managed.js';
import { lockTree } from '../tree/worktree.js';
import { bisectSeries, seriesCommits, writeBisect, type BadWhen, type BisectResult } from './index.js';
import { bisectRange, runRangeStep } from './range.js';

interface BisectOpts {
  sandbox: boolean;
  maxPatches?: number;
  keyring?: string[];
  requireAttestation?: boolean;
  series?: string;
  tree?: string;
  base?: string;
  good?: string;
  bad?: string;
  config: string;
  variants: string;
  tests?: string;
  profile: string;
  runs: number;
  stage: string;
  test?: string;
  out?: string;
  lore?: string;
  cache: boolean;
  trace: boolean;
  accel?: string;
  work?: string;
  json?: boolean;
  queue?: string;
}

function badWhenFrom(opts: BisectOpts): BadWhen {
  if (!['any', 'build', 'test', 'model'].includes(opts.stage)) throw new InputError(`--stage must be any, build, test or model, not "${opts.stage}"`);
  const test = opts.test ? (resolveTests(opts.test)[0] as GuestTestName) : undefined;
  return { stage: opts.stage as BadWhen['stage'], test };
}

function printResult(opts: BisectOpts, r: BisectResult, dir: string): void {
  for (const s of r.steps) info(opts, `  ${s.commit.slice(0, 12)} ${s.outcome.padEnd(5)} ${s.subject} — ${s.reason}`);
  info(opts, `\n${r.conclusion}`);
  for (const e of r.culprit?.evidence.slice(0, 8) ?? []) info(opts, `  ${e}`);
  info(opts, `bisect report: ${path.join(dir, 'bisect.md')}`);
}

export function registerBisectCommands(program: Command): void {
  program
    .command('bisect')
    .description('find the first bad patch of a series (--series) or the first bad commit of a range (--tree --good --bad)')
    .option('--series <input>', 'a series (lore URL, message-id, mbox, fetch folder): find its first bad patch')
    .option('--tree <tree>', TREE_OPTION_HELP)
    .option('--base <ref>', 'series mode: apply on this commit')
    .option('--good <ref>', 'range mode: a commit known good')
    .option('--bad <ref>', 'range mode: a commit known bad')
    .option('--config <name>', `kernel config: ${listConfigs().join(', ')}`, 'zswap')
    .option('--tests <list>', `guest tests to run: ${ALL_TESTS.join(',')}`)
    .option('--variants <list>', `boot/runtime variants each step boots: ${Object.keys(VARIANTS).join(',')}`, 'default')
    .option('--profile <name>', `guest suite profile: ${Object.keys(PROFILES).join(', ')}`, 'quick')
    .option('--runs <n>', 'run each step N times; a step whose outcome changes is reported flaky, not guessed', positiveInt('--runs'), 1)
    .option('--stage <stage>', 'what counts as bad: any, build, test or model', 'any')
    .option('--test <name>', 'only this guest test failing counts as bad')
    .option('--out <dir>', 'where bisect.json and bisect.md go')
    .option('--lore <url>', 'lore server to fetch from')
    .option('--no-cache', NO_CACHE_HELP)
    .option('--no-trace', 'do not trace zswap in the guest')
    .option('--accel <kvm|tcg>', 'force an accelerator')
    .option('--work <dir>', 'where worktrees and build dirs live')
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--max-patches <n>', MAX_PATCHES_HELP, positiveInt('--max-patches'))
    .option('--keyring <dir>', `series mode: ${KEYRING_HELP}`, collect)
    .option('--require-attestation', `series mode: ${REQUIRE_ATTESTATION_HELP}`)
    .option('--json', 'print bisect.json to stdout')
    .option('--queue <url>', 'series mode: run each step as a job on the fleet (BullMQ on Redis, redis://HOST:PORT); the search runs here')
    .action(
      action(async (opts: BisectOpts): Promise<ExitCodeValue> => {
        const badWhen = badWhenFrom(opts);
        resolveProfile(opts.profile);
        resolveConfig(opts.config);
        await settleSandbox(!opts.sandbox);
        const tests = opts.test && !opts.tests ? resolveTests(opts.test) : resolveTests(opts.tests);
        const accel = opts.accel === 'kvm' || opts.accel === 'tcg' ? opts.accel : undefined;
        let result: BisectResult;
        let outDir: string;
        if (opts.series && (opts.good || opts.bad)) throw new InputError('--series finds the first bad patch itself; --good/--bad are for a commit range');
        if (opts.series && opts.queue) {
          const { bisectSeriesOnFleet } = await import('../fleet/bisect.js');
          const onFleet = await bisectSeriesOnFleet({ input: opts.series, queue: opts.queue, lore: opts.lore, cache: opts.cache ? undefined : false, maxPatches: opts.maxPatches, keyrings: opts.keyring, requireAttestation: opts.requireAttestation, tree: opts.tree, base: opts.base, config: opts.config, tests, variants: variantsFor(opts.variants, tests), profile: opts.profile, runs: opts.runs, trace: opts.trace, sandbox: opts.sandbox, badWhen, onProgress: (l) => info(opts, `bisect: ${l}`) });
          result = onFleet.result;
          outDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', onFleet.slug, 'bisect'));
        } else if (opts.series) {
          const loaded = await loadSeries(opts.series, { lore: opts.lore, cache: opts.cache ? undefined : false, maxPatches: opts.maxPatches, keyrings: opts.keyring, requireAttestation: opts.requireAttestation });
          outDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', loaded.series.slug, 'bisect'));
          const tree = await openTreeArg(opts.tree, opts.work);
          const unlock = await lockTree(tree);
          try {
            const commits = await seriesCommits(tree, loaded, opts.base);
            result = await bisectSeries(commits, { tree, config: opts.config, tests, variants: variantsFor(opts.variants, tests), profile: opts.profile, runs: opts.runs, badWhen, outDir, trace: opts.trace, accel, onProgress: (l) => info(opts, `bisect: ${l}`) });
          } finally {
            await unlock();
          }
        } else {
          if (!opts.good || !opts.bad) throw new InputError('give --series <input>, or --good A --bad B (with --tree) for a commit range');
          if (opts.queue) throw new InputError('--queue bisects a series (--series): a commit range runs here, with git bisect');
          if (opts.requireAttestation || opts.keyring) throw new InputError('--require-attestation and --keyring check the mails of a series: they go with --series');
          const tree = await openTreeArg(opts.tree, opts.work);
          outDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', `bisect-${tree.key}`));
          const unlock = await lockTree(tree);
          try {
            result = await bisectRange({ treeRepo: tree.repo, work: opts.work, good: opts.good, bad: opts.bad, config: opts.config, tests, variants: variantsFor(opts.variants, tests), profile: opts.profile, runs: opts.runs, badWhen, outDir, trace: opts.trace, accel, onLine: (l) => info(opts, `  | ${l}`) });
          } finally {
            await unlock();
          }
        }
        await writeBisect(outDir, result);
        if (opts.json) printJson(result);
        else printResult(opts, result, outDir);
        if (result.steps.some((s) => s.outcome === 'error') && !result.culprit) return ExitCode.Infrastructure;
        return result.culprit || result.candidates.length ? ExitCode.PatchFailed : ExitCode.Ok;
      }),
    );

  program
    .command('bisect-step', { hidden: true })
    .description('one step of `git bisect run` (used by kharness bisect --good/--bad)')
    .argument('<plan>', 'plan.json written by kharness bisect')
    .action(async (plan: string) => {
      try {
        // The parent's choice reaches us as KHARNESS_NO_SANDBOX.
        await settleSandbox(false);
        process.exitCode = await runRangeStep(plan);
      } catch (err) {
        process.stderr.write(`kharness bisect-step: ${(err as Error).message}\n`);
        process.exitCode = 128;
      }
    });
}
