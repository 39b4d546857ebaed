import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelTree } from '../../../src/tree/worktree.js';
import { lockTree } from '../../../src/tree/worktree.js';
import { bundleForChild, childScript, startNode, tempDir, killStarted } from '../common/child-process-helpers.js';
import { LOCK_CHILD } from '../common/lock-child.js';

let dir: string;
let bundle: string;
let script: string;
beforeAll(async () => {
  dir = await tempDir('locktree');
  bundle = await bundleForChild('src/common/lock.ts', dir);
  script = await childScript(dir, 'lock-child.cjs', LOCK_CHILD);
});

function fakeTree(name: string): KernelTree {
  const workDir = path.join(dir, name);
  return { repo: `/src/${name}`, key: name, workDir, worktree: path.join(workDir, 'src') };
}

afterAll(killStarted);

describe('lockTree', () => {
  it('waits for another run, says once who it is, and goes on when that run is killed', async () => {
    const tree = fakeTree('busy');
    const other = startNode(script, [bundle, path.join(tree.workDir, 'lock'), path.join(dir, 'busy.log'), '600000', 'wait']);
    await other.line(/^acquired$/);
    const messages: string[] = [];
    let got = false;
    const locking = lockTree(tree, { onWait: (m) => messages.push(m) }).then((release) => ((got = true), release));
    await new Promise((r) => setTimeout(r, 700));
    expect(got).toBe(false); // still waiting while the other run holds the tree
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(new RegExp(`/src/busy is in use by process ${other.child.pid} \\(lock-child\\.cjs .*\\) since \\d{4}-\\d\\d-\\d\\dT`));
    other.child.kill('SIGKILL');
    const release = await locking;
    expect(messages).toHaveLength(1);
    await release();
  });

  it('with wait: false fails at once with an infrastructure error naming the holder', async () => {
    const tree = fakeTree('nowait');
    const other = startNode(script, [bundle, path.join(tree.workDir, 'lock'), path.join(dir, 'nowait.log'), '600000', 'wait']);
    await other.line(/^acquired$/);
    await expect(lockTree(tree, { wait: false })).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining(`process ${other.child.pid}`) });
    other.child.kill('SIGKILL');
    await other.exited;
    const release = await lockTree(tree, { wait: false });
    await release();
  });
});
