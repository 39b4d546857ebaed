import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldRepeats, triageConsole } from '../../../src/boot/triage.js';

const fixture = (name: string): string => readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'console', name), 'utf8');

// Real console logs from kernels built by kharness (tests/fixtures/console), plus the splat
// formats of KASAN, lockdep, RCU, hung-task and soft-lockup reports as the kernel prints them.
describe('console triage', () => {
  it('finds a NULL dereference with its blamed function and the call trace through zswap', () => {
    const f = triageConsole(fixture('null-deref-in-store.log'));
    const bug = f.find((x) => x.kind === 'BUG')!;
    expect(bug.title).toBe('BUG: kernel NULL pointer dereference, address: 0000000000000000');
    expect(bug.function).toBe('get_zspage');
    expect(bug.callTrace.slice(0, 3)).toEqual(['zs_free', 'zswap_entry_free', 'zswap_store']);
    expect(f.some((x) => x.kind === 'Oops')).toBe(false); // the same report is not counted twice
  });

  it('finds a panic at boot with zswap_setup in the trace', () => {
    const f = triageConsole(fixture('panic-at-boot.log'));
    expect(f.map((x) => x.kind)).toEqual(['BUG', 'Kernel panic']);
    expect(f[0]!.callTrace).toContain('zswap_setup');
    expect(f[1]!.title).toBe('Kernel panic - not syncing: Fatal exception');
  });

  it('names the function of a WARNING', () => {
    const [w] = triageConsole(fixture('warn-zswap-swapoff.log'));
    expect(w!.kind).toBe('WARNING');
    expect(w!.function).toBe('zswap_swapoff');
    expect(w!.signature).toMatch(/^WARNING in zswap_swapoff \[[0-9a-f]{10}\]$/);
  });

  it('finds an RCU stall', () => {
    expect(triageConsole(fixture('rcu-stall.log')).map((x) => x.kind)).toContain('RCU stall');
  });

  it('gives the same signature to the same bug in two runs (addresses, pids, CPUs differ)', () => {
    const a = fixture('null-deref-in-store.log');
    const b = a.replace(/PID: 105/g, 'PID: 233').replace(/CPU: 0/g, 'CPU: 1').replace(/ff11[0-9a-f]{12}/g, 'ff1100000999aaaa');
    expect(triageConsole(b)[0]!.signature).toBe(triageConsole(a)[0]!.signature);
  });

  it('recognises the other signatures kernel CI systems use', () => {
    const splats: [string, string][] = [
      ['BUG: KASAN: slab-use-after-free in zswap_entry_free+0x1a/0x90', 'KASAN'],
      ['UBSAN: shift-out-of-bounds in mm/zswap.c:123:4', 'UBSAN'],
      ['WARNING: possible circular locking dependency detected', 'lockdep'],
      ['WARNING: inconsistent lock state', 'lockdep'],
      ['WARNING: possible recursive locking detected', 'lockdep'],
      ['INFO: task zswap-stress:105 blocked for more than 122 seconds.', 'hung task'],
      ['watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [zswap-stress:105]', 'soft lockup'],
      ['kernel BUG at mm/zswap.c:1001!', 'kernel BUG'],
      ['general protection fault, probably for non-canonical address 0xdffffc0000000004: 0000 [#1] SMP KASAN', 'general protection fault'],
      ['list_add corruption. prev->next should be next (ffff888003c1e8b8), but was 0000000000000000.', 'list corruption'],
      ['rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:', 'RCU stall'],
      ['Kernel panic - not syncing: Fatal exception', 'Kernel panic'],
    ];
    for (const [line, kind] of splats) {
      const found = triageConsole(`[   12.345678] ${line}\n`);
      expect(found.map((f) => f.kind), line).toEqual([kind]);
    }
    const kasan = triageConsole('BUG: KASAN: slab-use-after-free in zswap_entry_free+0x1a/0x90\n');
    expect(kasan[0]!.function).toBe('zswap_entry_free');
  });

  it('reads a DEBUG_VM folio dump and the BUG it ends in as one report, blamed on the function that asserted', () => {
    const log = [
      '[   41.100001] page: refcount:3 mapcount:0 mapping:0000000000000000 index:0x7f1c2000 pfn:0x11a2b',
      '[   41.100002] memcg:ffff888004a1c000',
      '[   41.100003] anon flags: 0x100000000020019(locked|uptodate|dirty|swapbacked|node=0|zone=1)',
      '[   41.100004] page dumped because: VM_BUG_ON_FOLIO(!folio_test_locked(folio))',
      '[   41.100005] ------------[ cut here ]------------',
      '[   41.100006] kernel BUG at mm/zswap.c:1612!',
      '[   41.100007] Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN NOPTI',
      '[   41.100008] CPU: 1 UID: 0 PID: 212 Comm: zswap-stress Not tainted 6.12.57 #1',
      '[   41.100009] RIP: 0010:zswap_load+0x5e1/0x640',
      '[   41.100010] Call Trace:',
      '[   41.100011]  <TASK>',
      '[   41.100012]  swap_read_folio+0x1c4/0x6a0',
      '[   41.100013]  do_swap_page+0x1e2b/0x2a10',
      '[   41.100014]  handle_mm_fault+0x9b1/0x1080',
      '[   41.100015]  </TASK>',
      '[   41.100016] ---[ end trace 0000000000000000 ]---',
    ].join('\n');
    const found = triageConsole(log);
    expect(found.map((f) => f.kind)).toEqual(['DEBUG_VM']);
    expect(found[0]!.function).toBe('zswap_load');
    expect(found[0]!.callTrace).toEqual(['swap_read_folio', 'do_swap_page', 'handle_mm_fault']);
    expect(found[0]!.signature).toMatch(/^DEBUG_VM in zswap_load \[/);
    // the same assertion failing on another page (another pfn, flags, line number) is the same bug
    const again = log.replace('pfn:0x11a2b', 'pfn:0x2c3d4').replace('PID: 212', 'PID: 388');
    expect(triageConsole(again)[0]!.signature).toBe(found[0]!.signature);
  });

  it("folds a debug kernel's repeated splats into one per signature, blamed past the lock and might_sleep helpers", () => {
    // Real: the lockdep-sleep-in-rcu deliberate bug on zswap-debug, a mutex taken in an RCU
    // read-side section on every store: one PROVE_RCU warning, then the same BUG again and again.
    const found = triageConsole(fixture('sleep-in-rcu-debug.log'));
    expect(found.map((f) => f.kind)).toEqual(['lockdep', 'lockdep', 'lockdep', 'lockdep']);
    for (const f of found) expect(f.function, f.title).toBe('acomp_ctx_get_cpu_lock');
    const folded = foldRepeats(found);
    expect(folded.map((f) => [f.title, f.repeats])).toEqual([
      ['WARNING: suspicious RCU usage', undefined],
      ['BUG: sleeping function called from invalid context at kernel/locking/mutex.c:586', 2],
    ]);
    // folding leaves its input alone
    expect(found.every((f) => f.repeats === undefined)).toBe(true);
  });

  it('reports nothing on a clean boot', () => {
    expect(triageConsole('Linux version 6.12.117\nkharness-guest: suite done\nsysrq: Resetting\n')).toEqual([]);
  });
});
