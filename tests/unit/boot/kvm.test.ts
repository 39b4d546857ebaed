import { afterEach, describe, expect, it } from 'vitest';
import { BOOT_SECTOR_EXIT, bootSectorRuns, probeAccel } from '../../../src/boot/kvm.js';

// The KVM probe's own parts on the real QEMU: TCG always runs our boot sector, so a failure of
// KVM to run it (as on these CI machines) is the probe's signal, not a fluke of the sector.
describe('accelerator probe', () => {
  afterEach(() => {
    delete process.env.KHARNESS_ACCEL;
  });

  it('runs the probe boot sector under TCG: it prints KO and exits through isa-debug-exit', async () => {
    const r = await bootSectorRuns('tcg', 20_000);
    expect(r).toEqual({ ok: true, detail: 'boot sector ran and exited' });
    expect(BOOT_SECTOR_EXIT).toBe((0x21 << 1) | 1);
  });

  it('honours a forced choice without probing', async () => {
    process.env.KHARNESS_ACCEL = 'tcg';
    const p = await probeAccel();
    expect(p.accel).toBe('tcg');
    expect(p.reason).toBe('forced by KHARNESS_ACCEL=tcg');
    expect(p.checks).toEqual([]);
  });
});
