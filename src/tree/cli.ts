import type { Command } from 'commander';

export function registerTreeCommands(program: Command): void {
  void program;
}
