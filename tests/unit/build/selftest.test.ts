import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSelftest } from '../../../src/build/index.js';

// A two-file stand-in for tools/testing/selftests/cgroup, committed in a scratch git repo: the
// real gcc compiles it, the cache is keyed by the selftests folder's git tree.
const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-selftest-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function repoWith(source: string): Promise<string> {
  const repo = await mkdtemp(path.join(scratch, 'repo-'));
  const dir = path.join(repo, 'tools/testing/selftests/cgroup');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'test_zswap.c'), source);
  await writeFile(path.join(dir, 'cgroup_util.c'), 'int cg_util(void) { return 0; }\n');
  const id = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };
  await execa('git', ['init', '-q'], { cwd: repo });
  await execa('git', ['add', '-A'], { cwd: repo });
  await execa('git', ['commit', '-q', '-m', 'selftests'], { cwd: repo, env: id });
  return repo;
}

describe('test_zswap is compiled once per selftests tree', () => {
  it('reuses the binary while the selftests folder is unchanged, and rebuilds when it changes', async () => {
    const cache = path.join(scratch, 'cache');
    const repo = await repoWith('int main(void) { return 0; }\n');
    const out1 = await mkdtemp(path.join(scratch, 'out-'));
    expect(await buildSelftest(repo, out1, cache)).toEqual({ kind: 'built', path: path.join(out1, 'test_zswap') });
    expect(await readdir(cache)).toHaveLength(1);

    // Same committed tree, so no compile: a broken working copy cannot be what gets used.
    await writeFile(path.join(repo, 'tools/testing/selftests/cgroup/test_zswap.c'), 'this is not C\n');
    const out2 = await mkdtemp(path.join(scratch, 'out-'));
    expect(await buildSelftest(repo, out2, cache)).toEqual({ kind: 'built', path: path.join(out2, 'test_zswap') });

    // A different selftests tree compiles anew; one that does not compile gives no binary.
    const broken = await repoWith('this is not C either\n');
    const out3 = await mkdtemp(path.join(scratch, 'out-'));
    // The tree's own code does not compile: the tree's failure, never a silent "not built".
    const r = await buildSelftest(broken, out3, cache);
    expect(r).toMatchObject({ kind: 'failed', verdict: 'fail', logPath: path.join(out3, 'test_zswap.build.log') });
    expect(r.kind === 'failed' && r.summary).toMatch(/^the tree's test_zswap does not compile: .*test_zswap\.c:1: /);
    expect(r.kind === 'failed' && r.output).toMatch(/error/);
    expect(existsSync(path.join(out3, 'test_zswap.build.log'))).toBe(true);
    expect(await readdir(cache)).toHaveLength(1);
  });

  it('gives no binary for a tree without the selftest', async () => {
    const repo = await mkdtemp(path.join(scratch, 'empty-'));
    expect(await buildSelftest(repo, repo, path.join(scratch, 'cache2'))).toMatchObject({ kind: 'absent' });
  });

  it('blames the toolchain, not the tree, when the compiler cannot run', async () => {
    const repo = await repoWith('int main(void) { return 0; }\n');
    const out = await mkdtemp(path.join(scratch, 'out-'));
    const r = await buildSelftest(repo, out, undefined, { cc: path.join(scratch, 'no-such-gcc') });
    expect(r).toMatchObject({ kind: 'failed', verdict: 'error' });
    expect(r.kind === 'failed' && r.summary).toMatch(/^test_zswap could not be compiled: the toolchain failed: .*(?:no-such-gcc could not be started|execvp .*no-such-gcc: No such file or directory)/);
  });
});
