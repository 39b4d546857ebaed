import { describe, expect, it } from 'vitest';
import { RunReportSchema, buildKcidb, renderHtml, renderJunit, renderMarkdown, renderReply } from '../../../src/report/index.js';
import { runOutcome } from '../../../src/run/outcome.js';
import { clone, countTags, twoConfigs, xmlProblems } from './helpers.js';

/**
 * `kharness run --config zswap,zswap-debug`: each step has a row per config, and every report
 * format shows each row for itself (a failure only the debug kernel sees is that row's).
 */
describe('a run of two configs', () => {
  const r = twoConfigs();

  it("is a valid report: each config's rows in turn, each naming its config; a partial one too", () => {
    expect(RunReportSchema.safeParse(r).success).toBe(true);
    // written mid-run: every zswap row and the debug base
    expect(RunReportSchema.safeParse({ ...r, patches: r.patches.slice(0, 6) }).success).toBe(true);
    // step-major is not this report's order
    const interleaved = clone(r);
    interleaved.patches = r.patches.slice(0, 5).flatMap((p, i) => [p, r.patches[5 + i]!]);
    const bad = RunReportSchema.safeParse(interleaved);
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('for each config in turn');
    const wrongTag = clone(r);
    wrongTag.patches[2]!.config = 'zswap-debug';
    expect(JSON.stringify(RunReportSchema.safeParse(wrongTag).error?.issues)).toContain('should be config zswap');
    const untagged = clone(r);
    delete untagged.patches[5]!.config;
    expect(RunReportSchema.safeParse(untagged).success).toBe(false);
  });

  it('markdown: a verdict row per patch and config, and both configs in the environment', () => {
    const md = renderMarkdown(r);
    expect(md).toMatch(/^\| 2\/4 \\\[zswap\\\] \| [^\n]*\| pass \|$/m);
    expect(md).toMatch(/^\| \[2\/4 \\\[zswap-debug\\\]\]\(#patch-2-zswap-debug\)[^\n]*\*\*FAIL\*\*/m);
    expect(md).toContain('First bad patch: **2/4 \\[zswap-debug\\]**');
    expect(md).toContain('| Configs | zswap (`905f7de51cb1`)');
    expect(md).toContain('zswap-debug (`3f2a9c0d81b7e645`)');
    expect(md).toContain('<a id="patch-2-zswap-debug"></a>');
    expect(md).toContain('The base itself with zswap-debug is');
  });

  it('JUnit: a testsuite per row, distinct ids and class names, the config as a property', () => {
    const xml = renderJunit(r);
    expect(xmlProblems(xml)).toEqual([]);
    expect(countTags(xml, 'testsuite')).toBe(r.patches.length);
    const ids = [...xml.matchAll(/<testsuite [^>]*id="(\d+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(xml).toContain('classname="kharness.patch-2.zswap-debug"');
    expect(xml).toContain('<property name="config" value="zswap-debug"/>');
    expect(xml).toContain('name="patch 2/4 [zswap]: ');
  });

  it('KCIDB: one checkout per step, one build per step and config with its config_name, unique ids', () => {
    const doc = buildKcidb(r);
    const k = { checkouts: doc.checkouts ?? [], builds: doc.builds ?? [], tests: doc.tests ?? [] };
    expect(k.checkouts).toHaveLength(5);
    expect(k.builds).toHaveLength(10);
    expect(k.builds.map((b) => b.config_name)).toEqual([...Array(5).fill('zswap'), ...Array(5).fill('zswap-debug')]);
    const debugBuild = k.builds.find((b) => b.id.includes(':p2:zswap-debug:'))!;
    expect(debugBuild.checkout_id).toBe(k.builds.find((b) => b.id.includes(':p2:zswap:'))!.checkout_id);
    expect((debugBuild.misc as { config_hash: string }).config_hash).toBe('3f2a9c0d81b7e645');
    const ids = [...k.checkouts, ...k.builds, ...k.tests].map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    // the checkout is the step's: it fails when any config's row does
    expect(k.checkouts.find((c) => c.id.endsWith(':p2'))!.misc).toMatchObject({ patch: 2, label: '2/4', verdict: 'fail' });
    // 2/4's failures are the debug build's, not the plain one's
    const failing = k.tests.filter((t) => t.status === 'FAIL').map((t) => t.build_id);
    expect(failing.length).toBeGreaterThan(0);
    expect(failing.every((b) => b.includes(':zswap-debug:'))).toBe(true);
  });

  it('the reply names both configs and a line per patch and config', () => {
    const text = renderReply(r);
    expect(text).toContain('with configs zswap and zswap-debug');
    expect(text).toMatch(/^ {2}2\/4 \[zswap\] +pass /m);
    expect(text).toMatch(/^ {2}2\/4 \[zswap-debug\] +FAIL/m);
    expect(text).toMatch(/^ {2}base \[zswap-debug\] /m);
  });

  it('HTML: every anchor id is unique', () => {
    const html = renderHtml(r);
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(html).toContain('href="#p2-zswap-debug"');
  });

  it('the outcome: a failure in one config fails the patch; a config missing a row is not a pass', () => {
    const o = runOutcome(r.patches, 'complete', 4);
    expect(o.verdict).toBe('fail');
    expect(o.firstBadPatch).toBe(2);
    expect(o.summary).toContain('patch 2/4 [zswap-debug] fail');
    expect(o.summary).not.toContain('patch 2/4 [zswap] fail');
    const plainOnly = clone(r.patches).map((p) => ({ ...p, verdict: 'pass' as const }));
    expect(runOutcome(plainOnly, 'complete', 4).verdict).toBe('pass');
    const lastDebugMissing = plainOnly.slice(0, -1);
    expect(lastDebugMissing.at(-1)!.config).toBe('zswap-debug');
    expect(runOutcome(lastDebugMissing, 'complete', 4).verdict).toBe('skipped');
  });
});
