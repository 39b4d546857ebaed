import path from 'node:path';
import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { InputError } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { fetchSeries } from './fetch.js';
import { DEFAULT_LORE } from './input.js';
import { startLoreServer } from './server.js';
import { SERIES_JSON, SERIES_MBOX, writeSeries } from './store.js';

interface FetchFlags {
  output?: string;
  useVersion?: number;
  lore?: string;
  json?: boolean;
}

interface ServeFlags {
  port: number;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InputError(`--port must be 0..65535, got "${value}"`);
  return n;
}

export function registerLoreCommands(program: Command): void {
  program
    .command('fetch')
    .description('fetch a patch series from lore (or an mbox) and write DIR/series.mbox (ready for git am) and DIR/series.json')
    .argument('<input>', 'lore URL, message-id (<id>, id:...), patch.msgid.link URL, mbox or mbox.gz file, or - for stdin')
    .option('-o, --output <dir>', 'output folder (default: ./<series-slug>, e.g. ./v2-mm-zswap-remove-unnecessary-tree-cleanups)')
    // Not --version: the root program owns that flag and commander would print the version instead.
    .option('-v, --use-version <n>', 'take this version of the series (default: the newest in the thread)', positiveInt('-v'))
    .option('--lore <base>', `lore server to ask, also for full lore URLs (default: $KHARNESS_LORE or ${DEFAULT_LORE})`)
    .option('--json', 'print series.json (plus the paths written) on stdout instead of progress')
    .addHelpText(
      'after',
      `
Trailers (Reviewed-by, Acked-by, Tested-by, ...) from replies are added to each patch's commit
message; one naming someone other than its sender is not applied and shows as a warning.
Nothing is written unless the whole series is found; ${SERIES_JSON} is written last.`,
    )
    .action(
      action(async (input: string, flags: FetchFlags) => {
        const result = await fetchSeries(input, { version: flags.useVersion, lore: flags.lore ?? process.env.KHARNESS_LORE });
        const { series } = result;
        const dir = path.resolve(flags.output ?? series.slug);
        await writeSeries(dir, result);
        if (flags.json) {
          printJson({ ...series, dir, mboxPath: path.join(dir, SERIES_MBOX) });
          return;
        }
        const trailers = series.patches.reduce((n, p) => n + p.trailers.filter((t) => t.from !== undefined).length, 0);
        info(flags, `v${series.version} of "${series.subject}": ${series.patches.length} patch(es)${series.cover ? ' + cover letter' : ''}, ${trailers} trailer(s) collected`);
        for (const p of series.patches) info(flags, `  ${p.index}/${p.total} ${p.subject}`);
        if (series.baseCommit) info(flags, `base-commit: ${series.baseCommit}`);
        for (const w of series.warnings) info(flags, `warning: ${w}`);
        info(flags, `wrote ${path.join(dir, SERIES_MBOX)} and ${SERIES_JSON}`);
      }),
    );

  program
    .command('serve-lore')
    .description('serve a folder of thread mboxes (*.mbox, one thread each) the way lore does, on 127.0.0.1')
    .argument('<dir>', 'folder of thread mboxes')
    .option('--port <port>', 'port to listen on; 0 picks a free one', port, 0)
    .addHelpText(
      'after',
      `
The first line on stdout is the base URL (http://127.0.0.1:<port>). Routes: /<list>/<msgid>/,
/<list>/<msgid>/raw, /<list>/<msgid>/t.mbox.gz, /<list>/<msgid>/T/ and /t/; <list> is any name.
Runs until interrupted.`,
    )
    .action(
      action(async (dir: string, flags: ServeFlags) => {
        const server = await startLoreServer(dir, flags.port);
        process.stdout.write(`${server.url}\n`);
        info({}, `serving ${server.threads} thread(s), ${server.messages} message(s) from ${dir}; Ctrl-C to stop`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await server.close();
      }),
    );
}
