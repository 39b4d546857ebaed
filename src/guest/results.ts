import { z } from 'zod';
import type { DataEvent } from '../model/trace-types.js';
import { formatZodError, parseRecords, TestResultSchema, type ProtocolError, type TestResultRecord } from './protocol.js';

/** One line of the guest's results.jsonl, as suite.sh writes it (validated by protocol.ts). */
export type GuestTestLine = TestResultRecord;

/** A page the workload read back wrong: exactly which page held which data. */
export interface BadPage {
  phase: string;
  region: string;
  page: number;
  addr: string;
  expectVersion: number;
  /** the version stamped in what was read; -1 when the page held no stamp */
  seenVersion: number;
  /** the page index stamped in what was read (another page's data shows up here) */
  seenPage: number;
  zero: boolean;
  firstBadWord: number;
}

/**
 * results.jsonl, validated. Kept for callers of the old shape; readSuiteArtifacts (protocol.ts)
 * reads the file safely and attributes each error to its test.
 */
export function parseResultsJsonl(text: string): { lines: GuestTestLine[]; malformed: number; errors: ProtocolError[] } {
  const { records, errors } = parseRecords(text, TestResultSchema, 'results.jsonl');
  return { lines: records.map((r) => r.record), malformed: errors.length, errors };
}

const BadEventSchema = z
  .object({
    ev: z.literal('bad'),
    phase: z.string(),
    region: z.string(),
    page: z.number().int().nonnegative(),
    addr: z.string(),
    expect_version: z.number().int(),
    seen_version: z.number().int(),
    seen_page: z.number().int(),
    zero: z.boolean(),
    first_bad_word: z.number().int(),
  })
  .passthrough();
const DoneEventSchema = z.object({ ev: z.literal('done'), bad: z.number().int().nonnegative() }).passthrough();

/**
 * The workload's stdout: JSON events, among them `bad` pages and the final `done`. Untrusted (it
 * crossed the guest boundary): a line that is not valid JSON, or a `bad`/`done` event of the wrong
 * shape, is an error naming its line, never dropped: a lost `bad` line would be a wrong page unseen.
 */
export function parseWorkloadOutput(text: string, fileName = 'workload output'): { bad: BadPage[]; events: Record<string, unknown>[]; badTotal?: number; error?: string; errors: string[] } {
  const bad: BadPage[] = [];
  const events: Record<string, unknown>[] = [];
  const errors: string[] = [];
  let badTotal: number | undefined;
  let error: string | undefined;
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim().startsWith('{')) return;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(raw) as Record<string, unknown>;
    } catch (err) {
      // The last line may be cut by the VM dying mid-write: only that one is forgiven.
      if (i < text.trimEnd().split('\n').length - 1) errors.push(`${fileName} line ${i + 1}: not JSON (${(err as Error).message})`);
      return;
    }
    events.push(ev);
    if (ev.ev === 'bad') {
      const b = BadEventSchema.safeParse(ev);
      if (!b.success) return void errors.push(`${fileName} line ${i + 1}: ${formatZodError(b.error)}`);
      const e = b.data;
      bad.push({ phase: e.phase, region: e.region, page: e.page, addr: e.addr, expectVersion: e.expect_version, seenVersion: e.seen_version, seenPage: e.seen_page, zero: e.zero, firstBadWord: e.first_bad_word });
    } else if (ev.ev === 'done') {
      const d = DoneEventSchema.safeParse(ev);
      if (!d.success) return void errors.push(`${fileName} line ${i + 1}: ${formatZodError(d.error)}`);
      badTotal = d.data.bad;
    } else if (ev.ev === 'error') {
      error = `${String(ev.what)}: ${String(ev.msg)}`;
    }
  });
  return { bad, events, badTotal, error, errors };
}

export function describeBadPage(b: BadPage): string {
  const held = b.zero
    ? 'zeroes'
    : b.seenVersion < 0
      ? 'unstamped data'
      : b.seenPage !== b.page
        ? `page ${b.seenPage}'s data (version ${b.seenVersion})`
        : `version ${b.seenVersion}${b.firstBadWord ? ` with word ${b.firstBadWord} corrupt` : ''}`;
  const want = b.expectVersion === 0 ? 'zeroes (it was dropped)' : `version ${b.expectVersion}`;
  return `${b.region} page ${b.page} (${b.addr}) after ${b.phase}: expected ${want}, held ${held}`;
}

/** The data log as DataEvents, with every line that is not a valid record named (never dropped). */
export interface DataLog {
  events: DataEvent[];
  /** malformed lines, each naming its line number: the data oracle cannot judge a log with holes */
  errors: string[];
  /** the last line is unterminated and malformed: the writer was cut short (a killed workload) */
  cutLastLine: boolean;
}

const INT = /^-?\d{1,15}$/;
const NAT = /^\d{1,15}$/;
const REGION = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The workload's data log (`w REGION PAGE VERSION`, `r REGION PAGE SEEN_VERSION SEEN_PAGE BAD`,
 * `d REGION PAGE`) as DataEvents for the model's data oracle. Untrusted (the guest wrote it): a
 * line that is not exactly one of these, with integers where integers belong, is an error naming
 * it; a lost line would be a read the oracle never checked. Only an unterminated last line (the
 * workload killed mid-write) is forgiven, and said so.
 */
export function parseDataLog(text: string, fileName = 'data log'): DataLog {
  const events: DataEvent[] = [];
  const errors: string[] = [];
  let cutLastLine = false;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    if (raw === '') return;
    const f = raw.split(' ');
    const seq = events.length;
    const ok =
      f[0] === 'w'
        ? f.length === 4 && REGION.test(f[1]!) && NAT.test(f[2]!) && NAT.test(f[3]!)
        : f[0] === 'd'
          ? f.length === 3 && REGION.test(f[1]!) && NAT.test(f[2]!)
          : f[0] === 'r'
            ? f.length === 6 && REGION.test(f[1]!) && NAT.test(f[2]!) && INT.test(f[3]!) && INT.test(f[4]!) && (f[5] === '0' || f[5] === '1')
            : false;
    if (!ok) {
      if (i === lines.length - 1) cutLastLine = true;
      else errors.push(`${fileName} line ${i + 1}: not a data record: ${JSON.stringify(raw.slice(0, 80))}`);
      return;
    }
    if (f[0] === 'w') events.push({ kind: 'write', seq, region: f[1]!, page: Number(f[2]), version: Number(f[3]) });
    else if (f[0] === 'd') events.push({ kind: 'discard', seq, region: f[1]!, page: Number(f[2]) });
    else {
      const seen = Number(f[3]);
      const seenPage = Number(f[4]);
      events.push({ kind: 'read', seq, region: f[1]!, page: Number(f[2]), seenVersion: seen > 0 ? seen : null, seenPage: seenPage >= 0 ? seenPage : null, corrupt: f[5] === '1' });
    }
  });
  return { events, errors, cutLastLine };
}

export interface TapCase {
  number: number;
  name: string;
  status: 'pass' | 'fail' | 'skip';
  directive?: string;
}

/** A selftest case over the runs of its binary: `flaky` when it failed in one run and passed in another. */
export interface SelftestCase extends Omit<TapCase, 'status'> {
  status: TapCase['status'] | 'flaky';
  /** a flaky case's outcomes over the runs of test_zswap */
  runs?: { fail: number; pass: number };
}

/**
 * The first run's cases, each marked `flaky` when it both failed and passed over the runs (the
 * reruns are made only while a failed case has not passed). A run that did not reach a case (cut
 * short by its budget) says nothing about it: a retry cut short clears nothing.
 */
export function mergeSelftestRuns(first: TapCase[], retries: TapCase[][]): SelftestCase[] {
  return first.map((c) => {
    if (c.status === 'skip') return c;
    const outcomes = [c.status, ...retries.map((r) => r.find((x) => x.name === c.name)?.status)].filter((s) => s === 'pass' || s === 'fail');
    const failed = outcomes.filter((s) => s === 'fail').length;
    if (failed === 0 || failed === outcomes.length) return c;
    return { ...c, status: 'flaky', directive: `failed ${failed} of ${outcomes.length} runs of test_zswap`, runs: { fail: failed, pass: outcomes.length - failed } };
  });
}

/** kselftest TAP: `ok 1 test_zswap_usage`, `not ok 2 ...`, `ok 3 ... # SKIP reason`. */
export function parseTap(text: string): { cases: TapCase[]; plan?: number; bailOut?: string } {
  const cases: TapCase[] = [];
  let plan: number | undefined;
  let bailOut: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const p = /^1\.\.(\d+)/.exec(line);
    if (p) plan = Number(p[1]);
    const b = /^Bail out!\s*(.*)$/.exec(line);
    if (b) bailOut = b[1] ?? '';
    const m = /^(not ok|ok) (\d+)\s*-?\s*([^#]*?)\s*(?:#\s*(.*))?$/.exec(line);
    if (!m) continue;
    const directive = m[4]?.trim();
    const skip = directive !== undefined && /^skip/i.test(directive);
    cases.push({ number: Number(m[2]), name: m[3]!.trim(), status: skip ? 'skip' : m[1] === 'ok' ? 'pass' : 'fail', directive });
  }
  return { cases, plan, bailOut };
}

/** A task the kernel's blocked-task dump (sysrq w) showed in D state, with its call trace. */
export interface BlockedTask {
  comm: string;
  pid: number;
  frames: string[];
}

const DMESG_TS = /^\s*\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?\s?/;
const DUMP_MARK = /kharness-guest: blocked dump \d+/;
const TASK_LINE = /^task:(\S+)\s+state:(\S+)\s.*?\bpid:\s*(\d+)/;
const FRAME_LINE = /^\s*([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;

/**
 * The `<workload>.blocked` file: dmesg lines of the blocked-task dumps suite.sh takes when a
 * workload runs past its budget, each dump opened by a `kharness-guest: blocked dump N` mark.
 * Frames the unwinder only guessed (`? name+0x...`) are left out.
 */
export function parseBlockedDumps(text: string): BlockedTask[][] {
  const dumps: BlockedTask[][] = [];
  let task: BlockedTask | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(DMESG_TS, '').replace(/\r$/, '');
    if (DUMP_MARK.test(line)) {
      dumps.push([]);
      task = undefined;
      continue;
    }
    const dump = dumps[dumps.length - 1];
    if (!dump) continue;
    const t = TASK_LINE.exec(line.trim());
    if (t) {
      task = t[2] === 'D' ? { comm: t[1]!, pid: Number(t[3]), frames: [] } : undefined;
      if (task) dump.push(task);
      continue;
    }
    const f = FRAME_LINE.exec(line);
    if (task && f && !/^\s*\?/.test(line)) task.frames.push(f[1]!.replace(/\.(?:isra|constprop|part|cold)\.\d+$/, ''));
  }
  return dumps;
}

/** Functions of zswap, swap and memory management: where a task stuck for zswap's sake waits. */
const MM_FRAME = /^_*(?:zswap|zpool|zs_|zsmalloc|zbud|z3fold|swap|swapin|read_swap|try_to_unuse|unuse_|do_swap_page|folio_|filemap_|shrink_|try_to_free_|reclaim|mem_cgroup_|memcg_|lru_|madvise|do_madvise|handle_mm_fault|do_fault|do_anonymous_page|migrate_|wait_on_page)/;

/**
 * The hang evidence rule for a workload that ran past its budget. One dump shows a moment, and
 * under TCG a task can sit in D state for seconds on slow swap I/O without anything being wrong,
 * so a task counts only if the last two dumps (taken seconds apart) both show it in D state with
 * the same call trace, and that trace runs through zswap, swap or mm code: the same task stuck
 * at the same place, in the code under test. Anything less is not evidence the kernel hung.
 */
export function stuckTasks(dumps: BlockedTask[][]): BlockedTask[] {
  if (dumps.length < 2) return [];
  const [first, last] = [dumps[dumps.length - 2]!, dumps[dumps.length - 1]!];
  return last.filter((t) => {
    const earlier = first.find((e) => e.pid === t.pid);
    return earlier !== undefined && earlier.frames.length > 0 && earlier.frames.join(' ') === t.frames.join(' ') && t.frames.some((f) => MM_FRAME.test(f));
  });
}
