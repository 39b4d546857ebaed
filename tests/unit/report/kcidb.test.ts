import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KcidbSchema, buildKcidb, renderKcidb, type Kcidb } from '../../../src/report/index.js';
import { allPassing, clone, fixture } from './helpers.js';

/**
 * The shape is checked against the facts of kernelci/kcidb-io kcidb_io/schema/v05_00.py, written
 * down as the zod schema KcidbSchema (strict objects, id/origin/path/hash patterns, status enum,
 * log_excerpt maxLength 16384), plus the links between objects the schema describes in prose.
 */
function checkLinks(k: Kcidb): void {
  const checkouts = new Set(k.checkouts!.map((c) => c.id));
  const builds = new Set(k.builds!.map((b) => b.id));
  const tests = k.tests!.map((t) => t.id);
  expect(checkouts.size).toBe(k.checkouts!.length);
  expect(builds.size).toBe(k.builds!.length);
  expect(new Set(tests).size).toBe(tests.length);
  for (const b of k.builds!) expect(checkouts.has(b.checkout_id), b.id).toBe(true);
  for (const t of k.tests!) expect(builds.has(t.build_id), t.id).toBe(true);
  for (const o of [...k.checkouts!, ...k.builds!, ...k.tests!]) {
    expect(o.origin).toBe('kharness');
    expect(o.id.startsWith('kharness:')).toBe(true);
  }
}

function noNulls(v: unknown, where = ''): void {
  expect(v, where).not.toBeNull();
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) noNulls(x, `${where}.${k}`);
}

describe('renderKcidb', () => {
  const kcidb = JSON.parse(renderKcidb(fixture('regression'))) as Kcidb;

  it('validates against the KCIDB v5.0 schema subset, with every object linked', () => {
    for (const r of [fixture('regression'), fixture('interrupted'), allPassing()]) {
      const k = JSON.parse(renderKcidb(r));
      const parsed = KcidbSchema.safeParse(k);
      expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
      checkLinks(k);
      noNulls(k);
    }
    expect(kcidb.version).toEqual({ major: 5, minor: 0 });
  });

  it('has one checkout per patch (the series up to patch k) and one build per built patch', () => {
    expect(kcidb.checkouts!.map((c) => c.id)).toEqual([0, 1, 2, 3, 4].map((k) => `kharness:20250115T091000Z-v2-mm-zswap-fix-the-swapoff-race-with-writeback:${k ? `p${k}` : 'base'}`));
    const [base, , p2] = kcidb.checkouts!;
    expect(base).toMatchObject({ git_commit_hash: 'fa8f9df0f573dab7a516b19235a49f0f00e30ed2', patchset_hash: '', valid: true, tree_name: 'debian-6.12', start_time: '2025-01-15T09:10:00.000Z' });
    expect(base!.message_id).toBeUndefined();
    expect(p2).toMatchObject({
      git_commit_hash: 'fa8f9df0f573dab7a516b19235a49f0f00e30ed2',
      message_id: '20250114101500.4711-3-jane.doe@example.org',
      comment: '2/4 mm: zswap: let writeback free the entry it took from the tree',
      valid: true,
      patchset_files: [
        { name: '0001.patch', url: 'https://lore.kernel.org/linux-mm/20250114101500.4711-2-jane.doe@example.org/raw' },
        { name: '0002.patch', url: 'https://lore.kernel.org/linux-mm/20250114101500.4711-3-jane.doe@example.org/raw' },
      ],
      misc: { patch: 2, label: '2/4', commit: '2c0ffeec0ffeec0ffeec0ffeec0ffeec0ffee222', verdict: 'fail' },
    });
    // No per-patch hashes in the report: no patchset_hash rather than a wrong one; no public tree URL either.
    expect(p2!.patchset_hash).toBeUndefined();
    expect(p2!.git_repository_url).toBeUndefined();
    expect(kcidb.builds!.map((b) => b.checkout_id)).toEqual(kcidb.checkouts!.map((c) => c.id));
    expect(kcidb.builds![2]).toMatchObject({ status: 'PASS', architecture: 'x86_64', compiler: 'gcc (Debian 12.2.0-14) 12.2.0', config_name: 'zswap-debug', duration: 118 });
  });

  it('gives each boot, guest test, selftest case and model check a test with the right status', () => {
    const p2 = kcidb.tests!.filter((t) => t.build_id.endsWith(':p2:build'));
    const status = Object.fromEntries(p2.map((t) => [t.path, t.status]));
    expect(status).toMatchObject({
      boot: 'PASS',
      'zswap.swap-cycle': 'FAIL',
      'zswap.writeback': 'PASS',
      'zswap.swapoff-race': 'PASS',
      'zswap.selftest-zswap': 'PASS',
      'zswap.selftest-zswap.test_no_kmem_bypass': 'FAIL',
      'zswap.model': 'FAIL',
    });
    expect(p2).toHaveLength(13);
    const swap = p2.find((t) => t.path === 'zswap.swap-cycle')!;
    expect(swap.log_excerpt).toContain('BUG: KASAN: double-free in zswap_entry_free+0x5a/0x120');
    expect(swap.log_excerpt).not.toMatch(/[\x00\x07\x1b]/);
    expect(swap.duration).toBe(21.674);
    expect(swap.misc).toMatchObject({ kharness_verdict: 'fail', bad_pages: 17, violations: ['double-free'], never_ran: ['store failed/rejected'] });
    expect(swap.environment!.comment).toBe('QEMU under KVM on ci-runner-3 (2 CPUs, 7.8 GiB)');
    const model = p2.find((t) => t.path === 'zswap.model')!;
    expect(model.log_excerpt).toContain('#40214 cpu1 pid 52 [88122013] free 0:1187 entry 0xffff888104a3c1e0');
    // Flaky with a passing attempt: PASS, counts kept in misc.
    const race = kcidb.tests!.find((t) => t.build_id.endsWith(':p4:build') && t.path === 'zswap.swapoff-race')!;
    expect(race.status).toBe('PASS');
    expect(race.misc).toMatchObject({ kharness_verdict: 'flaky', flaky: { counts: { pass: 2, fail: 1 } } });
    // The base's failing selftest case is there too (it is what makes later ones pre-existing).
    const base = kcidb.tests!.filter((t) => t.build_id.endsWith(':base:build'));
    expect(base.find((t) => t.path === 'zswap.selftest-zswap')!.status).toBe('FAIL');
  });

  it('maps a failed build to FAIL, an interrupted one to ERROR, and what the run never reached to MISS', () => {
    const k = buildKcidb(fixture('interrupted'));
    expect(k.checkouts!.map((c) => c.valid)).toEqual([true, true, true, undefined]);
    expect(k.checkouts![1]).toMatchObject({ git_repository_url: 'https://git.kernel.org/pub/scm/linux/kernel/git/akpm/mm.git', tree_name: 'mm-unstable', message_id: 'cover-less-v1-1-joerg@example.de' });
    expect(k.builds!.map((b) => b.status)).toEqual(['PASS', 'FAIL', 'ERROR']);
    expect(k.builds![1]!.log_excerpt).toBe(
      "mm/zswap.c:1512: error: implicit declaration of function 'zswap_entry_put'; did you mean 'zswap_entry_free'?\n" +
        "mm/zswap.c:1498: warning: unused variable 'tree' [-Wunused-variable]\n" +
        'checkpatch ERROR: CODE_INDENT: code indent should use tabs where possible (mm/zswap.c:1503)',
    );
    expect(k.builds![1]!.misc).toMatchObject({ new_warnings: 1, errors: 1, checkpatch: { errors: 1, warnings: 0, checks: 1 } });
    // Nothing after a failed build or an interrupted one: no test objects for 1/3 and 2/3.
    expect(k.tests!.filter((t) => !t.build_id.endsWith(':base:build'))).toEqual([]);
    // Built, then interrupted before booting: the stages it never reached are MISS.
    const r = clone(fixture('interrupted'));
    r.patches[2]!.stages.build = { verdict: 'pass', summary: 'built', evidence: [], logs: {} };
    const missing = buildKcidb(r).tests!.filter((t) => t.build_id.endsWith(':p2:build'));
    expect(missing.map((t) => [t.path, t.status])).toEqual([
      ['boot', 'MISS'],
      ['zswap', 'MISS'],
      ['zswap.model', 'MISS'],
    ]);
    expect(KcidbSchema.safeParse(buildKcidb(r)).success).toBe(true);
  });

  it('computes patchset_hash from the per-patch hashes the way KCIDB defines it', () => {
    const r = clone(fixture('regression'));
    const h = (s: string): string => createHash('sha256').update(s).digest('hex');
    for (const p of r.patches.slice(1)) p.patchSha256 = h(`patch ${p.index}`);
    const k = buildKcidb(r);
    expect(k.checkouts![0]!.patchset_hash).toBe('');
    expect(k.checkouts![1]!.patchset_hash).toBe(h(`${h('patch 1')}\n`));
    expect(k.checkouts![3]!.patchset_hash).toBe(h(`${h('patch 1')}\n${h('patch 2')}\n${h('patch 3')}\n`));
  });

  it('links logs only when told where the report folder is served', () => {
    expect(JSON.stringify(kcidb)).not.toContain('log_url');
    const k = buildKcidb(fixture('regression'), { baseUrl: 'https://ci.example.org/reports/v2-zswap/' });
    expect(KcidbSchema.safeParse(k).success).toBe(true);
    expect(k.checkouts![2]!.log_url).toBe('https://ci.example.org/reports/v2-zswap/logs/p2/apply.log');
    expect(k.builds![2]!.log_url).toBe('https://ci.example.org/reports/v2-zswap/logs/p2/build.log');
    const model = k.tests!.find((t) => t.id.endsWith(':p2:zswap.model'))!;
    expect(model.log_url).toBe('https://ci.example.org/reports/v2-zswap/logs/p2/swap-cycle.trace');
  });

  it('keeps test paths and excerpts within the schema whatever the names and logs', () => {
    const r = clone(fixture('regression'));
    r.patches[2]!.tests[1]!.name = 'write back/2 (öko) ';
    r.patches[2]!.tests[0]!.findings[0]!.excerpt = 'x'.repeat(40_000);
    r.patches[2]!.messageId = 'not an address';
    const k = buildKcidb(r);
    expect(KcidbSchema.safeParse(k).success).toBe(true);
    expect(k.tests!.some((t) => t.path === 'zswap.write_back_2_ko')).toBe(true);
    const swap = k.tests!.find((t) => t.id.endsWith(':p2:zswap.swap-cycle'))!;
    expect(swap.log_excerpt!.length).toBeLessThanOrEqual(16384);
    expect(swap.log_excerpt!.endsWith('[... cut by kharness]')).toBe(true);
    expect(k.checkouts![2]!.message_id).toBeUndefined();
  });
});
