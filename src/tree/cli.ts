import type { Command } from 'commander';
import { action, positiveInt } from '../common/command.js';
import { ExitCode } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { NO_CACHE_HELP } from '../lore/index.js';
import { TREE_OPTION_HELP } from '../common/paths.js';
import { applySeries, chooseBase } from './apply.js';
import { loadSeries, MAX_PATCHES_HELP } from './input.js';
import { saveApplied } from './state.js';
import { openTreeArg } from './managed.js';
import { lockTree } from './worktree.js';

export function registerTreeCommands(program: Command): void {
  program
    .command('apply')
    .description('apply a series, one commit per patch, in a git worktree of the kernel tree (the tree itself is never touched)')
    .argument('<series>', 'a folder written by `kharness fetch`, or anything fetch takes (lore URL, message-id, mbox)')
    .option('--tree <tree>', TREE_OPTION_HELP)
    .option('--base <ref>', 'apply on this commit (default: the series base-commit if the tree has it, else HEAD)')
    .option('--work <dir>', 'where worktrees and builds live (default: ~/.cache/kharness/work)')
    .option('-v, --version <n>', 'series version to use when fetching', positiveInt('--version'))
    .option('--lore <url>', 'lore server to fetch from')
    .option('--no-cache', NO_CACHE_HELP)
    .option('--max-patches <n>', MAX_PATCHES_HELP, positiveInt('--max-patches'))
    .option('--json', 'print the result as JSON')
    .action(
      action(async (input: string, opts: { tree?: string; base?: string; work?: string; version?: number; lore?: string; cache: boolean; json?: boolean; maxPatches?: number }) => {
        const loaded = await loadSeries(input, { version: opts.version, lore: opts.lore, cache: opts.cache ? undefined : false, maxPatches: opts.maxPatches });
        const tree = await openTreeArg(opts.tree, opts.work);
        const unlock = await lockTree(tree);
        try {
          const base = await chooseBase(tree, { base: opts.base, seriesBase: loaded.series.baseCommit, namedTree: loaded.series.baseTree?.name, mboxPath: loaded.mboxPath });
          info(opts, `base ${base.commit.slice(0, 12)}: ${base.reason}`);
          const result = await applySeries(tree, loaded.mboxPath, base, loaded.series.patches.map((p) => p.subject));
          await saveApplied(tree, { slug: loaded.series.slug, seriesDir: loaded.dir, apply: result });
          if (opts.json) printJson(result);
          else {
            for (const p of result.patches) {
              info(opts, `[${p.index}/${result.patches.length}] ${p.status.padEnd(12)} ${p.subject}${p.commit ? `  (${p.commit.slice(0, 12)})` : ''}`);
              for (const c of p.conflicts) info(opts, `      ${c.file}${c.hunks.length ? `: ${c.hunks.map((h) => h.split('\n')[0]).join('; ')}` : ''}`);
            }
            info(opts, `worktree: ${result.worktree}`);
          }
          return result.patches.some((p) => p.status === 'failed') ? ExitCode.PatchFailed : ExitCode.Ok;
        } finally {
          await unlock();
        }
      }),
    );
}
