import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../../src/report/index.js';
import { clone, countTags, fixture, xmlProblems } from './helpers.js';

function suite(xml: string, nameStart: string): string {
  const i = xml.indexOf(`<testsuite name="${nameStart}`);
  expect(i, nameStart).toBeGreaterThanOrEqual(0);
  return xml.slice(i, xml.indexOf('</testsuite>', i));
}

function testcase(xml: string, name: string): string {
  const i = xml.indexOf(`name="${name}"`);
  expect(i, name).toBeGreaterThanOrEqual(0);
  const start = xml.lastIndexOf('<testcase', i);
  const selfClosed = xml.indexOf('/>', i);
  const open = xml.indexOf('>', i);
  if (selfClosed + 1 === open) return xml.slice(start, open + 1);
  return xml.slice(start, xml.indexOf('</testcase>', i) + '</testcase>'.length);
}

describe('renderJunit', () => {
  const xml = renderJunit(fixture('regression'));

  it('is well-formed XML with one testsuite per patch, the base first', () => {
    expect(xmlProblems(xml)).toEqual([]);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kharness: v2 mm: zswap: fix the swapoff race with writeback"')).toBe(true);
    const names = [...xml.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual([
      'base fa8f9df0f573',
      'patch 1/4: mm: zswap: move entry freeing into zswap_entry_free()',
      'patch 2/4: mm: zswap: let writeback free the entry it took from the tree',
      'patch 3/4: mm: zswap: check entry &lt;-&gt; slot under the folio lock &amp; keep one free path',
      'patch 4/4: mm: zswap: drop the tree refcount from zswap_swapoff()',
    ]);
  });

  it('has a testcase per stage, the test stage as one testcase per guest test, and correct counts', () => {
    const p2 = suite(xml, 'patch 2/4');
    const cases = [...p2.matchAll(/<testcase classname="kharness.patch-2" name="([^"]+)"/g)].map((m) => m[1]);
    expect(cases).toEqual(['apply', 'build', 'boot', 'test: swap-cycle', 'test: writeback', 'test: swapoff-race', 'test: selftest-zswap', 'model']);
    expect(p2).toMatch(/^<testsuite name="[^"]+" id="2" tests="8" failures="2" errors="0" skipped="0"/);
    expect(countTags(p2, 'failure')).toBe(2);
    // 5 suites × 8 testcases; failures: base selftest case, 2/4 swap-cycle and model.
    expect(xml).toMatch(/<testsuites [^>]* tests="40" failures="3" errors="0" skipped="0" time="2561.000"/);
    expect(countTags(xml, 'testcase')).toBe(40);
    expect(countTags(xml, 'failure')).toBe(3);
  });

  it('puts the evidence in <failure>: the splat, wrong pages, the model violation with its events', () => {
    const swap = testcase(suite(xml, 'patch 2/4'), 'test: swap-cycle');
    expect(swap).toContain('<failure message="KASAN double-free in zswap_entry_free; 17 wrong pages; 1 model violation (double-free)" type="test">');
    expect(swap).toContain('BUG: KASAN: double-free in zswap_entry_free+0x5a/0x120\nFree of addr ffff888104a3c1e0 by task kswapd0/52');
    expect(swap).toContain(' &lt;/TASK&gt;');
    expect(swap).toContain('wrong pages: 17\n  anon page 1187 read back version 2');
    expect(swap).toContain('  ... and 14 more wrong pages');
    expect(swap).toContain('double-free (slot 0:1187, entry 0xffff888104a3c1e0): entry 0xffff888104a3c1e0 freed a second time');
    expect(swap).toContain('<system-out>never ran: store failed/rejected</system-out>');
    const model = testcase(suite(xml, 'patch 2/4'), 'model');
    expect(model).toContain('<failure message="1 violation: double-free (swap-cycle)" type="model">');
    expect(model).toContain('    #40214 cpu1 pid 52 [88122013] free 0:1187 entry 0xffff888104a3c1e0');
    // Control characters from the console (ESC, BEL, NUL) are gone.
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
  });

  it('reports flaky as a pass with its counts, and pre-existing failures as a note', () => {
    const race = testcase(suite(xml, 'patch 4/4'), 'test: swapoff-race');
    expect(race).not.toContain('<failure');
    expect(race).toContain('<system-out>flaky: pass 2, fail 1 (test stage counts); reported as pass, not blamed as a failure');
    const p1 = suite(xml, 'patch 1/4');
    expect(p1).toContain('failures="0"');
    expect(testcase(p1, 'test: selftest-zswap')).toContain('<system-out>already failing on the base: not blamed: test_no_kmem_bypass fails on the base too</system-out>');
    // A flaky that never passed is a failure when the kernel failed, else an error, with the note.
    const r = clone(fixture('regression'));
    r.patches[4]!.stages.test.flakyCounts = { fail: 2, error: 1 };
    const failing = testcase(suite(renderJunit(r), 'patch 4/4'), 'test: swapoff-race');
    expect(failing).toContain('<failure message="failed 1 of 3 runs');
    expect(failing).toContain('flaky: fail 2, error 1');
    r.patches[4]!.stages.test.flakyCounts = { error: 1, skipped: 2 };
    expect(testcase(suite(renderJunit(r), 'patch 4/4'), 'test: swapoff-race')).toContain('<error message="failed 1 of 3 runs');
  });

  it('maps error to <error>, skipped to <skipped/>, and lists patches that never ran', () => {
    const out = renderJunit(fixture('interrupted'));
    expect(xmlProblems(out)).toEqual([]);
    const p1 = suite(out, 'patch 1/3');
    expect(p1).toMatch(/tests="5" failures="1" errors="0" skipped="3"/);
    const build = testcase(p1, 'build');
    expect(build).toContain('<failure message="does not build: 1 error, 1 new warning" type="build">');
    expect(build).toContain("mm/zswap.c:1512: error: implicit declaration of function 'zswap_entry_put'".replace(/'/g, '&apos;'));
    expect(build).toContain('mm/zswap.c:1498: warning: unused variable &apos;tree&apos; [-Wunused-variable]');
    expect(build).toContain('checkpatch ERROR: CODE_INDENT: code indent should use tabs where possible (mm/zswap.c:1503)');
    expect(testcase(p1, 'boot')).toBe('<testcase classname="kharness.patch-1" name="boot" time="0">\n      <skipped message="the build failed"/>\n    </testcase>');
    const p2 = suite(out, 'patch 2/3');
    expect(testcase(p2, 'build')).toContain('<error message="interrupted (Ctrl-C) while building" type="infrastructure">make was stopped by SIGINT</error>');
    expect(p2).toMatch(/tests="5" failures="0" errors="1" skipped="3"/);
    expect(suite(out, 'patch 3/3')).toMatch(/tests="5" failures="0" errors="0" skipped="5"/);
    expect(out).toMatch(/<testsuites [^>]* tests="23" failures="1" errors="1" skipped="11"/);
  });

  it('escapes and strips what XML 1.0 forbids from mail and console text', () => {
    const r = clone(fixture('regression'));
    r.patches[2]!.subject = 'a "quoted" <b>&amp; \u0001\u001b[31mred\u001b[0m\ttab';
    r.patches[2]!.stages.model.summary = 'line one\nline two & <three>';
    r.patches[2]!.tests[0]!.findings[0]!.excerpt = 'NUL\u0000 BEL\u0007 VT\u000b FF\u000c ]]> \ud800 end';
    const out = renderJunit(r);
    expect(xmlProblems(out)).toEqual([]);
    expect(out).toContain('<testsuite name="patch 2/4: a &quot;quoted&quot; &lt;b&gt;&amp;amp; red tab"');
    expect(out).toContain('<failure message="line one line two &amp; &lt;three&gt;" type="model">');
    expect(out).toContain('NUL BEL VT FF ]]&gt;  end');
  });
});
