import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { buildCommit, makeConfig, planForCommit } from '../build/index.js';
import { compilerArgs, makeEnv, makeJobs } from '../build/make.js';
import { DEFAULT_VARIANTS, runSuite } from '../guest/index.js';
import { setSandboxInfo, settleSandbox } from '../sandbox/index.js';
import { runLoreBench } from '../lore/bench.js';
import { startLoreServer } from '../lore/index.js';
import { runModelBench } from '../model/bench.js';
import { runReplayBench } from './replay.js';
import { runQueueBench, runRealQueueBench } from './queue.js';
import { cacheDir, defaultTreePath, patchesDir, projectRoot } from '../common/paths.js';
import { openTreeArg } from '../tree/managed.js';
import { git, openKernelTree, prepareWorktree, type KernelTree } from '../tree/worktree.js';
import type { RunReport } from '../report/types.js';

/**
 * `npm run bench`: figures, not pass/fail. Each section prints kharness beside the raw tool doing
 * the same work, with the ratio. `npm run bench -- build boot` runs only those sections.
 */
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const ratio = (ours: number, raw: number): string => `${(ours / raw).toFixed(3)}x${ours > raw ? ` (+${(((ours - raw) / raw) * 100).toFixed(1)}%)` : ''}`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** A throwaway work root, so the bench's builds start cold and leave the user's cache alone. */
async function benchTree(treeName?: string): Promise<{ tree: KernelTree; root: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'kharness-bench-'));
  const tree = await openTreeArg(treeName, root);
  return { tree, root };
}

/** A commit on `parent` that appends a comment to mm/zswap.c: the incremental step. */
async function touchZswap(tree: KernelTree, parent: string, n: number): Promise<string> {
  await prepareWorktree(tree, parent);
  const file = path.join(tree.worktree, 'mm', 'zswap.c');
  await appendFile(file, `/* kharness bench step ${n} */\n`);
  const wt = git(tree.worktree);
  await wt.raw(['add', '-f', 'mm/zswap.c']);
  // execa, not simple-git's env(): simple-git refuses an environment that carries EDITOR.
  const identity = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' };
  await execa('git', ['commit', '-q', '-m', `bench step ${n}`], { cwd: tree.worktree, env: identity });
  return (await wt.raw(['rev-parse', 'HEAD'])).trim();
}

async function rawMake(src: string, buildDir: string, targets: string[]): Promise<number> {
  const t = await timed(() => execa('make', [`-j${makeJobs()}`, `O=${buildDir}`, ...compilerArgs(), ...targets], { cwd: src, env: makeEnv(), reject: false, all: true }));
  if (t.value.exitCode !== 0) throw new Error(`raw make failed: ${String(t.value.all).slice(-2000)}`);
  return t.ms;
}

/**
 * Issue 3: the first build with the zswap fragment and an incremental rebuild after a change to
 * mm/zswap.c, kharness beside raw make on the same tree. ccache is off for both (a warm cache
 * would make whichever runs second look free); its effect is measured on its own at the end.
 */
async function benchBuild(treeName?: string): Promise<void> {
  out(`== build${treeName ? ` (${treeName})` : ''}: kharness build vs raw make (same tree, zswap config, -j${makeJobs()}, ccache off)`);
  process.env.KHARNESS_CCACHE = '0';
  const { tree, root } = await benchTree(treeName);
  try {
    const base = (await git(tree.repo).raw(['rev-parse', 'HEAD'])).trim();
    await prepareWorktree(tree, base);
    // the fragments as this tree's kernel version spells them (6.1: frontswap, zbud, INET)
    const plan = await planForCommit(tree, base, 'zswap');
    const rawDir = path.join(root, 'raw-build');
    // A first build needs a .config before make: the kernel's own tinyconfig, merge_config.sh and
    // olddefconfig, timed here as the raw side of the config kharness makes the same way.
    const rawConfig = await timed(() => makeConfig(tree.worktree, rawDir, plan, () => undefined));
    // The targets kharness asks make for: the image, and mm/zswap.i for the trace's struct offsets.
    const targets = ['bzImage', 'mm/zswap.i'];
    const rawFirst = await rawMake(tree.worktree, rawDir, targets);
    out(`raw config (tinyconfig, merge_config.sh, olddefconfig): ${s(rawConfig.ms)}`);
    out(`raw make bzImage mm/zswap.i, first build: ${s(rawFirst)}`);
    const first = await timed(() => buildCommit({ tree, commit: base, configName: 'zswap', logDir: path.join(root, 'logs'), reuse: false }));
    out(`kharness build, first build:    ${s(first.ms)} (make itself ${s(first.value.durationMs)}; includes the config, mm/zswap.i, test_zswap)`);
    out(`  ratio kharness/raw (config and make): ${ratio(first.ms, rawConfig.ms + rawFirst)}   target: within 5%, about 5 min or less (against make alone: ${ratio(first.ms, rawFirst)})`);
    const incr: { ours: number; raw: number; rawImageOnly: number; objects: number }[] = [];
    let parent = base;
    for (let i = 1; i <= 3; i++) {
      const commit = await touchZswap(tree, parent, i);
      parent = commit;
      // Raw make sees the same source change (the worktree is checked out at the new commit).
      const rawImageOnly = await rawMake(tree.worktree, rawDir, ['bzImage']);
      await execa('touch', [path.join(tree.worktree, 'mm', 'zswap.c')]);
      const raw = await rawMake(tree.worktree, rawDir, targets);
      const ours = await timed(() => buildCommit({ tree, commit, configName: 'zswap', previousCommit: base, logDir: path.join(root, 'logs'), reuse: false }));
      incr.push({ ours: ours.ms, raw, rawImageOnly, objects: ours.value.objectsBuilt });
    }
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    out(`raw make bzImage, incremental (mm/zswap.c changed), mean of 3:  ${s(avg(incr.map((x) => x.rawImageOnly)))}`);
    out(`raw make bzImage mm/zswap.i, incremental, mean of 3:           ${s(avg(incr.map((x) => x.raw)))}`);
    out(`kharness build, incremental, mean of 3:                        ${s(avg(incr.map((x) => x.ours)))} (${incr.map((x) => x.objects).join('/')} objects)`);
    out(`  ratio kharness/raw: ${ratio(avg(incr.map((x) => x.ours)), avg(incr.map((x) => x.raw)))}   target: well under 30 s, overhead within 5%`);
    // ccache on a cold build dir with a warm cache: what a re-run of an old base costs.
    process.env.KHARNESS_CCACHE = '1';
    const warmDir = path.join(root, 'ccache-build');
    await makeConfig(tree.worktree, warmDir, plan, () => undefined);
    await rawMake(tree.worktree, warmDir, ['bzImage']);
    await rm(warmDir, { recursive: true, force: true });
    await makeConfig(tree.worktree, warmDir, plan, () => undefined);
    const warm = await rawMake(tree.worktree, warmDir, ['bzImage']);
    out(`with ccache, a from-scratch build of a tree seen before: ${s(warm)}`);
  } finally {
    await execa('git', ['-C', tree.repo, 'worktree', 'remove', '--force', tree.worktree], { reject: false });
    await rm(root, { recursive: true, force: true });
  }
}

/** The newest cached build of the default tree's base, or a fresh one. */
async function baseKernel(configName = 'zswap'): Promise<{ image: string; systemMap: string; zswapPreprocessed?: string; selftest?: string; config?: string }> {
  const tree = await openKernelTree(defaultTreePath());
  const base = (await git(tree.repo).raw(['rev-parse', 'HEAD'])).trim();
  const r = await buildCommit({ tree, commit: base, configName, logDir: path.join(tree.workDir, 'logs') });
  if (!r.artifacts) throw new Error(`the base does not build: ${r.summary}`);
  return r.artifacts;
}

/**
 * Issue 4: boot-to-first-test and swap throughput under the suite, beside a raw QEMU boot of
 * the same kernel (to its root-mount panic: the kernel's own boot, no userspace).
 */
async function benchBoot(): Promise<void> {
  out('== boot: virtme-ng + guest suite vs raw qemu-system-x86_64');
  const kernel = await baseKernel();
  const raw = await timed(() =>
    execa('qemu-system-x86_64', ['-accel', 'tcg', '-m', '1G', '-smp', '2', '-nographic', '-nodefaults', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-kernel', kernel.image, '-append', 'console=ttyS0 panic=-1 root=/dev/kharness-none'], {
      reject: false,
      timeout: 120_000,
      all: true,
    }),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-boot-'));
  try {
    const suite = await timed(() => runSuite({ kernel, tests: ['swap-cycle'], outDir: dir, trace: false }));
    const boot = suite.value.boot;
    out(`raw qemu boot to the kernel's root-mount panic (TCG): ${s(raw.ms)}`);
    out(`vng boot to the first guest test (${boot.accel}):       ${s(boot.bootToCommandMs ?? NaN)}`);
    out(`  ratio: ${ratio(boot.bootToCommandMs ?? NaN, raw.ms)} (vng also mounts the host root over 9p, starts udev and the init)`);
    const t = suite.value.tests[0]!;
    const secs = (t.durationMs ?? 0) / 1000;
    const outPages = t.counters?.delta.zswpout ?? 0;
    const inPages = t.counters?.delta.zswpin ?? 0;
    out(`swap-cycle: ${outPages} pages out, ${inPages} in over ${secs.toFixed(1)} s: ${(outPages / secs).toFixed(0)} pages/s out, ${(inPages / secs).toFixed(0)} pages/s in (with page checks)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 11: the quick suite of one patch with the default variant set, per variant (its boot to
 * the first test, each test's time) and in all, beside a raw QEMU boot of the same kernel: the
 * part of each variant's cost that is booting at all.
 */
async function benchSuite(): Promise<void> {
  out(`== suite: the quick profile, every test, variants ${DEFAULT_VARIANTS.join(', ')} (one boot each) vs a raw qemu boot`);
  const kernel = await baseKernel();
  const raw = await timed(() =>
    execa('qemu-system-x86_64', ['-accel', 'tcg', '-m', '1G', '-smp', '2', '-nographic', '-nodefaults', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-kernel', kernel.image, '-append', 'console=ttyS0 panic=-1 root=/dev/kharness-none'], { reject: false, timeout: 120_000 }),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-suite-'));
  try {
    const suite = await timed(() => runSuite({ kernel, outDir: path.join(dir, 'run'), variants: [...DEFAULT_VARIANTS] }));
    out(`raw qemu boot to the kernel's root-mount panic (TCG): ${s(raw.ms)}`);
    for (const v of suite.value.variants ?? []) {
      const tests = suite.value.tests.filter((t) => v.tests.includes(t.name));
      const testMs = tests.reduce((sum, t) => sum + (t.durationMs ?? 0), 0);
      out(`variant ${v.name.padEnd(9)} ${v.verdict.padEnd(7)} VM ${s(v.durationMs)}, boot to first test ${s(v.bootToCommandMs ?? NaN)} (${ratio(v.bootToCommandMs ?? NaN, raw.ms)} raw), tests ${s(testMs)}: ${tests.map((t) => `${t.name} ${s(t.durationMs ?? NaN)}`).join(', ')}`);
    }
    const boots = (suite.value.variants ?? []).length;
    out(`whole suite, ${boots} boot(s): ${s(suite.ms)} wall (about 180 s is the target here); ${ratio(suite.ms, raw.ms * boots)} the raw boots alone`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 6: `kharness run` on the demo split by stage, beside the raw commands doing the same
 * work: git am of each patch, make of each step, and a vng boot running the same guest suite.
 */
async function benchRun(): Promise<void> {
  out('== run: kharness run on the demo series vs the raw commands');
  const server = await startLoreServer(patchesDir, 0);
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-run-'));
  // A cache of its own (same default tree, same KVM probe answer) so every build is cold, as on
  // a first run; ccache off so it cannot make the run look cheaper than the raw makes.
  const cache = path.join(dir, 'cache');
  await mkdir(cache, { recursive: true });
  await writeFile(path.join(cache, 'default-tree'), `${defaultTreePath()}\n`);
  const probe = path.join(cacheDir(), 'accel-probe.json');
  if (existsSync(probe)) await copyFile(probe, path.join(cache, 'accel-probe.json'));
  try {
    const url = `${server.url}/linux-mm/20241202140533.77310-1-marco.bianchi@example.com/`;
    const env = { ...process.env, KHARNESS_CACHE: cache, KHARNESS_CCACHE: '0' };
    const run = await timed(() => execa(process.execPath, [path.join(projectRoot, 'bin', 'kharness.js'), 'run', url, '--out', path.join(dir, 'report'), '--json'], { reject: false, maxBuffer: 1 << 28, env }));
    const report = JSON.parse(String(run.value.stdout)) as RunReport;
    const byStage: Record<string, number> = {};
    for (const p of report.patches) for (const [name, st] of Object.entries(p.stages)) byStage[name] = (byStage[name] ?? 0) + (st.durationMs ?? 0);
    out(`kharness run: ${s(run.ms)} wall; stage time: ${Object.entries(byStage).map(([k, v]) => `${k} ${s(v)}`).join(', ')}`);
    out(`  outside the stages: ${Object.entries(report.phases ?? {}).map(([k, v]) => `${k} ${s(v)}`).join(', ')}`);

    // The raw equivalent: git am into a scratch worktree, make per step, vng per step.
    const tree = await openKernelTree(defaultTreePath());
    const scratch = path.join(dir, 'am');
    await execa('git', ['-C', tree.repo, 'worktree', 'add', '--detach', scratch, report.base.commit]);
    const am = await timed(() => execa('git', ['am', '-q', path.join(dir, 'report', 'series.mbox')], { cwd: scratch, reject: false }));
    await execa('git', ['-C', tree.repo, 'worktree', 'remove', '--force', scratch], { reject: false });
    // Builds kharness reused (a step whose sources equal an earlier one) cost raw make nothing too.
    const made = report.patches.filter((p) => p.build && !p.build.cached);
    const makeMs = made.reduce((sum, p) => sum + (p.build?.durationMs ?? 0), 0);
    const qemuMs = report.patches.reduce((sum, p) => sum + (p.boot?.durationMs ?? 0), 0);
    const rawSum = am.ms + makeMs + qemuMs;
    out(`raw: git am ${s(am.ms)} + make ${s(makeMs)} (the same ${made.length} builds: base cold, then incremental) + vng/qemu ${s(qemuMs)} (the same guest runs) = ${s(rawSum)}`);
    out(`  ratio kharness/raw: ${ratio(run.ms, rawSum)} (the rest: fetch, worktree, checkpatch, trace replay, reports)`);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 16: the bundled wording series (1/5 and 3/5 comments, 2/5 Documentation, 4/5 test_zswap
 * only, 5/5 a code change) with reuse by content, then with --retest, in one run on the same warm
 * build cache: the builds are the same in both, so the difference is the guest runs reuse saved.
 */
async function benchReuse(): Promise<void> {
  out('== reuse: the wording series (default variant, every test) with reuse by content vs --retest, and the demo again with what its first run kept (same builds, warm cache)');
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-reuse-'));
  try {
    const mbox = path.join(patchesDir, 'zswap-wording.mbox');
    const args = (name: string, extra: string[]): string[] => [path.join(projectRoot, 'bin', 'kharness.js'), 'run', mbox, '--no-base-test', '--variants', 'default', '--out', path.join(dir, name), '--json', ...extra];
    const runOnce = async (name: string, extra: string[]): Promise<{ ms: number; report: RunReport }> => {
      const r = await timed(() => execa(process.execPath, args(name, extra), { reject: false, maxBuffer: 1 << 28 }));
      return { ms: r.ms, report: JSON.parse(String(r.value.stdout)) as RunReport };
    };
    // The builds first, so neither timed run pays for them.
    await runOnce('warm', ['--tests', 'swap-cycle', '--retest']);
    // --retest-kept: reuse within the run only, as a first run of the series has (not what an earlier bench kept)
    const reuse = await runOnce('reuse', ['--retest-kept']);
    const retest = await runOnce('retest', ['--retest']);
    // a step booted a guest when any of its tests is its own run
    const boots = (r: RunReport): number => r.patches.filter((p) => p.tests.some((t) => !t.reusedFrom)).length;
    const line = (name: string, x: { ms: number; report: RunReport }): string =>
      `${name}: ${s(x.ms)} wall, verdict ${x.report.verdict}; ${x.report.patches.map((p) => `${p.label} ${p.reusedFrom ? `reused ${p.reusedFrom}${p.tests.some((t) => !t.reusedFrom) ? ' (selftest rerun)' : ''}` : p.boot ? 'booted' : p.verdict}`).join(', ')}; guest runs ${boots(x.report)}`;
    out(line('with reuse', reuse));
    out(line('--retest  ', retest));
    out(`  ratio reuse/--retest: ${ratio(reuse.ms, retest.ms)} (target: under 0.5)`);
    // The demo series twice: every step tested afresh (and kept), then again as a repeat run is:
    // the base and 1/3 (passes) taken from what the first kept, 2/3 and 3/3 (failures) run again.
    const demo = (name: string, extra: string[]): Promise<{ ms: number; report: RunReport }> =>
      timed(() => execa(process.execPath, [path.join(projectRoot, 'bin', 'kharness.js'), 'run', path.join(patchesDir, 'zswap-lifetime-demo.mbox'), '--variants', 'default', '--out', path.join(dir, name), '--json', ...extra], { reject: false, maxBuffer: 1 << 28 })).then((r) => ({ ms: r.ms, report: JSON.parse(String(r.value.stdout)) as RunReport }));
    const fresh = await demo('demo-first', ['--retest-base', '--retest-kept']);
    const kept = await demo('demo-again', []);
    const how = (p: RunReport['patches'][number]): string => `${p.label} ${p.reusedFrom ? `kept (${p.reusedFrom})` : p.boot ? 'booted' : p.verdict}`;
    out(`demo, every step tested: ${s(fresh.ms)} wall; again: ${s(kept.ms)} (${kept.report.patches.map(how).join(', ')})`);
    out(`  ratio again/first: ${ratio(kept.ms, fresh.ms)} (target: under 0.4)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 11, item 3: the default variant's quick suite on the zswap-debug base beside the plain
 * base, per test: what KASAN and lockdep cost under TCG once the profile is scaled for them.
 * (The first run on a machine builds the debug base: minutes, reported as its own line.)
 */
async function benchDebug(): Promise<void> {
  out('== debug: the quick suite (default variant) on zswap-debug vs zswap, same base');
  const built = await timed(() => baseKernel('zswap-debug'));
  out(`zswap-debug base kernel ready in ${s(built.ms)} (a cached build is instant)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-debug-'));
  try {
    const plain = await timed(async () => runSuite({ kernel: await baseKernel(), outDir: path.join(dir, 'plain'), variants: ['default'] }));
    const debug = await timed(() => runSuite({ kernel: built.value, outDir: path.join(dir, 'debug'), variants: ['default'] }));
    for (const t of plain.value.tests) {
      const d = debug.value.tests.find((x) => x.name === t.name);
      out(`${t.name.padEnd(15)} zswap ${t.verdict} ${s(t.durationMs ?? NaN)}, zswap-debug ${d?.verdict ?? 'missing'} ${s(d?.durationMs ?? NaN)} (${ratio(d?.durationMs ?? NaN, t.durationMs ?? NaN)})`);
    }
    out(`boot to first test: zswap ${s(plain.value.boot.bootToCommandMs ?? NaN)}, zswap-debug ${s(debug.value.boot.bootToCommandMs ?? NaN)}`);
    out(`whole default-variant suite: zswap ${s(plain.ms)}, zswap-debug ${s(debug.ms)} (${ratio(debug.ms, plain.ms)}; its sizes and durations are halved for KASAN)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 13: what the bubblewrap sandbox costs: incremental builds after a change to mm/zswap.c and
 * a boot to the first guest test, each sandboxed and not, alternating so drift hits both alike.
 * Uses the default tree's own build dir (incremental from the cached base; a first run builds it).
 */
async function benchSandbox(): Promise<void> {
  out('== sandbox: bubblewrap vs --no-sandbox (incremental build, boot to the first test)');
  const modes = { sandboxed: await settleSandbox(false), unsandboxed: { mode: 'none', reason: 'bench' } as const };
  const kernel = await baseKernel();
  const tree = await openKernelTree(defaultTreePath());
  const base = (await git(tree.repo).raw(['rev-parse', 'HEAD'])).trim();
  const times: Record<keyof typeof modes, { build: number[]; boot: number[] }> = { sandboxed: { build: [], boot: [] }, unsandboxed: { build: [], boot: [] } };
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-bench-sandbox-'));
  try {
    let parent = base;
    for (let i = 0; i < 6; i++) {
      const mode = i % 2 === 0 ? 'sandboxed' : 'unsandboxed';
      setSandboxInfo(modes[mode]);
      parent = await touchZswap(tree, parent, 100 + i);
      const commit = parent;
      const b = await timed(() => buildCommit({ tree, commit, configName: 'zswap', logDir: path.join(dir, 'logs'), reuse: false }));
      times[mode].build.push(b.ms);
    }
    for (let i = 0; i < 4; i++) {
      const mode = i % 2 === 0 ? 'sandboxed' : 'unsandboxed';
      setSandboxInfo(modes[mode]);
      const run = await runSuite({ kernel, tests: ['swap-cycle'], outDir: path.join(dir, `boot-${i}`), trace: false, variants: ['default'] });
      times[mode].boot.push(run.boot.bootToCommandMs ?? NaN);
    }
  } finally {
    setSandboxInfo(modes.sandboxed);
    await rm(dir, { recursive: true, force: true });
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const what of ['build', 'boot'] as const) {
    const [sb, raw] = [mean(times.sandboxed[what]), mean(times.unsandboxed[what])];
    out(`${what === 'build' ? 'incremental build (mm/zswap.c changed), mean of 3' : 'boot to the first guest test, mean of 2'}: sandboxed ${s(sb)}, unsandboxed ${s(raw)}; ratio ${ratio(sb, raw)}   target: under 3% overhead`);
  }
}

const SECTIONS: Record<string, () => Promise<void>> = {
  lore: runLoreBench,
  model: runModelBench,
  // Issue 16: the model stage's trace decoding and replay, in calls/s.
  replay: runReplayBench,
  build: () => benchBuild(),
  // Issue 12: the 6.1 LTS tree's first build and incremental rebuild, beside raw make.
  lts: () => benchBuild('debian-6.1'),
  boot: benchBoot,
  suite: benchSuite,
  debug: benchDebug,
  sandbox: benchSandbox,
  run: benchRun,
  reuse: benchReuse,
  // Issue 15: the fleet queue's own overhead per job, and 1 against 2 workers.
  queue: runQueueBench,
  // Issue 15: four real series through real workers, 1 against 2, beside plain runs (about 15 min).
  'queue-real': runRealQueueBench,
};

export async function runBench(names: string[]): Promise<void> {
  const chosen = names.length ? names : Object.keys(SECTIONS);
  for (const name of chosen) {
    const fn = SECTIONS[name];
    if (!fn) throw new Error(`unknown bench section "${name}" (sections: ${Object.keys(SECTIONS).join(', ')})`);
    await fn();
    out();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(projectRoot, 'dist', 'bench', 'index.js')) {
  runBench(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}

