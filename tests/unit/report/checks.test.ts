import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChecksSchema, buildChecks } from '../../../src/report/checks.js';
import { writeReports } from '../../../src/report/index.js';
import { allPassing, fixture } from './helpers.js';

describe('checks.json: a patchwork check per patch', () => {
  it('one check per series patch, the base left out: success, fail, warning for flaky; context per config', () => {
    const checks = ChecksSchema.parse(buildChecks(fixture('regression')));
    expect(checks.map((c) => [c.patch, c.check.state])).toEqual([
      ['1/4', 'success'],
      ['2/4', 'fail'],
      ['3/4', 'success'],
      ['4/4', 'warning'],
    ]);
    const p2 = checks[1]!;
    expect(p2.msgid).toBe(fixture('regression').series.patches[1]!.messageId.replace(/[<>]/g, ''));
    expect(Object.keys(p2.check).sort()).toEqual(['context', 'description', 'state', 'target_url']);
    expect(p2.check.context).toBe('kharness-zswap-debug');
    expect(p2.check.description).toMatch(/^failed at test, model: /);
    expect(p2.check.target_url).toBeNull();
    expect(checks[3]!.check.description).toMatch(/^flaky/);
  });

  it('target_url points into the published report when its URL is known; all pass is all success', () => {
    const checks = buildChecks(allPassing(), { baseUrl: 'https://ci.example.org/reports/v2-x/' });
    expect(checks.every((c) => c.check.state === 'success')).toBe(true);
    expect(checks[1]!.check.target_url).toBe('https://ci.example.org/reports/v2-x/index.html#patch-2');
  });

  it('a patch our side could not test is a warning, never a fail; a patch never reached too', () => {
    const r = fixture('interrupted');
    expect(buildChecks(r).map((c) => c.check.state)).toEqual(['fail', 'warning', 'warning']);
    expect(buildChecks(r)[1]!.check.description).toMatch(/^not tested, kharness or the test machine broke \(not the patch\): interrupted while building/);
    expect(buildChecks(r)[2]!.check.description).toMatch(/^not tested: not reached/);
    // A report written before the run reached patch 3 has no row for it: still a warning.
    r.patches = r.patches.filter((p) => p.index < 3);
    const late = buildChecks(r);
    expect(late.map((c) => [c.patch, c.check.state, c.check.description])).toContainEqual(['3/3', 'warning', 'not tested: the run stopped before this patch']);
  });

  it('writeReports writes checks.json, and the failing patch\'s merged .config beside reply.txt under the name the reply gives', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kh-checks-'));
    try {
      const r = fixture('regression');
      r.patches.find((p) => p.index === 2)!.stages.build.logs.config = 'patch-2/config';
      // A config path that leaves the report folder is not copied.
      r.patches.find((p) => p.index === 1)!.stages.build.logs.config = '../../etc/passwd';
      await mkdir(path.join(dir, 'patch-2'));
      await writeFile(path.join(dir, 'patch-2', 'config'), 'CONFIG_ZSWAP=y\n');
      await writeReports(dir, r);
      expect(JSON.parse(await readFile(path.join(dir, 'checks.json'), 'utf8'))).toHaveLength(4);
      expect(await readFile(path.join(dir, 'reproduce-patch-2.config'), 'utf8')).toBe('CONFIG_ZSWAP=y\n');
      expect(await readFile(path.join(dir, 'reply.txt'), 'utf8')).toContain('merged .config in reproduce-patch-2.config');
      expect((await readdir(dir)).filter((f) => f.startsWith('reproduce-'))).toEqual(['reproduce-patch-2.config']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
