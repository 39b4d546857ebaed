import path from 'node:path';
import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { InputError } from '../common/errors.js';
import { listConfigs, resolveConfigList } from '../build/config.js';
import { resolveTests, variantsFor } from '../guest/index.js';
import { parseReporter } from '../report/reporter.js';
import type { PersonInfo } from '../report/types.js';
import { runSeries, type RunOptions } from '../run/pipeline.js';
import { NO_SANDBOX_HELP } from '../sandbox/index.js';
import { TREE_OPTION_HELP } from '../common/paths.js';
import { reportFolderName, type VersionRecord } from './decide.js';
import { watch, type RunOutcome } from './watch.js';

interface WatchCliOptions {
  query?: string;
  since?: string;
  once?: boolean;
  dryRun?: boolean;
  out: string;
  interval: number;
  tree?: string;
  config: string;
  tests?: string;
  variants?: string;
  profile: string;
  sandbox: boolean;
  baseTest: boolean;
  reporter?: PersonInfo;
  queue?: string;
  results?: string;
}

/** Runs one version as `kharness run <its URL> -v N --out OUT/<slug>` would. */
function runVersion(opts: WatchCliOptions): (v: VersionRecord) => Promise<RunOutcome> {
  return async (v) => {
    const tests = resolveTests(opts.tests);
    const runOpts: RunOptions = {
      input: v.threadUrl,
      version: v.version,
      out: path.join(opts.out, reportFolderName(v)),
      tree: opts.tree,
      configs: resolveConfigList(opts.config),
      tests,
      variants: variantsFor(opts.variants, tests),
      profile: opts.profile,
      runs: 1,
      trace: true,
      sandbox: opts.sandbox,
      testBase: opts.baseTest,
      cache: false,
      reporter: opts.reporter,
    };
    // --queue: the fleet runs it; the reports land in the same folder either way.
    const result = opts.queue ? await (await import('../fleet/submit.js')).submitSeries({ ...runOpts, queue: opts.queue, results: opts.results }) : await runSeries(runOpts);
    return { reportDir: result.reportDir, verdict: result.report.verdict };
  };
}

export function registerRobotCommands(program: Command): void {
  program
    .command('watch')
    .description('the robot: poll a public-inbox list (its Atom feed or search), and test each new series version once')
    .argument('<list>', 'the list URL, e.g. https://lore.kernel.org/linux-mm/')
    .option('--query <q>', 'public-inbox search to poll instead of new.atom (dfn:mm/zswap.c, s:, f:, d:)')
    .option('--since <date>', 'only mail from this date (YYYYMMDD, YYYY-MM-DD or 2.weeks.ago)')
    .option('--once', 'one round, then exit')
    .option('--dry-run', 'print what would be tested (message-id, version, subject), test nothing, keep no state')
    .option('--out <dir>', 'reports go to DIR/<series-slug>/', 'reports')
    .option('--interval <s>', 'seconds between polls', positiveInt('--interval'), 300)
    .option('--tree <tree>', TREE_OPTION_HELP)
    .option('--config <list>', `kernel configs: ${listConfigs().join(', ')}`, 'zswap')
    .option('--tests <list>', 'guest tests (default: all)')
    .option('--variants <list>', 'boot/runtime variants (default: as kharness run)')
    .option('--profile <name>', 'guest suite profile', 'quick')
    .option('--reporter <who>', "the replies' Reported-by: (\"Name <address>\"; default: git config user.name/user.email)", parseReporter)
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--no-base-test', 'do not test the unpatched base (as kharness run --no-base-test)')
    .option('--queue <url>', 'enqueue each version on the fleet (BullMQ on Redis, redis://HOST:PORT) instead of running it here')
    .option('--results <dir>', 'with --queue: the folder shared with the workers, to copy logs and artifacts from')
    .action(
      action(async (list: string, opts: WatchCliOptions) => {
        if (opts.results && !opts.queue) throw new InputError('--results is for --queue', 'give --queue redis://HOST:PORT too, or leave --results out');
        await watch({
          list,
          query: opts.query,
          since: opts.since,
          once: opts.once ?? false,
          dryRun: opts.dryRun ?? false,
          intervalS: opts.interval,
          run: runVersion(opts),
          print: (line) => process.stdout.write(`${line}\n`),
          note: (line) => process.stderr.write(`kharness watch: ${line}\n`),
        });
      }),
    );
}
