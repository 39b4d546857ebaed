import { constants, existsSync, mkdirSync, type Stats } from 'node:fs';
import { lstat, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { uniqueTmpPath } from '../common/atomic.js';
import { InfraError } from '../common/errors.js';
import { readUntrustedText } from '../common/untrusted-file.js';
import { spawnTracked, withBackstop } from '../common/exec.js';
import { projectRoot, venvBin } from '../common/paths.js';
import { wrapCommand, type SandboxSpec } from '../sandbox/index.js';
import { probeAccel } from './kvm.js';
import { triageConsole, type Finding } from './triage.js';
import { parseMark, type TestMark } from '../guest/console-marks.js';

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
  /**
   * host folders the guest may read (through the 9p root) beyond the system folders, the
   * kernel's own folder, virtme-ng and the run dir: QEMU and virtme-ng run in the sandbox, so
   * the guest's root filesystem is the sandbox's view of the host, not the host.
   */
  readable?: string[];
}

export type BootStatus = 'completed' | 'panic' | 'hang' | 'crashed' | 'error';

/**
 * Why the host ended the VM (status `hang`): `silence`, nothing on the console for silenceS;
 * `heartbeat`, the console went on but the guest's heartbeat stopped; `budget`, the whole run
 * outlived timeoutS; `backstop`, timeout(1) ended it because our own watchdog did not.
 */
export type KilledBy = 'budget' | 'silence' | 'heartbeat' | 'backstop';

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
  /** the signal that ended vng (or timeout(1) around it), when one did */
  vngSignal?: string;
  /**
   * The output says "KVM internal error": QEMU's, or text the guest printed (with --verbose vng
   * sends the kernel console and QEMU's own messages to the same stderr: they cannot be told
   * apart). A boot that never reached the command is retried under TCG; KVM is not marked broken.
   */
  kvmFailure?: boolean;
  /** set when the host's watchdog (or the timeout backstop) ended the VM */
  killedBy?: KilledBy;
  /** at the kill: the guest's heartbeat had been seen within the last few periods (userspace still made progress) */
  guestAlive?: boolean;
  /** the whole-run budget the VM ran under, in seconds */
  budgetS?: number;
  /**
   * The suite's test marks (console-marks.ts) as the host saw them, in ms since vng started: a
   * test's duration when the guest could not report one (a panic, a hang). The first
   * MAX_TEST_MARKS only: the console is the guest's.
   */
  testMarksMs?: TestMarkTime[];
}

export interface TestMarkTime {
  test: string;
  state: TestMark['state'];
  atMs: number;
}

const MAX_TEST_MARKS = 1000;

export const GUEST_MARK = 'kharness-guest:';
const HEARTBEAT_S = 5;
/** timeout(1)'s budget beyond the watchdog's: only for when our own watchdog could not act. */
const BACKSTOP_MARGIN_S = 60;
const BACKSTOP_KILL_S = 10;
/** A heartbeat seen within this many periods means the guest's userspace was still running. */
const ALIVE_PERIODS = 3;
/** The console the host keeps (and triages): far above any real boot's. */
export const CONSOLE_MAX_BYTES = 64 * 1024 * 1024;
/** Host inputs of the run dir kept in memory so a retry can restore them (per file, in all). */
const SNAPSHOT_FILE_MAX = 16 * 1024 * 1024;
const SNAPSHOT_TOTAL_MAX = 128 * 1024 * 1024;

/** O_CREAT|O_EXCL never follows a link at the name (it fails on one); O_NOFOLLOW says so twice. */
const EXCLUSIVE = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW;

/**
 * Creates FILE afresh in a folder the guest can write: whatever is at the name (a link the guest
 * planted, a folder) is removed first, never followed (rm unlinks a link itself), and the new
 * file is created exclusively, so a link planted in between makes it fail instead of being followed.
 */
export async function createExclusive(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await rm(file, { force: true, recursive: true });
  const fh = await open(file, EXCLUSIVE, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/** Makes an empty (sparse) disk image for swap, created exclusively (see createExclusive). */
export async function makeDiskImage(file: string, sizeMiB: number): Promise<void> {
  await makeDiskImageBytes(file, sizeMiB * 1024 * 1024);
}

async function makeDiskImageBytes(file: string, bytes: number): Promise<void> {
  await rm(file, { force: true, recursive: true });
  const fh = await open(file, EXCLUSIVE, 0o644);
  try {
    await fh.truncate(bytes);
  } finally {
    await fh.close();
  }
}

/** Replaces FILE with DATA by a fresh exclusive name and a rename: whatever the guest left at FILE is replaced, never followed. */
async function publishHostFile(file: string, data: Buffer): Promise<void> {
  const tmp = uniqueTmpPath(file);
  const fh = await open(tmp, EXCLUSIVE, 0o644);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    // rename cannot replace a folder the guest put there: remove it (without following anything) and retry.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') {
      await rm(tmp, { force: true });
      throw err;
    }
    await rm(file, { recursive: true, force: true });
    await rename(tmp, file);
  }
}

/** The files bootOnce itself writes into the run dir (removed and recreated exclusively each boot). */
const HOST_BOOT_FILES = ['console.log', 'guest-entry.sh', 'exit-status'];

interface RunDirSnapshot {
  entries: Map<string, { st: Stats; data?: Buffer }>;
  disks: { file: string; bytes: number }[];
}

const sameEntry = (a: Stats, b: Stats): boolean =>
  a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.mode === b.mode && a.isFile() === b.isFile() && a.isDirectory() === b.isDirectory();

/** What the host put into the run dir before the guest first ran: restored before a retry. */
export async function snapshotRunDir(runDir: string, disks: readonly string[]): Promise<RunDirSnapshot> {
  const diskSet = new Set(disks.map((d) => path.resolve(d)));
  const entries = new Map<string, { st: Stats; data?: Buffer }>();
  let kept = 0;
  for (const name of await readdir(runDir)) {
    const file = path.join(runDir, name);
    if (HOST_BOOT_FILES.includes(name) || diskSet.has(path.resolve(file))) continue;
    const st = await lstat(file);
    let data: Buffer | undefined;
    if (st.isFile() && st.size <= SNAPSHOT_FILE_MAX && kept + st.size <= SNAPSHOT_TOTAL_MAX) {
      data = await readFile(file);
      kept += data.length;
    }
    entries.set(name, { st, data });
  }
  const sized: RunDirSnapshot['disks'] = [];
  for (const d of disks) {
    const st = await lstat(d);
    if (!st.isFile()) throw new InfraError(`swap disk image ${d} is not a regular file`);
    sized.push({ file: d, bytes: st.size });
  }
  return { entries, disks: sized };
}

/**
 * Puts the run dir back as the host left it before the first boot, for a retry: everything that
 * appeared since (the guest's files, links it planted, our own boot files) is removed without
 * following links, a host input the guest changed is recreated from the snapshot, and the disk
 * images are made afresh. Returns why this is impossible, when a changed input was not kept.
 */
export async function resetRunDir(runDir: string, snap: RunDirSnapshot): Promise<string | undefined> {
  const diskSet = new Set(snap.disks.map((d) => path.resolve(d.file)));
  for (const name of await readdir(runDir)) {
    const file = path.join(runDir, name);
    if (diskSet.has(path.resolve(file))) continue;
    const was = snap.entries.get(name);
    if (!was) {
      await rm(file, { recursive: true, force: true });
      continue;
    }
    const st = await lstat(file);
    if (sameEntry(st, was.st)) continue;
    if (!was.data) return `${name} changed while the guest ran and was too large to keep a copy of`;
    await createExclusive(file, was.data, was.st.mode & 0o7777);
  }
  for (const [name, was] of snap.entries) {
    const file = path.join(runDir, name);
    if (await lstat(file).catch(() => undefined)) continue;
    if (!was.data) return `${name} was removed while the guest ran and was too large to keep a copy of`;
    await createExclusive(file, was.data, was.st.mode & 0o7777);
  }
  for (const d of snap.disks) await makeDiskImageBytes(d.file, d.bytes);
  return undefined;
}

/**
 * Boots IMAGE under virtme-ng and runs COMMAND in the guest. vng's own exit status is not
 * trusted (it exits 255 when the guest command's status is lost on the console fallback): the
 * guest writes its status into the shared run directory, and the console is triaged.
 */
export async function bootAndRun(opts: BootOptions): Promise<BootOutcome> {
  mkdirSync(opts.runDir, { recursive: true });
  const probe = opts.accel ? { accel: opts.accel, reason: 'chosen by the caller' } : await probeAccel({ kernelImage: opts.image });
  const snapshot = probe.accel === 'kvm' && !opts.accel ? await snapshotRunDir(opts.runDir, opts.disks ?? []) : undefined;
  const outcome = await bootOnce(opts, probe.accel, probe.reason);
  // A broken nested KVM shows up as a guest that never starts or dies with "KVM internal error".
  // Neither can be told from the kernel under test (vng mixes the kernel console with QEMU's own
  // messages, and a patched kernel can hang early or print anything), so this boot alone is
  // retried under TCG, and KVM is not marked broken for the machine because of one kernel.
  if (snapshot && outcome.bootToCommandMs === undefined && (outcome.status === 'hang' || outcome.kvmFailure === true)) {
    const first = `${outcome.status}: ${outcome.reason}`;
    // The first guest could write the whole run dir: put it back as the host left it.
    const unsafe = await resetRunDir(opts.runDir, snapshot);
    if (unsafe) {
      return { ...outcome, status: 'error', reason: `KVM failed this boot (${first}) and the run dir cannot be reset for a TCG retry: ${unsafe}`, killedBy: undefined };
    }
    return bootOnce(opts, 'tcg', `KVM failed this boot (${first}); retried this boot under TCG (KVM is not marked broken: the failure cannot be told apart from the kernel's own)`);
  }
  return outcome;
}

/**
 * The sandbox virtme-ng and QEMU run in. The guest kernel is the patched one, and virtme-ng
 * gives it the host's root over 9p: in the sandbox that root holds only the system folders,
 * the kernel's folder, virtme-ng and what the caller names, and only the run dir is writable.
 */
function guestSandbox(opts: BootOptions, vng: string, accel: 'kvm' | 'tcg', timeoutS: number): SandboxSpec {
  const cpus = opts.cpus ?? 2;
  return {
    cwd: opts.runDir,
    writable: [opts.runDir],
    // virtme-ng's venv (its python and virtme-ng-init), or the folder of another vng (KHARNESS_VNG)
    readable: [path.dirname(path.resolve(opts.image)), vng === venvBin('vng') ? path.join(projectRoot, '.venv') : path.dirname(vng), ...(opts.readable ?? [])],
    devices: accel === 'kvm' && existsSync('/dev/kvm') ? ['/dev/kvm'] : [],
    // The guest's root is the sandbox's: virtme-ng-init mounts over these and writes its script in /run/tmp.
    dirs: ['/var', '/var/log', '/var/lib', '/var/cache', '/sys', '/mnt', '/srv', '/home'],
    tmpfs: ['/run'],
    env: { PATH: `${path.dirname(vng)}:${process.env.PATH ?? ''}`, TERM: 'dumb' },
    // QEMU reserves its guest's RAM and TCG's code buffer as address space; its CPU time is
    // every vCPU thread's for the whole budget.
    limits: { addressSpace: 'unlimited', cpuSeconds: (timeoutS + BACKSTOP_MARGIN_S + BACKSTOP_KILL_S + 60) * (cpus + 1) },
  };
}

async function bootOnce(opts: BootOptions, accel: 'kvm' | 'tcg', accelReason: string): Promise<BootOutcome> {
  const runDir = opts.runDir;
  const statusFile = path.join(runDir, 'exit-status');
  const entry = path.join(runDir, 'guest-entry.sh');
  const consoleLog = path.join(runDir, 'console.log');
  // Removed, never followed (a link at the name goes, not its target).
  await rm(statusFile, { force: true, recursive: true });
  await createExclusive(
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
    0o755,
  );

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
  // The live copy, for watching a run: the guest can replace it by name while it runs, so what
  // the host triages is its own in-memory capture, published over this name at the end.
  await rm(consoleLog, { force: true, recursive: true });
  const consoleHandle = await open(consoleLog, EXCLUSIVE, 0o644);
  const out = consoleHandle.createWriteStream();
  const captured: Buffer[] = [];
  let capturedBytes = 0;
  let consoleBytes = 0;
  // No vng or QEMU outlives us: spawnTracked's group reaper kills the whole group (vng, its
  // shell, virtme-run and the QEMU virtme-run forks) the moment we die, SIGKILL included, and
  // timeout(1) kills it past the budget even if the reaper were gone too.
  const [wrapper, wrapperArgs] = withBackstop(timeoutS + BACKSTOP_MARGIN_S, BACKSTOP_KILL_S, vng, args);
  const sandboxed = wrapCommand(wrapper, wrapperArgs, guestSandbox(opts, vng, accel, timeoutS));
  const child = spawnTracked(sandboxed.file, sandboxed.args, {
    deathSignal: false,
    cwd: runDir,
    env: sandboxed.env,
    extendEnv: sandboxed.extendEnv,
    stdin: 'ignore',
    all: true,
    buffer: false,
  });
  let lastOutput = Date.now();
  let lastHeartbeat = Date.now();
  let bootToCommandMs: number | undefined;
  let killedFor: string | undefined;
  let killedBy: KilledBy | undefined;
  let guestAlive: boolean | undefined;
  let partial = '';
  const tailLines: string[] = [];
  const testMarks: TestMarkTime[] = [];
  const heartbeatAlive = (now: number): boolean => bootToCommandMs !== undefined && now - lastHeartbeat <= ALIVE_PERIODS * HEARTBEAT_S * 1000;
  child.all?.on('data', (chunk: Buffer) => {
    lastOutput = Date.now();
    out.write(chunk);
    consoleBytes += chunk.length;
    if (capturedBytes < CONSOLE_MAX_BYTES) {
      const part = chunk.subarray(0, CONSOLE_MAX_BYTES - capturedBytes);
      captured.push(part);
      capturedBytes += part.length;
    }
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes(GUEST_MARK)) {
        lastHeartbeat = Date.now();
        const mark = testMarks.length < MAX_TEST_MARKS ? parseMark(line) : undefined;
        if (mark) testMarks.push({ test: mark.test, state: mark.state, atMs: lastHeartbeat - started });
      }
      if (bootToCommandMs === undefined && line.includes(`${GUEST_MARK} start`)) bootToCommandMs = Date.now() - started;
      tailLines.push(line);
      if (tailLines.length > 60) tailLines.shift();
      opts.onLine?.(line);
    }
  });
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (now - started > timeoutS * 1000) {
      killedBy = 'budget';
      killedFor = `the guest outlived its ${timeoutS}s budget`;
    } else if (now - lastOutput > silenceS * 1000) {
      killedBy = 'silence';
      killedFor = `the guest printed nothing for ${silenceS}s`;
    } else if (bootToCommandMs !== undefined && now - lastHeartbeat > silenceS * 1000) {
      killedBy = 'heartbeat';
      killedFor = `the guest's heartbeat stopped for ${silenceS}s (the kernel printed, userspace made no progress)`;
    }
    if (killedFor) {
      guestAlive = heartbeatAlive(now);
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
    killedBy = 'backstop';
    killedFor = `the guest outlived its ${timeoutS}s budget (stopped by the timeout backstop)`;
    guestAlive = heartbeatAlive(Date.now());
  }
  out.end();
  await finished(out).catch(() => undefined);
  await consoleHandle.close().catch(() => undefined);
  if (partial) tailLines.push(partial);

  const durationMs = Date.now() - started;
  let consoleBuf = Buffer.concat(captured);
  if (consoleBytes > capturedBytes) consoleBuf = Buffer.concat([consoleBuf, Buffer.from(`\n[kharness: console cut at ${CONSOLE_MAX_BYTES} of ${consoleBytes} bytes]\n`)]);
  // console.log is now exactly what the host saw, whatever the guest did to the name meanwhile.
  await publishHostFile(consoleLog, consoleBuf);
  const consoleText = consoleBuf.toString('utf8');
  const findings = triageConsole(consoleText);
  const consoleTail = tailLines.slice(-40).join('\n');
  // In the guest's writable share: read without following links, with a cap.
  const statusText = (await readUntrustedText(statusFile, 64))?.trim();
  const guestExit = statusText !== undefined && /^\d{1,3}$/.test(statusText) ? Number(statusText) : undefined;
  const vngSignal = typeof result.signal === 'string' ? result.signal : undefined;
  const base = { accel, accelReason, consoleLog, consoleTail, findings, durationMs, bootToCommandMs, testMarksMs: testMarks, vngExit: result.exitCode, vngSignal, guestExit, budgetS: timeoutS };
  const vngEnd = `vng ${vngSignal ? `killed by ${vngSignal}` : `exit ${result.exitCode ?? '?'}`}`;

  const panic = findings.find((f) => f.kind === 'Kernel panic');
  if (panic) return { ...base, status: 'panic', reason: panic.title };
  if (killedFor) return { ...base, status: 'hang', reason: killedFor, killedBy, guestAlive };
  if (guestExit !== undefined) return { ...base, status: 'completed', reason: `guest command exited ${guestExit}` };
  // Kernel evidence wins over the text: a kernel that printed an oops is judged on it.
  if (findings.length === 0 && /KVM internal error|kvm run failed/i.test(consoleText)) return { ...base, status: 'error', reason: `KVM internal error (${vngEnd})`, kvmFailure: true };
  if (bootToCommandMs === undefined && !/Linux version/.test(consoleText)) {
    return { ...base, status: 'error', reason: `virtme-ng/QEMU did not start the kernel (${vngEnd}): ${tailLines.slice(-3).join(' | ')}` };
  }
  // A VM that stopped is evidence against the kernel only when the kernel said something went wrong.
  if (findings.length === 0) {
    const when = bootToCommandMs === undefined ? 'during the boot' : 'before the guest command finished';
    if (bootToCommandMs === undefined) return { ...base, status: 'error', reason: `virtme-ng/QEMU stopped ${when} with no kernel message (${vngEnd}): not evidence against the kernel` };
    return { ...base, status: 'crashed', reason: `the guest stopped ${when} with no kernel message (${vngEnd})` };
  }
  return { ...base, status: 'crashed', reason: `the guest stopped ${bootToCommandMs === undefined ? 'during the boot' : 'before its command finished'} after the kernel reported ${findings[0]!.title} (${vngEnd})` };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const guestSuiteScript = path.join(projectRoot, 'src', 'guest', 'suite.sh');
