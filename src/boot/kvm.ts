import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, release } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { writeFileAtomicSync } from '../common/atomic.js';
import { cacheDir } from '../common/paths.js';

/** Bumped when the probe's checks or wording change, so an old cached answer is redone. */
const PROBE_VERSION = 2;

/** What the probe found, cached per QEMU version and host kernel. */
export interface AccelProbe {
  version?: number;
  accel: 'kvm' | 'tcg';
  /** why KVM is or is not used, in words */
  reason: string;
  qemuVersion: string;
  hostKernel: string;
  probedAt: string;
  /** which checks ran: node access, boot sector under KVM, a real kernel under KVM */
  checks: { name: string; ok: boolean; detail: string }[];
}

/*
 * A 512-byte boot sector: writes "KO\n" to COM1 and leaves QEMU through isa-debug-exit with
 * status (0x21 << 1) | 1 = 67. Under a working accelerator this takes well under a second; the
 * broken nested KVM of our CI machines fails to read the boot disk or hangs.
 */
function bootSector(): Buffer {
  const code = Buffer.from([
    0xfa, // cli
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xb0, 0x4b, 0xee, // mov al, 'K'; out dx, al
    0xb0, 0x4f, 0xee, // mov al, 'O'; out dx, al
    0xb0, 0x0a, 0xee, // mov al, '\n'; out dx, al
    0xba, 0xf4, 0x00, // mov dx, 0xf4
    0xb0, 0x21, 0xee, // mov al, 0x21; out dx, al  (isa-debug-exit)
    0xf4, 0xeb, 0xfd, // hlt; jmp $-1
  ]);
  const sector = Buffer.alloc(512);
  code.copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

export const BOOT_SECTOR_EXIT = 67;

export async function qemuVersion(qemu = 'qemu-system-x86_64'): Promise<string> {
  const r = await execa(qemu, ['--version'], { reject: false });
  if (r.exitCode !== 0) return '';
  return String(r.stdout).split('\n')[0] ?? '';
}

/** Runs the boot sector under one accelerator; true when it printed KO and exited 67. */
export async function bootSectorRuns(accel: 'kvm' | 'tcg', timeoutMs = 10_000): Promise<{ ok: boolean; detail: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-kvm-'));
  try {
    const img = path.join(dir, 'probe.img');
    await writeFile(img, bootSector());
    const r = await execa(
      'qemu-system-x86_64',
      ['-accel', accel, '-nographic', '-nodefaults', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
        '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${img},format=raw,if=floppy`, '-boot', 'a'],
      { reject: false, timeout: timeoutMs, all: true, stdin: 'ignore' },
    );
    const out = String(r.all ?? '');
    const ok = r.exitCode === BOOT_SECTOR_EXIT && out.includes('KO');
    const internal = /KVM internal error|kvm run failed/i.exec(out)?.[0];
    const detail = ok
      ? 'boot sector ran and exited'
      : r.timedOut
        ? `no exit within ${timeoutMs / 1000}s${internal ? ` (${internal})` : ''}`
        : `exit ${r.exitCode}${internal ? `: ${internal}` : ''}: ${lastLine(out)}`;
    return { ok, detail };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Boots a real kernel under KVM with no root filesystem: a working KVM reaches the kernel's
 * "Kernel panic" (no init) within seconds; a broken nested KVM hangs after the BIOS or dies
 * with "KVM internal error". The boot sector alone does not exercise long mode.
 */
export async function kernelBootsUnderKvm(kernelImage: string, timeoutMs = 30_000): Promise<{ ok: boolean; detail: string }> {
  const r = await execa(
    'qemu-system-x86_64',
    ['-accel', 'kvm', '-m', '256', '-nographic', '-nodefaults', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-kernel', kernelImage, '-append', 'console=ttyS0 panic=-1 rdinit=/kharness-no-init root=/dev/kharness-none'],
    { reject: false, timeout: timeoutMs, all: true, stdin: 'ignore' },
  );
  const out = String(r.all ?? '');
  if (/KVM internal error/i.test(out)) return { ok: false, detail: 'KVM internal error' };
  if (/Kernel panic|VFS: Unable to mount root|No working init/.test(out)) return { ok: true, detail: 'kernel booted to its root-mount panic' };
  return { ok: false, detail: r.timedOut ? `kernel printed no panic within ${timeoutMs / 1000}s: ${lastLine(out)}` : `exit ${r.exitCode}: ${lastLine(out)}` };
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '');
  return (lines[lines.length - 1] ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').slice(0, 200);
}

function probeCachePath(): string {
  return path.join(cacheDir(), 'accel-probe.json');
}

/**
 * Decides KVM or TCG. `KHARNESS_ACCEL=kvm|tcg` forces a choice. Otherwise the cached answer for
 * this QEMU and host kernel is used, or a fresh probe runs: /dev/kvm access, then the boot
 * sector under KVM, then (when a kernel is given) that kernel under KVM.
 */
export async function probeAccel(opts: { kernelImage?: string; refresh?: boolean } = {}): Promise<AccelProbe> {
  const qv = await qemuVersion();
  const hostKernel = release();
  const forced = process.env.KHARNESS_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') {
    return { accel: forced, reason: `forced by KHARNESS_ACCEL=${forced}`, qemuVersion: qv, hostKernel, probedAt: new Date().toISOString(), checks: [] };
  }
  const cachePath = probeCachePath();
  if (!opts.refresh && existsSync(cachePath)) {
    try {
      const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as AccelProbe;
      const kernelChecked = cached.checks.some((c) => c.name === 'kernel-under-kvm');
      // A KVM verdict from the boot sector alone is upgraded with a real kernel once one exists.
      if (cached.version === PROBE_VERSION && cached.qemuVersion === qv && cached.hostKernel === hostKernel && (cached.accel === 'tcg' || kernelChecked || !opts.kernelImage)) {
        return cached;
      }
    } catch {
      /* unreadable cache: probe again */
    }
  }
  const checks: AccelProbe['checks'] = [];
  let accel: 'kvm' | 'tcg' = 'tcg';
  let reason: string;
  let nodeOk = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    nodeOk = true;
    checks.push({ name: 'dev-kvm', ok: true, detail: '/dev/kvm is readable and writable' });
  } catch (err) {
    checks.push({ name: 'dev-kvm', ok: false, detail: existsSync('/dev/kvm') ? 'no permission on /dev/kvm' : '/dev/kvm does not exist' });
  }
  if (!nodeOk) {
    reason = checks[0]!.detail;
  } else {
    const bs = await bootSectorRuns('kvm');
    checks.push({ name: 'boot-sector-under-kvm', ok: bs.ok, detail: bs.detail });
    if (!bs.ok) {
      reason = `/dev/kvm exists but KVM does not run guest code (${bs.detail})`;
    } else if (opts.kernelImage) {
      const kb = await kernelBootsUnderKvm(opts.kernelImage);
      checks.push({ name: 'kernel-under-kvm', ok: kb.ok, detail: kb.detail });
      if (kb.ok) {
        accel = 'kvm';
        reason = 'a real kernel booted under it';
      } else {
        reason = `KVM runs a boot sector but not a kernel (${kb.detail})`;
      }
    } else {
      accel = 'kvm';
      reason = 'a boot sector ran under it (no kernel checked yet)';
    }
  }
  const probe: AccelProbe = { version: PROBE_VERSION, accel, reason, qemuVersion: qv, hostKernel, probedAt: new Date().toISOString(), checks };
  // Atomic: concurrent runs probe and read this cache at the same time.
  writeFileAtomicSync(cachePath, `${JSON.stringify(probe, null, 2)}\n`);
  return probe;
}

/** Records that KVM failed a real boot (it hung or crashed early) so later runs use TCG. */
export function markKvmBroken(detail: string): void {
  const cachePath = probeCachePath();
  let probe: Partial<AccelProbe> = {};
  try {
    probe = JSON.parse(readFileSync(cachePath, 'utf8')) as AccelProbe;
  } catch {
    /* no cache yet */
  }
  const checks = [...(probe.checks ?? []), { name: 'kernel-under-kvm', ok: false, detail }];
  const updated = { ...probe, version: PROBE_VERSION, accel: 'tcg', reason: `a kernel boot under KVM failed (${detail})`, checks, probedAt: new Date().toISOString() };
  writeFileAtomicSync(cachePath, `${JSON.stringify(updated, null, 2)}\n`);
}
