import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { info, printJson } from '../common/output.js';
import { NO_CACHE_HELP } from '../lore/index.js';
import { NO_SANDBOX_HELP } from '../sandbox/index.js';
import { KEYRING_HELP, MAX_PATCHES_HELP, REQUIRE_ATTESTATION_HELP, collect } from '../tree/input.js';
import { TREE_OPTION_HELP } from '../common/paths.js';
import { listConfigs, resolveConfigList } from '../build/config.js';
import { ALL_TESTS, PROFILES } from '../guest/profiles.js';
import { DEFAULT_VARIANTS, VARIANTS, resolveTests, variantsFor } from '../guest/index.js';
import { parseReporter } from '../report/reporter.js';
import type { PersonInfo } from '../report/types.js';
import { runSeries, type RunOptions } from './pipeline.js';
import { InputError } from '../common/errors.js';

export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .description('the whole job on a series: fetch, then for the base and every patch apply, build, boot, test, model; reports in reports/<series>/')
    .argument('<input>', 'lore thread URL, message-id, mbox file (or .gz), `-`, or a folder from `kharness fetch`')
    .option('--tree <tree>', TREE_OPTION_HELP)
    .option('--base <ref>', 'test on this commit (default: the series base-commit if the tree has it, else HEAD)')
    .option('--config <list>', `kernel config, or several comma-separated (each step built and booted with each, a row per config): ${listConfigs().join(', ')}`, 'zswap')
    .option('--tests <list>', `comma-separated guest tests: ${ALL_TESTS.join(',')}`)
    .option('--variants <list>', `boot/runtime variants, each its own boot: ${Object.keys(VARIANTS).join(',')} (default: ${DEFAULT_VARIANTS.join(',')})`)
    .option('--profile <name>', `guest suite profile: ${Object.keys(PROFILES).join(', ')}`, 'quick')
    .option('--out <dir>', 'report folder (default: reports/<series-slug>)')
    .option('--lore <url>', 'lore server to fetch from (or KHARNESS_LORE)')
    .option('--no-cache', NO_CACHE_HELP)
    .option('-v, --use-version <n>', 'series version (default: the newest in the thread)', positiveInt('--use-version'))
    .option('--runs <n>', 'run a failing guest suite up to N times; an outcome that changes is reported flaky', positiveInt('--runs'), 1)
    .option('--no-trace', 'do not trace zswap in the guest (no model replay or counter oracle)')
    .option('--budget <s>', "each guest run's whole-boot budget in seconds (default: the profile's, scaled for debug kernels); per-test budgets are half of it", positiveInt('--budget'))
    .option('--keep-traces', 'keep the zswap traces of passing tests too (large), for `kharness judge` later')
    .option('--retest', "boot and test every step, even one whose kernel image and guest binaries are identical to an earlier step's (whose results it would otherwise reuse)")
    .option('--retest-base', 'test the base again even when an earlier run on the same base, kernel, config, tests, variants and profile kept its results')
    .option('--retest-kept', 'test each patch again even when an earlier run kept a pass for a byte-identical kernel with the same config, tests, variants and profile (the base: --retest-base); reuse within this run still applies')
    .option('--no-base-test', 'do not test the base commit (failures cannot then be told pre-existing)')
    .option('--accel <kvm|tcg>', 'force an accelerator (default: probe, cached)')
    .option('--work <dir>', 'where worktrees and build dirs live (default: ~/.cache/kharness/work)')
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--max-patches <n>', MAX_PATCHES_HELP, positiveInt('--max-patches'))
    .option('--keyring <dir>', KEYRING_HELP, collect)
    .option('--require-attestation', REQUIRE_ATTESTATION_HELP)
    .option('--reporter <who>', "the reply's Reported-by: (\"Name <address>\"; default: git config user.name/user.email)", parseReporter)
    .option('--queue <url>', 'enqueue on the fleet (BullMQ on Redis, redis://HOST:PORT) instead of running here; waits for a worker\'s result and writes the same reports')
    .option('--results <dir>', 'with --queue: the folder shared with the workers (their --results), to copy the logs and artifacts from')
    .option('--json', 'print report.json to stdout instead of progress')
    .action(
      action(async (input: string, opts: { tree?: string; base?: string; baseTest: boolean; config: string; tests?: string; variants?: string; profile: string; out?: string; lore?: string; cache: boolean; useVersion?: number; runs: number; trace: boolean; keepTraces?: boolean; budget?: number; accel?: string; work?: string; json?: boolean; queue?: string; results?: string; sandbox: boolean; maxPatches?: number; keyring?: string[]; requireAttestation?: boolean; reporter?: PersonInfo; retest?: boolean; retestBase?: boolean; retestKept?: boolean }) => {
        if (opts.results && !opts.queue) throw new InputError('--results is for --queue', 'give --queue redis://HOST:PORT too, or leave --results out');
        const runOpts: RunOptions = {
          input,
          sandbox: opts.sandbox,
          maxPatches: opts.maxPatches,
          keyrings: opts.keyring,
          requireAttestation: opts.requireAttestation,
          tree: opts.tree,
          base: opts.base,
          testBase: opts.baseTest,
          configs: resolveConfigList(opts.config),
          tests: resolveTests(opts.tests),
          variants: variantsFor(opts.variants, resolveTests(opts.tests)),
          profile: opts.profile,
          out: opts.out,
          lore: opts.lore,
          cache: opts.cache ? undefined : false,
          version: opts.useVersion,
          runs: opts.runs,
          trace: opts.trace,
          keepTraces: opts.keepTraces,
          budgetS: opts.budget,
          accel: opts.accel === 'kvm' || opts.accel === 'tcg' ? opts.accel : undefined,
          work: opts.work,
          json: opts.json,
          reporter: opts.reporter,
          retest: opts.retest,
          retestBase: opts.retestBase,
          retestKept: opts.retestKept,
        };
        // Without --queue nothing changes: the run is here, and needs no Redis.
        const outcome = opts.queue ? await (await import('../fleet/submit.js')).submitSeries({ ...runOpts, queue: opts.queue, results: opts.results }) : await runSeries(runOpts);
        if (opts.json) printJson(outcome.report);
        else {
          info(opts, `\n${outcome.report.verdict.toUpperCase()}: ${outcome.report.summary}`);
          info(opts, `report: ${outcome.reportDir}/report.md (also index.html, report.json, junit.xml, kcidb.json, reply.txt, checks.json)`);
        }
        return outcome.exitCode;
      }),
    );
}
