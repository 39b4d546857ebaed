import type { Command } from 'commander';
import path from 'node:path';
import { NO_SANDBOX_HELP, settleSandbox } from '../sandbox/index.js';
import { action, positiveInt } from '../common/command.js';
import { ExitCode, InputError } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { loadApplied, treeFromDir } from '../tree/state.js';
import { lockTree, prepareWorktree, resolveCommit } from '../tree/worktree.js';
import { buildCommit, formatDiagnostic, listConfigs, resolveConfig, type BuildResult } from './index.js';

export function printBuild(opts: { json?: boolean }, label: string, r: BuildResult): void {
  info(opts, `${label} ${r.verdict.padEnd(7)} ${r.summary}`);
  for (const e of r.errors.slice(0, 10)) info(opts, `      ${formatDiagnostic(e)}`);
  for (const w of r.newWarnings) info(opts, `      new: ${formatDiagnostic(w)}`);
  if (r.checkpatch && !r.checkpatch.infraError) {
    info(opts, `      checkpatch: ${r.checkpatch.errors} error(s), ${r.checkpatch.warnings} warning(s), ${r.checkpatch.checks} check(s)`);
  }
  info(opts, `      log: ${r.logPath}`);
}

export function registerBuildCommands(program: Command): void {
  program
    .command('build')
    .description('build the base and every patch of an applied series (or one patch) with a zswap config, incrementally')
    .argument('<worktree>', 'the worktree `kharness apply` printed, or any kernel git tree (built at its HEAD, in our own worktree)')
    .option('--config <name>', `kernel config: ${listConfigs().join(', ')}`, 'zswap')
    .option('--patch <k>', 'build only patch K of the applied series (0 = the base)', (v) => (v === '0' ? 0 : positiveInt('--patch')(v)))
    .option('--no-checkpatch', 'skip scripts/checkpatch.pl')
    .option('--logs <dir>', 'where build logs go (default: the tree work folder)')
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--json', 'print results as JSON')
    .action(
      action(async (dir: string, opts: { config: string; patch?: number; checkpatch: boolean; logs?: string; json?: boolean; sandbox: boolean }) => {
        resolveConfig(opts.config);
        await settleSandbox(!opts.sandbox);
        const { tree, ours } = await treeFromDir(dir);
        const unlock = await lockTree(tree);
        try {
          const logDir = opts.logs ?? path.join(tree.workDir, 'logs');
          const steps: { label: string; commit: string; checkpatch: boolean }[] = [];
          const applied = ours ? await loadApplied(tree) : undefined;
          if (applied) {
            steps.push({ label: '[base]', commit: applied.apply.base.commit, checkpatch: false });
            for (const p of applied.apply.patches) {
              if (p.commit) steps.push({ label: `[${p.index}/${applied.apply.patches.length}]`, commit: p.commit, checkpatch: opts.checkpatch });
            }
          } else {
            const head = await resolveCommit(dir, 'HEAD');
            if (!head) throw new InputError(`${dir} has no HEAD commit`);
            await prepareWorktree(tree, head);
            steps.push({ label: '[HEAD]', commit: head, checkpatch: false });
          }
          let selected = steps.map((s, i) => ({ ...s, previous: i > 0 ? steps[i - 1]!.commit : undefined }));
          if (opts.patch !== undefined) {
            if (!applied) throw new InputError('--patch needs a worktree made by `kharness apply`');
            const one = selected[opts.patch];
            if (!one) throw new InputError(`the applied series has no patch ${opts.patch} (it has ${steps.length - 1})`);
            selected = [one];
          }
          const results: BuildResult[] = [];
          for (const step of selected) {
            info(opts, `${step.label} building ${step.commit.slice(0, 12)} with config ${opts.config} ...`);
            const r = await buildCommit({ tree, commit: step.commit, configName: opts.config, previousCommit: step.previous, checkpatch: step.checkpatch, reviewBase: steps[0]!.commit, logDir, onProgress: (l) => info(opts, `      ${l}`) });
            results.push(r);
            if (!opts.json) printBuild(opts, step.label, r);
          }
          if (opts.json) printJson(results);
          if (results.some((r) => r.verdict === 'error')) return ExitCode.Infrastructure;
          return results.some((r) => r.verdict === 'fail') ? ExitCode.PatchFailed : ExitCode.Ok;
        } finally {
          await unlock();
        }
      }),
    );
}
