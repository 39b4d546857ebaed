import { execa, type Options, type ResultPromise } from 'execa';

/**
 * Child processes started through here are killed when kharness exits, Ctrl-C included, so QEMU
 * and make never outlive us. Arguments are always arrays: no shell ever sees mail content.
 */
const live = new Set<ResultPromise>();
let hooked = false;

function killAll(signal: NodeJS.Signals): void {
  for (const child of live) {
    try {
      // Each child leads its own process group (detached), so its children die with it.
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAll('SIGKILL'));
}

export function liveChildren(): number {
  return live.size;
}

/** Kills every tracked child (used by the Ctrl-C handler before writing the partial report). */
export function killChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  killAll(signal);
}

/** Starts a tracked child in its own process group. */
export function spawnTracked(file: string, args: readonly string[], options: Options = {}): ResultPromise {
  hookExit();
  const child = execa(file, args, { detached: true, reject: false, ...options } as Options) as ResultPromise;
  live.add(child);
  const done = (): void => {
    live.delete(child);
  };
  child.then(done, done);
  return child;
}

/** Runs a command to completion and returns stdout; throws with stderr on failure. */
export async function run(file: string, args: readonly string[], options: Options = {}): Promise<string> {
  const result = await execa(file, args, { ...options, reject: true, stripFinalNewline: true });
  return String(result.stdout ?? '');
}

/**
 * What a signal (Ctrl-C, kill, a closed terminal) does: a command may register its own hook
 * (`kharness run` stops the current stage and writes the partial report); otherwise every
 * child process group is killed and kharness exits 128+signal. Either way no QEMU or make
 * survives us: Node's default on these signals would exit without killing anything.
 */
let interruptHook: ((signal: NodeJS.Signals) => void) | undefined;

export function onInterrupt(hook: ((signal: NodeJS.Signals) => void) | undefined): void {
  interruptHook = hook;
}

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export function installSignalHandlers(): void {
  for (const signal of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.on(signal, () => {
      if (interruptHook) {
        interruptHook(signal);
        return;
      }
      killAll('SIGKILL');
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
}
