import type { Command } from 'commander';
import path from 'node:path';
import { NO_SANDBOX_HELP, settleSandbox } from '../sandbox/index.js';
import { action, positiveInt } from '../common/command.js';
import { ExitCode, InputError } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { cacheDir } from '../common/paths.js';
import { resolveKernel } from '../boot/kernel-path.js';
import { runStamp } from '../boot/cli.js';
import { ALL_TESTS, PROFILES } from './profiles.js';
import { DEFAULT_VARIANTS, VARIANTS, resolveTests, runSuite, variantsFor, type SuiteResult } from './index.js';
import { describeMissingProbes } from './trace-capture.js';
import { LIFETIME_PATHS, type LifetimePath } from '../model/replay.js';

export function printSuite(opts: { json?: boolean }, r: SuiteResult, indent = ''): void {
  info(opts, `${indent}boot: ${r.boot.status} (${r.boot.reason}) under ${r.boot.accel}; ${(r.boot.durationMs / 1000).toFixed(1)}s${r.boot.bootToCommandMs ? `, suite started after ${(r.boot.bootToCommandMs / 1000).toFixed(1)}s` : ''}`);
  for (const t of r.tests) {
    info(opts, `${indent}${t.name.padEnd(15)} ${t.verdict.padEnd(7)} ${t.summary}`);
    const ran = t.coverage.filter((c) => c.count > 0).map((c) => `${c.path}=${c.count}`);
    if (ran.length) info(opts, `${indent}    paths (${t.coverage[0]?.source}): ${ran.join(' ')}`);
    if (t.gaps.length) info(opts, `${indent}    never ran: ${t.gaps.map((g) => LIFETIME_PATHS[g as LifetimePath] ?? g).join(', ')}`);
    for (const check of [['trace', t.conformance], ['data', t.dataOracle], ['counters', t.counterOracle]] as const) {
      info(opts, `${indent}    ${check[0]}: ${check[1].verdict} — ${check[1].reason}`);
    }
    for (const e of t.evidence.slice(0, 6)) info(opts, `${indent}    ${e}`);
  }
  if (r.coverage) info(opts, `${indent}suite paths: ${r.coverage.filter((c) => c.count > 0).map((c) => `${c.path}=${c.count}`).join(' ')}`);
  if (r.gaps.length) info(opts, `${indent}never ran in any test: ${r.gaps.join('; ')}`);
  for (const f of r.findings) info(opts, `${indent}kernel: ${f.kind}: ${f.title}${f.test ? ` (during ${f.test})` : ''} ${f.signature}`);
  if (r.probes?.missing.length) info(opts, `${indent}probes not placed: ${describeMissingProbes(r.probes.missing)}`);
}

export function registerGuestCommands(program: Command): void {
  program
    .command('test')
    .description('boot a kernel and run the zswap guest suite in it, judged by the reference model')
    .argument('<kernel>', 'a bzImage, a build directory, or a kharness artifact folder')
    .option('--tests <list>', `comma-separated: ${ALL_TESTS.join(',')}`)
    .option('--variants <list>', `boot/runtime variants, each its own boot: ${Object.keys(VARIANTS).join(',')} (default: ${DEFAULT_VARIANTS.join(',')})`)
    .option('--profile <name>', `durations and sizes: ${Object.keys(PROFILES).join(', ')}`, 'quick')
    .option('--duration <s>', "the race test's duration in seconds", positiveInt('--duration'))
    .option('--no-trace', 'do not trace zswap (no model replay or counter oracle)')
    .option('--swap <kind>', 'swap devices for every variant: disk (virtio disk images made per run) or zram (default: disk, zram in variant zram)')
    .option('--timeout <s>', "whole-boot budget in seconds (default: the profile's); past it the guest is a hang", positiveInt('--timeout'))
    .option('--silence <s>', "seconds of console silence before the guest counts as hung (default: the profile's)", positiveInt('--silence'))
    .option('--accel <kvm|tcg>', 'force an accelerator (default: probe, cached)')
    .option('--out <dir>', 'run directory (results, traces, console log)')
    .option('--no-sandbox', NO_SANDBOX_HELP)
    .option('--json', 'print the result as JSON')
    .action(
      action(async (target: string, opts: { tests?: string; variants?: string; profile: string; duration?: number; trace: boolean; swap?: string; timeout?: number; silence?: number; accel?: string; out?: string; json?: boolean; sandbox: boolean }) => {
        await settleSandbox(!opts.sandbox);
        const kernel = resolveKernel(target);
        const tests = resolveTests(opts.tests);
        const variants = variantsFor(opts.variants, tests);
        if (opts.swap !== undefined && opts.swap !== 'disk' && opts.swap !== 'zram') throw new InputError(`--swap must be disk or zram, not "${opts.swap}"`);
        const outDir = path.resolve(opts.out ?? path.join(cacheDir(), 'runs', `test-${runStamp()}`));
        info(opts, `testing ${kernel.image}: ${tests.join(', ')} (${opts.profile}; variants ${variants.join(', ')}), run dir ${outDir}`);
        const result = await runSuite({
          kernel,
          tests,
          variants,
          profile: opts.profile,
          durationS: opts.duration,
          outDir,
          trace: opts.trace,
          budgetS: opts.timeout,
          swap: opts.swap,
          silenceS: opts.silence,
          accel: opts.accel === 'kvm' || opts.accel === 'tcg' ? opts.accel : undefined,
          onLine: opts.json ? undefined : (l) => {
            if (l.includes('kharness-guest:') && !l.includes(' alive ')) process.stderr.write(`  | ${l.replace(/^.*kharness-guest: /, '')}\n`);
          },
        });
        if (opts.json) printJson(result);
        else printSuite(opts, result);
        if (result.verdict === 'error') return ExitCode.Infrastructure;
        return result.verdict === 'fail' ? ExitCode.PatchFailed : ExitCode.Ok;
      }),
    );
}
