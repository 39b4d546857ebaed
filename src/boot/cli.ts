import type { Command } from 'commander';

export function registerBootCommands(program: Command): void {
  void program;
}
