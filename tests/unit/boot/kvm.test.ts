import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootSectorRuns, markKvmBroken, probeAccel, qemuVersion, type AccelProbe } from '../../../src/boot/kvm.js';

// The KVM probe on the real QEMU, with its answer cached in a throwaway KHARNESS_CACHE. TCG always
// runs our boot sector, so a failure of KVM to run it (as on these CI machines) is the probe's
// signal, not a fluke of the sector.
describe('accelerator probe', () => {
  const saved = { cache: process.env.KHARNESS_CACHE, accel: process.env.KHARNESS_ACCEL };
  let cache: string;
  let qv: string;

  const cacheFile = (): string => path.join(cache, 'accel-probe.json');
  const writeCache = (p: Partial<AccelProbe> & { version?: number }): void => writeFileSync(cacheFile(), JSON.stringify(p));
  /** A cached answer valid for this QEMU and host kernel, marked so that its reuse is visible. */
  const cached = (over: Partial<AccelProbe> = {}): AccelProbe => ({
    version: 2,
    accel: 'kvm',
    reason: 'cached marker',
    qemuVersion: qv,
    hostKernel: release(),
    probedAt: '2025-01-01T00:00:00.000Z',
    checks: [{ name: 'kernel-under-kvm', ok: true, detail: 'kernel booted to its root-mount panic' }],
    ...over,
  });

  beforeEach(async () => {
    cache = await mkdtemp(path.join(tmpdir(), 'kharness-kvm-cache-'));
    process.env.KHARNESS_CACHE = cache;
    delete process.env.KHARNESS_ACCEL;
    qv = await qemuVersion();
    expect(qv).toMatch(/^QEMU emulator version \d+\./);
  });

  afterEach(async () => {
    for (const [k, v] of [['KHARNESS_CACHE', saved.cache], ['KHARNESS_ACCEL', saved.accel]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(cache, { recursive: true, force: true });
  });

  it('runs the probe boot sector under TCG: it prints KO and exits through isa-debug-exit', async () => {
    expect(await bootSectorRuns('tcg', 20_000)).toEqual({ ok: true, detail: 'boot sector ran and exited' });
  });

  it('does not count a QEMU that never reached the exit port as success', async () => {
    const r = await bootSectorRuns('tcg', 1);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/^no exit within 0\.001s/);
  });

  it('reuses a cached answer for the same QEMU, host kernel and probe version', async () => {
    writeCache(cached());
    const p = await probeAccel();
    expect(p.reason).toBe('cached marker');
    expect(p.accel).toBe('kvm');
  });

  it('probes again when the cached answer is for another QEMU or an older probe, and caches the new one', async () => {
    for (const stale of [cached({ qemuVersion: 'QEMU emulator version 0.1.0' }), cached({ version: 1 }), cached({ hostKernel: '0.0.0-other' })]) {
      writeCache(stale);
      const p = await probeAccel();
      expect(p.reason).not.toBe('cached marker');
      expect(p.checks[0]!.name).toBe('dev-kvm');
      // Nothing is KVM that did not pass every check it ran.
      expect(p.accel === 'kvm').toBe(p.checks.every((c) => c.ok));
      const written = JSON.parse(readFileSync(cacheFile(), 'utf8')) as AccelProbe;
      expect(written).toMatchObject({ version: 2, qemuVersion: qv, hostKernel: release(), accel: p.accel, reason: p.reason });
    }
  }, 120_000); // up to 10 s per probe where KVM hangs on the boot sector

  it('redoes a KVM answer that rested on the boot sector alone once a kernel is given', async () => {
    writeCache(cached({ checks: [{ name: 'boot-sector-under-kvm', ok: true, detail: 'boot sector ran and exited' }] }));
    expect((await probeAccel()).reason).toBe('cached marker');
    const p = await probeAccel({ kernelImage: path.join(cache, 'no-such-bzImage') });
    expect(p.reason).not.toBe('cached marker');
    // No kernel booted (there is none): whatever KVM does here, the answer cannot be KVM.
    expect(p.accel).toBe('tcg');
  });

  it('a forced choice wins over the cache and runs no check; an unknown value is ignored', async () => {
    writeCache(cached({ accel: 'tcg', reason: 'cached marker' }));
    process.env.KHARNESS_ACCEL = 'kvm';
    const forced = await probeAccel();
    expect(forced).toMatchObject({ accel: 'kvm', reason: 'forced by KHARNESS_ACCEL=kvm', checks: [] });
    expect(JSON.parse(readFileSync(cacheFile(), 'utf8')).reason).toBe('cached marker');
    process.env.KHARNESS_ACCEL = 'xen';
    expect(await probeAccel()).toMatchObject({ accel: 'tcg', reason: 'cached marker' });
  });

  it('after markKvmBroken, later runs use TCG even with a kernel to check, and say why', async () => {
    writeCache(cached());
    expect((await probeAccel()).accel).toBe('kvm');
    markKvmBroken('hung after the BIOS');
    const p = await probeAccel({ kernelImage: path.join(cache, 'bzImage') });
    expect(p.accel).toBe('tcg');
    expect(p.reason).toBe('a kernel boot under KVM failed (hung after the BIOS)');
    expect(p.checks.at(-1)).toEqual({ name: 'kernel-under-kvm', ok: false, detail: 'hung after the BIOS' });
  });

  it('markKvmBroken without a cached answer still records TCG', () => {
    expect(existsSync(cacheFile())).toBe(false);
    markKvmBroken('KVM internal error');
    expect(JSON.parse(readFileSync(cacheFile(), 'utf8'))).toMatchObject({ version: 2, accel: 'tcg', checks: [{ name: 'kernel-under-kvm', ok: false, detail: 'KVM internal error' }] });
  });
});
