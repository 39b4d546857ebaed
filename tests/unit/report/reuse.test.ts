import { describe, expect, it } from 'vitest';
import { RunReportSchema, buildKcidb, renderHtml, renderJunit, renderMarkdown, renderReply } from '../../../src/report/index.js';
import { allPassing, withReuse } from './helpers.js';

describe('a step that carries an identical kernel\'s guest results says so in every report', () => {
  const r = withReuse();
  const two = r.patches.find((p) => p.index === 2)!;
  const from = two.reusedFrom!;
  const note = `same kernel as ${from}`;

  it('passes the report schema, and an unmarked run says nothing of reuse', () => {
    expect(RunReportSchema.safeParse(r).success).toBe(true);
    const plain = allPassing();
    for (const text of [renderMarkdown(plain), renderHtml(plain), renderJunit(plain), JSON.stringify(buildKcidb(plain))]) expect(text.toLowerCase()).not.toContain('same kernel as');
  });

  it('markdown and HTML: the step, and each test where tests are shown', () => {
    const md = renderMarkdown(r);
    expect(md).toContain(`${note}: results reused`);
    const html = renderHtml(r);
    expect(html).toContain(`(${note}: results reused)`);
    expect(html).toContain(`Same kernel as ${from}: its result, reused (not run again).`);
  });

  it('a step that ran some tests again names them beside the reuse', () => {
    const partial = withReuse();
    const p = partial.patches.find((x) => x.index === 2)!;
    p.tests[p.tests.length - 1]!.reusedFrom = undefined;
    const ran = p.tests[p.tests.length - 1]!.name;
    expect(renderMarkdown(partial)).toContain(`(${note}: results reused but for ${ran.replace(/_/g, '\\_')}, run again)`);
    expect(renderHtml(partial)).toContain(`(${note}: results reused but for ${ran}, run again)`);
  });

  it('the reply says which patch carries whose results', () => {
    const reply = renderReply(r).replace(/\n\s+/g, ' ');
    expect(reply).toContain(`(${note}: results reused)`);
    expect(reply).toContain('carries its results, and says so below');
  });

  it('JUnit: a note on each reused test case', () => {
    const xml = renderJunit(r);
    expect(xml.split(`${note}: its result, reused (not run again)`).length - 1).toBe(two.tests.length);
  });

  it('KCIDB: reused_from on the step\'s guest stages and tests, not on its build', () => {
    const doc = buildKcidb(r);
    const mine = doc.tests!.filter((t) => (t.misc as { reused_from?: string } | undefined)?.reused_from === from);
    expect(mine.map((t) => t.path)).toEqual(expect.arrayContaining(['boot', 'zswap.model', ...two.tests.map((t) => `zswap.${t.name}`)]));
    expect(mine.some((t) => t.path === 'zswap.build' || t.path?.endsWith('.build'))).toBe(false);
  });
});
