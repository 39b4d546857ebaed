import { Listr, type ListrTask } from 'listr2';

/** How a command reports progress: listr2 on a terminal, plain lines otherwise, nothing with --json. */
export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

export function progressRenderer(opts: OutputOptions): 'default' | 'simple' | 'silent' {
  if (opts.json || opts.quiet) return 'silent';
  return process.stderr.isTTY ? 'default' : 'simple';
}

/** Runs listr2 tasks with the renderer the options call for; plain `simple` lines when not a TTY. */
export async function runTasks<Ctx>(tasks: ListrTask<Ctx>[], ctx: Ctx, opts: OutputOptions): Promise<Ctx> {
  const renderer = progressRenderer(opts);
  const list = new Listr<Ctx, 'default' | 'simple' | 'silent', 'simple'>(tasks, {
    ctx,
    renderer,
    fallbackRenderer: 'simple',
    exitOnError: false,
    // Ours, not listr2's: its handler exits 127 at once, before the partial report is written
    // and QEMU is killed (src/common/exec.ts installs ours).
    registerSignalListeners: false,
    rendererOptions: { collapseSubtasks: false },
    fallbackRendererOptions: { timestamp: undefined },
  } as never);
  await list.run();
  return ctx;
}

/** A line of progress for commands that do not need a task list. Goes to stderr so stdout stays data. */
export function info(opts: OutputOptions, line: string): void {
  if (opts.json || opts.quiet) return;
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
