/**
 * Runs the lore subcommands as a process of their own (for tests that need a cwd or a
 * long-running server): node_modules/.bin/vite-node tests/unit/lore/cli-entry.ts fetch ...
 * The root program mirrors src/cli.ts (version flag, exit override) without the other stages.
 */
import { Command, CommanderError } from 'commander';
import { registerLoreCommands } from '../../../src/lore/cli.js';

const program = new Command('kharness').version('0.1.0').exitOverride();
registerLoreCommands(program);
for (const cmd of program.commands) cmd.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : 2;
}
