import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triageConsole, type Finding } from '../../../src/boot/triage.js';
import type { BootOutcome } from '../../../src/boot/vm.js';
import { judgeRunDir, judgeTest, timeoutVerdict, type JudgeInput } from '../../../src/guest/judge.js';
import type { TestResultRecord } from '../../../src/guest/protocol.js';
import { parseBlockedDumps, stuckTasks } from '../../../src/guest/results.js';
import { checkCounters } from '../../../src/model/counters.js';
import { replayTrace } from '../../../src/model/replay.js';

const HUNG_TASK = triageConsole('[  500.1] INFO: task test_zswap:245 blocked for more than 122 seconds.\n[  500.1]       Not tainted 6.12.0 #1\n');
const KASAN = triageConsole('[  12.0] BUG: KASAN: slab-use-after-free in zswap_entry_free+0x1c/0x90\n');

/** A blocked-task dump as dmesg prints it (6.12 sched_show_task format). */
function dump(n: number, tasks: { comm: string; pid: number; state?: string; frames: string[] }[]): string {
  const lines = [`[  400.${n}] kharness-guest: blocked dump ${n} of 2 for writeback`, `[  400.${n}] sysrq: Show Blocked State`];
  for (const t of tasks) {
    lines.push(`[  400.${n}] task:${t.comm.padEnd(15)} state:${t.state ?? 'D'} stack:0     pid:${t.pid}   tgid:${t.pid}   ppid:240    flags:0x00004002`, `[  400.${n}] Call Trace:`, `[  400.${n}]  <TASK>`);
    for (const f of t.frames) lines.push(`[  400.${n}]  ${f}+0x3f0/0xb40`);
    lines.push(`[  400.${n}]  ? srso_return_thunk+0x5/0x5f`, `[  400.${n}]  </TASK>`);
  }
  return lines.join('\n');
}
const STUCK_IN_ZSWAP = ['__schedule', 'schedule', 'schedule_preempt_disabled', '__mutex_lock.constprop.0', 'zswap_store', 'swap_writepage', 'shrink_folio_list'];

const selftestTimeout: TestResultRecord = { test: 'selftest-zswap', status: 'fail', duration_ms: 300_000, counters_before: {}, counters_after: {}, rc: 124, timeout: true, timeout_s: 300 };
const workloadHung: TestResultRecord = { test: 'writeback', status: 'fail', duration_ms: 300_000, counters_before: {}, counters_after: {}, rc: 124, hung: true, timeout_s: 300 };

describe('budget overrun: hang or our budget', () => {
  it('calls a selftest past its budget our error when nothing says the kernel hung', () => {
    expect(timeoutVerdict('selftest-zswap', selftestTimeout, [], [])).toEqual({ verdict: 'error', reason: 'selftest-zswap ran past its 300s budget (ours); the kernel was still responsive' });
    // A KASAN report is a kernel fail of its own (judgeTest), but not evidence of a hang.
    expect(timeoutVerdict('selftest-zswap', selftestTimeout, KASAN, [])?.verdict).toBe('error');
  });

  it('calls it a hang when the console reported a hung task during the test', () => {
    const v = timeoutVerdict('selftest-zswap', selftestTimeout, HUNG_TASK, []);
    expect(v?.verdict).toBe('fail');
    expect(v?.reason).toMatch(/^hang: selftest-zswap ran past its 300s budget and the kernel reported INFO: task test_zswap:245 blocked/);
  });

  it('does not apply to a test that did not run out of time', () => {
    expect(timeoutVerdict('writeback', { ...workloadHung, hung: undefined }, HUNG_TASK, [])).toBeUndefined();
  });

  it('counts a task as stuck only at the same place in zswap/mm in both dumps', () => {
    const same = `${dump(1, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])}\n${dump(2, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])}`;
    const stuck = stuckTasks(parseBlockedDumps(same));
    expect(stuck).toEqual([{ comm: 'zswap-stress', pid: 245, frames: ['__schedule', 'schedule', 'schedule_preempt_disabled', '__mutex_lock', 'zswap_store', 'swap_writepage', 'shrink_folio_list'] }]);
    const v = timeoutVerdict('writeback', workloadHung, [], stuck);
    expect(v).toEqual({ verdict: 'fail', reason: 'hang: writeback ran past its 300s budget; 1 task(s) stuck in D state in both blocked-task dumps, first zswap-stress (pid 245) in zswap_store' });

    // Moving on between the dumps is slow, not stuck.
    const moved = `${dump(1, [{ comm: 'zswap-stress', pid: 245, frames: ['__schedule', 'io_schedule', 'folio_wait_bit_common', 'do_swap_page'] }])}\n${dump(2, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])}`;
    expect(stuckTasks(parseBlockedDumps(moved))).toEqual([]);
    // One dump is a moment, not evidence.
    expect(stuckTasks(parseBlockedDumps(dump(1, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])))).toEqual([]);
    // Stuck outside mm (a journal wait): not the code under test.
    const fs = ['__schedule', 'schedule', 'jbd2_log_wait_commit', 'ext4_sync_file'];
    expect(stuckTasks(parseBlockedDumps(`${dump(1, [{ comm: 'sync', pid: 9, frames: fs }])}\n${dump(2, [{ comm: 'sync', pid: 9, frames: fs }])}`))).toEqual([]);
    // A running task in the dump is not blocked.
    expect(stuckTasks(parseBlockedDumps(`${dump(1, [{ comm: 'x', pid: 3, state: 'R', frames: STUCK_IN_ZSWAP }])}\n${dump(2, [{ comm: 'x', pid: 3, state: 'R', frames: STUCK_IN_ZSWAP }])}`))).toEqual([]);
    expect(timeoutVerdict('writeback', workloadHung, [], [])).toEqual({
      verdict: 'error',
      reason: 'writeback ran past its 300s budget (ours); the kernel was still responsive (no task stuck in zswap/mm in the blocked-task dumps)',
    });
  });
});

describe('judgeTest on real run-dir files', () => {
  let dir: string;
  let boot: BootOutcome;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kh-judge-'));
    await writeFile(path.join(dir, 'console.log'), 'kharness-guest: {"ev":"test","test":"writeback","state":"start"}\n');
    boot = { status: 'completed', reason: 'the guest command ended', accel: 'tcg', accelReason: 'test', consoleLog: path.join(dir, 'console.log'), consoleTail: '', findings: [], durationMs: 1 };
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));
  const input = (over: Partial<JudgeInput>): JudgeInput => ({ name: 'writeback', runDir: dir, boot, findings: [], ...over });

  it('selftest past its budget: error without hang evidence, fail with a hung-task report', async () => {
    await writeFile(path.join(dir, 'selftest-zswap.tap'), 'TAP version 13\n1..3\nok 1 test_zswap_usage\nok 2 test_swapin_nozswap\n');
    const ours = await judgeTest(input({ name: 'selftest-zswap', line: selftestTimeout }));
    expect(ours.verdict).toBe('error');
    expect(ours.workloadVerdict).toBe('error');
    expect(ours.summary).toBe('selftest-zswap ran past its 300s budget (ours); the kernel was still responsive');
    const hang = await judgeTest(input({ name: 'selftest-zswap', line: selftestTimeout, findings: HUNG_TASK }));
    expect(hang.verdict).toBe('fail');
    expect(hang.summary).toMatch(/^hang: selftest-zswap ran past its 300s budget/);
  });

  it('a selftest case that fails and then passes when test_zswap runs again is flaky, never a pass or a failure', async () => {
    const tap = (bypass: 'ok' | 'not ok'): string => `TAP version 13\n1..3\nok 1 test_zswap_usage\n${bypass} 2 test_no_kmem_bypass\nok 3 test_no_invasive_cgroup_shrink\n`;
    const failedOnce: TestResultRecord = { test: 'selftest-zswap', status: 'fail', duration_ms: 60_000, counters_before: {}, counters_after: {}, rc: 1, retry_rcs: [0] };
    await writeFile(path.join(dir, 'selftest-zswap.tap'), tap('not ok'));
    await writeFile(path.join(dir, 'selftest-zswap.retry1.tap'), tap('ok'));
    const flaky = await judgeTest(input({ name: 'selftest-zswap', line: failedOnce }));
    expect(flaky.verdict).toBe('flaky');
    expect(flaky.workloadVerdict).toBe('flaky');
    expect(flaky.summary).toBe('selftest case(s) flaky: test_no_kmem_bypass (failed 1 of 2 runs of test_zswap)');
    expect(flaky.selftest?.cases.map((c) => c.status)).toEqual(['pass', 'flaky', 'pass']);
    expect(flaky.selftest?.cases[1]?.runs).toEqual({ fail: 1, pass: 1 });
    expect(flaky.logs['retry1-tap']).toBe(path.join(dir, 'selftest-zswap.retry1.tap'));
    // Failing every time is the kernel's (or the patch's) failure.
    await writeFile(path.join(dir, 'selftest-zswap.retry1.tap'), tap('not ok'));
    await writeFile(path.join(dir, 'selftest-zswap.retry2.tap'), tap('not ok'));
    const always = await judgeTest(input({ name: 'selftest-zswap', line: { ...failedOnce, retry_rcs: [1, 1] } }));
    expect(always.verdict).toBe('fail');
    expect(always.summary).toBe('selftest case(s) failed in all 3 runs: test_no_kmem_bypass');
    // Passing on the second rerun is flaky too.
    await writeFile(path.join(dir, 'selftest-zswap.retry2.tap'), tap('ok'));
    expect((await judgeTest(input({ name: 'selftest-zswap', line: { ...failedOnce, retry_rcs: [1, 0] } }))).summary).toMatch(/flaky: test_no_kmem_bypass \(failed 2 of 3 runs/);
    // A rerun cut short (no line for the case) clears nothing.
    await rm(path.join(dir, 'selftest-zswap.retry2.tap'));
    await writeFile(path.join(dir, 'selftest-zswap.retry1.tap'), 'TAP version 13\n1..3\nok 1 test_zswap_usage\n');
    expect((await judgeTest(input({ name: 'selftest-zswap', line: { ...failedOnce, retry_rcs: [124] } }))).verdict).toBe('fail');
    // Without a rerun (SELFTEST_RETRIES=0) a failing case fails.
    await rm(path.join(dir, 'selftest-zswap.retry1.tap'));
    const once = await judgeTest(input({ name: 'selftest-zswap', line: { ...failedOnce, retry_rcs: undefined } }));
    expect(once.verdict).toBe('fail');
    expect(once.summary).toBe('selftest case(s) failed: test_no_kmem_bypass');
  });

  it('workload past TEST_TIMEOUT: fail only when the blocked-task dumps show it stuck in zswap', async () => {
    expect((await judgeTest(input({ line: workloadHung }))).verdict).toBe('error');
    await writeFile(path.join(dir, 'writeback.blocked'), `${dump(1, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])}\n${dump(2, [{ comm: 'zswap-stress', pid: 245, frames: STUCK_IN_ZSWAP }])}\n`);
    const j = await judgeTest(input({ line: workloadHung }));
    expect(j.verdict).toBe('fail');
    expect(j.summary).toMatch(/^hang: writeback ran past its 300s budget; 1 task\(s\) stuck/);
    expect(j.evidence.some((e) => e.startsWith('stuck in D state in both dumps: zswap-stress (pid 245)'))).toBe(true);
  });

  it('a counter missing from the after-sample is skipped by name, never read as 0', async () => {
    const before = { stored_pages: 0, written_back_pages: 0, zswpout: 10, zswpin: 4, zswpwb: 3735, pswpout: 7 };
    const { zswpwb: _gone, ...after } = before;
    void _gone;
    // An empty, complete trace: the counted events are all 0, as are the changes of the present counters.
    await writeFile(path.join(dir, 'writeback.trace'), '');
    await writeFile(path.join(dir, 'writeback.trace-lost.json'), '{"overrun":0,"dropped":0,"unread":0}\n');
    await writeFile(path.join(dir, 'writeback.kprobe_profile.before'), '  kharness/store   0   0\n');
    await writeFile(path.join(dir, 'writeback.kprobe_profile.after'), '  kharness/store   0   0\n');
    const line: TestResultRecord = { test: 'writeback', status: 'pass', duration_ms: 10, counters_before: before, counters_after: after, rc: 0 };
    const j = await judgeTest(input({ line, tracing: { probes: { lines: [], missing: [] }, placed: [], failed: [] } }));
    expect(j.counterOracle.verdict).toBe('pass');
    expect(j.counterOracle.reason).toBe('zswpout, zswpin, written_back_pages, stored_pages, pswpout agree with the traced events; not checked: zswpwb missing from the after-sample');
    expect(j.counterOracle.reason).not.toMatch(/-3735/);
    // The trace is complete and empty: writeback stored nothing in zswap, so it tested nothing.
    expect(j.verdict).toBe('fail');
    expect(j.summary).toBe('zswap stored nothing: no zswap_store succeeded in the trace while writeback ran with zswap enabled');
    expect(j.counters?.delta).not.toHaveProperty('zswpwb');
    expect(j.coverage.find((c) => c.path === 'writeback')?.source).toBe('trace');
  });

  it('a missing trace-lost record makes conformance an error, not a pass', async () => {
    await writeFile(path.join(dir, 'writeback.trace'), '');
    await writeFile(path.join(dir, 'writeback.kprobe_profile.after'), '');
    const line: TestResultRecord = { test: 'writeback', status: 'pass', duration_ms: 10, counters_before: {}, counters_after: {}, rc: 0 };
    const j = await judgeTest(input({ line, tracing: { probes: { lines: [], missing: [] }, placed: [], failed: [] } }));
    expect(j.conformance).toEqual({ verdict: 'error', reason: 'writeback.trace-lost.json: writeback.trace-lost.json is missing' });
    expect(j.verdict).toBe('error');
  });

  it('a trace the decoder chokes on is a conformance error, not an exception', async () => {
    await writeFile(path.join(dir, 'writeback.trace'), '    zswap-stress-113     [000] .....         10: store: (zswap_store+0x0/0x10) swp=0xZZZZ\n    zswap-stress-113     [000] .....         11: store_ret: (shrink_folio_list+0x1/0x2 <- zswap_store) ret=0xQQ\n');
    await writeFile(path.join(dir, 'writeback.trace-lost.json'), '{"overrun":0,"dropped":0,"unread":0}\n');
    await writeFile(path.join(dir, 'writeback.kprobe_profile.after'), '');
    const line: TestResultRecord = { test: 'writeback', status: 'pass', duration_ms: 10, counters_before: {}, counters_after: {}, rc: 0 };
    const j = await judgeTest(input({ line, tracing: { probes: { lines: [], missing: [] }, placed: [], failed: [] } }));
    expect(j.conformance.verdict).toBe('error');
    expect(j.conformance.reason).toMatch(/^writeback\.trace cannot be decoded: /);
    expect(j.verdict).toBe('error');
  });

  it('a symlinked workload output is refused and named, and is no report link', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'kh-outside-'));
    await writeFile(path.join(outside, 'secret'), '{"ev":"bad","phase":"SECRET"}\n');
    await symlink(path.join(outside, 'secret'), path.join(dir, 'writeback.out'));
    const line: TestResultRecord = { test: 'writeback', status: 'pass', duration_ms: 10, counters_before: {}, counters_after: {}, rc: 0 };
    const j = await judgeTest(input({ line }));
    await rm(outside, { recursive: true, force: true });
    expect(j.verdict).toBe('error');
    expect(j.summary).toBe('writeback.out is a symbolic link (not followed)');
    expect(j.logs.workload).toBeUndefined();
    expect(JSON.stringify(j)).not.toContain('SECRET');
  });
});

describe('judgeRunDir', () => {
  let dir: string;
  let boot: BootOutcome;
  const rec = (test: string): string => JSON.stringify({ test, status: 'pass', duration_ms: 5, counters_before: { zswpout: 1 }, counters_after: { zswpout: 3 }, rc: 0 });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kh-run-'));
    await writeFile(path.join(dir, 'console.log'), 'kharness-guest: {"ev":"test","test":"swap-cycle","state":"start"}\nkharness-guest: {"ev":"test","test":"writeback","state":"start"}\n');
    await writeFile(path.join(dir, 'status.json'), '{"state":"done"}\n');
    boot = { status: 'completed', reason: 'ended', accel: 'tcg', accelReason: 'test', consoleLog: path.join(dir, 'console.log'), consoleTail: '', findings: [], durationMs: 1 };
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('FAULT=malformed-results: the named test is an error citing both lines, the other passes', async () => {
    // exactly what suite.sh appends for the fault hook
    const broken = '{"test":"swap-cycle","status":"pass","duration_ms":';
    const wrongType = '{"test":"swap-cycle","status":"pass","duration_ms":"soon","counters_before":{},"counters_after":{}}';
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('swap-cycle')}\n${rec('writeback')}\n${broken}\n${wrongType}\n`);
    const r = await judgeRunDir({ runDir: dir, tests: ['swap-cycle', 'writeback'], boot, findings: [] });
    const [sc, wb] = r.tests;
    expect(sc!.verdict).toBe('error');
    expect(sc!.summary).toMatch(/^results\.jsonl line 3: not JSON: .*; results\.jsonl line 4: duration_ms: Expected number, received string$/);
    expect(wb!.verdict).toBe('pass');
    expect(r.verdict).toBe('error');
  });

  it('FAULT=symlink-results: every test is an error naming the link; the target is never read', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'kh-outside-'));
    await writeFile(path.join(outside, 'shadow'), `${rec('swap-cycle')}\nroot:SECRET:19000::::::\n`);
    await symlink(path.join(outside, 'shadow'), path.join(dir, 'results.jsonl'));
    const r = await judgeRunDir({ runDir: dir, tests: ['swap-cycle', 'writeback'], boot, findings: [] });
    await rm(outside, { recursive: true, force: true });
    expect(r.tests.map((t) => [t.verdict, t.summary])).toEqual([
      ['error', 'results.jsonl: results.jsonl is a symbolic link (not followed)'],
      ['error', 'results.jsonl: results.jsonl is a symbolic link (not followed)'],
    ]);
    expect(JSON.stringify(r)).not.toContain('SECRET');
  });

  it('a line no test claims still makes the run an error', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('swap-cycle')}\n{"oops"\n`);
    const r = await judgeRunDir({ runDir: dir, tests: ['swap-cycle'], boot, findings: [] });
    expect(r.tests[0]!.verdict).toBe('pass');
    expect(r.suiteErrors).toEqual([expect.stringMatching(/^results\.jsonl line 2: not JSON/)]);
    expect(r.verdict).toBe('error');
  });

  it('a kernel splat during a test with a bad record is still the kernel failing', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), '{"test":"writeback","status":"pass"}\n');
    const findings: (Finding & { test?: string })[] = KASAN.map((f) => ({ ...f, test: 'writeback' }));
    const r = await judgeRunDir({ runDir: dir, tests: ['writeback'], boot, findings });
    expect(r.tests[0]!.verdict).toBe('fail');
    expect(r.tests[0]!.summary).toMatch(/^kernel: BUG: KASAN: slab-use-after-free in zswap_entry_free.*the result record cannot be trusted: results\.jsonl line 1: duration_ms: Required/);
  });

  it('status done but no record for a planned test: our error, not a crash verdict', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('swap-cycle')}\n`);
    const r = await judgeRunDir({ runDir: dir, tests: ['swap-cycle', 'writeback'], boot, findings: [] });
    expect(r.tests[1]).toMatchObject({ verdict: 'error', summary: 'status.json says the suite finished, but results.jsonl has no record for writeback' });
  });
});

describe('checkCounters with a missing counter', () => {
  it('skips the counter by name and still checks the others', () => {
    const stats = replayTrace([]).stats;
    const before = { stored_pages: 0, written_back_pages: 0, zswpout: 5, zswpin: 0, zswpwb: 3735 };
    const after = { stored_pages: 0, written_back_pages: 0, zswpout: 4, zswpin: 0 };
    const r = checkCounters(before, after, stats);
    expect(r.skipped).toEqual([
      { counter: 'zswpwb', reason: 'zswpwb missing from the after-sample' },
      { counter: 'pswpout', reason: 'pswpout missing from the before-sample' },
    ]);
    expect(r.findings.map((f) => f.counter)).toEqual(['zswpout', 'zswpin', 'written_back_pages', 'stored_pages']);
    // zswpout went backwards: still caught, while zswpwb is not blamed.
    expect(r.violations.map((v) => v.message.split(' ')[0])).toEqual(['zswpout']);
  });
});
