import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { InputError } from '../common/errors.js';
import { encodeMessageId } from './input.js';

/**
 * Atom as public-inbox serves it (`/<list>/new.atom`, `/<list>/?q=…&x=A`): newest first, one
 * entry per message, its link the message's URL on the list, its id a urn:uuid made from the
 * SHA-1 of the Message-ID, `thr:in-reply-to` naming the parent.
 */
export interface AtomEntry {
  messageId: string;
  subject: string;
  author: { name: string; email: string };
  /** ISO 8601 */
  updated: string;
  inReplyTo?: string;
  /** The message's URL on the list. */
  link: string;
}

function xml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
}

/** public-inbox's entry id: `urn:uuid:` and the SHA-1 of the Message-ID in UUID groups. */
export function atomId(messageId: string): string {
  const h = createHash('sha1').update(messageId).digest('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function messageUrl(listUrl: string, messageId: string): string {
  return `${listUrl.replace(/\/+$/, '')}/${encodeMessageId(messageId)}/`;
}

/** The feed document; `listUrl` is the list's base (`http://host/linux-mm`), `title` its name. */
export function renderAtom(listUrl: string, title: string, selfUrl: string, entries: readonly (AtomEntry & { body: string })[]): string {
  const base = listUrl.replace(/\/+$/, '');
  const updated = entries[0]?.updated ?? new Date(0).toISOString();
  const out = [
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">',
    `<title>${xml(title)}</title>`,
    `<link rel="alternate" type="text/html" href="${xml(base)}/"/>`,
    `<link rel="self" href="${xml(selfUrl)}"/>`,
    `<id>${xml(base)}/</id>`,
    `<updated>${xml(updated)}</updated>`,
  ];
  for (const e of entries) {
    out.push(
      `<entry><author><name>${xml(e.author.name)}</name><email>${xml(e.author.email)}</email></author>`,
      `<title>${xml(e.subject)}</title><updated>${xml(e.updated)}</updated>`,
      `<link href="${xml(e.link)}"/><id>${atomId(e.messageId)}</id>`,
      ...(e.inReplyTo ? [`<thr:in-reply-to ref="${atomId(e.inReplyTo)}" href="${xml(messageUrl(base, e.inReplyTo))}"/>`] : []),
      `<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><pre style="white-space:pre-wrap">${xml(e.body)}</pre></div></content></entry>`,
    );
  }
  out.push('</feed>');
  return `${out.join('\n')}\n`;
}

const text = z.union([z.string(), z.number()]).transform(String);
const EntrySchema = z.object({
  title: text.default(''),
  updated: text.default(''),
  author: z.object({ name: text.default(''), email: text.default('') }).default({}),
  link: z.union([z.object({ '@_href': z.string() }), z.array(z.object({ '@_href': z.string() }))]),
  'thr:in-reply-to': z.object({ '@_href': z.string().optional() }).optional(),
});

/** The Message-ID a public-inbox message URL names: the path segment after the list. */
export function messageIdOfUrl(url: string): string | undefined {
  let segments: string[];
  try {
    segments = new URL(url).pathname.split('/').filter(Boolean);
  } catch {
    return undefined;
  }
  const seg = segments.length >= 2 ? segments[segments.length - 1] : undefined;
  if (seg === undefined) return undefined;
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

/** Reads a public-inbox Atom feed; an entry without a usable link is skipped. */
export function parseAtom(body: string, what: string): AtomEntry[] {
  const parser = new XMLParser({ ignoreAttributes: false, processEntities: true, isArray: (name) => name === 'entry' });
  let doc: { feed?: { entry?: unknown[] } };
  try {
    doc = parser.parse(body) as typeof doc;
  } catch (err) {
    throw new InputError(`${what} is not an Atom feed: ${(err as Error).message}`);
  }
  if (!doc.feed) throw new InputError(`${what} is not an Atom feed (no <feed>)`, 'is the URL a public-inbox list, like https://lore.kernel.org/linux-mm/?');
  const entries: AtomEntry[] = [];
  for (const raw of doc.feed.entry ?? []) {
    const parsed = EntrySchema.safeParse(raw);
    if (!parsed.success) continue;
    const e = parsed.data;
    const link = Array.isArray(e.link) ? e.link[0]?.['@_href'] : e.link['@_href'];
    const messageId = link ? messageIdOfUrl(link) : undefined;
    if (!link || !messageId) continue;
    const parentHref = e['thr:in-reply-to']?.['@_href'];
    entries.push({ messageId, subject: e.title, author: e.author, updated: e.updated, link, inReplyTo: parentHref ? messageIdOfUrl(parentHref) : undefined });
  }
  return entries;
}
