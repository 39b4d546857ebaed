import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeConfig, resolveConfig } from '../../src/build/config.js';
import { InputError } from '../../src/common/errors.js';
import { openKernelTree } from '../../src/tree/worktree.js';
import { fixtures, kharness, requireEnvironment, type AppliedJson, type BuildJson } from './helpers.js';

// Issue 3 on the real Debian 6.12 tree: real `git am`, real `make` with the zswap fragment,
// the tree's own checkpatch.pl (the from-scratch build and its incremental steps: tests/long).
describe('apply and build on the real 6.12 tree', () => {
  let tree: string;
  beforeAll(() => {
    tree = requireEnvironment();
  });

  it('shows exactly the warning a patch adds in its delta, and fails it', async () => {
    const apply = await kharness(['apply', path.join(fixtures, 'build', 'adds-warning.mbox'), '--json']);
    const applied = apply.json<AppliedJson>();
    expect(apply.exitCode).toBe(0);
    const build = await kharness(['build', applied.worktree, '--json']);
    const [base, patch] = build.json<BuildJson[]>();
    expect(base!.verdict).toBe('pass');
    expect(build.exitCode).toBe(1);
    expect(patch!.verdict).toBe('fail');
    expect(patch!.newWarnings).toHaveLength(1);
    expect(patch!.newWarnings[0]).toMatchObject({ file: 'mm/zswap.c', line: 1690, flag: '-Wunused-variable' });
    expect(patch!.newWarnings[0]!.message).toMatch(/unused variable .i./);
  });

  it('fails a patch that does not compile, with the error line', async () => {
    const apply = await kharness(['apply', path.join(fixtures, 'build', 'compile-error.mbox'), '--json']);
    const applied = apply.json<AppliedJson>();
    const build = await kharness(['build', applied.worktree, '--patch', '1', '--json']);
    const [patch] = build.json<BuildJson[]>();
    expect(build.exitCode).toBe(1);
    expect(patch!.verdict).toBe('fail');
    expect(patch!.errors[0]).toMatchObject({ file: 'mm/zswap.c', line: 1534, severity: 'error' });
    expect(patch!.errors[0]!.message).toMatch(/'old' undeclared/);
    expect(patch!.summary).toContain('mm/zswap.c:1534');
    expect(patch!.artifacts).toBeUndefined();
  });

  it('fails a conflicting patch at apply, naming the file, and says why it used HEAD', async () => {
    const apply = await kharness(['apply', path.join(fixtures, 'build', 'conflict.mbox'), '--json']);
    expect(apply.exitCode).toBe(1);
    const applied = apply.json<AppliedJson>();
    expect(applied.patches[0]!.status).toBe('failed');
    expect(applied.patches[0]!.conflicts.map((c) => c.file)).toContain('mm/zswap.c');
    expect(applied.base.source).toBe('head');
    expect(applied.base.reason).toMatch(/d1e17d14b558/);
  });

  it('rejects a config fragment option the kernel drops, naming it', async () => {
    const kt = await openKernelTree(tree);
    const dir = await mkdtemp(path.join(tmpdir(), 'kharness-cfg-'));
    try {
      const typo = path.join(dir, 'typo.config');
      await writeFile(typo, 'CONFIG_ZSWAPP=y\nCONFIG_SWAP=y\n');
      const plan = { ...resolveConfig('zswap'), name: 'typo', fragments: [...resolveConfig('zswap').fragments, typo], hash: 'typo' };
      const err = await makeConfig(kt.worktree, path.join(dir, 'build'), plan, () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toContain('CONFIG_ZSWAPP=y (typo.config:1)');
      expect((err as Error).message).not.toContain('CONFIG_SWAP=');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('merges both bundled configs on the real tree with every requested option surviving', async () => {
    const kt = await openKernelTree(tree);
    const dir = await mkdtemp(path.join(tmpdir(), 'kharness-cfg-'));
    try {
      // zswap-debug (KASAN, lockdep, KFENCE, ...) is not built in CI: its merge is checked here.
      for (const name of ['zswap', 'zswap-debug']) {
        await expect(makeConfig(kt.worktree, path.join(dir, name), resolveConfig(name), () => undefined)).resolves.toEqual({ reused: false });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a folder that is not a kernel tree, and a base the tree lacks', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kharness-notkernel-'));
    try {
      await execa('git', ['init', '-q', dir]);
      const r = await kharness(['apply', path.join(fixtures, 'build', 'clean-series.mbox'), '--tree', dir]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/not a Linux kernel tree/);
      const b = await kharness(['apply', path.join(fixtures, 'build', 'clean-series.mbox'), '--base', 'deadbeefdeadbeef']);
      expect(b.exitCode).toBe(2);
      expect(b.stderr).toMatch(/--base deadbeefdeadbeef is not a commit/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
