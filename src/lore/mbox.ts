import { gunzipSync } from 'node:zlib';
import { InputError, errorMessage } from '../common/errors.js';

/**
 * Mail is bytes in whatever charset the sender used, so mbox splitting works on latin1 strings
 * (one char per byte) and hands back Buffers: mailparser does the charset decoding later.
 */

/** The separator line lore writes before every message of an mboxrd. */
export const MBOXRD_FROM_LINE = 'From mboxrd@z Thu Jan  1 00:00:00 1970';

const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/** The most a thread may inflate to: the largest real threads are a few MiB; a gzip bomb is not. */
export const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

/** Gunzips when the bytes are gzip; `what` names the source in the error. */
export function maybeGunzip(data: Buffer, what: string, maxBytes = MAX_INFLATED_BYTES): Buffer {
  if (!isGzip(data)) return data;
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InputError(`${what} inflates to more than ${maxBytes / 1024 / 1024} MiB: not a mail thread`, 'a lore thread mbox is a few MiB at most');
    }
    throw new InputError(`${what} is not a valid gzip file (${errorMessage(err)})`);
  }
}

/**
 * Splits an mbox into its messages, undoing mboxrd escaping (`>From ` loses one `>`). A `From `
 * line only starts a message at the top of the file or after a blank line, and only when a header
 * follows it: git format-patch does not escape `From ` in bodies, so a stricter test would split
 * patches in two. A file with no `From ` line at all is taken as one message (an .eml).
 */
export function splitMbox(data: Buffer): Buffer[] {
  const text = data.toString('latin1').replace(/\r\n/g, '\n');
  if (text.trim() === '') return [];
  const lines = text.split('\n');
  const starts: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('From ')) continue;
    if (i > 0 && lines[i - 1] !== '') continue;
    const next = lines[i + 1];
    if (next === undefined || !HEADER_LINE.test(next)) continue;
    starts.push(i);
  }
  if (starts.length === 0) {
    // One bare message; only take it if it looks like mail at all.
    return HEADER_LINE.test(lines[0] ?? '') ? [Buffer.from(text, 'latin1')] : [];
  }
  const messages: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    const from = (starts[k] as number) + 1;
    const to = k + 1 < starts.length ? (starts[k + 1] as number) : lines.length;
    const body = lines.slice(from, to);
    // The blank line before the next `From ` belongs to the mbox, not to the message.
    while (body.length > 0 && body[body.length - 1] === '') body.pop();
    const unescaped = body.map((l) => (/^>+From /.test(l) ? l.slice(1) : l));
    messages.push(Buffer.from(`${unescaped.join('\n')}\n`, 'latin1'));
  }
  return messages;
}

/** Writes messages as lore does: mboxrd, each behind a `From mboxrd@z` line, `From ` quoted. */
export function joinMboxrd(messages: readonly Buffer[]): Buffer {
  const parts: string[] = [];
  for (const message of messages) {
    const text = message.toString('latin1').replace(/\r\n/g, '\n');
    const escaped = text
      .split('\n')
      .map((l) => (/^>*From /.test(l) ? `>${l}` : l))
      .join('\n');
    parts.push(`${MBOXRD_FROM_LINE}\n${escaped.endsWith('\n') ? escaped : `${escaped}\n`}\n`);
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Unfolded header fields of a raw message, names lowercased, in order; no MIME decoding. */
export function rawHeaders(message: Buffer): Array<[string, string]> {
  const text = message.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const block = end < 0 ? text : text.slice(0, end);
  const fields: Array<[string, string]> = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1] as [string, string];
      last[1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return fields;
}

/** Message-IDs in a header value, without angle brackets. */
export function msgidsIn(value: string | undefined): string[] {
  if (!value) return [];
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1] as string);
  if (ids.length > 0) return ids;
  // Some mailers drop the brackets; accept a lone token that looks like an id.
  const bare = value.trim();
  return /^[^\s<>]+@[^\s<>]+$/.test(bare) ? [bare] : [];
}
