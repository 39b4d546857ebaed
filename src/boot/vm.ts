import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chmod, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { InfraError } from '../common/errors.js';
import { readUntrustedText } from '../common/untrusted-file.js';
import { spawnTracked, withBackstop } from '../common/exec.js';
import { projectRoot, venvBin } from '../common/paths.js';
import { markKvmBroken, probeAccel } from './kvm.js';
import { triageConsole, type Finding } from './triage.js';

export interface BootOptions {
  /** bzImage to boot */
  image: string;
  /** run directory, shared read-write with the guest at the same path */
  runDir: string;
  /** shell command the guest runs (ours or the user's own --exec); its exit status comes back */
  command: string;
  memory?: string;
  cpus?: number;
  /** whole-run budget in seconds: a guest that outlives it is a hang */
  timeoutS?: number;
  /** a guest that prints nothing for this long is a hang */
  silenceS?: number;
  /** swap disk images to attach (virtio-blk, /dev/vda, /dev/vdb, ... in the guest) */
  disks?: string[];
  /** extra kernel command line */
  append?: string[];
  /** force an accelerator instead of the probe's choice */
  accel?: 'kvm' | 'tcg';
  /** called with each console line as it arrives (progress, live logs) */
  onLine?: (line: string) => void;
}

export type BootStatus = 'completed' | 'panic' | 'hang' | 'crashed' | 'error';

export interface BootOutcome {
  /** completed: the guest command ran to its end and reported its exit status */
  status: BootStatus;
  /** the guest command's exit status, as the guest itself wrote it (never vng's) */
  guestExit?: number;
  reason: string;
  accel: 'kvm' | 'tcg';
  accelReason: string;
  consoleLog: string;
  consoleTail: string;
  findings: Finding[];
  durationMs: number;
  /** from starting vng to the guest command starting */
  bootToCommandMs?: number;
  vngExit?: number;
  /** QEMU reported a KVM failure (the accelerator, not the kernel): retried under TCG */
  kvmFailure?: boolean;
}

export const GUEST_MARK = 'kharness-guest:';
const HEARTBEAT_S = 5;
/** timeout(1)'s budget beyond the watchdog's: only for when our own watchdog could not act. */
const BACKSTOP_MARGIN_S = 60;
const BACKSTOP_KILL_S = 10;

/** Makes an empty (sparse) disk image for swap. */
export async function makeDiskImage(file: string, sizeMiB: number): Promise<void> {
  await rm(file, { force: true });
  await writeFile(file, '');
  await truncate(file, sizeMiB * 1024 * 1024);
}

/**
 * Boots IMAGE under virtme-ng and runs COMMAND in the guest. vng's own exit status is not
 * trusted (it exits 255 when the guest command's status is lost on the console fallback): the
 * guest writes its status into the shared run directory, and the console is triaged.
 */
export async function bootAndRun(opts: BootOptions): Promise<BootOutcome> {
  mkdirSync(opts.runDir, { recursive: true });
  let probe = opts.accel ? { accel: opts.accel, reason: 'chosen by the caller' } : await probeAccel({ kernelImage: opts.image });
  let outcome = await bootOnce(opts, probe.accel, probe.reason);
  // A broken nested KVM shows up as a guest that never starts or dies with "KVM internal error":
  // that is the environment, so retry under TCG and remember the answer.
  if (probe.accel === 'kvm' && !opts.accel && outcome.bootToCommandMs === undefined && (outcome.status === 'hang' || outcome.kvmFailure === true)) {
    markKvmBroken(outcome.reason);
    probe = { accel: 'tcg', reason: `KVM failed a real boot (${outcome.reason})` };
    outcome = await bootOnce(opts, 'tcg', probe.reason);
  }
  return outcome;
}

async function bootOnce(opts: BootOptions, accel: 'kvm' | 'tcg', accelReason: string): Promise<BootOutcome> {
  const runDir = opts.runDir;
  const statusFile = path.join(runDir, 'exit-status');
  const entry = path.join(runDir, 'guest-entry.sh');
  const consoleLog = path.join(runDir, 'console.log');
  await rm(statusFile, { force: true });
  await writeFile(
    entry,
    [
      '#!/bin/bash',
      `echo "${GUEST_MARK} start $(cut -d' ' -f1 /proc/uptime)"`,
      // The heartbeat is what tells the host the guest still makes progress: stall reports a
      // stuck kernel keeps printing are console output, not progress.
      `( while sleep ${HEARTBEAT_S}; do echo "${GUEST_MARK} alive $(cut -d' ' -f1 /proc/uptime)"; done ) &`,
      'heartbeat=$!',
      `( ${opts.command} )`,
      'rc=$?',
      'kill $heartbeat 2>/dev/null',
      `echo "$rc" > ${shellQuote(statusFile)}`,
      'sync',
      `echo "${GUEST_MARK} exit $rc"`,
      // No ACPI in our small kernels, so power-off would only halt: reboot instead, and QEMU
      // (started with -no-reboot by virtme-ng) exits.
      'echo b > /proc/sysrq-trigger',
      '',
    ].join('\n'),
  );
  await chmod(entry, 0o755);

  // KHARNESS_VNG: another virtme-ng (or a missing one, for the fault matrix).
  const vng = process.env.KHARNESS_VNG ?? venvBin('vng');
  if (!existsSync(vng)) throw new InfraError(`virtme-ng is not installed (${vng} missing)`, 'run `bash scripts/setup.sh`');
  const args = ['--run', opts.image, '--force-9p', '--memory', opts.memory ?? '1G', '--cpus', String(opts.cpus ?? 2), '--rwdir', runDir, '--verbose'];
  if (accel === 'tcg') args.push('--disable-kvm');
  for (const d of opts.disks ?? []) args.push('--disk', d);
  for (const a of opts.append ?? []) args.push('--append', a);
  args.push('--exec', `bash ${entry}`);

  const timeoutS = opts.timeoutS ?? 600;
  const silenceS = opts.silenceS ?? 120;
  const started = Date.now();
  const out = createWriteStream(consoleLog);
  // No vng or QEMU outlives us: spawnTracked's group reaper kills the whole group (vng, its
  // shell, virtme-run and the QEMU virtme-run forks) the moment we die, SIGKILL included, and
  // timeout(1) kills it past the budget even if the reaper were gone too.
  const [wrapper, wrapperArgs] = withBackstop(timeoutS + BACKSTOP_MARGIN_S, BACKSTOP_KILL_S, vng, args);
  const child = spawnTracked(wrapper, wrapperArgs, {
    deathSignal: false,
    cwd: runDir,
    env: { PATH: `${path.dirname(vng)}:${process.env.PATH ?? ''}`, TERM: 'dumb' },
    stdin: 'ignore',
    all: true,
    buffer: false,
  });
  let lastOutput = Date.now();
  let lastHeartbeat = Date.now();
  let bootToCommandMs: number | undefined;
  let killedFor: string | undefined;
  let partial = '';
  const tailLines: string[] = [];
  child.all?.on('data', (chunk: Buffer) => {
    lastOutput = Date.now();
    out.write(chunk);
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes(GUEST_MARK)) lastHeartbeat = Date.now();
      if (bootToCommandMs === undefined && line.includes(`${GUEST_MARK} start`)) bootToCommandMs = Date.now() - started;
      tailLines.push(line);
      if (tailLines.length > 60) tailLines.shift();
      opts.onLine?.(line);
    }
  });
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (now - started > timeoutS * 1000) killedFor = `the guest outlived its ${timeoutS}s budget`;
    else if (now - lastOutput > silenceS * 1000) killedFor = `the guest printed nothing for ${silenceS}s`;
    else if (bootToCommandMs !== undefined && now - lastHeartbeat > silenceS * 1000) killedFor = `the guest's heartbeat stopped for ${silenceS}s (the kernel printed, userspace made no progress)`;
    if (killedFor) {
      clearInterval(watchdog);
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
  }, 1000);
  const result = await child;
  clearInterval(watchdog);
  // timeout(1) exits 124 (137 after its SIGKILL) when the backstop, not our watchdog, ended it.
  if (!killedFor && (result.exitCode === 124 || result.exitCode === 137) && Date.now() - started >= (timeoutS + BACKSTOP_MARGIN_S) * 1000) {
    killedFor = `the guest outlived its ${timeoutS}s budget (stopped by the timeout backstop)`;
  }
  out.end();
  await finished(out).catch(() => undefined);
  if (partial) tailLines.push(partial);

  const durationMs = Date.now() - started;
  // Both files are in the guest's writable share: read without following links, with caps.
  const consoleText = (await readUntrustedText(consoleLog, 64 * 1024 * 1024)) ?? '';
  const findings = triageConsole(consoleText);
  const consoleTail = tailLines.slice(-40).join('\n');
  const statusText = (await readUntrustedText(statusFile, 64))?.trim();
  const guestExit = statusText !== undefined && /^\d{1,3}$/.test(statusText) ? Number(statusText) : undefined;
  const base = { accel, accelReason, consoleLog, consoleTail, findings, durationMs, bootToCommandMs, vngExit: result.exitCode, guestExit };

  const panic = findings.find((f) => f.kind === 'Kernel panic');
  if (panic) return { ...base, status: 'panic', reason: panic.title };
  if (killedFor) return { ...base, status: 'hang', reason: killedFor };
  if (guestExit !== undefined && !Number.isNaN(guestExit)) return { ...base, status: 'completed', reason: `guest command exited ${guestExit}` };
  if (/KVM internal error|kvm run failed/i.test(consoleText)) return { ...base, status: 'error', reason: 'KVM internal error', kvmFailure: true };
  if (bootToCommandMs === undefined && !/Linux version/.test(consoleText)) {
    return { ...base, status: 'error', reason: `virtme-ng/QEMU did not start the kernel (vng exit ${result.exitCode}): ${tailLines.slice(-3).join(' | ')}` };
  }
  return { ...base, status: 'crashed', reason: `the guest stopped before its command finished (vng exit ${result.exitCode})` };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const guestSuiteScript = path.join(projectRoot, 'src', 'guest', 'suite.sh');
