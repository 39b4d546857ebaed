import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { execa, type Options, type ResultPromise } from 'execa';

/**
 * Child processes started through here, and everything they start, are killed when kharness
 * exits, however it exits (Ctrl-C, or SIGKILL with no handler run), so QEMU and make never
 * outlive us. Arguments are always arrays: no shell ever sees mail content.
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

export interface TrackedOptions {
  /**
   * Start the command under `setpriv --pdeathsig KILL` so it dies with us at once (default
   * true). Off for a command that must outlive us on purpose for a while (a `timeout` backstop).
   */
  deathSignal?: boolean;
}

/** The argv that runs FILE ARGS with a parent-death SIGKILL: set by setpriv, kept across execve. */
export function withDeathSignal(file: string, args: readonly string[]): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'KILL', '--', file, ...args]];
}

/**
 * The argv that runs FILE ARGS under timeout(1) as a backstop budget: timeout leads the process
 * group and kills all of it when the budget runs out, even if we and the reaper are gone. It
 * gets no parent-death signal (start it with `deathSignal: false`), or it would die with us
 * before it could act; FILE gets one from timeout, so it still dies when timeout dies.
 */
export function withBackstop(budgetS: number, killAfterS: number, file: string, args: readonly string[]): [string, string[]] {
  return ['timeout', [`--kill-after=${killAfterS}`, String(budgetS), ...withDeathSignal(file, args).flat()]];
}

/**
 * Starts a process outside the child's group that kills the whole group when its stdin pipe
 * from us closes: when the child ended and we closed it, or when we died, however (the kernel
 * closes our end even on SIGKILL). A parent-death signal alone reaches only the direct child,
 * since fork clears it: vng forks a shell, virtme-run forks QEMU, make forks the compilers.
 */
export function startGroupReaper(pgid: number): ChildProcess {
  // dash's kill takes no `--`: a negative pid right after the signal is the group.
  const script = 'trap "" INT TERM HUP; read -r _; kill -KILL "-$1" 2>/dev/null; exit 0';
  const reaper = spawn('sh', ['-c', script, 'kharness-reaper', String(pgid)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  reaper.on('error', () => undefined); // no sh: the exit handler and pdeathsig still cover us
  reaper.unref();
  (reaper.stdin as Socket | null)?.unref();
  return reaper;
}

/**
 * Starts a tracked child in its own process group, with a reaper for the group and (by default)
 * a parent-death signal: nothing it starts outlives kharness, even a kharness killed by SIGKILL.
 */
export function spawnTracked(file: string, args: readonly string[], options: Options & TrackedOptions = {}): ResultPromise {
  hookExit();
  const { deathSignal = true, ...execaOptions } = options;
  const [cmd, argv] = deathSignal ? withDeathSignal(file, args) : [file, [...args]];
  const child = execa(cmd, argv, { detached: true, reject: false, ...execaOptions } as Options) as ResultPromise;
  live.add(child);
  const reaper = child.pid ? startGroupReaper(child.pid) : undefined;
  const done = (): void => {
    live.delete(child);
    // The group's leader is gone; anything it left behind in its group goes now.
    reaper?.stdin?.end();
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
