import { describe, expect, it } from 'vitest';
import { extractFollowupTrailers } from '../../../src/lore/trailers.js';
import { renderReply } from '../../../src/report/index.js';
import { firstName } from '../../../src/report/reply.js';
import { allPassing, clone, fixture } from './helpers.js';

function split(reply: string): { headers: string[]; body: string } {
  const i = reply.indexOf('\n\n');
  return { headers: reply.slice(0, i).split('\n'), body: reply.slice(i + 2) };
}

/** Prose lines: not a quoted log excerpt (4-space indent), not a tag line with a URL. */
function proseLines(body: string): string[] {
  return body.split('\n').filter((l) => !l.startsWith('    ') && !/^\| \w[\w-]*: /.test(l));
}

describe('renderReply', () => {
  const reply = renderReply(fixture('regression'));
  const { headers, body } = split(reply);

  it('answers the cover letter with Subject, In-Reply-To and References, then a blank line', () => {
    expect(headers).toEqual([
      'Subject: Re: [PATCH v2 0/4] mm: zswap: fix the swapoff race with writeback',
      'In-Reply-To: <20250114101500.4711-1-jane.doe@example.org>',
      'References: <20250114101500.4711-1-jane.doe@example.org>',
    ]);
  });

  it('greets the author and says what was tested, on which base, config and accelerator', () => {
    expect(body.startsWith('Hi Jane,\n\nkharness tested this series on fa8f9df0f573 (base-commit: trailer of the\ncover letter) with config zswap-debug, under KVM.\n')).toBe(true);
    expect(body).toContain('Each patch was applied on top of the previous ones, built, booted, ran\nswap-cycle, writeback, swapoff-race and selftest-zswap, and had the');
    expect(body).toContain('  1/4   pass               mm: zswap: move entry freeing into\n                           zswap_entry_free()');
    expect(body).toContain('  2/4   FAIL: test, model  mm: zswap: let writeback free the entry it\n                           took from the tree');
    expect(body).toContain('  4/4   flaky: test        mm: zswap: drop the tree refcount from');
  });

  it('quotes each failure with a trimmed excerpt: splat title + top of the call trace, wrong pages, the violation with its events', () => {
    expect(body).toContain('kharness noticed the following problems with patch 2/4 ("mm: zswap: let\nwriteback free the entry it took from the tree"), at test and model:');
    expect(body).toContain(
      'KASAN during swap-cycle, in zswap_entry_free():\n\n    BUG: KASAN: double-free in zswap_entry_free+0x5a/0x120\n    Call Trace:\n     kmem_cache_free\n     zswap_entry_free\n     zswap_writeback_entry\n',
    );
    // Trimmed: not the whole console excerpt (no register dump, no allocation stacks).
    expect(body).not.toContain('Hardware name');
    expect(body).not.toContain('Allocated by task');
    expect(body).toContain('Wrong data read back during swap-cycle (17 pages):\n\n    anon page 1187 read back version 2 after swapoff/swapon cycle 2; version 3 was written last\n');
    expect(body).toContain('    ... and 14 more\n');
    expect(body).toContain('"double-free" in the kernel\'s trace of swap-cycle (the offending event\nlast):');
    expect(body).toContain('    double-free (slot 0:1187, entry 0xffff888104a3c1e0): entry 0xffff888104a3c1e0 freed a second time (first freed by load at #40211)\n      #40207 cpu0 pid 318');
    expect(body).toContain('      #40214 cpu1 pid 52 [88122013] free 0:1187 entry 0xffff888104a3c1e0\n');
  });

  it('ends the regression with the configured Reported-by and the Closes line, quoted so b4 does not collect them', () => {
    const r = fixture('regression');
    r.environment.reporter = { name: 'Zswap Robot', email: 'zswap-robot@example.org' };
    const b = split(renderReply(r)).body;
    expect(b).toContain('kindly add following tags\n| Reported-by: Zswap Robot <zswap-robot@example.org>\n| Closes: https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/\n');
    // Neither b4 nor kharness's own lore stage would add these to the patch under review.
    const collected = extractFollowupTrailers(b);
    expect(JSON.stringify(collected)).not.toMatch(/Reported-by|Closes/);
  });

  it('never signs as kharness@localhost: without a reporter it leaves Reported-by out and says why', () => {
    expect(body).not.toContain('localhost');
    expect(body).not.toContain('Reported-by: ');
    expect(body).toContain('| Closes: https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/\n');
  });

  it('Closes: points at the cover letter on the lore and list the series was fetched from', () => {
    const r = fixture('regression');
    r.series.threadUrl = 'http://127.0.0.1:8080/zswap-list/20250114101500.4711-3-jane.doe@example.org/';
    expect(renderReply(r)).toContain('| Closes: http://127.0.0.1:8080/zswap-list/20250114101500.4711-1-jane.doe@example.org/\n');
  });

  it('has a reproduce: section with the base, the config fragments, the merged .config file and the exact command', () => {
    const r = fixture('regression');
    const p2 = r.patches.find((p) => p.index === 2)!;
    p2.stages.build.logs.config = 'patch-2/config';
    const b = split(renderReply(r)).body;
    const section = b.slice(b.indexOf('reproduce:\n'));
    expect(section).toContain(`    # base: ${r.base.commit} (`);
    expect(section).toContain(`    # config zswap-debug: ${r.environment.config.fragments.join(' ')}\n`);
    expect(section).toContain('    # 2/4 ("mm: zswap: let writeback free the entry it took from the tree"), merged .config in reproduce-patch-2.config\n');
    const failed = [...new Set(p2.tests.filter((t) => t.verdict === 'fail').map((t) => t.name.split('@')[0]))];
    expect(failed.length).toBeGreaterThan(0);
    expect(section).toContain(
      `    kharness run https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/ --use-version 2${r.environment.tree.name ? ` --tree ${r.environment.tree.name}` : ''} --base ${r.base.commit} --config zswap-debug --tests ${failed.join(',')} --variants `,
    );
  });

  it('mentions pre-existing failures as such and flaky results without blaming them', () => {
    expect(body).toContain('Already failing on the base, so not caused by this series:\n  selftest-zswap: test_no_kmem_bypass fails on the base too\n');
    expect(body).toContain('Flaky (the result changed on retry), not reported as a regression:\n  4/4 test: swapoff-race flaky: failed 1 of 3 runs (pass 2, fail 1)\n');
    expect(body).not.toMatch(/problems? with patch [134]\/4/);
    expect(body).toContain('Lifetime paths the tests were meant to drive but never ran (no evidence\neither way):\n  swap-cycle: store failed/rejected\n');
  });

  it('wraps prose at 72 columns (log excerpts and tag lines excepted)', () => {
    for (const r of [reply, renderReply(fixture('interrupted')), renderReply(allPassing())]) {
      const long = proseLines(split(r).body).filter((l) => l.length > 72);
      expect(long).toEqual([]);
    }
    // Excerpts are not wrapped: the long wrong-page line stays whole.
    expect(body.split('\n').some((l) => l.startsWith('    ') && l.length > 75)).toBe(true);
  });

  it('says "no regressions found" plainly when everything passed, listing what ran, with no trailer', () => {
    const ok = renderReply(allPassing());
    const b = split(ok).body;
    expect(b).toContain('No regressions found.\n');
    expect(b).toContain('Each patch was applied on top of the previous ones, built, booted, ran\nswap-cycle, writeback, swapoff-race and selftest-zswap, and had the\nkernel\'s zswap trace checked against the reference model of entry\nlifetimes.');
    expect(b).toContain('  3/4   pass  mm: zswap: check entry <-> slot under the folio lock &\n              keep one free path\n');
    expect(b).not.toMatch(/Reported-by|Closes|Tested-by|FAIL|regression in|noticed/);
    expect(b).not.toContain('Already failing');
  });

  it('replies to patch 1 of a series without a cover letter, and reports a build failure of a partial run', () => {
    const r = renderReply(fixture('interrupted'));
    const { headers: h, body: b } = split(r);
    expect(h).toEqual(['Subject: Re: [PATCH 1/3] mm: zswap: replace the tree refcount with entry', ' pinning', 'In-Reply-To: <cover-less-v1-1-joerg@example.de>', 'References: <cover-less-v1-1-joerg@example.de>']);
    expect(b.startsWith('Hi Jörg,\n\nkharness tested this series on fa8f9df0f573 (no base-commit in the\nseries; HEAD of the tree) with config zswap, under TCG.\n\nThe run did not finish (interrupted: interrupted by the user (Ctrl-C)\nwhile building patch 2/3), so this covers only what ran before it\nstopped.')).toBe(true);
    expect(b).toContain('  2/3   ERROR: build  mm: zswap: free entries only from the tree owner\n  3/3   not tested    mm: zswap: add a swapoff stress selftest\n');
    expect(b).toContain(
      "It does not build:\n\n    mm/zswap.c:1512: error: implicit declaration of function 'zswap_entry_put'; did you mean 'zswap_entry_free'?\n    mm/zswap.c:1498: warning: unused variable 'tree' [-Wunused-variable]\n    checkpatch ERROR: CODE_INDENT: code indent should use tabs where possible (mm/zswap.c:1503)\n",
    );
    expect(b).toContain('| Closes: https://lore.kernel.org/r/cover-less-v1-1-joerg@example.de/\n');
    expect(b).toContain('kharness could not finish testing patch 2/3 ("mm: zswap: free entries\nonly from the tree owner") (build: interrupted (Ctrl-C) while building).\nThat is a problem on our side or in the test environment, not a verdict\non the patch.');
  });

  it('does not claim a clean series when part of it never ran', () => {
    const r = clone(fixture('interrupted'));
    r.patches[1] = clone(allPassing().patches[1]!);
    r.patches[1].label = '1/3';
    r.verdict = 'error';
    delete r.firstBadPatch;
    const b = split(renderReply(r)).body;
    expect(b).toContain('No regressions found in what ran. Not tested: 3/3.');
    expect(b).not.toContain('Reported-by');
  });

  it('keeps mail text from injecting headers or breaking the layout', () => {
    const r = clone(fixture('regression'));
    r.series.cover!.subject = 'innocent\r\nBcc: victim@example.com\r\n\r\nbody';
    r.series.replyTo = '<evil@example.com>\r\nX-Injected: 1';
    r.series.cover!.author.name = '"Doe, Jane\u001b[31m"';
    const { headers: h, body: b } = split(renderReply(r));
    expect(h.every((l) => /^(Subject|In-Reply-To|References): /.test(l) || l.startsWith(' '))).toBe(true);
    expect(h[0]).toBe('Subject: Re: [PATCH v2 0/4] innocent Bcc: victim@example.com body');
    expect(h[1]).toBe('In-Reply-To: <evil@example.comX-Injected:1>');
    expect(b.startsWith('Hi Jane,\n')).toBe(true);
  });

  it('greets by first name', () => {
    expect(firstName('Jane Doe')).toBe('Jane');
    expect(firstName('Doe, Jane')).toBe('Jane');
    expect(firstName('"Jörg Müller"')).toBe('Jörg');
    expect(firstName('')).toBe('');
    expect(firstName('12345')).toBe('');
  });
});
