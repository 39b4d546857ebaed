import { z } from 'zod';

/**
 * What the robot decides, and nothing else: pure functions from (state, what the list shows) to
 * (new state, decisions). Fetching, locking and running live in watch.ts.
 */

/** One version of a series as found on the list. */
export const SeriesVersionSchema = z.object({
  /** Message-ID of this version's cover letter (or patch 1 without one): the version's identity. */
  key: z.string(),
  /** The same for every version of a series: the author's address and the series subject. */
  seriesId: z.string(),
  version: z.number().int().positive(),
  resend: z.boolean(),
  /** The cover's (or patch 1's) subject as sent. */
  subject: z.string(),
  /** SHA-256 over the patches' diffs in order: equal for a RESEND of the same patches. */
  contentHash: z.string(),
  /** ISO 8601 date of the key message. */
  date: z.string(),
  /** Where `kharness run` fetches it: the key message's URL on the list. */
  threadUrl: z.string(),
  // [a-z0-9-] only, as series.json's: it names the report folder.
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
});
export type SeriesVersion = z.infer<typeof SeriesVersionSchema>;

export const VersionStatusSchema = z.enum(['queued', 'tested', 'reused', 'superseded']);
export type VersionStatus = z.infer<typeof VersionStatusSchema>;

export const VersionRecordSchema = SeriesVersionSchema.extend({
  status: VersionStatusSchema,
  /** reused: the version whose result this one shares (same patches). */
  reusedFrom: z.string().optional(),
  /** superseded: the newer version that replaced it in the queue. */
  supersededBy: z.string().optional(),
  /** tested: the report folder. */
  reportDir: z.string().optional(),
  verdict: z.string().optional(),
});
export type VersionRecord = z.infer<typeof VersionRecordSchema>;

export const RobotStateSchema = z.object({
  schemaVersion: z.literal(1),
  list: z.string(),
  versions: z.record(VersionRecordSchema),
  /** Message-IDs already read from a fetched thread: their feed entries need no fetch again. */
  seen: z.array(z.string()),
});
export type RobotState = z.infer<typeof RobotStateSchema>;

export function emptyState(list: string): RobotState {
  return { schemaVersion: 1, list, versions: {}, seen: [] };
}

export interface Decision {
  key: string;
  action: 'test' | 'reuse' | 'superseded';
  /** reuse: whose result; superseded: by which version */
  other?: string;
}

const byDate = (a: { date: string; key: string }, b: { date: string; key: string }): number => a.date.localeCompare(b.date) || a.key.localeCompare(b.key);

/** The record a reuse chain ends at (the one that is, or will be, tested). */
export function resultSource(state: RobotState, key: string): VersionRecord | undefined {
  let rec = state.versions[key];
  for (let hops = 0; rec?.status === 'reused' && rec.reusedFrom !== undefined && hops < 100; hops++) rec = state.versions[rec.reusedFrom];
  return rec;
}

/**
 * Folds newly found versions into the state. A version already known is left alone (replies and
 * trailers never retest); an older version than the newest of its series is superseded (a queued
 * v1 too); a version whose patches equal a known one's (a RESEND) reuses that result; the rest
 * are queued. Returns the decisions about the new versions and any queued ones superseded.
 */
export function decide(state: RobotState, found: readonly SeriesVersion[]): { state: RobotState; decisions: Decision[] } {
  const versions: Record<string, VersionRecord> = { ...state.versions };
  const fresh = found.filter((v, i) => versions[v.key] === undefined && found.findIndex((w) => w.key === v.key) === i).sort(byDate);
  const decisions: Decision[] = [];
  const newest = new Map<string, VersionRecord | SeriesVersion>();
  for (const v of [...Object.values(versions), ...fresh]) {
    const best = newest.get(v.seriesId);
    if (!best || v.version > best.version || (v.version === best.version && byDate(v, best) < 0)) newest.set(v.seriesId, v);
  }
  for (const rec of Object.values(versions)) {
    const top = newest.get(rec.seriesId) as SeriesVersion;
    if (rec.status === 'queued' && rec.version < top.version) {
      versions[rec.key] = { ...rec, status: 'superseded', supersededBy: top.key };
      decisions.push({ key: rec.key, action: 'superseded', other: top.key });
    }
  }
  for (const v of fresh) {
    const top = newest.get(v.seriesId) as SeriesVersion;
    if (v.version < top.version) {
      versions[v.key] = { ...v, status: 'superseded', supersededBy: top.key };
      decisions.push({ key: v.key, action: 'superseded', other: top.key });
      continue;
    }
    const same = Object.values(versions).find((r) => r.contentHash === v.contentHash && r.status !== 'superseded');
    if (same) {
      versions[v.key] = { ...v, status: 'reused', reusedFrom: resultSource({ ...state, versions }, same.key)?.key ?? same.key };
      decisions.push({ key: v.key, action: 'reuse', other: versions[v.key]?.reusedFrom });
      continue;
    }
    versions[v.key] = { ...v, status: 'queued' };
    decisions.push({ key: v.key, action: 'test' });
  }
  return { state: { ...state, versions }, decisions };
}

/** The versions waiting to be tested, oldest first. */
export function queue(state: RobotState): VersionRecord[] {
  return Object.values(state.versions)
    .filter((r) => r.status === 'queued')
    .sort(byDate);
}

export function markTested(state: RobotState, key: string, reportDir: string, verdict: string): RobotState {
  const rec = state.versions[key];
  if (!rec) return state;
  return { ...state, versions: { ...state.versions, [key]: { ...rec, status: 'tested', reportDir, verdict } } };
}

/** Adds message ids to `seen`, once each. */
export function markSeen(state: RobotState, ids: Iterable<string>): RobotState {
  const seen = new Set(state.seen);
  for (const id of ids) seen.add(id);
  return { ...state, seen: [...seen] };
}

/**
 * The report folder under --out: the series slug ([a-z0-9-] only, so mail cannot steer the path);
 * a RESEND that is tested (its diffs changed) gets its own, beside the original's.
 */
export function reportFolderName(v: Pick<SeriesVersion, 'slug' | 'resend'>): string {
  return v.resend ? `${v.slug}-resend` : v.slug;
}

/** `--dry-run`'s line: message-id, version, subject. */
export function dryRunLine(v: Pick<SeriesVersion, 'key' | 'version' | 'subject'>): string {
  return `${v.key}\tv${v.version}\t${v.subject.replace(/[\t\r\n]+/g, ' ')}`;
}
