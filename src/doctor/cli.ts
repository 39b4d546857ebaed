import type { Command } from 'commander';
import { existsSync, readdirSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { probeSandbox } from '../sandbox/index.js';
import { execa } from 'execa';
import { action } from '../common/command.js';
import { ExitCode } from '../common/errors.js';
import { info, printJson } from '../common/output.js';
import { cacheDir, defaultTreePath, managedTrees, projectRoot, treeIsReady, venvBin } from '../common/paths.js';
import { probeAccel } from '../boot/kvm.js';

export interface DoctorCheck {
  part: string;
  ok: boolean;
  detail: string;
  /** a missing optional part does not fail doctor */
  optional?: boolean;
}

async function version(file: string, args: string[] = ['--version']): Promise<{ ok: boolean; detail: string }> {
  const r = await execa(file, args, { reject: false, all: true, timeout: 20_000 });
  const first = String(r.all ?? '').split('\n').find((l) => l.trim()) ?? '';
  return r.exitCode === 0 ? { ok: true, detail: first.trim() } : { ok: false, detail: r.failed && r.code === 'ENOENT' ? 'not installed' : first.trim() || `exit ${r.exitCode}` };
}

/** The newest kernel image kharness built, to check KVM with a real boot. */
function newestBuiltKernel(): string | undefined {
  const work = path.join(cacheDir(), 'work');
  if (!existsSync(work)) return undefined;
  let best: { p: string; t: number } | undefined;
  for (const tree of readdirSync(work)) {
    const art = path.join(work, tree, 'artifacts');
    if (!existsSync(art)) continue;
    for (const a of readdirSync(art)) {
      const img = path.join(art, a, 'bzImage');
      if (existsSync(img)) {
        const t = statSync(img).mtimeMs;
        if (!best || t > best.t) best = { p: img, t };
      }
    }
  }
  return best?.p;
}

export async function runDoctor(): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (part: string, r: { ok: boolean; detail: string }, optional = false): void => {
    checks.push({ part, ...r, optional });
  };
  add('node', { ok: Number(process.versions.node.split('.')[0]) >= 20, detail: `v${process.versions.node}` });
  add('npm packages', { ok: existsSync(path.join(projectRoot, 'node_modules', 'execa')), detail: path.join(projectRoot, 'node_modules') });
  add('kharness build (dist/)', { ok: existsSync(path.join(projectRoot, 'dist', 'cli.js')), detail: path.join(projectRoot, 'dist') });
  add('qemu-system-x86_64', await version('qemu-system-x86_64'));
  add('gcc', await version('gcc'));
  add('make', await version('make'));
  for (const tool of ['bc', 'bison', 'flex', 'cpio', 'zstd', 'perl', 'git']) add(tool, await version(tool, tool === 'bc' ? ['--version'] : ['--version']));
  add('ccache', await version('ccache'), true);
  // Locks (flock), no orphan VM or make after a kill -9 (setpriv --pdeathsig, timeout backstop).
  for (const tool of ['flock', 'setpriv', 'timeout']) add(tool, await version(tool));
  // The tree's Makefiles and scripts run in it; without it a run refuses unless --no-sandbox.
  const sandbox = await probeSandbox();
  add('sandbox (bubblewrap)', sandbox.ok ? { ok: true, detail: `${sandbox.version}: new user, PID and network namespaces work` } : { ok: false, detail: `${sandbox.reason}; runs refuse unless --no-sandbox` });
  add('prlimit', await version('prlimit'));
  const libelf = await execa('dpkg-query', ['-W', '-f=${Version}', 'libelf-dev'], { reject: false });
  add('libelf-dev', { ok: libelf.exitCode === 0, detail: libelf.exitCode === 0 ? String(libelf.stdout) : 'not installed' });
  const libssl = await execa('dpkg-query', ['-W', '-f=${Version}', 'libssl-dev'], { reject: false });
  add('libssl-dev', { ok: libssl.exitCode === 0, detail: libssl.exitCode === 0 ? String(libssl.stdout) : 'not installed' });
  for (const v of ['6.12', '6.1']) add(`linux-source-${v}`, { ok: existsSync(`/usr/src/linux-source-${v}.tar.xz`), detail: `/usr/src/linux-source-${v}.tar.xz` });
  const byDefault = defaultTreePath();
  const trees = managedTrees();
  if (!trees.some((t) => t.path === byDefault)) trees.unshift({ name: 'default', path: byDefault, ready: treeIsReady(byDefault) });
  for (const t of trees) {
    const head = await execa('git', ['-C', t.path, 'log', '-1', '--format=%h %s'], { reject: false });
    const dflt = t.path === byDefault ? ' (the default)' : '';
    add(`tree ${t.name}`, { ok: head.exitCode === 0 && t.ready, detail: head.exitCode === 0 ? `--tree ${t.name}${dflt}: ${t.path} at ${String(head.stdout)}` : `${t.path} missing: run bash scripts/setup.sh` });
  }
  add('virtme-ng (vng)', existsSync(venvBin('vng')) ? await version(venvBin('vng')) : { ok: false, detail: `${venvBin('vng')} missing` });
  add('b4 (benchmarks only)', existsSync(venvBin('b4')) ? await version(venvBin('b4')) : { ok: false, detail: 'not installed' }, true);
  const kernel = newestBuiltKernel();
  const accel = await probeAccel({ kernelImage: kernel });
  add('accelerator', { ok: true, detail: `${accel.accel.toUpperCase()} (${accel.reason})` });
  for (const c of accel.checks) add(`  ${c.name}`, { ok: c.ok, detail: c.detail }, true);
  const fs = statfsSync(existsSync(cacheDir()) ? cacheDir() : projectRoot);
  const freeGiB = (fs.bavail * fs.bsize) / 2 ** 30;
  add('cache', { ok: freeGiB > 5, detail: `${cacheDir()}: ${freeGiB.toFixed(1)} GiB free (a kernel build dir takes about 1 GiB)` });
  return checks;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('show each part kharness needs and whether it works, including whether KVM is really usable')
    .option('--json', 'print the checks as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const checks = await runDoctor();
        if (opts.json) printJson(checks);
        else for (const c of checks) info({}, `${c.ok ? ' ok ' : c.optional ? ' -- ' : 'FAIL'}  ${c.part.padEnd(24)} ${c.detail}`);
        return checks.some((c) => !c.ok && !c.optional) ? ExitCode.Infrastructure : ExitCode.Ok;
      }),
    );
}
