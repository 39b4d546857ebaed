import type { CounterSnapshot, DataEvent } from '../model/trace-types.js';

/** One line of the guest's results.jsonl, as suite.sh writes it. */
export interface GuestTestLine {
  test: string;
  status: 'pass' | 'fail' | 'skip' | 'error';
  duration_ms: number;
  counters_before: Record<string, number>;
  counters_after: Record<string, number>;
  rc?: number;
  reason?: string;
  [k: string]: unknown;
}

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

export function parseResultsJsonl(text: string): { lines: GuestTestLine[]; malformed: number } {
  const lines: GuestTestLine[] = [];
  let malformed = 0;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      lines.push(JSON.parse(raw) as GuestTestLine);
    } catch {
      malformed++;
    }
  }
  return { lines, malformed };
}

/** The workload's stdout: JSON events, among them `bad` pages and the final `done`. */
export function parseWorkloadOutput(text: string): { bad: BadPage[]; events: Record<string, unknown>[]; badTotal?: number; error?: string } {
  const bad: BadPage[] = [];
  const events: Record<string, unknown>[] = [];
  let badTotal: number | undefined;
  let error: string | undefined;
  for (const raw of text.split('\n')) {
    if (!raw.trim().startsWith('{')) continue;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      continue;
    }
    events.push(ev);
    if (ev.ev === 'bad') {
      bad.push({
        phase: String(ev.phase),
        region: String(ev.region),
        page: Number(ev.page),
        addr: String(ev.addr),
        expectVersion: Number(ev.expect_version),
        seenVersion: Number(ev.seen_version),
        seenPage: Number(ev.seen_page),
        zero: ev.zero === true,
        firstBadWord: Number(ev.first_bad_word),
      });
    } else if (ev.ev === 'done') {
      badTotal = Number(ev.bad);
    } else if (ev.ev === 'error') {
      error = `${String(ev.what)}: ${String(ev.msg)}`;
    }
  }
  return { bad, events, badTotal, error };
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

/**
 * The workload's data log (`w REGION PAGE VERSION`, `r REGION PAGE SEEN_VERSION SEEN_PAGE BAD`,
 * `d REGION PAGE`) as DataEvents for the model's data oracle.
 */
export function parseDataLog(text: string): DataEvent[] {
  const out: DataEvent[] = [];
  for (const raw of text.split('\n')) {
    const f = raw.trim().split(' ');
    if (f.length < 3) continue;
    const seq = out.length;
    if (f[0] === 'w' && f.length >= 4) out.push({ kind: 'write', seq, region: f[1]!, page: Number(f[2]), version: Number(f[3]) });
    else if (f[0] === 'd') out.push({ kind: 'discard', seq, region: f[1]!, page: Number(f[2]) });
    else if (f[0] === 'r' && f.length >= 6) {
      const seen = Number(f[3]);
      const seenPage = Number(f[4]);
      const corrupt = f[5] === '1';
      out.push({ kind: 'read', seq, region: f[1]!, page: Number(f[2]), seenVersion: seen > 0 ? seen : null, seenPage: seenPage >= 0 ? seenPage : null, corrupt });
    }
  }
  return out;
}

export interface TapCase {
  number: number;
  name: string;
  status: 'pass' | 'fail' | 'skip';
  directive?: string;
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

export function toSnapshot(c: Record<string, number>): CounterSnapshot {
  return {
    ...c,
    stored_pages: c.stored_pages ?? 0,
    written_back_pages: c.written_back_pages ?? 0,
    zswpout: c.zswpout ?? 0,
    zswpin: c.zswpin ?? 0,
    zswpwb: c.zswpwb ?? 0,
  };
}
