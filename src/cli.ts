#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ExitCode } from './common/errors.js';
import { KHARNESS_VERSION } from './common/paths.js';
import { installSignalHandlers } from './common/exec.js';
import { registerLoreCommands } from './lore/cli.js';
import { registerTreeCommands } from './tree/cli.js';
import { registerBuildCommands } from './build/cli.js';
import { registerBootCommands } from './boot/cli.js';
import { registerGuestCommands } from './guest/cli.js';
import { registerModelCommands } from './model/cli.js';
import { registerReportCommands } from './report/cli.js';
import { registerBisectCommands } from './bisect/cli.js';
import { registerRunCommands } from './run/cli.js';
import { registerDoctorCommand } from './doctor/cli.js';
import { registerJudgeCommand } from './judge/cli.js';
import { registerRobotCommands } from './robot/cli.js';
import { registerFleetCommands } from './fleet/cli.js';

const EXIT_CODES = `
Exit codes:
  0    every patch passed
  1    some patch failed (does not apply, does not build, new warnings, oops, data mismatch, model violation)
  2    bad usage or bad input (unreadable mbox, unknown message-id, missing patch, unknown option)
  3    infrastructure error (our side or the environment broke, or a patch could not be tested: never blamed on a patch)
  130  interrupted (Ctrl-C); the partial report is kept`;

export function buildProgram(): Command {
  const program = new Command('kharness')
    .description('Review and test Linux kernel patch series for zswap: lore → apply → build → boot → stress → model → report')
    .version(KHARNESS_VERSION)
    .showHelpAfterError()
    .addHelpText('after', EXIT_CODES)
    .exitOverride();
  registerRunCommands(program);
  registerLoreCommands(program);
  registerTreeCommands(program);
  registerBuildCommands(program);
  registerBootCommands(program);
  registerGuestCommands(program);
  registerJudgeCommand(program);
  registerModelCommands(program);
  registerReportCommands(program);
  registerBisectCommands(program);
  registerDoctorCommand(program);
  registerRobotCommands(program);
  registerFleetCommands(program);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  installSignalHandlers();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse problem is bad usage.
      process.exitCode = err.exitCode === 0 ? ExitCode.Ok : ExitCode.BadInput;
      return;
    }
    throw err;
  }
}
