import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../../src/report/index.js';
import { clone, fixture } from './helpers.js';

/** Tag balance for the elements the page uses (void elements excepted). */
function unbalanced(html: string): string[] {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'line', 'rect', 'polyline', 'circle', 'path']);
  const stack: string[] = [];
  const problems: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)\b[^>]*?(\/?)>/g)) {
    const [, close, rawName, self] = m;
    const name = rawName!.toLowerCase();
    if (VOID.has(name) || self) continue;
    if (!close) stack.push(name);
    else if (stack.pop() !== name) problems.push(`</${name}> at ${m.index}`);
  }
  return [...problems, ...stack.map((s) => `unclosed <${s}>`)];
}

describe('renderHtml', () => {
  const html = renderHtml(fixture('regression'));

  it('is one self-contained page: inline CSS and SVG, no external assets, a CSP that allows nothing else', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<(script|img|iframe)[^>]*\bsrc=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/\bstyle="/i);
    // Only http(s) links are the thread; every other href is an anchor or a relative log path.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
    expect(hrefs.filter((h) => /^[a-z]+:/i.test(h))).toEqual(['https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/']);
    // The inline script and style are the ones the CSP hashes allow.
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;
    const hash = (s: string): string => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(csp).toContain("default-src 'none'");
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(unbalanced(html)).toEqual([]);
  });

  it('has a per-patch verdict grid with coloured cells linking to the details', () => {
    const grid = /<table class="grid">([\s\S]*?)<\/table>/.exec(html)![1]!;
    const rows = grid.split('</tr>').filter((r) => r.includes('<tr>')).slice(1);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toContain('<th><a href="#base">base</a></th>');
    expect(rows[2]).toContain('<td class="cell v-fail" title="test: swap-cycle failed: KASAN double-free in zswap_entry_free, 17 wrong pages"><a href="#p2-test">FAIL</a></td>');
    expect(rows[2]).toContain('<td class="cell v-fail" title="model: 1 violation: double-free (swap-cycle)"><a href="#p2-model">FAIL</a></td>');
    expect(rows[2]).toContain('<td class="cell v-pass" title="build: built, no new warnings"><a href="#p2-build">pass</a></td>');
    expect(rows[4]).toContain('<td class="cell v-flaky" title="test: swapoff-race flaky: failed 1 of 3 runs"><a href="#p4-test">flaky (pass 2, fail 1)</a></td>');
    expect(rows[4]).toContain('<td class="cell v-flaky"><a href="#p4">flaky</a>');
    expect(rows.map((r) => (r.match(/class="cell v-/g) ?? []).length)).toEqual([6, 6, 6, 6, 6]);
    // Every anchor the page links to exists.
    const ids = new Set([...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]));
    const anchors = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    expect(anchors.length).toBeGreaterThan(30);
    expect(anchors.filter((a) => !ids.has(a))).toEqual([]);
  });

  it('draws build times and new-warning counts per patch as bar charts', () => {
    const builds = /<h2 id="builds">[\s\S]*?<\/div>/.exec(html)![0];
    expect(builds).toContain('<strong>Build time per patch</strong>');
    expect(builds).toContain('<strong>New warnings per patch</strong>');
    expect(builds.match(/<rect /g)).toHaveLength(10);
    expect(builds).toContain('<title>base: 21 min 52 s</title>');
    expect(builds).toContain('<title>2/4: 1 min 58 s</title>');
    // The longest build gets the longest bar.
    const widths = [...builds.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1])).slice(0, 5);
    expect(Math.max(...widths)).toBe(widths[0]);
    const warnings = renderHtml(fixture('interrupted'));
    expect(warnings).toContain('<title>1/3: 1</title>');
  });

  it('plots the zswap counters per test, one patch at a time with a selector (first failing patch first)', () => {
    const counters = html.slice(html.indexOf('<h2 id="counters">'), html.indexOf('<h2 id="details">'));
    expect(counters).toContain('<option value="p2" selected>2/4 mm: zswap: let writeback free the entry it took from the tree (FAIL)</option>');
    expect(counters.match(/<div class="plot-group" data-plots="/g)).toHaveLength(5);
    // Each patch's plots go beside its base's (a checkbox, on by default, the script honours).
    expect(counters).toContain('<div class="plot-group" data-plots="p2" data-base="base">');
    expect(counters).toContain('<input type="checkbox" id="plot-base" checked>');
    const p2 = counters.slice(counters.indexOf('data-plots="p2"'), counters.indexOf('data-plots="p3"'));
    expect(p2.match(/<figure class="plot">/g)).toHaveLength(4);
    expect(p2).toContain('<figcaption>swap-cycle <span class="badge v-fail">FAIL</span></figcaption>');
    for (const counter of ['stored_pages', 'zswpout', 'zswpin', 'zswpwb', 'written_back_pages']) expect(p2).toContain(`<title>${counter}</title>`);
    // 11 samples → 11 points per line.
    const line = /<polyline [^>]*points="([^"]+)"/.exec(p2)![1]!;
    expect(line.split(' ')).toHaveLength(11);
    expect(counters).toContain('0 s</text>');
  });

  it('shows the evidence in the details, with the flaky counts and pre-existing failures', () => {
    expect(html).toContain('<h3 id="p2-test">test <span class="badge v-fail">FAIL</span></h3>');
    expect(html).toContain('<h4>BUG: KASAN: double-free in zswap_entry_free+0x5a/0x120</h4>');
    expect(html).toContain('<h4>Model violation <code>double-free</code> (slot 0:1187, entry 0xffff888104a3c1e0)</h4>');
    expect(html).toContain('<h4>Wrong pages: 17</h4>');
    expect(html).toContain('<p class="gap">never ran: store failed/rejected</p>');
    expect(html).toContain('<strong>Retries:</strong> pass 2, fail 1');
    expect(html).toContain('<h4>Already failing on the base: not blamed</h4><ul><li>selftest-zswap: test_no_kmem_bypass fails on the base too</li></ul>');
    expect(html).toContain(' &lt;/TASK&gt;');
    expect(html).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
  });

  it('escapes every string taken from mail or logs: <script> in a subject comes out as text', () => {
    const r = clone(fixture('regression'));
    const evil = '<script>alert("owned")</script><img src=x onerror=alert(1)>';
    r.series.subject = evil;
    r.series.cover!.author.name = `Mallory "><svg onload=alert(2)>`;
    r.patches[2]!.subject = evil;
    r.patches[2]!.author!.name = "O'Brien <b>";
    r.patches[2]!.tests[0]!.findings[0]!.excerpt = '</pre><script>alert(3)</script>';
    r.patches[2]!.tests[0]!.findings[0]!.title = '<iframe src="https://evil.example/">';
    r.patches[2]!.stages.test.summary = '" onmouseover="alert(4)';
    r.series.threadUrl = 'javascript:alert(5)';
    const out = renderHtml(r);
    expect(out.match(/<script>/g)).toHaveLength(1);
    expect(out).not.toContain('<img src=x');
    expect(out).not.toContain('<svg onload');
    expect(out).not.toContain('<iframe');
    expect(out).not.toContain('href="javascript:');
    expect(out).toContain('&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(out).toContain('<title>kharness: FAIL: v2 &lt;script&gt;');
    expect(out).toContain('O&#39;Brien &lt;b&gt;');
    expect(out).toContain('&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(out).toContain('title="test: &quot; onmouseover=&quot;alert(4)"');
    expect(unbalanced(out)).toEqual([]);
  });

  it('renders a partial report with a warning and the patches that never ran', () => {
    const out = renderHtml(fixture('interrupted'));
    expect(out).toContain('<p class="warn"><strong>Partial report:</strong> the run is interrupted (interrupted by the user (Ctrl-C) while building patch 2/3). Not tested: 3/3.</p>');
    expect(out).toContain('<h4>Build errors</h4><ul><li><code>mm/zswap.c:1512: implicit declaration of function &#39;zswap_entry_put&#39;; did you mean &#39;zswap_entry_free&#39;?</code></li></ul>');
    expect(out).toContain('<h4>checkpatch errors</h4>');
    expect(out).toContain('<td class="cell v-error" title="build: interrupted (Ctrl-C) while building"><a href="#p2-build">ERROR</a></td>');
    expect(out).toContain('Accelerator</dt><dd>TCG: /dev/kvm is missing');
    expect(unbalanced(out)).toEqual([]);
  });
});
