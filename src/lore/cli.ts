import type { Command } from 'commander';

export function registerLoreCommands(program: Command): void {
  void program;
}
