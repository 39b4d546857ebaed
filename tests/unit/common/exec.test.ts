import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForChild, childScript, processGone, startNode, tempDir, waitUntil, killStarted } from './child-process-helpers.js';
import { EXEC_CHILD } from './exec-child.js';

let dir: string;
let bundle: string;
let script: string;
const strays: number[] = [];

beforeAll(async () => {
  dir = await tempDir('exec');
  bundle = await bundleForChild('src/common/exec.ts', dir);
  script = await childScript(dir, 'exec-child.cjs', EXEC_CHILD);
});

afterAll(() => {
  killStarted();
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Starts the child kharness stand-in in MODE; returns it with the shell's and the grandchild's pids. */
async function start(mode: string): Promise<{ node: ReturnType<typeof startNode>; shell: number; grandchild: number; pidFile: string }> {
  const pidFile = path.join(dir, `${mode}-${Date.now()}.pids`);
  const node = startNode(script, [bundle, mode, pidFile]);
  await node.line(/^started$/);
  const [shell, grandchild] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) as [number, number];
  strays.push(shell, grandchild);
  expect(processGone(shell)).toBe(false);
  expect(processGone(grandchild)).toBe(false);
  return { node, shell, grandchild, pidFile };
}

describe('spawnTracked: nothing outlives a kharness killed with SIGKILL', () => {
  it('the control: an untracked detached child and its fork survive the kill (what the rest guards against)', async () => {
    const { node, shell, grandchild } = await start('untracked');
    node.child.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 1000));
    expect(processGone(shell)).toBe(false);
    expect(processGone(grandchild)).toBe(false);
  });

  it('kills the child and the process it forked', async () => {
    const { node, shell, grandchild } = await start('tracked');
    node.child.kill('SIGKILL');
    expect(await waitUntil(() => processGone(shell) && processGone(grandchild), 5000)).toBe(true);
  });

  it('the group reaper alone (no parent-death signal) kills the whole group', async () => {
    const { node, shell, grandchild } = await start('reaper-only');
    node.child.kill('SIGKILL');
    expect(await waitUntil(() => processGone(shell) && processGone(grandchild), 5000)).toBe(true);
  });

  it('the way vng is started (timeout backstop, setpriv, reaper) leaves nothing behind', async () => {
    const { node, shell, grandchild } = await start('backstop');
    node.child.kill('SIGKILL');
    expect(await waitUntil(() => processGone(shell) && processGone(grandchild), 5000)).toBe(true);
  });

  it('kills what a child left running in its group when the child itself ends', async () => {
    const { node, shell, grandchild, pidFile } = await start('finish');
    writeFileSync(`${pidFile}.go`, '');
    await node.line(/^finished$/);
    expect(processGone(shell)).toBe(true);
    expect(await waitUntil(() => processGone(grandchild), 5000)).toBe(true);
    node.child.kill('SIGKILL');
  });
});

describe('withBackstop', () => {
  it('kills the whole group when the budget runs out, with no reaper and no kharness exit', async () => {
    const { spawn } = await import('node:child_process');
    const { withBackstop } = await import('../../../src/common/exec.js');
    const pidFile = path.join(dir, 'backstop-budget.pids');
    const [file, args] = withBackstop(1, 1, 'sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo "$!" > "$1"; exec sleep 301', 'sh', pidFile]);
    const child = spawn(file, args, { detached: true, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(124); // timeout(1)'s "the budget ran out"
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    strays.push(grandchild);
    expect(await waitUntil(() => processGone(grandchild), 3000)).toBe(true);
  });
});
