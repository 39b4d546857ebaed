import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { simpleParser } from 'mailparser';
import { InfraError, InputError, errorMessage } from '../common/errors.js';
import { messageUrl, renderAtom, type AtomEntry } from './atom.js';
import { encodeMessageId } from './input.js';
import { joinMboxrd, maybeGunzip, msgidsIn, rawHeaders, splitMbox } from './mbox.js';
import { diffFiles, matchesQuery, parseQuery, type SearchableMessage } from './query.js';

export interface LoreServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  threads: number;
  messages: number;
  /** Requests received so far, faulted ones included (tests count them). */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * TEST FACILITY: a misbehaviour serve-lore can be told to show, so that the lore client's
 * retries and limits are tested against real HTTP. Off unless asked for.
 */
export type LoreFault =
  /** Answer `status` instead of serving (with `Retry-After: <retryAfter>` seconds when given). */
  | { kind: 'status'; status: number; times: number; retryAfter?: number }
  /** Destroy the connection without answering. */
  | { kind: 'reset'; times: number }
  /** Send a thread mbox's headers and half its body, then drop the connection. */
  | { kind: 'cut'; times: number };

/** TEST FACILITY: what serve-lore does wrong, and when. */
export interface LoreTestFaults {
  /**
   * Faults for the first requests, in order: [429 ×2, reset ×1] answers requests 1 and 2 with
   * 429, drops the 3rd, then serves normally. A `cut` on anything but a thread mbox is served whole.
   */
  sequence?: LoreFault[];
  /** Send every thread mbox `chunkBytes` at a time, `delayMs` apart, chunked (no Content-Length). */
  slowBody?: { chunkBytes: number; delayMs: number };
}

/** How a thread mbox's body goes out this time. */
type BodyDelivery = { kind: 'whole' } | { kind: 'cut' } | { kind: 'slow'; chunkBytes: number; delayMs: number };

interface ThreadFile {
  file: string;
  messages: Buffer[];
  ids: string[];
  gz?: Buffer;
}

interface Indexed {
  thread: ThreadFile;
  index: number;
}

async function loadThreads(dir: string): Promise<{ threads: ThreadFile[]; byId: Map<string, Indexed> }> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    names = (await readdir(dir)).filter((n) => /\.mbox(?:\.gz)?$/.test(n)).sort();
  } catch (err) {
    throw new InputError(`cannot serve ${dir}: ${errorMessage(err)}`, 'give a folder of thread mboxes (*.mbox or *.mbox.gz)');
  }
  const threads: ThreadFile[] = [];
  const byId = new Map<string, Indexed>();
  for (const name of names) {
    const file = path.join(dir, name);
    const messages = splitMbox(maybeGunzip(await readFile(file), file));
    const thread: ThreadFile = { file, messages, ids: [] };
    messages.forEach((m, index) => {
      const id = msgidsIn(rawHeaders(m).find(([k]) => k === 'message-id')?.[1])[0] ?? '';
      thread.ids.push(id);
      // The first file to hold an id owns it, like an archive that saw that copy first.
      if (id && !byId.has(id)) byId.set(id, { thread, index });
    });
    threads.push(thread);
  }
  return { threads, byId };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function send(res: ServerResponse, status: number, type: string, body: Buffer | string, extra: Record<string, string> = {}): void {
  const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(data.length), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

function page(title: string, content: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n${content}\n</body></html>\n`;
}

interface Summary {
  subject: string;
  from: string;
  fromName: string;
  fromEmail: string;
  date: string;
  text: string;
  parent?: string;
}

async function summary(raw: Buffer): Promise<Summary> {
  const m = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
  const headers = rawHeaders(raw);
  const sender = m.from?.value[0];
  return {
    subject: m.subject ?? '(no subject)',
    from: m.from?.text ?? '',
    fromName: sender?.name ?? '',
    fromEmail: sender?.address ?? '',
    date: m.date && !Number.isNaN(m.date.getTime()) ? m.date.toISOString() : '',
    text: m.text ?? '',
    parent: msgidsIn(headers.find(([k]) => k === 'in-reply-to')?.[1])[0],
  };
}

/** One archived message as the feed and the search see it. */
type ArchivedMessage = SearchableMessage & { messageId: string; summary: Summary };

/** Every message once (the first copy of an id), summarised; built on the first feed or search request. */
async function searchIndex(byId: Map<string, Indexed>): Promise<ArchivedMessage[]> {
  return Promise.all(
    [...byId].map(async ([messageId, { thread, index }]) => {
      const s = await summary(thread.messages[index] as Buffer);
      return { messageId, summary: s, subject: s.subject, from: s.from, date: s.date ? new Date(s.date) : undefined, body: s.text, diffFiles: diffFiles(s.text) };
    }),
  );
}

const FEED_ENTRIES = 25;
const SEARCH_ENTRIES = 200;

/** Newest first, as public-inbox lists them. */
function newestFirst(messages: ArchivedMessage[]): ArchivedMessage[] {
  return [...messages].sort((a, b) => (b.date?.getTime() ?? 0) - (a.date?.getTime() ?? 0));
}

function atomEntries(listUrl: string, messages: ArchivedMessage[]): (AtomEntry & { body: string })[] {
  return messages.map((m) => ({
    messageId: m.messageId,
    subject: m.subject,
    author: { name: m.summary.fromName, email: m.summary.fromEmail },
    updated: m.summary.date || new Date(0).toISOString(),
    inReplyTo: m.summary.parent,
    link: messageUrl(listUrl, m.messageId),
    body: m.body,
  }));
}

/** `/<list>/new.atom` and `/<list>/?q=…` (Atom with `x=A`, else a list of links). */
async function sendListView(req: IncomingMessage, res: ServerResponse, url: URL, list: string, index: () => Promise<ArchivedMessage[]>): Promise<void> {
  const listUrl = `http://${req.headers.host ?? '127.0.0.1'}/${encodeURIComponent(list)}`;
  const query = url.searchParams.get('q');
  let chosen: ArchivedMessage[];
  if (query === null) {
    chosen = newestFirst(await index()).slice(0, FEED_ENTRIES);
  } else {
    let terms;
    try {
      terms = parseQuery(query);
    } catch (err) {
      send(res, 400, 'text/plain; charset=utf-8', `400: ${errorMessage(err)}\n`);
      return;
    }
    chosen = newestFirst((await index()).filter((m) => matchesQuery(terms, m))).slice(0, SEARCH_ENTRIES);
  }
  if (query === null || url.searchParams.get('x') === 'A') {
    const title = query === null ? `${list} archive` : `${query} - search results`;
    send(res, 200, 'application/atom+xml', renderAtom(listUrl, title, `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, atomEntries(listUrl, chosen)));
    return;
  }
  const rows = chosen.map((m) => `<li><a href="${escapeHtml(messageUrl(listUrl, m.messageId))}">${escapeHtml(m.subject)}</a> ${escapeHtml(m.summary.date)}</li>`);
  send(res, 200, 'text/html; charset=utf-8', page(`${query} - search results`, `<ul>\n${rows.join('\n')}\n</ul>`));
}

async function threadPage(list: string, thread: ThreadFile, nested: boolean): Promise<string> {
  const items = await Promise.all(thread.messages.map(summary));
  const depth = new Map<string, number>();
  const parts: string[] = [];
  items.forEach((item, i) => {
    const id = thread.ids[i] ?? '';
    const d = nested && item.parent !== undefined && depth.has(item.parent) ? (depth.get(item.parent) as number) + 1 : 0;
    depth.set(id, d);
    const link = `/${encodeURIComponent(list)}/${encodeMessageId(id)}/`;
    parts.push(
      `<div style="margin-left:${d * 2}em"><hr><a id="m-${escapeHtml(id)}" href="${escapeHtml(link)}"><b>${escapeHtml(item.subject)}</b></a>` +
        `<br>From: ${escapeHtml(item.from)}<br>Date: ${escapeHtml(item.date)}<pre>${escapeHtml(item.text)}</pre></div>`,
    );
  });
  const first = items[0]?.subject ?? 'thread';
  return page(first, `<h1>${escapeHtml(first)}</h1>\n<p><a href="t.mbox.gz">mbox.gz</a> (${thread.messages.length} messages)</p>\n${parts.join('\n')}`);
}

async function messagePage(list: string, thread: ThreadFile, index: number): Promise<string> {
  const item = await summary(thread.messages[index] as Buffer);
  const root = `/${encodeURIComponent(list)}/${encodeMessageId(thread.ids[index] ?? '')}/`;
  return page(
    item.subject,
    `<h1>${escapeHtml(item.subject)}</h1>\n<p>From: ${escapeHtml(item.from)}<br>Date: ${escapeHtml(item.date)}</p>\n` +
      `<p><a href="${escapeHtml(root)}raw">raw</a> <a href="${escapeHtml(root)}T/">thread</a> <a href="${escapeHtml(root)}t.mbox.gz">mbox.gz</a></p>\n` +
      `<pre>${escapeHtml(item.text)}</pre>`,
  );
}

async function sendThreadMbox(res: ServerResponse, gz: Buffer, delivery: BodyDelivery): Promise<void> {
  const disposition = { 'Content-Disposition': 'inline; filename=t.mbox.gz' };
  if (delivery.kind === 'whole' || res.req.method === 'HEAD') {
    send(res, 200, 'application/gzip', gz, disposition);
    return;
  }
  if (delivery.kind === 'cut') {
    res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': String(gz.length), ...disposition });
    res.write(gz.subarray(0, Math.floor(gz.length / 2)), () => res.destroy());
    return;
  }
  // No Content-Length: the body goes out chunked, as it would from a server still producing it.
  res.writeHead(200, { 'Content-Type': 'application/gzip', ...disposition });
  for (let at = 0; at < gz.length && !res.destroyed; at += delivery.chunkBytes) {
    if (at > 0) await sleep(delivery.delayMs);
    if (!res.destroyed) res.write(gz.subarray(at, at + delivery.chunkBytes));
  }
  if (!res.destroyed) res.end();
}

async function handle(req: IncomingMessage, res: ServerResponse, threads: ThreadFile[], byId: Map<string, Indexed>, delivery: BodyDelivery, index: () => Promise<ArchivedMessage[]>): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const raw = url.pathname.split('/').slice(1);
  const trailingSlash = url.pathname.endsWith('/');
  if (raw[raw.length - 1] === '') raw.pop();
  let segments: string[];
  try {
    segments = raw.map((s) => decodeURIComponent(s));
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad percent-encoding\n');
    return;
  }

  if (segments.length === 0) {
    const rows = threads.map((t) => {
      const id = t.ids[0] ?? '';
      return `<li><a href="/all/${escapeHtml(encodeMessageId(id))}/T/">${escapeHtml(path.basename(t.file))}</a> (${t.messages.length} messages)</li>`;
    });
    send(res, 200, 'text/html; charset=utf-8', page('kharness serve-lore', `<h1>Threads</h1>\n<ul>\n${rows.join('\n')}\n</ul>`));
    return;
  }
  const [list, id, ...rest] = segments;
  if (list !== undefined && ((id === undefined && url.searchParams.has('q')) || (id === 'new.atom' && rest.length === 0))) {
    await sendListView(req, res, url, list, index);
    return;
  }
  const found = id === undefined ? undefined : byId.get(id);
  if (list === undefined || id === undefined || !found) {
    send(res, 404, 'text/plain; charset=utf-8', `404 Not Found: no message ${id === undefined ? '' : `<${id}>`} here\n`);
    return;
  }
  const base = `/${encodeURIComponent(list)}/${encodeMessageId(id)}/`;
  const suffix = rest.join('/');
  switch (suffix) {
    case '':
      if (!trailingSlash) {
        send(res, 301, 'text/plain; charset=utf-8', `see ${base}\n`, { Location: base });
        return;
      }
      send(res, 200, 'text/html; charset=utf-8', await messagePage(list, found.thread, found.index));
      return;
    case 'raw':
      send(res, 200, 'text/plain; charset=utf-8', joinMboxrd([found.thread.messages[found.index] as Buffer]));
      return;
    case 't.mbox.gz':
      found.thread.gz ??= gzipSync(joinMboxrd(found.thread.messages));
      await sendThreadMbox(res, found.thread.gz, delivery);
      return;
    case 'T':
    case 't':
      if (!trailingSlash) {
        send(res, 301, 'text/plain; charset=utf-8', `see ${base}${suffix}/\n`, { Location: `${base}${suffix}/` });
        return;
      }
      send(res, 200, 'text/html; charset=utf-8', await threadPage(list, found.thread, suffix === 't'));
      return;
    default:
      send(res, 404, 'text/plain; charset=utf-8', `404 Not Found: ${url.pathname}\n`);
  }
}

/** The fault for the `n`th request (from 1), if the sequence has one for it. */
function faultFor(sequence: LoreFault[], n: number): LoreFault | undefined {
  let first = 1;
  for (const fault of sequence) {
    if (n < first + fault.times) return fault;
    first += fault.times;
  }
  return undefined;
}

/** Acts out a status or reset fault; false when the request is to be served (perhaps with a cut body). */
function actOutFault(req: IncomingMessage, res: ServerResponse, fault: LoreFault | undefined): boolean {
  if (fault?.kind === 'reset') {
    req.socket.destroy();
    return true;
  }
  if (fault?.kind === 'status') {
    const retryAfter: Record<string, string> = fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) };
    send(res, fault.status, 'text/plain; charset=utf-8', `${fault.status}: serve-lore test fault\n`, retryAfter);
    return true;
  }
  return false;
}

/**
 * A lore-shaped HTTP server on 127.0.0.1 over a folder of thread mboxes (one thread per file).
 * Every Message-ID in a file resolves to that file's thread. Port 0 picks a free port.
 * `testFaults` makes it misbehave on purpose, for testing clients (see LoreTestFaults).
 */
export async function startLoreServer(dir: string, port = 0, testFaults: LoreTestFaults = {}): Promise<LoreServer> {
  const { threads, byId } = await loadThreads(dir);
  let built: Promise<ArchivedMessage[]> | undefined;
  const index = (): Promise<ArchivedMessage[]> => (built ??= searchIndex(byId));
  let requests = 0;
  const server = createServer((req, res) => {
    const fault = faultFor(testFaults.sequence ?? [], ++requests);
    if (actOutFault(req, res, fault)) return;
    const delivery: BodyDelivery = fault?.kind === 'cut' ? { kind: 'cut' } : testFaults.slowBody ? { kind: 'slow', ...testFaults.slowBody } : { kind: 'whole' };
    handle(req, res, threads, byId, delivery, index).catch((err) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `500: ${errorMessage(err)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new InfraError(`serve-lore cannot listen on 127.0.0.1:${port}: ${errorMessage(err)}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    threads: threads.length,
    messages: byId.size,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** A whole number of at least `min` from a --test-faults field, or a usage error naming the item. */
function faultNumber(value: string | undefined, item: string, min: number, what: string): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isInteger(n) || n < min) throw new InputError(`--test-faults: "${item}" needs ${what} (a whole number, at least ${min})`);
  return n;
}

/** One --test-faults item into `faults`. */
function addTestFault(faults: LoreTestFaults & { sequence: LoreFault[] }, item: string): void {
  const [kind = '', first, second, ...extra] = item.split(':');
  if (extra.length > 0) throw new InputError(`--test-faults: too many fields in "${item}"`);
  if (kind === 'slow') {
    faults.slowBody = { chunkBytes: faultNumber(first, item, 1, 'a chunk size'), delayMs: faultNumber(second, item, 0, 'a delay in ms') };
  } else if (kind === 'reset' || kind === 'cut') {
    if (second !== undefined) throw new InputError(`--test-faults: "${item}" takes only a count`);
    faults.sequence.push({ kind, times: faultNumber(first, item, 1, 'a count') });
  } else if (/^[45]\d\d$/.test(kind)) {
    const retryAfter = second === undefined ? undefined : faultNumber(second, item, 0, 'a Retry-After in seconds');
    faults.sequence.push({ kind: 'status', status: Number(kind), times: faultNumber(first, item, 1, 'a count'), retryAfter });
  } else {
    throw new InputError(`--test-faults: unknown fault "${item}"`, 'one of STATUS:TIMES[:RETRY_AFTER] (a 4xx or 5xx), reset:TIMES, cut:TIMES, slow:CHUNK_BYTES:DELAY_MS');
  }
}

/**
 * Reads serve-lore's `--test-faults` (a test facility): comma-separated, in order.
 * `STATUS:TIMES[:RETRY_AFTER]` (429:2:1 answers the first two requests 429 with Retry-After: 1),
 * `reset:TIMES`, `cut:TIMES`, and `slow:CHUNK_BYTES:DELAY_MS` for every thread mbox.
 */
export function parseTestFaults(spec: string): LoreTestFaults {
  const faults: LoreTestFaults & { sequence: LoreFault[] } = { sequence: [] };
  for (const item of spec.split(',').map((s) => s.trim())) if (item !== '') addTestFault(faults, item);
  return faults;
}
