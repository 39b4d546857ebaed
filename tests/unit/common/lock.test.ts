import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, holderNotePath, readHolderNote, withLock } from '../../../src/common/lock.js';
import { bundleForChild, childScript, startNode, tempDir, waitUntil, killStarted } from './child-process-helpers.js';
import { LOCK_CHILD } from './lock-child.js';

let dir: string;
let bundle: string;
let script: string;

beforeAll(async () => {
  dir = await tempDir('lock');
  bundle = await bundleForChild('src/common/lock.ts', dir);
  script = await childScript(dir, 'lock-child.cjs', LOCK_CHILD);
});

function contender(lock: string, log: string, holdMs: number, mode: 'wait' | 'nowait' = 'wait') {
  writeFileSync(log, '', { flag: 'a' });
  return startNode(script, [bundle, lock, log, String(holdMs), mode]);
}

/** Pairs of S/E lines from the log: each critical section must end before the next starts. */
function sections(log: string): { pid: string; ok: boolean }[] {
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  const out: { pid: string; ok: boolean }[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [s, sp] = (lines[i] ?? '').split(' ');
    const [e, ep] = (lines[i + 1] ?? '').split(' ');
    out.push({ pid: sp ?? '', ok: s === 'S' && e === 'E' && sp === ep });
  }
  return out;
}

/** flock(1) processes still naming this lock file: a waiter or holder that outlived its owner. */
function flocksOn(lock: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `flock .*${lock}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

afterAll(killStarted);

describe('acquireLock across processes', () => {
  it('serializes contenders; the waiters are told who holds the lock', async () => {
    const lock = path.join(dir, 'serial.lock');
    const log = path.join(dir, 'serial.log');
    const a = contender(lock, log, 800);
    await a.line(/^acquired$/);
    const b = contender(lock, log, 300);
    const c = contender(lock, log, 300);
    // The note beside the lock names A while A holds it.
    expect(readHolderNote(lock)?.pid).toBe(a.child.pid);
    await b.line(new RegExp(`^waiting ${a.child.pid} lock-child\\.cjs`));
    await c.line(new RegExp(`^waiting ${a.child.pid} `));
    expect(await Promise.all([a.exited, b.exited, c.exited])).toEqual([0, 0, 0]);
    const s = sections(log);
    expect(s).toHaveLength(3);
    expect(s.every((x) => x.ok)).toBe(true);
    expect(s[0]!.pid).toBe(String(a.child.pid));
    expect(new Set(s.map((x) => x.pid)).size).toBe(3);
    expect(readHolderNote(lock)).toBeUndefined(); // the last holder removed its note
  });

  it('is released when the holder is killed with SIGKILL', async () => {
    const lock = path.join(dir, 'kill.lock');
    const log = path.join(dir, 'kill.log');
    const a = contender(lock, log, 600_000);
    await a.line(/^acquired$/);
    const b = contender(lock, log, 0);
    await b.line(new RegExp(`^waiting ${a.child.pid} `));
    a.child.kill('SIGKILL');
    await b.line(/^released$/, 10_000);
    expect(await b.exited).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe(`S ${a.child.pid}\nS ${b.child.pid}\nE ${b.child.pid}\n`);
    expect(await waitUntil(() => flocksOn(lock).length === 0, 5000)).toBe(true);
  });

  it('does not wait when asked not to, and names the holder', async () => {
    const lock = path.join(dir, 'nowait.lock');
    const log = path.join(dir, 'nowait.log');
    const a = contender(lock, log, 600_000);
    await a.line(/^acquired$/);
    const b = contender(lock, log, 0, 'nowait');
    expect(await b.exited).toBe(9);
    expect(b.lines).toContain(`busy LockBusyError ${a.child.pid}`);
    a.child.kill('SIGKILL');
  });

  it('leaves no flock waiting behind when the waiter is killed with SIGKILL', async () => {
    const lock = path.join(dir, 'waiter.lock');
    const log = path.join(dir, 'waiter.log');
    const a = contender(lock, log, 600_000);
    await a.line(/^acquired$/);
    const b = contender(lock, log, 0);
    await b.line(/^waiting /);
    // A's holder and B's blocked waiter (B says it waits just before it starts that one).
    expect(await waitUntil(() => flocksOn(lock).length === 2, 5000)).toBe(true);
    b.child.kill('SIGKILL');
    expect(await waitUntil(() => flocksOn(lock).length === 1, 5000)).toBe(true);
    a.child.kill('SIGKILL');
    expect(await waitUntil(() => flocksOn(lock).length === 0, 5000)).toBe(true);
  });
});

describe('acquireLock in one process', () => {
  it('refuses to take a lock it holds (flock would wait for itself), and can take it again after release', async () => {
    const lock = path.join(dir, 'self.lock');
    const release = await acquireLock(lock);
    expect(JSON.parse(readFileSync(holderNotePath(lock), 'utf8')).pid).toBe(process.pid);
    await expect(acquireLock(lock)).rejects.toThrow(/already holds/);
    await release();
    await release(); // idempotent
    expect(await withLock(lock, async () => 'inside')).toBe('inside');
  });
});
