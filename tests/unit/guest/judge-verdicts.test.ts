import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triageConsole } from '../../../src/boot/triage.js';
import type { BootOutcome } from '../../../src/boot/vm.js';
import { coverageFromCounters, countersWentBackwards, durationWithoutRecord, judgeRunDir, judgeTest, workloadCouldNotRun, type JudgeInput } from '../../../src/guest/judge.js';
import { SuiteStatusSchema, type TestResultRecord } from '../../../src/guest/protocol.js';

const HUNG_TASK = triageConsole('[  500.1] INFO: task zswap-stress:245 blocked for more than 122 seconds.\n');
const START = (t: string): string => `kharness-guest: {"ev":"test","test":"${t}","state":"start"}\n`;

let dir: string;
let boot: BootOutcome;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kh-verdicts-'));
  await writeFile(path.join(dir, 'console.log'), START('writeback'));
  boot = { status: 'completed', reason: 'guest command exited 0', accel: 'tcg', accelReason: 'test', consoleLog: path.join(dir, 'console.log'), consoleTail: '', findings: [], durationMs: 1 };
});
afterEach(async () => rm(dir, { recursive: true, force: true }));
const input = (over: Partial<JudgeInput>): JudgeInput => ({ name: 'writeback', runDir: dir, boot, findings: [], ...over });
const rec = (over: Partial<TestResultRecord> = {}): TestResultRecord => ({ test: 'writeback', status: 'pass', duration_ms: 10, counters_before: { zswpout: 10 }, counters_after: { zswpout: 500 }, rc: 0, ...over });

describe('a VM the host ended for its budget', () => {
  const budgetKill = (): BootOutcome => ({ ...boot, status: 'hang', reason: 'the guest outlived its 900s budget', killedBy: 'budget', guestAlive: true, budgetS: 900, bootToCommandMs: 5000 });

  it('is our error while the guest heartbeat was alive and nothing says the kernel hung', async () => {
    const j = await judgeTest(input({ boot: budgetKill() }));
    expect(j.verdict).toBe('error');
    expect(j.failure).toBeUndefined();
    expect(j.summary).toBe('did not finish: the run outlived its 900s budget while the guest was still alive (ours)');
  });

  it('is a hang with a hung-task report on the console, or when the heartbeat had stopped', async () => {
    const withHang = await judgeTest(input({ boot: { ...budgetKill(), findings: HUNG_TASK }, findings: HUNG_TASK }));
    expect(withHang).toMatchObject({ verdict: 'fail', failure: 'hang' });
    const silent = await judgeTest(input({ boot: { ...budgetKill(), killedBy: 'silence', guestAlive: false } }));
    expect(silent).toMatchObject({ verdict: 'fail', failure: 'hang' });
    const dead = await judgeTest(input({ boot: { ...budgetKill(), guestAlive: false } }));
    expect(dead).toMatchObject({ verdict: 'fail', failure: 'hang' });
  });

  it('a VM that stopped during the boot with no kernel message is not blamed on the kernel', async () => {
    const j = await judgeTest(input({ boot: { ...boot, status: 'error', reason: 'virtme-ng/QEMU stopped during the boot with no kernel message (vng exit 1)' } }));
    expect(j.verdict).toBe('error');
    expect(j.summary).toMatch(/^did not finish: virtme-ng\/QEMU stopped during the boot/);
  });
});

describe('a workload that exits nonzero', () => {
  it('maps zswap-stress exit codes: could not run is ours, wrong data and refused swapoff the kernel\'s', () => {
    expect(workloadCouldNotRun(3, 'fopen(--log): No space left on device')).toBe('the workload could not run: fopen(--log): No space left on device');
    expect(workloadCouldNotRun(125, 'cgroup join: cannot join /sys/fs/cgroup/kh-writeback: Permission denied')).toMatch(/^the workload could not run: cgroup join/);
    expect(workloadCouldNotRun(2, undefined)).toMatch(/usage error/);
    expect(workloadCouldNotRun(127, undefined)).toMatch(/exec failed/);
    expect(workloadCouldNotRun(1, undefined)).toBeUndefined();
    expect(workloadCouldNotRun(3, undefined)).toBeUndefined();
    expect(workloadCouldNotRun(139, undefined)).toBeUndefined();
  });

  it('is an error naming what failed when the workload could not run', async () => {
    await writeFile(path.join(dir, 'writeback.out'), '{"ev":"error","what":"fopen(--log)","errno":28,"msg":"No space left on device"}\n');
    const j = await judgeTest(input({ line: rec({ status: 'fail', rc: 3, counters_after: { zswpout: 10 } }) }));
    expect(j.verdict).toBe('error');
    expect(j.failure).toBeUndefined();
    expect(j.summary).toBe('the workload could not run: fopen(--log): No space left on device');
  });

  it('stays a fail with a kernel finding, and for a swapoff the kernel refused', async () => {
    await writeFile(path.join(dir, 'writeback.out'), '{"ev":"error","what":"mmap","errno":12,"msg":"Cannot allocate memory"}\n');
    const KASAN = triageConsole('[  12.0] BUG: KASAN: slab-use-after-free in zswap_entry_free+0x1c/0x90\n');
    expect((await judgeTest(input({ line: rec({ status: 'fail', rc: 3 }), findings: KASAN }))).verdict).toBe('fail');
    await writeFile(path.join(dir, 'writeback.out'), '{"ev":"swapoff","round":1,"dev":"/dev/vda","rc":-12,"swapped_before":100}\n');
    const j = await judgeTest(input({ line: rec({ status: 'fail', rc: 3 }) }));
    expect(j).toMatchObject({ verdict: 'fail', failure: 'workload-exit' });
    expect(j.summary).toBe('the workload failed (exit 3): swapoff of /dev/vda returned -12');
  });

  it('names the rejected-store run of swap-cycle when that one could not run', async () => {
    await writeFile(path.join(dir, 'swap-cycle-reject.out'), '{"ev":"error","what":"cgroup join","errno":0,"msg":"cannot join /sys/fs/cgroup/kh-swap-cycle: Invalid argument"}\n');
    const j = await judgeTest(input({ name: 'swap-cycle', line: rec({ test: 'swap-cycle', status: 'fail', rc: 0, reject_rc: 125 }) }));
    expect(j.verdict).toBe('error');
    expect(j.summary).toBe('the rejected-store run: the workload could not run: cgroup join: cannot join /sys/fs/cgroup/kh-swap-cycle: Invalid argument');
  });
});

describe('zswap must have run', () => {
  it('fails a must-store test whose zswpout did not move, and errs when zswpout is missing', async () => {
    const none = await judgeTest(input({ line: rec({ counters_before: { zswpout: 10 }, counters_after: { zswpout: 10 } }) }));
    expect(none.verdict).toBe('fail');
    expect(none.summary).toBe('zswap stored nothing: zswpout 10 → 10 while writeback ran with zswap enabled');
    const unknown = await judgeTest(input({ line: rec({ counters_before: {}, counters_after: {} }) }));
    expect(unknown.verdict).toBe('error');
    expect(unknown.summary).toBe('cannot tell whether zswap stored anything: zswpout is missing from the counters');
    // The kernel's own selftest is not one of them.
    const st = await judgeTest(input({ name: 'selftest-zswap', line: rec({ test: 'selftest-zswap', counters_before: {}, counters_after: {} }) }));
    expect(st.verdict).toBe('pass');
  });

  it('fails every test when the kernel could not enable zswap (status.json fail)', async () => {
    expect(SuiteStatusSchema.safeParse({ state: 'fail', failure: 'zswap-not-enabled', detail: 'x' }).success).toBe(true);
    expect(SuiteStatusSchema.safeParse({ state: 'fail', failure: 'something-else' }).success).toBe(false);
    await writeFile(path.join(dir, 'status.json'), '{"state":"fail","failure":"zswap-not-enabled","detail":"/sys/module/zswap/parameters/enabled reads \'N\'"}\n');
    await writeFile(path.join(dir, 'console.log'), 'zswap: could not enable\n');
    const r = await judgeRunDir({ runDir: dir, tests: ['swap-cycle', 'writeback'], boot: { ...boot, guestExit: 3 }, findings: [] });
    expect(r.tests.map((t) => [t.verdict, t.summary])).toEqual([
      ['fail', "the kernel failed the suite's setup: zswap could not be enabled: /sys/module/zswap/parameters/enabled reads 'N'"],
      ['fail', "the kernel failed the suite's setup: zswap could not be enabled: /sys/module/zswap/parameters/enabled reads 'N'"],
    ]);
    expect(r.verdict).toBe('fail');
  });
});

describe('counters that go backwards', () => {
  it('never make coverage negative, and fail the counter oracle', async () => {
    expect(coverageFromCounters({ zswpout: -60, zswpin: 4, reject_compress_fail: -2, reject_alloc_fail: 3 })).toEqual([
      { path: 'store', label: 'store ok', count: 0, source: 'counters' },
      { path: 'loadHit', label: 'load hit, exclusive (swapin: entry freed)', count: 4, source: 'counters' },
      { path: 'storeFailed', label: 'store failed/rejected', count: 3, source: 'counters' },
    ]);
    // stored_pages is a gauge: it may go down.
    expect(countersWentBackwards({ zswpout: 100, stored_pages: 50 }, { zswpout: 40, stored_pages: 10 })).toEqual(['zswpout went backwards: 100 → 40']);
    const j = await judgeTest(input({ line: rec({ counters_before: { zswpout: 100, zswpin: 1 }, counters_after: { zswpout: 140, zswpin: 0 } }) }));
    expect(j.counterOracle).toMatchObject({ verdict: 'fail', reason: 'zswpin went backwards: 1 → 0' });
    expect(j.verdict).toBe('fail');
    expect(j.coverage.every((c) => c.count >= 0)).toBe(true);
  });
});

describe('guest files that cannot be read', () => {
  it('makes every test an error when console.log is a symbolic link', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'kh-outside-'));
    await writeFile(path.join(outside, 'clean'), START('writeback'));
    await rm(path.join(dir, 'console.log'));
    await symlink(path.join(outside, 'clean'), path.join(dir, 'console.log'));
    await writeFile(path.join(dir, 'results.jsonl'), `${JSON.stringify(rec())}\n`);
    await writeFile(path.join(dir, 'status.json'), '{"state":"done"}\n');
    const r = await judgeRunDir({ runDir: dir, tests: ['writeback', 'swap-cycle'], boot, findings: [] });
    await rm(outside, { recursive: true, force: true });
    expect(r.tests.map((t) => [t.verdict, t.summary])).toEqual([
      ['error', 'the console cannot be read: console.log is a symbolic link (not followed)'],
      ['error', 'the console cannot be read: console.log is a symbolic link (not followed)'],
    ]);
  });

  it('makes the data oracle an error for a data log with malformed lines', async () => {
    await writeFile(path.join(dir, 'writeback.data'), 'w writeback 1 3\nr writeback 1 three 1 0\nr writeback 1 3 1 0\n');
    const j = await judgeTest(input({ line: rec() }));
    expect(j.dataOracle.verdict).toBe('error');
    expect(j.dataOracle.reason).toBe('1 malformed line(s), first: writeback.data line 2: not a data record: "r writeback 1 three 1 0"');
    expect(j.verdict).toBe('error');
  });
});

describe('cpu-hotplug: the workload counts its own path', () => {
  const hotplug = (over: Partial<TestResultRecord> = {}): TestResultRecord => ({ ...rec(), test: 'cpu-hotplug', ...over });
  const done = (inFlight: number): string => `{"ev":"done","mode":"hotplug","bad":0,"cycles":${Math.max(inFlight, 3)},"in_flight":${inFlight},"iterations":9,"offline_failures":0}\n`;

  it('reports the cycles with traffic in flight as coverage, and zero as a gap of the test', async () => {
    await writeFile(path.join(dir, 'cpu-hotplug.out'), done(12));
    const ran = await judgeTest({ ...input({}), name: 'cpu-hotplug', line: hotplug() });
    expect(ran.coverage.find((c) => c.path === 'hotplugInFlight')).toEqual({ path: 'hotplugInFlight', label: 'CPU offline/online cycles with zswap traffic in flight', count: 12, source: 'workload' });
    expect(ran.gaps).not.toContain('hotplugInFlight');
    await writeFile(path.join(dir, 'cpu-hotplug.out'), done(0));
    const idle = await judgeTest({ ...input({}), name: 'cpu-hotplug', line: hotplug() });
    expect(idle.gaps).toContain('hotplugInFlight');
  });

  it('counts fault-race rounds the same way', async () => {
    await writeFile(path.join(dir, 'fault-race.out'), '{"ev":"done","mode":"faultrace","bad":0,"rounds":15,"threads":4}\n');
    const j = await judgeTest({ ...input({}), name: 'fault-race', line: { ...rec(), test: 'fault-race' } });
    expect(j.coverage.find((c) => c.path === 'faultRaceRounds')?.count).toBe(15);
  });

  it('leaves the path unmeasured, not a gap, when the workload never said (no done event)', async () => {
    await writeFile(path.join(dir, 'cpu-hotplug.out'), '{"ev":"hotplug-cycle","cpu":1,"n":1,"in_flight":true}\n');
    const j = await judgeTest({ ...input({}), name: 'cpu-hotplug', line: hotplug() });
    expect(j.coverage.some((c) => c.path === 'hotplugInFlight')).toBe(false);
    expect(j.gaps).not.toContain('hotplugInFlight');
  });

  it('is skipped with the reason when no CPU can go offline, and fails a CPU the kernel would not bring back', async () => {
    const skip = await judgeTest({ ...input({}), name: 'cpu-hotplug', line: hotplug({ status: 'skip', rc: 4, reason: 'no CPU of this guest can go offline (one vCPU, or no hotplug)' }) });
    expect(skip.verdict).toBe('skipped');
    expect(skip.summary).toMatch(/no CPU of this guest can go offline/);
    await writeFile(path.join(dir, 'cpu-hotplug.out'), '{"ev":"cpu-online","cpu":1,"rc":-5}\n');
    const stuck = await judgeTest({ ...input({}), name: 'cpu-hotplug', line: hotplug({ status: 'fail', rc: 3 }) });
    expect(stuck.verdict).toBe('fail');
    expect(stuck.summary).toMatch(/bringing cpu1 back online returned -5/);
  });
});

describe('writeback over the pool limit', () => {
  it('fails a writeback test that hit the pool limit and wrote nothing back, and only that', async () => {
    const counters = (wrote: number): Partial<TestResultRecord> => ({ counters_before: { zswpout: 10, pool_limit_hit: 0, written_back_pages: 0 }, counters_after: { zswpout: 900, pool_limit_hit: 40, written_back_pages: wrote } });
    const stuck = await judgeTest(input({ line: rec(counters(0)) }));
    expect(stuck.counterOracle.verdict).toBe('fail');
    expect(stuck.counterOracle.reason).toMatch(/^zswap hit its pool limit 40 time\(s\) and wrote nothing back/);
    expect(stuck.verdict).toBe('fail');
    const wrote = await judgeTest(input({ line: rec(counters(120)) }));
    expect(wrote.counterOracle.verdict).not.toBe('fail');
    expect(wrote.counterOracle.reason).not.toMatch(/wrote nothing back/);
    // untraced: the equalities did not run (skipped), the invariants on the counters alone did
    expect(wrote.counterOracle.verdict).toBe('skipped');
    expect(wrote.counterOracle.reason).toMatch(/checked on the counters alone: no cumulative counter went backwards, and the pool limit hit 40 time\(s\) made zswap write 120 page\(s\) back/);
    // Without the counter the rule cannot apply: no guess.
    const unknown = await judgeTest(input({ line: rec({ counters_before: { zswpout: 10, pool_limit_hit: 0 }, counters_after: { zswpout: 900, pool_limit_hit: 40 } }) }));
    expect(unknown.counterOracle.reason ?? '').not.toMatch(/pool limit/);
  });

  it("names the workload's wait for the shrink worker in the failure and in the evidence", async () => {
    const wait = '{"ev":"limit-wait","round":1,"ms":30012,"pokes":4100,"written_back":0}\n{"ev":"done","mode":"writeback","bad":0}\n';
    await writeFile(path.join(dir, 'writeback.out'), wait);
    const line = rec({ counters_before: { pool_limit_hit: 0, written_back_pages: 0 }, counters_after: { pool_limit_hit: 9000, written_back_pages: 0 } });
    const stuck = await judgeTest(input({ line }));
    expect(stuck.counterOracle.reason).toMatch(/^zswap hit its pool limit 9000 time\(s\) and wrote nothing back, not even with the pool kept full for 30\.0 s more/);
    expect(stuck.evidence).toContain('round 1 ended over the pool limit with nothing written back: kept the pool full for 30.0 s (4100 rejected-store pokes), and zswap wrote back 0 page(s)');
    // a wait that ended in writeback is evidence, not a failure
    await writeFile(path.join(dir, 'writeback.out'), wait.replace('"ms":30012,"pokes":4100,"written_back":0', '"ms":1800,"pokes":240,"written_back":37'));
    const late = await judgeTest(input({ line: rec({ ...line, counters_after: { pool_limit_hit: 9000, written_back_pages: 37 } }) }));
    expect(late.counterOracle.verdict).not.toBe('fail');
    expect(late.evidence.some((e) => /kept the pool full for 1\.8 s \(240 rejected-store pokes\), and zswap wrote back 37/.test(e))).toBe(true);
    // a malformed event counts for nothing
    await writeFile(path.join(dir, 'writeback.out'), '{"ev":"limit-wait","round":1,"ms":-5,"pokes":"x"}\n');
    const bad = await judgeTest(input({ line }));
    expect(bad.counterOracle.reason).toMatch(/wrote nothing back/);
    expect(bad.counterOracle.reason).not.toMatch(/kept the pool full/);
  });
});

describe('the duration of a test that left no result record (issue 16: a panic showed 0 ms)', () => {
  const PANIC = triageConsole('[  42.0] Kernel panic - not syncing: Fatal exception\n');
  const marks = [
    { test: 'swap-cycle', state: 'start' as const, atMs: 3000 },
    { test: 'swap-cycle', state: 'pass' as const, atMs: 9000 },
    { test: 'writeback', state: 'start' as const, atMs: 9500 },
  ];

  it('is measured by the host from the test start mark to the VM end after a panic', async () => {
    const j = await judgeTest(input({ boot: { ...boot, status: 'crashed', reason: 'kernel panic', findings: PANIC, durationMs: 21_500, testMarksMs: marks }, findings: PANIC }));
    expect(j.verdict).toBe('fail');
    expect(j.durationMs).toBe(12_000);
  });

  it('ends at the next mark when there is one, and falls back to the last counter sample without host marks', () => {
    expect(durationWithoutRecord({ durationMs: 20_000, testMarksMs: marks }, 'swap-cycle', [])).toBe(6000);
    expect(durationWithoutRecord({ durationMs: 20_000 }, 'writeback', [{ t: 1 }, { t: 4.25 }])).toBe(4250);
    expect(durationWithoutRecord({ durationMs: 20_000 }, 'writeback', [])).toBeUndefined();
  });

  it('reads the samples the test left before the crash (the report plots them)', async () => {
    await writeFile(path.join(dir, 'writeback.samples'), '{"t_ms":1000,"counters":{"stored_pages":5}}\n{"t_ms":2500,"counters":{"stored_pages":9}}\n');
    const j = await judgeTest(input({ boot: { ...boot, status: 'crashed', reason: 'kernel panic', findings: PANIC, durationMs: 21_500 }, findings: PANIC }));
    expect(j.samples).toHaveLength(2);
    expect(j.durationMs).toBe(2500);
  });
});
