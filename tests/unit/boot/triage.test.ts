import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { triageConsole } from '../../../src/boot/triage.js';

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

  it('reports nothing on a clean boot', () => {
    expect(triageConsole('Linux version 6.12.117\nkharness-guest: suite done\nsysrq: Resetting\n')).toEqual([]);
  });
});
