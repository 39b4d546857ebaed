import { readFile } from 'node:fs/promises';
import { InputError, errorMessage } from '../common/errors.js';
import { assembleSeries, type AssembledSeries } from './assemble.js';
import type { AttestOptions } from './attest.js';
import { attestOptions, attestSeries } from './attest-series.js';
import { cacheThread, readCachedThread } from './cache.js';
import { httpGet, type HttpOptions } from './http.js';
import { resolveInput, threadMboxUrl, threadPageUrl, type FetchInput } from './input.js';
import { maybeGunzip, splitMbox } from './mbox.js';
import { parseMessage, type MailMessage } from './message.js';

export interface FetchOptions {
  /** Which version to assemble; the newest when absent. */
  version?: number;
  /** Lore server to ask instead of lore.kernel.org (and instead of a full URL's own host). */
  lore?: string;
  /**
   * Reuse a thread fetched from the same URL in the last 10 minutes (default: true, unless
   * KHARNESS_LORE_NO_CACHE=1). Without it the server is asked, and its answer still replaces the kept one.
   */
  cache?: boolean;
  /** Retry and size knobs of the HTTP client (tests). */
  http?: HttpOptions;
  /** Keyrings and DNS for attestation (default: patatt's keyrings, the system's DNS); false skips it (benchmarks). */
  attest?: AttestOptions | false;
  /** Squash fix-ups into the patches they fix instead of applying them as steps of their own. */
  squashFixups?: boolean;
}

export type FetchResult = AssembledSeries;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** Rejects what is plainly not an mbox, so the error says so instead of "no patches". */
function checkLooksLikeMail(data: Buffer, what: string): void {
  const head = data.subarray(0, 2048).toString('latin1').trimStart();
  // Mail starts with a From_ line or a header; only then may "<html" be part of a subject.
  const looksLikeMail = /^From \S/.test(head) || /^[\x21-\x39\x3b-\x7e]+:/.test(head);
  if (!looksLikeMail && (/^<(?:!doctype\s+html|html|\?xml|head|body)\b/i.test(head) || /<html[\s>]/i.test(head.slice(0, 512)))) {
    throw new InputError(`${what} is an HTML page, not an mbox`, 'lore serves the thread mbox at <base>/all/<message-id>/t.mbox.gz; is --lore pointing at a lore server?');
  }
}

export interface ThreadBytes {
  data: Buffer;
  source: string;
  threadUrl?: string;
  messageId?: string;
  /** Keeps a freshly fetched body in the cache; called once the bytes have parsed as a thread. */
  keep?: () => Promise<void>;
}

/** Reads the thread bytes for an input: the file, stdin, or the lore thread mbox over HTTP (or the cache). */
export async function readThread(input: FetchInput, opts: Pick<FetchOptions, 'cache' | 'http'> = {}): Promise<ThreadBytes> {
  switch (input.kind) {
    case 'stdin':
      return { data: maybeGunzip(await readStdin(), 'standard input'), source: '-' };
    case 'file': {
      let raw: Buffer;
      try {
        raw = await readFile(input.path);
      } catch (err) {
        throw new InputError(`cannot read ${input.path}: ${errorMessage(err)}`);
      }
      return { data: maybeGunzip(raw, input.path), source: input.path };
    }
    case 'lore': {
      const url = threadMboxUrl(input);
      const cached = opts.cache === false ? undefined : await readCachedThread(url);
      const raw = cached ?? (await httpGet(url, `unknown message-id <${input.messageId}>`, opts.http));
      // lore sends gzip as the body, not as a transfer encoding; a proxy may already have inflated it.
      const data = maybeGunzip(raw, `the thread mbox from ${url}`);
      const keep = cached ? undefined : () => cacheThread(url, raw);
      return { data, source: url, threadUrl: threadPageUrl(input), messageId: input.messageId, keep };
    }
  }
}

/** The most messages a thread may have: lore's longest threads have a few thousand; more is not a review thread. */
export const MAX_THREAD_MESSAGES = 5000;

/** Splits and decodes a thread's messages; `what` names the source in errors. */
export async function parseThread(data: Buffer, what: string): Promise<MailMessage[]> {
  return (await parseThreadMails(data, what)).messages;
}

/** parseThread, keeping each message's raw bytes too (messages[i].order indexes raws). */
export async function parseThreadMails(data: Buffer, what: string): Promise<{ messages: MailMessage[]; raws: Buffer[] }> {
  checkLooksLikeMail(data, what);
  const raws = splitMbox(data);
  if (raws.length === 0) {
    throw new InputError(data.length === 0 ? `${what} is empty: the thread has no messages` : `${what} holds no mail messages (not an mbox?)`);
  }
  if (raws.length > MAX_THREAD_MESSAGES) {
    throw new InputError(`${what} holds ${raws.length} messages, more than the ${MAX_THREAD_MESSAGES} a thread may have`, 'point at the series itself (its cover letter or a patch), or pass an mbox of just the series');
  }
  return { messages: await parseAll(raws, what), raws };
}

function parseAll(raws: Buffer[], what: string): Promise<MailMessage[]> {
  // All at once: mailparser spends its time waiting on its own stream ticks, which interleave well.
  return Promise.all(
    raws.map((raw, i) =>
      parseMessage(raw, i).catch((err: unknown) => {
        throw new InputError(`message ${i + 1} of ${what} cannot be parsed: ${errorMessage(err)}`);
      }),
    ),
  );
}

const cacheWanted = (opts: FetchOptions): boolean => opts.cache ?? process.env.KHARNESS_LORE_NO_CACHE !== '1';

/**
 * Fetches (or reads) a thread and assembles the series in it. `input` is a lore URL, a
 * message-id, a patch.msgid.link URL, an mbox(.gz) file, or `-` for stdin.
 */
export async function fetchSeries(input: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const resolved = resolveInput(input, opts.lore ?? process.env.KHARNESS_LORE);
  const { data, source, threadUrl, messageId, keep } = await readThread(resolved, { cache: cacheWanted(opts), http: opts.http });
  const what = resolved.kind === 'lore' ? `the thread of <${resolved.messageId}> (${source})` : resolved.kind === 'stdin' ? 'standard input' : source;
  const { messages, raws } = await parseThreadMails(data, what);
  // Only a body that is a thread is kept: an HTML page or a truncated gzip is asked for again.
  await keep?.();
  const assembled = assembleSeries(messages, { version: opts.version, source, threadUrl, wantedMessageId: messageId, squashFixups: opts.squashFixups });
  if (opts.attest === false) return assembled;
  const series = await attestSeries(assembled.series, messages, raws, opts.attest ?? (await attestOptions()));
  return { ...assembled, series };
}
