import type { Command } from 'commander';

export function registerBisectCommands(program: Command): void {
  void program;
}
