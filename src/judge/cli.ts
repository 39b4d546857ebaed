import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../common/command.js';
import { ExitCode } from '../common/errors.js';
import { printJson } from '../common/output.js';
import { printSuite } from '../guest/cli.js';
import { judgeRunDir } from '../guest/index.js';

/**
 * `kharness judge <run dir>`: the judge stage alone, on the files a guest run left (a report's
 * patch-N/ folder, or `kharness test --out`). Reading only saved artifacts, it gives the verdict
 * the run gave, so a violation can be re-examined (or a model fix re-checked) without a VM.
 */
export function registerJudgeCommand(program: Command): void {
  program
    .command('judge')
    .description('re-judge a finished guest run offline: the model, data and counter oracles on its saved files')
    .argument('<run-dir>', 'a guest run folder (reports/<series>/patch-N, or a `kharness test --out` folder)')
    .option('--json', 'print the judgement as JSON')
    .action(
      action(async (dir: string, opts: { json?: boolean }) => {
        const suite = await judgeRunDir(path.resolve(dir));
        if (opts.json) printJson(suite);
        else printSuite(opts, suite);
        if (suite.verdict === 'error') return ExitCode.Infrastructure;
        return suite.verdict === 'fail' ? ExitCode.PatchFailed : ExitCode.Ok;
      }),
    );
}
