import path from 'node:path';
import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { InputError } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { KEYRING_HELP, attestOptions, collect, requireAttestation } from './attest-series.js';
import { NO_CACHE_HELP } from './cache.js';
import { fetchSeries } from './fetch.js';
import { DEFAULT_LORE } from './input.js';
import { parseTestFaults, startLoreServer } from './server.js';
import { SERIES_JSON, SERIES_MBOX, writeSeries } from './store.js';

interface FetchFlags {
  output?: string;
  useVersion?: number;
  lore?: string;
  /** false with --no-cache */
  cache: boolean;
  json?: boolean;
  keyring?: string[];
  requireAttestation?: boolean;
  squashFixups?: boolean;
}

interface ServeFlags {
  port: number;
  testFaults?: string;
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
    .option('--no-cache', NO_CACHE_HELP)
    .option('--keyring <dir>', KEYRING_HELP, collect)
    .option('--require-attestation', 'refuse (exit 2, nothing written) a series with a patch that has no good DKIM or patatt signature')
    .option('--json', 'print series.json (plus the paths written) on stdout instead of progress')
    .option('--squash-fixups', 'squash each fix-up (a "... (fix)" patch sent in reply to a patch) into the patch it fixes, instead of applying it right after as its own step')
    .addHelpText(
      'after',
      `
Trailers (Reviewed-by, Acked-by, Tested-by, ...) from replies are added to each patch's commit
message; one naming someone other than its sender is not applied and shows as a warning.
Nothing is written unless the whole series is found; ${SERIES_JSON} is written last.

A thread fetched over HTTP is kept for 10 minutes in $KHARNESS_CACHE/lore (default
~/.cache/kharness/lore). Rate limiting (429, 403), 5xx answers and dropped connections are
asked again, up to 4 requests in all, with exponential backoff; a Retry-After is honoured up
to 60 s (one asking longer ends the fetch at once). A body over 64 MiB is refused.

Each patch mail is attested as b4 does: its DKIM signatures (keys from DNS; DNS that cannot
answer leaves a signature unknown, not bad) and patatt X-Developer-Signature (keys from
--keyring, git config patatt.keyringsrc folders and $XDG_DATA_HOME/patatt/public).`,
    )
    .action(
      action(async (input: string, flags: FetchFlags) => {
        const attest = await attestOptions({ keyrings: flags.keyring });
        const result = await fetchSeries(input, { version: flags.useVersion, lore: flags.lore ?? process.env.KHARNESS_LORE, cache: flags.cache ? undefined : false, attest, squashFixups: flags.squashFixups === true });
        const { series } = result;
        if (flags.requireAttestation) requireAttestation(series);
        const dir = path.resolve(flags.output ?? series.slug);
        await writeSeries(dir, result);
        if (flags.json) {
          printJson({ ...series, dir, mboxPath: path.join(dir, SERIES_MBOX) });
          return;
        }
        const trailers = series.patches.reduce((n, p) => n + p.trailers.filter((t) => t.from !== undefined).length, 0);
        info(flags, `v${series.version} of "${series.subject}": ${series.patches.length} patch(es)${series.cover ? ' + cover letter' : ''}, ${trailers} trailer(s) collected`);
        for (const p of series.patches) {
          const squashed = (p.squashedFixups ?? []).map((f) => ` + fix-up "${f.subject}" squashed in`).join('');
          info(flags, `  ${p.label ?? `${p.index}/${p.total}`} ${p.subject}${p.fixupOf ? ` (fix-up of ${p.fixupOf.label}, applied right after it)` : ''}${squashed}\n      ${p.attestation?.status ?? 'unknown'}: ${p.attestation?.summary ?? 'not checked'}`);
        }
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
    .option('--test-faults <faults>', 'TEST FACILITY: misbehave on purpose, to test lore clients (see below)')
    .addHelpText(
      'after',
      `
The first line on stdout is the base URL (http://127.0.0.1:<port>). Routes: /<list>/<msgid>/,
/<list>/<msgid>/raw, /<list>/<msgid>/t.mbox.gz, /<list>/<msgid>/T/ and /t/; <list> is any name.
Runs until interrupted.

--test-faults (for testing clients, never for serving) takes comma-separated faults for the
first requests, in order: STATUS:TIMES[:RETRY_AFTER] answers STATUS (4xx/5xx), with that
Retry-After in seconds; reset:TIMES drops the connection unanswered; cut:TIMES sends half a
thread mbox and drops the connection. slow:CHUNK_BYTES:DELAY_MS sends every thread mbox in
chunks. E.g. --test-faults 429:2:1,reset:1 answers 429 twice, drops the third request, then serves.`,
    )
    .action(
      action(async (dir: string, flags: ServeFlags) => {
        const faults = flags.testFaults === undefined ? {} : parseTestFaults(flags.testFaults);
        const server = await startLoreServer(dir, flags.port, faults);
        process.stdout.write(`${server.url}\n`);
        if (flags.testFaults !== undefined) info({}, `TEST FAULTS ON (${flags.testFaults}): this server misbehaves on purpose`);
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
