import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError, KharnessError, errorMessage } from '../common/errors.js';
import { assembleSeries, diffHash } from '../lore/assemble.js';
import { messageUrl, parseAtom, type AtomEntry } from '../lore/atom.js';
import { parseThread, readThread } from '../lore/fetch.js';
import { httpGet } from '../lore/http.js';
import { normalizeBase } from '../lore/input.js';
import type { MailMessage } from '../lore/message.js';
import { parseDateSpec } from '../lore/query.js';
import { parseSubject } from '../lore/subject.js';
import { decide, dryRunLine, markSeen, markTested, queue, resultSource, type RobotState, type SeriesVersion, type VersionRecord } from './decide.js';
import { lockState, readState, writeState } from './state.js';

/** What running one series version gives back. */
export interface RunOutcome {
  reportDir: string;
  verdict: string;
}

export type RunVersion = (v: VersionRecord) => Promise<RunOutcome>;

export interface WatchOptions {
  /** The list's URL: `https://lore.kernel.org/linux-mm/`. */
  list: string;
  query?: string;
  since?: string;
  once: boolean;
  dryRun: boolean;
  intervalS: number;
  /** Runs one version (kharness run in production, a stub in tests). */
  run: RunVersion;
  /** One line of output (stdout). */
  print: (line: string) => void;
  /** A progress note (stderr). */
  note: (line: string) => void;
  now?: () => Date;
}

/** The list's base URL (`http://host/linux-mm`) and its parts; refuses a URL that names no list. */
export function parseListUrl(list: string): { listUrl: string; base: string; name: string } {
  const url = new URL(normalizeBase(list));
  const segments = url.pathname.split('/').filter(Boolean);
  const name = segments[segments.length - 1];
  if (name === undefined) throw new InputError(`${list} names no list`, 'give the list URL, like https://lore.kernel.org/linux-mm/');
  return { listUrl: `${url.origin}/${segments.map(encodeURIComponent).join('/')}`, base: `${url.origin}${segments.length > 1 ? `/${segments.slice(0, -1).join('/')}` : ''}`, name };
}

/** The feed to poll: new.atom, or the search (`?q=…&x=A`) when there is a query or a start date. */
export function feedUrl(listUrl: string, query: string | undefined, since: string | undefined, now: Date): string {
  const terms = [query?.trim(), since ? `d:${isoDay(parseDateSpec(since, now))}..` : undefined].filter((t): t is string => !!t);
  if (terms.length === 0) return `${listUrl}/new.atom`;
  return `${listUrl}/?${new URLSearchParams({ q: terms.join(' '), x: 'A' }).toString()}`;
}

const isoDay = (d: Date): string => d.toISOString().slice(0, 10).replace(/-/g, '');

/** Feed entries that may start a new series version: patch mails, not replies, not read before. */
export function candidateEntries(entries: readonly AtomEntry[], seen: ReadonlySet<string>): AtomEntry[] {
  return entries.filter((e) => {
    const s = parseSubject(e.subject);
    return s.patch && !s.reply && !seen.has(e.messageId);
  });
}

function contentHash(messages: readonly MailMessage[], patchIds: readonly string[]): string {
  const byId = new Map(messages.map((m) => [m.messageId, m]));
  const hash = createHash('sha256');
  for (const id of patchIds) hash.update(`${diffHash(byId.get(id)?.body ?? '') ?? id}\n`);
  return hash.digest('hex');
}

/** Every complete series version in one thread (a version with a missing patch waits for the next poll). */
export function versionsInThread(messages: readonly MailMessage[], listUrl: string, note: (l: string) => void): SeriesVersion[] {
  const revisions = new Set(messages.filter((m) => m.subject.patch && !m.subject.reply).map((m) => m.subject.revision));
  const out: SeriesVersion[] = [];
  for (const version of [...revisions].sort((a, b) => a - b)) {
    let series;
    try {
      series = assembleSeries(messages, { version, source: listUrl }).series;
    } catch (err) {
      if (!(err instanceof KharnessError)) throw err;
      note(`skipped v${version} of a thread for now: ${errorMessage(err)}`);
      continue;
    }
    const key = series.cover?.messageId ?? (series.patches[0]?.messageId as string);
    const keyMail = messages.find((m) => m.messageId === key);
    const author = series.cover?.author ?? series.patches[0]?.author;
    out.push({
      key,
      seriesId: `${(author?.email ?? '').toLowerCase()}\n${series.subject.toLowerCase()}`,
      version: series.version,
      resend: keyMail?.subject.resend ?? false,
      subject: keyMail?.subject.full ?? series.subject,
      contentHash: contentHash(messages, series.patches.map((p) => p.messageId)),
      date: keyMail?.date?.toISOString() ?? '',
      threadUrl: messageUrl(listUrl, key),
      slug: series.slug,
    });
  }
  return out;
}

/** One poll: the feed, then the thread of each new patch mail (once per thread). */
export async function poll(state: RobotState, opts: Pick<WatchOptions, 'list' | 'query' | 'since' | 'note' | 'now'>): Promise<{ found: SeriesVersion[]; readIds: string[] }> {
  const { listUrl, base, name } = parseListUrl(opts.list);
  const url = feedUrl(listUrl, opts.query, opts.since, opts.now?.() ?? new Date());
  const entries = parseAtom((await httpGet(url, `the list feed ${url}`)).toString('utf8'), url);
  const read = new Set(state.seen);
  const found: SeriesVersion[] = [];
  const readIds: string[] = [];
  for (const entry of candidateEntries(entries, read).reverse()) {
    if (read.has(entry.messageId)) continue;
    const thread = await readThread({ kind: 'lore', base, list: name, messageId: entry.messageId }, { cache: false });
    const messages = await parseThread(thread.data, `the thread of <${entry.messageId}>`);
    const versions = versionsInThread(messages, listUrl, opts.note);
    found.push(...versions);
    // Mails of an incomplete version are read again next time, when the rest may have arrived.
    const complete = new Set(versions.map((v) => v.version));
    for (const m of messages) if (!m.subject.patch || m.subject.reply || complete.has(m.subject.revision)) readIds.push(m.messageId);
    for (const m of messages) read.add(m.messageId);
  }
  return { found, readIds };
}

/** One round: poll, decide, save, then (unless a dry run) test what is queued, saving after each. */
export async function watchRound(opts: WatchOptions): Promise<RobotState> {
  let state = await readState(parseListUrl(opts.list).listUrl);
  const { found, readIds } = await poll(state, opts);
  const decided = decide(state, found);
  for (const d of decided.decisions) if (d.action !== 'test') opts.note(`${d.key}: ${d.action === 'reuse' ? `same patches as <${d.other}>, its result is reused` : `superseded by <${d.other}>`}`);
  if (opts.dryRun) {
    for (const v of queue(decided.state)) opts.print(dryRunLine(v));
    return decided.state;
  }
  state = markSeen(decided.state, readIds);
  await writeState(state);
  for (const v of queue(state)) {
    opts.note(`testing ${dryRunLine(v)}`);
    let outcome: RunOutcome;
    try {
      outcome = await opts.run(v);
    } catch (err) {
      // Our side broke, not the series: it stays queued and is tried again next round.
      opts.note(`${v.key}: the run broke (${errorMessage(err)}); it stays queued`);
      continue;
    }
    state = markTested(state, v.key, outcome.reportDir, outcome.verdict);
    await writeState(state);
    opts.print(`${v.key}\tv${v.version}\t${outcome.verdict}\t${outcome.reportDir}`);
  }
  for (const d of decided.decisions) {
    const src = d.action === 'reuse' ? resultSource(state, d.key) : undefined;
    if (src?.reportDir) opts.print(`${d.key}\tv${state.versions[d.key]?.version ?? '?'}\t${src.verdict ?? ''}\t${src.reportDir} (reused)`);
  }
  return state;
}

/** `kharness watch`: rounds every `intervalS` (or one with --once), holding the list's lock throughout. */
export async function watch(opts: WatchOptions): Promise<void> {
  const release = opts.dryRun ? undefined : await lockState(parseListUrl(opts.list).listUrl);
  try {
    for (;;) {
      if (opts.once) return void (await watchRound(opts));
      // A long-running robot outlives a lore outage: the round is tried again after the interval.
      await watchRound(opts).catch((err: unknown) => opts.note(`this round failed: ${errorMessage(err)}`));
      await sleep(opts.intervalS * 1000);
    }
  } finally {
    await release?.();
  }
}
