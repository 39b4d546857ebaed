import { existsSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootAndRun, makeDiskImage } from '../../../src/boot/vm.js';

// A stand-in for vng: it never runs the guest entry (that would reboot a root host through
// sysrq), it plays the guest by FAKE_MODE, writing into the --rwdir share as a guest could.
const FAKE_VNG = `#!/bin/bash
# FAKE_MODE and FAKE_TARGET come in a file beside us: vng runs in the sandbox, which passes no
# environment of ours.
. "$(dirname "$0")/fake.env"
run=""; kvm=1
while [ $# -gt 0 ]; do
  case $1 in --rwdir) run=$2; shift ;; --disable-kvm) kvm=0 ;; esac
  shift
done
case $FAKE_MODE in
completed)
  echo "Linux version 6.12.0-fake"
  echo "kharness-guest: start 1.0"
  echo 0 > "$run/exit-status"
  echo "kharness-guest: exit 0"
  ;;
replace-console)
  echo "Linux version 6.12.0-fake"
  echo "kharness-guest: start 1.0"
  echo "Kernel panic - not syncing: fake zswap bug"
  sleep 0.3
  rm -f "$run/console.log"; echo "all clean" > "$run/console.log"
  exit 255
  ;;
alive)
  echo "Linux version 6.12.0-fake"
  echo "kharness-guest: start 1.0"
  while :; do echo "kharness-guest: alive 2.0"; sleep 0.5; done
  ;;
vng-dies)
  echo "Linux version 6.12.0-fake"
  exit 1
  ;;
oops-dies)
  echo "Linux version 6.12.0-fake"
  echo "Oops: 0000 [#1] PREEMPT SMP"
  exit 1
  ;;
kvm-then-tcg)
  if [ $kvm = 1 ]; then
    echo "Linux version 6.12.0-fake"
    echo "KVM internal error. Suberror: 1"
    # everything a guest can do to the share before the host retries in it
    rm -f "$run/console.log"; ln -s "$FAKE_TARGET" "$run/console.log"
    rm -f "$run/guest-entry.sh"; ln -s "$FAKE_TARGET" "$run/guest-entry.sh"
    ln -s "$FAKE_TARGET" "$run/exit-status"
    echo "guest was here" > "$run/guest.txt"
    echo 'TESTS="nothing"' > "$run/plan.env"
    rm -f "$run/swap0.img"; ln -s "$FAKE_TARGET" "$run/swap0.img"
    exit 1
  fi
  echo "Linux version 6.12.0-fake"
  echo "kharness-guest: start 1.0"
  echo "plan: $(cat "$run/plan.env")"
  [ -e "$run/guest.txt" ] && echo "stale guest file"
  echo 0 > "$run/exit-status"
  ;;
esac
exit 0
`;

const scratch = await mkdtemp(path.join(tmpdir(), 'kh-vm-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));
const vng = path.join(scratch, 'vng');
await writeFile(vng, FAKE_VNG);
await chmod(vng, 0o755);

const saved = { ...process.env };
let runDir: string;
let target: string;
beforeEach(async () => {
  runDir = await mkdtemp(path.join(scratch, 'run-'));
  target = path.join(scratch, `target-${path.basename(runDir)}`);
  await writeFile(target, 'host secret\n');
  process.env.KHARNESS_VNG = vng;
  process.env.KHARNESS_CACHE = path.join(scratch, `cache-${path.basename(runDir)}`);
  process.env.FAKE_TARGET = target;
});
afterEach(() => {
  for (const k of ['KHARNESS_VNG', 'KHARNESS_CACHE', 'FAKE_TARGET', 'FAKE_MODE', 'KHARNESS_ACCEL']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const boot = async (over: Partial<Parameters<typeof bootAndRun>[0]> = {}) => {
  await writeFile(path.join(scratch, 'fake.env'), `FAKE_MODE='${process.env.FAKE_MODE ?? ''}'\nFAKE_TARGET='${process.env.FAKE_TARGET ?? ''}'\n`);
  return bootRun(over);
};
const bootRun = (over: Partial<Parameters<typeof bootAndRun>[0]> = {}) => bootAndRun({ image: '/nonexistent/bzImage', runDir, command: 'true', accel: 'tcg', timeoutS: 60, silenceS: 60, ...over });

describe('bootAndRun in a run dir the guest can write', () => {
  it('never follows links planted at the names the host writes', async () => {
    process.env.FAKE_MODE = 'completed';
    for (const n of ['console.log', 'guest-entry.sh', 'exit-status']) await symlink(target, path.join(runDir, n));
    const o = await boot();
    expect(o.status).toBe('completed');
    expect(await readFile(target, 'utf8')).toBe('host secret\n');
    for (const n of ['console.log', 'guest-entry.sh']) expect((await lstat(path.join(runDir, n))).isFile()).toBe(true);
    expect(await readFile(path.join(runDir, 'console.log'), 'utf8')).toContain('kharness-guest: start');
  });

  it('makes disk images without following a link at the name', async () => {
    const img = path.join(runDir, 'swap0.img');
    await symlink(target, img);
    await makeDiskImage(img, 1);
    expect(await readFile(target, 'utf8')).toBe('host secret\n');
    const st = await lstat(img);
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(1024 * 1024);
  });

  it('triages what the host captured, not a console.log the guest replaced', async () => {
    process.env.FAKE_MODE = 'replace-console';
    const o = await boot();
    expect(o.status).toBe('panic');
    expect(o.reason).toMatch(/fake zswap bug/);
    expect(await readFile(path.join(runDir, 'console.log'), 'utf8')).toContain('Kernel panic - not syncing: fake zswap bug');
  });

  it('says the budget, not a hang, killed a guest whose heartbeat was alive', async () => {
    process.env.FAKE_MODE = 'alive';
    const o = await boot({ timeoutS: 2 });
    expect(o.status).toBe('hang');
    expect(o.killedBy).toBe('budget');
    expect(o.guestAlive).toBe(true);
    expect(o.budgetS).toBe(2);
  });

  it('calls vng dying after "Linux version" with no kernel message an error, with an oops a crash', async () => {
    process.env.FAKE_MODE = 'vng-dies';
    const o = await boot();
    expect(o.status).toBe('error');
    expect(o.reason).toMatch(/vng exit 1/);
    process.env.FAKE_MODE = 'oops-dies';
    const c = await boot();
    expect(c.status).toBe('crashed');
    expect(c.reason).toMatch(/Oops/);
  });

  it('retries a failed KVM boot under TCG in a run dir put back as the host left it, without marking KVM broken', async () => {
    process.env.FAKE_MODE = 'kvm-then-tcg';
    process.env.KHARNESS_ACCEL = 'kvm';
    await writeFile(path.join(runDir, 'plan.env'), 'TESTS="swap-cycle"\n');
    const disk = path.join(runDir, 'swap0.img');
    await makeDiskImage(disk, 2);
    const o = await boot({ accel: undefined, disks: [disk] });
    expect(o.accel).toBe('tcg');
    expect(o.status).toBe('completed');
    expect(o.accelReason).toMatch(/retried this boot under TCG/);
    expect(o.accelReason).toMatch(/not marked broken/);
    expect(await readFile(target, 'utf8')).toBe('host secret\n');
    const consoleText = await readFile(path.join(runDir, 'console.log'), 'utf8');
    expect(consoleText).toContain('plan: TESTS="swap-cycle"');
    expect(consoleText).not.toContain('stale guest file');
    expect(existsSync(path.join(runDir, 'guest.txt'))).toBe(false);
    const st = await lstat(disk);
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(2 * 1024 * 1024);
    expect((await lstat(path.join(runDir, 'guest-entry.sh'))).isFile()).toBe(true);
    expect(existsSync(path.join(process.env.KHARNESS_CACHE!, 'accel-probe.json'))).toBe(false);
  });
});
