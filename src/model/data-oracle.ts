import type { Violation } from './rules.js';
import type { DataEvent } from './trace-types.js';

/**
 * The data oracle: the workload stamps every page it writes with (page, version) and logs each
 * write, read and discard. Whatever path a page took (zswap, writeback to disk, swapoff, swapin),
 * a read must see exactly the version last written to that page, or zero (seenVersion null) when
 * the page was never written or its mapping was dropped since.
 */

export interface DataMismatch {
  region: string;
  page: number;
  /** seq of the offending read */
  seq: number;
  /** the version the model predicts (null: the page must read back as zero) */
  expectedVersion: number | null;
  seenVersion: number | null;
  /** the page number stamped in what was read, when it was another page's data */
  seenPage: number | null;
  /** the words of the page disagreed with each other (torn or garbage data) */
  corrupt: boolean;
  /** seq of the write (or discard) the prediction comes from, if any */
  expectedFrom: number | null;
  message: string;
}

export interface DataCheckResult {
  mismatches: DataMismatch[];
  /** the same findings as `data-mismatch` violations, for the report */
  violations: Violation[];
  reads: number;
  pages: number;
}

interface PageState {
  version: number | null;
  from: number | null;
}

export function checkData(events: readonly DataEvent[]): DataCheckResult {
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  const pages = new Map<string, PageState>();
  const key = (region: string, page: number): string => `${region}\u0000${page}`;
  const mismatches: DataMismatch[] = [];
  let reads = 0;
  for (const e of ordered) {
    const k = key(e.region, e.page);
    if (e.kind === 'write') {
      pages.set(k, { version: e.version, from: e.seq });
      continue;
    }
    if (e.kind === 'discard') {
      pages.set(k, { version: null, from: e.seq });
      continue;
    }
    reads++;
    const predicted = pages.get(k) ?? { version: null, from: null };
    if (!pages.has(k)) pages.set(k, predicted);
    const wrongPage = e.seenPage !== null && e.seenPage !== e.page;
    if (e.seenVersion === predicted.version && !wrongPage && !e.corrupt) continue;
    const expected = predicted.version === null ? 'zero' : `version ${predicted.version}`;
    const seen = e.seenVersion === null ? 'zero' : `version ${e.seenVersion}`;
    const parts = [`${e.region} page ${e.page}: read #${e.seq} saw ${seen}`];
    if (wrongPage) parts.push(`of page ${e.seenPage}`);
    parts.push(`, expected ${expected}${predicted.from !== null ? ` (from #${predicted.from})` : ''}`);
    if (e.corrupt) parts.push('; the page words disagree (torn or garbage data)');
    mismatches.push({
      region: e.region,
      page: e.page,
      seq: e.seq,
      expectedVersion: predicted.version,
      seenVersion: e.seenVersion,
      seenPage: e.seenPage,
      corrupt: e.corrupt,
      expectedFrom: predicted.from,
      message: parts.join(' ').replace(' ,', ','),
    });
  }
  const violations: Violation[] = mismatches.map((m) => ({ rule: 'data-mismatch', message: m.message, events: [] }));
  return { mismatches, violations, reads, pages: pages.size };
}
