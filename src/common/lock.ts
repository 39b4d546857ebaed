import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';

/** Who holds a lock, as the holder wrote it beside the lock file. */
export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

export interface LockOptions {
  /** false: fail at once with LockBusyError instead of waiting for the holder */
  wait?: boolean;
  /** called once, before waiting, with the holder (undefined when it left no note) */
  onWait?: (holder: LockHolder | undefined) => void;
}

export type ReleaseLock = () => Promise<void>;

export class LockBusyError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(`${lockPath} is held by ${describeHolder(holder)}`);
    this.name = 'LockBusyError';
  }
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'another process (it left no note of who it is)';
  return `process ${holder.pid} (${printable(holder.command)}) since ${printable(holder.since)}`;
}

/** The note is ours, but argv can hold anything: keep terminal control bytes out. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 200);
}

export const holderNotePath = (lockPath: string): string => `${lockPath}.holder`;

const CONFLICT_EXIT = 75;
/** flock(2) locks an open file, so a second acquire in this process would wait for itself. */
const heldHere = new Set<string>();

/**
 * Takes an exclusive flock(2) lock on `lockPath` and returns the function that releases it.
 * Node has no flock, so a child flock(1) holds the lock for us for as long as its stdin pipe
 * from us stays open. However we end, SIGKILL included, the kernel closes that pipe, the child
 * exits and the lock is released: there is never a stale lock to guess about.
 */
export async function acquireLock(lockPath: string, opts: LockOptions = {}): Promise<ReleaseLock> {
  const file = path.resolve(lockPath);
  if (heldHere.has(file)) throw new Error(`this process already holds ${file}`);
  heldHere.add(file);
  let holder: ChildProcess | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    holder = await spawnHolder(file, false);
    if (!holder) {
      const note = readHolderNote(file);
      if (opts.wait === false) throw new LockBusyError(file, note);
      opts.onWait?.(note);
      holder = await spawnHolder(file, true);
      if (!holder) throw new Error(`flock(1) gave up waiting for ${file}`);
    }
    const note: LockHolder = { pid: process.pid, command: ownCommand(), since: new Date().toISOString() };
    await writeFileAtomic(holderNotePath(file), `${JSON.stringify(note)}\n`);
  } catch (err) {
    if (holder) await stopHolder(holder);
    heldHere.delete(file);
    throw err;
  }
  const child = holder;
  let released: Promise<void> | undefined;
  return () => {
    released ??= (async () => {
      // The note goes first: once the lock is free, the note belongs to the next holder.
      await rm(holderNotePath(file), { force: true });
      await stopHolder(child);
      heldHere.delete(file);
    })();
    return released;
  };
}

/** Runs `fn` holding the lock; releases it however `fn` ends. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(lockPath, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

export function readHolderNote(lockPath: string): LockHolder | undefined {
  try {
    const data = JSON.parse(readFileSync(holderNotePath(lockPath), 'utf8')) as Partial<LockHolder>;
    if (typeof data.pid === 'number' && typeof data.command === 'string' && typeof data.since === 'string') return { pid: data.pid, command: data.command, since: data.since };
  } catch {
    /* no note (the holder is between taking the lock and writing it), or a torn old one */
  }
  return undefined;
}

function ownCommand(): string {
  const [, script, ...rest] = process.argv;
  return [script ? path.basename(script) : 'node', ...rest].join(' ');
}

/**
 * Starts flock(1) on the file; resolves with the child once it holds the lock, or undefined
 * when `block` is false and someone else holds it. setpriv's parent-death signal kills a flock
 * still blocked in flock(2) if we die while waiting: it would otherwise take the lock later
 * and hold it until it noticed. Its own group keeps a Ctrl-C meant for us from releasing the
 * lock while we still write the partial report.
 */
function spawnHolder(file: string, block: boolean): Promise<ChildProcess | undefined> {
  const flockArgs = ['--exclusive', '--close', '--conflict-exit-code', String(CONFLICT_EXIT), ...(block ? [] : ['--nonblock']), file];
  const args = ['--pdeathsig', 'KILL', '--', 'flock', ...flockArgs, 'sh', '-c', 'echo locked; exec cat >/dev/null'];
  const child = spawn('setpriv', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (!out.includes('locked')) return;
      // Held: nothing here may keep our event loop alive, or a forgotten release would hang us.
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr]) (s as Socket | null)?.unref();
      resolve(child);
    });
    child.on('error', (e) => reject(new Error(`cannot run flock(1) and setpriv(1) from util-linux to lock ${file}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code === CONFLICT_EXIT) resolve(undefined);
      else reject(new Error(`flock(1) on ${file} ended (${signal ?? `exit ${code}`}) without taking the lock: ${err.trim()}`));
    });
  });
}

async function stopHolder(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  // cat exits at EOF at once; the kill is for a child wedged on something else.
  const force = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(force);
}
