import { readFile } from 'node:fs/promises';
import { InputError, errorMessage } from '../common/errors.js';
import { assembleSeries, type AssembledSeries } from './assemble.js';
import { httpGet } from './http.js';
import { resolveInput, threadMboxUrl, threadPageUrl, type FetchInput } from './input.js';
import { maybeGunzip, splitMbox } from './mbox.js';
import { parseMessage, type MailMessage } from './message.js';

export interface FetchOptions {
  /** Which version to assemble; the newest when absent. */
  version?: number;
  /** Lore server to ask instead of lore.kernel.org (and instead of a full URL's own host). */
  lore?: string;
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

/** Reads the thread bytes for an input: the file, stdin, or the lore thread mbox over HTTP. */
export async function readThread(input: FetchInput): Promise<{ data: Buffer; source: string; threadUrl?: string; messageId?: string }> {
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
      const raw = await httpGet(url, `unknown message-id <${input.messageId}>`);
      // lore sends gzip as the body, not as a transfer encoding; a proxy may already have inflated it.
      return { data: maybeGunzip(raw, `the thread mbox from ${url}`), source: url, threadUrl: threadPageUrl(input), messageId: input.messageId };
    }
  }
}

/** Splits and decodes a thread's messages; `what` names the source in errors. */
export async function parseThread(data: Buffer, what: string): Promise<MailMessage[]> {
  checkLooksLikeMail(data, what);
  const raws = splitMbox(data);
  if (raws.length === 0) {
    throw new InputError(data.length === 0 ? `${what} is empty: the thread has no messages` : `${what} holds no mail messages (not an mbox?)`);
  }
  // All at once: mailparser spends its time waiting on its own stream ticks, which interleave well.
  return Promise.all(
    raws.map((raw, i) =>
      parseMessage(raw, i).catch((err: unknown) => {
        throw new InputError(`message ${i + 1} of ${what} cannot be parsed: ${errorMessage(err)}`);
      }),
    ),
  );
}

/**
 * Fetches (or reads) a thread and assembles the series in it. `input` is a lore URL, a
 * message-id, a patch.msgid.link URL, an mbox(.gz) file, or `-` for stdin.
 */
export async function fetchSeries(input: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const resolved = resolveInput(input, opts.lore ?? process.env.KHARNESS_LORE);
  const { data, source, threadUrl, messageId } = await readThread(resolved);
  const what = resolved.kind === 'lore' ? `the thread of <${resolved.messageId}> (${source})` : resolved.kind === 'stdin' ? 'standard input' : source;
  const messages = await parseThread(data, what);
  return assembleSeries(messages, { version: opts.version, source, threadUrl, wantedMessageId: messageId });
}
