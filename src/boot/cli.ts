import type { Command } from 'commander';
import path from 'node:path';
import { NO_SANDBOX_HELP, settleSandbox } from '../sandbox/index.js';
import { action, positiveInt } from '../common/command.js';
import { ExitCode } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { cacheDir } from '../common/paths.js';
import { resolveKernel } from './kernel-path.js';
import { mkdirSync } from 'node:fs';
import { bootAndRun, makeDiskImage } from './vm.js';

export function runStamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

export function registerBootCommands(program: Command): void {
  program
    .command('boot')
    .description('boot a kernel under virtme-ng (KVM when it really works, else TCG) and run a command in it')
    .argument('<kernel>', 'a bzImage, a build directory, or a kharness artifact folder')
    .option('--exec <cmd>', 'shell command to run in the guest', 'uname -a; cat /proc/swaps; grep -r . /sys/module/zswap/parameters')
    .option('--memory <m>', 'guest memory', '1G')
    .option('--cpus <n>', 'guest CPUs', positiveInt('--cpus'), 2)
    .option('--timeout <s>', 'whole-boot budget in seconds (then: hang)', positiveInt('--timeout'), 300)
    .option('--silence <s>', 'seconds without console output before the guest counts as hung', positiveInt('--silence'), 60)
    .option('--accel <kvm|tcg>', 'force an accelerator (default: probe, cached)')
    .option('--swap-disk <mib>', 'attach an empty disk image of this size (/dev/vda in the guest), made per run', positiveInt('--swap-disk'))
    .option('--out <dir>', 'run directory (console log, exit status)')
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--json', 'print the outcome as JSON')
    .action(
      action(async (target: string, opts: { exec: string; memory: string; cpus: number; timeout: number; silence: number; accel?: string; swapDisk?: number; out?: string; json?: boolean; sandbox: boolean }) => {
        await settleSandbox(!opts.sandbox);
        const kernel = resolveKernel(target);
        const runDir = path.resolve(opts.out ?? path.join(cacheDir(), 'runs', `boot-${runStamp()}`));
        const accel = opts.accel === 'kvm' || opts.accel === 'tcg' ? opts.accel : undefined;
        info(opts, `booting ${kernel.image} (run dir ${runDir})`);
        const disks: string[] = [];
        if (opts.swapDisk) {
          mkdirSync(runDir, { recursive: true });
          disks.push(path.join(runDir, 'disk0.img'));
          await makeDiskImage(disks[0]!, opts.swapDisk);
        }
        const outcome = await bootAndRun({
          image: kernel.image,
          runDir,
          command: opts.exec,
          memory: opts.memory,
          cpus: opts.cpus,
          timeoutS: opts.timeout,
          silenceS: opts.silence,
          accel,
          disks,
          onLine: opts.json ? undefined : (l) => process.stderr.write(`  | ${l}\n`),
        });
        if (opts.json) printJson(outcome);
        else {
          info(opts, `${outcome.status}: ${outcome.reason} [${outcome.accel}: ${outcome.accelReason}]`);
          for (const f of outcome.findings) info(opts, `  ${f.kind}: ${f.title} — ${f.signature}`);
          info(opts, `console: ${outcome.consoleLog}`);
        }
        if (outcome.status === 'error') return ExitCode.Infrastructure;
        if (outcome.status !== 'completed' || outcome.findings.length > 0 || outcome.guestExit !== 0) return ExitCode.PatchFailed;
        return ExitCode.Ok;
      }),
    );
}
