import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { cacheDir } from '../../src/common/paths.js';
import { fixtures, kharness, requireEnvironment, type AppliedJson, type BuildJson } from '../e2e/helpers.js';

// Issue 3 on the real Debian 6.12 tree, from scratch: a new cache (own worktree and build
// folder, only ccache shared) so the base is compiled whole and each patch's rebuild is seen to
// be incremental. In tests/long: a whole kernel build of its own, which CI's budget has not got
// on a fresh machine (tests/e2e/build.test.ts keeps the warning, error and apply checks).
describe('apply and build on the real 6.12 tree, from scratch', () => {
  let tree: string;
  beforeAll(() => {
    tree = requireEnvironment();
  });

  it('applies a 3-patch mm/zswap.c series and builds the base and every patch, incrementally', async () => {
    // A fresh KHARNESS_CACHE: new worktree, new build folder, no per-commit results, so nothing
    // can come back `cached` and the incremental assertion below always runs. Only ccache is
    // shared with the real cache (a symlink), which keeps the from-scratch base build to a few
    // minutes instead of a cold 4-16; the default tree is named by the cache's marker file.
    const shared = cacheDir();
    const fresh = await mkdtemp(path.join(tmpdir(), 'kharness-build-cache-'));
    const env = { KHARNESS_CACHE: fresh };
    try {
      await mkdir(path.join(shared, 'ccache'), { recursive: true });
      await symlink(path.join(shared, 'ccache'), path.join(fresh, 'ccache'));
      await writeFile(path.join(fresh, 'default-tree'), `${tree}\n`);

      const apply = await kharness(['apply', path.join(fixtures, 'build', 'clean-series.mbox'), '--json'], { env });
      expect(apply.exitCode, apply.stderr).toBe(0);
      const applied = apply.json<AppliedJson>();
      expect(applied.worktree.startsWith(`${fresh}${path.sep}`), applied.worktree).toBe(true);
      expect(applied.patches.map((p) => p.status)).toEqual(['applied', 'applied', 'applied']);
      expect(applied.base.source).toBe('series');
      // The user's tree is never touched: still one commit, clean.
      const userLog = await execa('git', ['-C', tree, 'rev-list', '--count', 'HEAD']);
      expect(userLog.stdout.trim()).toBe('1');
      const status = await execa('git', ['-C', tree, 'status', '--porcelain', '--ignored=no']);
      expect(status.stdout.trim()).toBe('');

      const build = await kharness(['build', applied.worktree, '--json'], { env });
      const results = build.json<BuildJson[]>();
      expect(build.exitCode, results.map((r) => r.summary).join('\n')).toBe(0);
      expect(results).toHaveLength(4);
      for (const r of results) {
        expect(r.verdict, r.summary).toBe('pass');
        expect(r.cached, r.summary).toBe(false);
        expect(r.errors).toEqual([]);
        expect(r.newWarnings).toEqual([]);
        expect(r.artifacts?.image).toMatch(/bzImage$/);
        expect(r.artifacts!.dir.startsWith(`${fresh}${path.sep}`), r.artifacts!.dir).toBe(true);
      }
      // The base is compiled from scratch in the new build folder (ccache only speeds it up) ...
      expect(results[0]!.objectsBuilt).toBeGreaterThan(200);
      // ... and each patch recompiles what it touched (mm/zswap.c and the link), not the kernel.
      for (const r of results.slice(1)) {
        expect(r.objectsBuilt, r.summary).toBeGreaterThanOrEqual(1);
        expect(r.objectsBuilt, r.summary).toBeLessThan(20);
        expect(r.durationMs).toBeLessThan(results[0]!.durationMs);
        expect(r.checkpatch?.errors).toBe(0);
      }
    } finally {
      await rm(fresh, { recursive: true, force: true });
      // The worktree lived in the fresh cache: drop its registration from the tree.
      await execa('git', ['-C', tree, 'worktree', 'prune'], { reject: false });
    }
  });
});
