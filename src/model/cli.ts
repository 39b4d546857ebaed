import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { ExitCode, InputError } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { runModelBench } from './bench.js';
import { DEFAULT_BOUNDS, checkDesign, listDesigns } from './design/checker.js';
import { formatCoverage, formatDesignCheck, formatReplay } from './format.js';
import { replayHistory } from './replay-model.js';
import { readTraceFile } from './trace-file.js';

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

interface ReplayCliOptions {
  json?: boolean;
  window: number;
  clockSlack: number;
}

interface CheckCliOptions {
  design: string;
  threads: number;
  slots: number;
  ops: number;
  writebacks: number;
  swapoffCycles: number;
  maxStates: number;
  coverage?: boolean;
  json?: boolean;
}

export function registerModelCommands(program: Command): void {
  const model = program
    .command('model')
    .description('the reference model of zswap entry lifetimes: replay kernel traces, check designs');

  model
    .command('replay')
    .description('check a decoded zswap trace (JSON lines of TraceCall) against the model')
    .argument('<trace>', 'trace file: one TraceCall per line')
    .option('--json', 'print the result as JSON')
    .option('--window <n>', 'events shown before each offending one', nonNegativeInt('--window'), 5)
    .option('--clock-slack <ns>', 'widen every call interval by this many ns (unsynchronized clocks)', nonNegativeInt('--clock-slack'), 0)
    .addHelpText('after', '\nExit: 0 no violation, 1 violation, 2 bad input.')
    .action(
      action(async (trace: string, opts: ReplayCliOptions) => {
        const calls = await readTraceFile(trace);
        const result = replayHistory(calls, { window: opts.window, clockSlackNs: opts.clockSlack });
        if (opts.json) printJson({ calls: calls.length, ...result });
        else process.stdout.write(`${formatReplay(result, calls.length)}\n`);
        return result.violations.length > 0 ? ExitCode.PatchFailed : ExitCode.Ok;
      }),
    );

  model
    .command('check')
    .description('explore every interleaving of a design\'s step programs and print the shortest one that breaks a rule')
    .requiredOption('--design <name>', `design to check (${listDesigns().map((d) => d.name).join(', ')})`)
    .option('--threads <n>', 'worker threads, each swapping one page out and in (plus the shrinker and the swapoff/swapon thread)', positiveInt('--threads'), DEFAULT_BOUNDS.threads)
    .option('--slots <m>', 'swap slots', positiveInt('--slots'), DEFAULT_BOUNDS.slots)
    .option('--ops <k>', 'operations per worker thread', positiveInt('--ops'), DEFAULT_BOUNDS.opsPerThread)
    .option('--writebacks <w>', 'writeback attempts of the shrinker', nonNegativeInt('--writebacks'), DEFAULT_BOUNDS.writebacks)
    .option('--swapoff-cycles <c>', 'swapoff + swapon cycles', nonNegativeInt('--swapoff-cycles'), DEFAULT_BOUNDS.swapoffCycles)
    .option('--max-states <s>', 'give up after this many states', positiveInt('--max-states'), DEFAULT_BOUNDS.maxStates)
    .option('--coverage', 'also list how often each kind of step ran')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit: 0 no violation within the bounds, 1 a violation, 2 bad usage or the state limit was hit.')
    .action(
      action(async (opts: CheckCliOptions) => {
        if (!listDesigns().some((d) => d.name === opts.design)) {
          throw new InputError(`unknown design "${opts.design}"`, `known designs: ${listDesigns().map((d) => d.name).join(', ')}`);
        }
        info(opts, `checking ${opts.design} ...`);
        const result = checkDesign(opts.design, {
          threads: opts.threads,
          slots: opts.slots,
          opsPerThread: opts.ops,
          writebacks: opts.writebacks,
          swapoffCycles: opts.swapoffCycles,
          maxStates: opts.maxStates,
        }, { coverage: opts.coverage });
        if (opts.json) printJson(result);
        else {
          process.stdout.write(`${formatDesignCheck(result)}\n`);
          if (result.coverage) process.stdout.write(`${formatCoverage(result.coverage)}\n`);
        }
        if (result.violation) return ExitCode.PatchFailed;
        if (!result.complete) {
          throw new InputError(`the search stopped at ${result.statesExplored} states before covering the bounds`, 'raise --max-states or lower --threads/--slots/--ops');
        }
        return ExitCode.Ok;
      }),
    );

  model
    .command('list')
    .description('the designs `model check` knows')
    .option('--json', 'print the list as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const designs = listDesigns();
        if (opts.json) printJson(designs);
        else for (const d of designs) process.stdout.write(`${d.name.padEnd(18)} ${d.summary}\n`);
      }),
    );

  model
    .command('bench')
    .description('time the design checker and the trace replay on this machine')
    .action(
      action(async () => {
        await runModelBench();
      }),
    );
}
