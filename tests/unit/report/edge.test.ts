import { describe, expect, it } from 'vitest';
import { KcidbSchema, RunReportSchema, renderHtml, renderJunit, renderKcidb, renderMarkdown, renderReply, type RunReport } from '../../../src/report/index.js';
import { clone, fixture, xmlProblems } from './helpers.js';

function renderAll(r: RunReport): { md: string; html: string; junit: string; kcidb: string; reply: string } {
  expect(RunReportSchema.safeParse(r).success).toBe(true);
  return { md: renderMarkdown(r), html: renderHtml(r), junit: renderJunit(r), kcidb: renderKcidb(r), reply: renderReply(r) };
}

/** 2/4 panics while booting: test and model are skipped. */
function bootFailure(): RunReport {
  const r = clone(fixture('regression'));
  const p = r.patches[2]!;
  p.stages.boot = {
    verdict: 'fail',
    summary: 'kernel panic while booting',
    evidence: ['Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)'],
    logs: { console: 'logs/p2/console.log' },
  };
  p.stages.test = { verdict: 'skipped', summary: 'the boot failed', evidence: [], logs: {} };
  p.stages.model = { verdict: 'skipped', summary: 'the boot failed', evidence: [], logs: {} };
  p.tests = [];
  p.boot = {
    status: 'panic',
    reason: 'the kernel panicked before the suite started',
    accel: 'kvm',
    durationMs: 2900,
    consoleLog: 'logs/p2/console.log',
    consoleTail: Array.from({ length: 30 }, (_, i) => `[    2.${String(i).padStart(3, '0')}] line ${i}`).join('\n') + '\n[    2.900] Kernel panic - not syncing: VFS: Unable to mount root fs\n',
  };
  p.summary = 'does not boot: kernel panic';
  return r;
}

describe('renderers on unusual reports', () => {
  it('a boot failure shows the panic and the console tail, and tests are left out of KCIDB', () => {
    const out = renderAll(bootFailure());
    expect(out.reply).toContain('It does not boot: kernel panic while booting\n\n    Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
    expect(out.reply).toContain('    [    2.029] line 29\n    [    2.900] Kernel panic - not syncing: VFS: Unable to mount root fs\n');
    expect(out.reply).not.toContain('line 14\n');
    expect(out.reply).not.toContain('localhost');
    expect(out.reply).toMatch(/this\s+kharness\s+has\s+no\s+reporter\s+identity\s+configured/);
    expect(out.reply).not.toMatch(/^\|? ?Reported-by:/m);
    expect(out.md).toContain('Boot: panic: the kernel panicked before the suite started. Console tail:');
    expect(out.md).toContain('| [2/4](#patch-2) | mm: zswap: let writeback free the entry it took from the tree | pass | pass | **FAIL** | skipped | skipped | **FAIL** (pre-existing failures not blamed) |');
    expect(out.junit).toContain('<failure message="kernel panic while booting" type="boot">');
    const k = KcidbSchema.parse(JSON.parse(out.kcidb));
    const p2 = k.tests!.filter((t) => t.build_id.endsWith(':p2:build'));
    expect(p2.map((t) => [t.path, t.status])).toEqual([['boot', 'FAIL']]);
    expect(p2[0]!.log_excerpt).toContain('Kernel panic - not syncing');
  });

  it('a patch that does not apply is reported with the git am evidence and an invalid checkout', () => {
    const r = clone(fixture('interrupted'));
    const p = r.patches[1]!;
    p.stages.apply = { verdict: 'fail', summary: 'does not apply', evidence: ['error: patch failed: mm/zswap.c:1498', 'error: mm/zswap.c: patch does not apply'], logs: { apply: 'logs/p1/apply.log' } };
    for (const s of ['build', 'boot', 'test', 'model'] as const) p.stages[s] = { verdict: 'skipped', summary: 'the patch does not apply', evidence: [], logs: {} };
    delete p.build;
    const out = renderAll(r);
    expect(out.reply).toContain('It does not apply:\n\n    error: patch failed: mm/zswap.c:1498\n    error: mm/zswap.c: patch does not apply\n');
    const k = KcidbSchema.parse(JSON.parse(out.kcidb));
    expect(k.checkouts![1]).toMatchObject({ valid: false, log_excerpt: 'error: patch failed: mm/zswap.c:1498\nerror: mm/zswap.c: patch does not apply' });
    expect(k.builds!.some((b) => b.checkout_id === k.checkouts![1]!.id)).toBe(false);
  });

  it('a report written before any patch ran (crashed) lists every patch as not tested', () => {
    const r = clone(fixture('interrupted'));
    r.status = 'crashed';
    r.statusReason = 'internal error: cannot read properties of undefined';
    r.patches = [];
    r.verdict = 'error';
    delete r.firstBadPatch;
    const out = renderAll(r);
    expect(out.md).toContain('the run is stopped: kharness or the environment broke outside any stage (internal error: cannot read properties of undefined). Not tested: 1/3, 2/3, 3/3.');
    expect(out.md).toContain('| 2/3 | mm: zswap: free entries only from the tree owner | not run | not run | not run | not run | not run | not run |');
    expect(out.html).toContain('<td class="cell v-skipped">not run</td>');
    expect(xmlProblems(out.junit)).toEqual([]);
    expect(out.junit).toMatch(/<testsuites [^>]* tests="15" failures="0" errors="0" skipped="15"/);
    expect(JSON.parse(out.kcidb)).toEqual({ version: { major: 5, minor: 0 }, checkouts: [], builds: [], tests: [] });
    expect(out.reply).toContain('Nothing in the series was tested: the run stopped before the first\npatch. No verdict on any patch.');
    expect(out.reply).not.toContain('No regressions');
    expect(out.reply).toContain('  1/3  not tested  mm: zswap: replace the tree refcount with entry\n');
  });

  it('a report of a run that was killed says so', () => {
    const r = clone(fixture('interrupted'));
    r.status = 'running';
    delete r.statusReason;
    const out = renderAll(r);
    expect(out.md).toContain('> **This report is partial:** the run is unfinished (written while it was still running: it was killed or is still going). Not tested: 3/3.');
    expect(out.reply).toContain('The run did not finish (unfinished (written while it was still running:\nit was killed or is still going))');
  });

  it('a single patch without cover letter gets "[PATCH]" and a test without samples gets no plot', () => {
    const r = clone(fixture('regression'));
    r.patches = r.patches.slice(0, 2);
    r.patches[1]!.label = '1/1';
    r.series.patches = r.series.patches.slice(0, 1).map((p) => ({ ...p, total: 1 }));
    delete r.series.cover;
    r.series.replyTo = r.series.patches[0]!.messageId;
    r.series.version = 1;
    delete r.firstBadPatch;
    for (const t of r.patches[1]!.tests) t.samples = [];
    const out = renderAll(r);
    expect(out.reply.split('\n')[0]).toBe('Subject: Re: [PATCH] mm: zswap: move entry freeing into zswap_entry_free()');
    const plots = out.html.slice(out.html.indexOf('<h2 id="counters">'), out.html.indexOf('<h2 id="details">'));
    expect(plots).toContain('<option value="base" selected>');
    expect(plots).not.toContain('data-plots="p1"');
  });
});
