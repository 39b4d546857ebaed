import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../src/report/index.js';
import { clone, fixture } from './helpers.js';

function section(md: string, start: string, end = '\n### '): string {
  const i = md.indexOf(start);
  expect(i, `section ${start}`).toBeGreaterThanOrEqual(0);
  const j = md.indexOf(end, i + start.length);
  return md.slice(i, j < 0 ? undefined : j);
}

describe('renderMarkdown', () => {
  const md = renderMarkdown(fixture('regression'));

  it('heads with the verdict, the first bad patch, the series, base and environment', () => {
    expect(md).toMatch(/^# kharness: v2 mm: zswap: fix the swapoff race with writeback\n/);
    expect(md).toContain('**Verdict: FAIL**: patch 2/4 fails: KASAN double-free in zswap\\_entry\\_free');
    expect(md).toContain('First bad patch: **2/4** mm: zswap: let writeback free the entry it took from the tree');
    expect(md).toContain('- Version: v2, 4 patches, cover letter from Jane Doe &lt;jane.doe@example.org&gt;');
    expect(md).toContain('- Thread: [https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/](https://lore.kernel.org/linux-mm/20250114101500.4711-1-jane.doe@example.org/)');
    expect(md).toContain('`fa8f9df0f573dab7a516b19235a49f0f00e30ed2` (named by the series): base-commit: trailer of the cover letter');
    expect(md).toContain('| Accelerator | KVM: /dev/kvm is readable and writable and KVM\\_CREATE\\_VM works |');
    expect(md).toContain('| Config | zswap-debug (`3f2a9c0d81b7e645`): `kernel-configs/base.config`, `kernel-configs/zswap.config`, `kernel-configs/zswap-debug.config` |');
    expect(md).toContain('| Profile | quick |');
    expect(md).toContain('| qemu | QEMU emulator version 7.2.15 |');
    expect(md).not.toContain('partial');
  });

  it('has a verdict grid: rows base, 1..N; columns apply/build/boot/test/model + verdict', () => {
    const table = section(md, '| patch | subject | apply | build | boot | test | model | verdict |', '\n\n');
    const rows = table.trim().split('\n').slice(2);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toBe('| [base](#base) | `fa8f9df0f573` | pass | pass | pass | **FAIL** | pass | **FAIL** |');
    expect(rows[1]).toBe('| [1/4](#patch-1) | mm: zswap: move entry freeing into zswap\\_entry\\_free() | pass | pass | pass | pass | pass | pass (pre-existing failures not blamed) |');
    expect(rows[2]).toMatch(/^\| \[2\/4\]\(#patch-2\) \| mm: zswap: let writeback .* \| pass \| pass \| pass \| \*\*FAIL\*\* \| \*\*FAIL\*\* \| \*\*FAIL\*\*/);
    // Mail text cannot break the table or inject HTML: | < > & are escaped.
    expect(rows[3]).toContain('| mm: zswap: check entry &lt;-&gt; slot under the folio lock &amp; keep one free path |');
    // Flaky stages show their counts.
    expect(rows[4]).toContain('| flaky (pass 2, fail 1) |');
    for (const row of rows) expect(row.split(/(?<!\\)\|/).length - 2).toBe(8);
    expect(md).toContain('The base itself is **FAIL**: the base fails selftest-zswap test\\_no\\_kmem\\_bypass');
  });

  it('gives the evidence of the failing patch: console finding, wrong pages, model violation', () => {
    const p2 = section(md, '### Patch 2/4:', '<a id="patch-3">');
    expect(p2).toContain('### Patch 2/4: mm: zswap: let writeback free the entry it took from the tree: FAIL');
    expect(p2).toContain('- test: **FAIL**: swap-cycle failed: KASAN double-free in zswap\\_entry\\_free, 17 wrong pages');
    expect(p2).toContain('#### BUG: KASAN: double-free in zswap\\_entry\\_free+0x5a/0x120 (during swap-cycle)');
    expect(p2).toContain('Blamed function: `zswap_entry_free`');
    expect(p2).toContain('Call trace: `kmem_cache_free` ← `zswap_entry_free` ← `zswap_writeback_entry`');
    // The excerpt is in a code block, terminal escapes and control characters stripped.
    expect(p2).toMatch(/```\n=+\nBUG: KASAN: double-free in zswap_entry_free\+0x5a\/0x120\n[\s\S]* <\/TASK>\n[\s\S]*```/);
    expect(p2).not.toMatch(/[\x00-\x08\x1b\x7f]/);
    expect(p2).toContain('#### Wrong pages in swap-cycle: 17 (3 shown)');
    expect(p2).toContain('- anon page 1188 read back all zeroes after swapoff/swapon cycle 2; version 3 was written last');
    expect(p2).toContain('- ... and 14 more');
    expect(p2).toContain('#### Model violation `double-free` in swap-cycle (slot 0:1187, entry 0xffff888104a3c1e0)');
    expect(p2).toContain('#40214 cpu1 pid 52 [88122013] free 0:1187 entry 0xffff888104a3c1e0\n```');
    expect(p2).toContain('| data oracle | fail | 17 of 6156 reads saw the wrong data (6156 reads) |');
    expect(p2).toContain('**never ran: store failed/rejected**');
    expect(p2).toContain('[test results](logs/p2/results.jsonl)');
    expect(p2).toContain('**Already failing on the base: not blamed**\n\n- selftest-zswap: test\\_no\\_kmem\\_bypass fails on the base too');
  });

  it('lists pre-existing failures separately and shows flaky counts', () => {
    const p3 = section(md, '### Patch 3/4:', '<a id="patch-4">');
    expect(p3).toContain(': pass\n');
    expect(p3).toContain('**Already failing on the base: not blamed**');
    const p4 = section(md, '### Patch 4/4:', '## Builds');
    expect(p4).toContain('- test: flaky (pass 2, fail 1): swapoff-race flaky: failed 1 of 3 runs');
    expect(p4).toContain('`INFO: task swapoff:611 blocked for more than 30 seconds. (swapoff-race, run 1 of 3)`');
  });

  it('makes lifetime-path gaps visible per patch and test', () => {
    const cov = section(md, '## Lifetime-path coverage', '\n## ');
    expect(cov).toContain('| 2/4 | swap-cycle | FAIL | 10/16 | **never ran: store failed/rejected** |');
    expect(cov).toContain('| 2/4 | writeback | pass | 10/16 |  |');
    expect(cov.match(/never ran/g)).toHaveLength(5);
  });

  it('shows build errors, new warnings and checkpatch errors, and a partial run', () => {
    const out = renderMarkdown(fixture('interrupted'));
    expect(out).toContain('> **This report is partial:** the run is interrupted (interrupted by the user (Ctrl-C) while building patch 2/3). Not tested: 3/3.');
    expect(out).toContain('**Build errors** (1):\n\n- `mm/zswap.c:1512: implicit declaration of function \'zswap_entry_put\'; did you mean \'zswap_entry_free\'?`');
    expect(out).toContain("**New warnings** (1, 3 in total):\n\n- `mm/zswap.c:1498: unused variable 'tree' [-Wunused-variable]`");
    expect(out).toContain('**checkpatch errors** (1):\n\n- `CODE_INDENT` code indent should use tabs where possible at `mm/zswap.c:1503`');
    expect(out).toContain('| [2/3](#patch-2) | mm: zswap: free entries only from the tree owner | pass | **ERROR** | skipped | skipped | skipped | **ERROR** |');
    expect(out).toContain('| [3/3](#patch-3) | mm: zswap: add a swapoff stress selftest | skipped | skipped | skipped | skipped | skipped | skipped |');
    expect(out).toContain('| Accelerator | TCG: /dev/kvm is missing: QEMU emulates the CPU (about 10x slower) |');
    expect(out).toContain('| 1/3 | 1 min 01 s | 1 | 1 | 1 | 3 | 1/0/1 |');
  });

  it('escapes mail text: no raw HTML, no breaking out of code spans or blocks', () => {
    const r = clone(fixture('regression'));
    r.patches[2]!.subject = '<script>alert(1)</script> | `x` *bold*';
    r.patches[2]!.tests[0]!.findings[0]!.excerpt = 'before\n```\n<img src=x onerror=alert(1)>\n````\nafter';
    r.patches[2]!.tests[0]!.findings[0]!.signature = 'a`b';
    const out = renderMarkdown(r);
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt; \\| \\`x\\` \\*bold\\*');
    // The fence is longer than any fence inside the excerpt, so the block cannot be closed early.
    expect(out).toContain('`````\nbefore\n```\n<img src=x onerror=alert(1)>\n````\nafter\n`````');
    expect(out).toContain('Signature: ``a`b``');
  });

  it('never links a javascript: path from a tampered report', () => {
    const r = clone(fixture('regression'));
    r.patches[1]!.stages.build.logs.build = 'javascript:alert(1)';
    const out = renderMarkdown(r);
    expect(out).not.toContain('](javascript:');
    expect(out).toContain('build `javascript:alert(1)`');
  });
});
