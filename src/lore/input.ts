import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../common/errors.js';

export const DEFAULT_LORE = 'https://lore.kernel.org';

/** What the user asked `fetch` for, resolved. */
export type FetchInput =
  | { kind: 'stdin' }
  | { kind: 'file'; path: string }
  | {
      kind: 'lore';
      messageId: string;
      /** Server root, no trailing slash (e.g. `https://lore.kernel.org`). */
      base: string;
      /** The list path segment (`linux-mm`, `all`, ...). */
      list: string;
    };

/** Hosts whose `/<msgid>` (or `/r/<msgid>`) paths are redirectors, not archives. */
const REDIRECTORS = new Set(['patch.msgid.link', 'lkml.kernel.org', 'msgid.link']);

/** Path suffixes lore puts after a message-id; all of them point at the same thread. */
const LORE_SUFFIXES = new Set(['', 'T', 't', 'raw', 't.mbox.gz', 'T.mbox.gz', 't.atom']);

export function normalizeBase(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InputError(`--lore must be an http(s) URL, got "${base}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`--lore must be an http(s) URL, got "${base}"`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Strips `<>`, `id:` and `mid:` from a message-id as people paste it. */
export function cleanMessageId(raw: string): string {
  let id = raw.trim();
  id = id.replace(/^(?:id|mid):/i, '');
  id = id.replace(/^<(.*)>$/, '$1').trim();
  return id;
}

function looksLikeMessageId(s: string): boolean {
  return /^[^\s<>@]+@[^\s<>@]+$/.test(s);
}

/**
 * Resolves `input` as: `-` (stdin), an existing file, an http(s) URL (lore or a msgid redirector),
 * or a message-id in any of its pasted forms. `loreOverride` (from --lore or KHARNESS_LORE)
 * points every network fetch at that server, full URLs included.
 */
export function resolveInput(input: string, loreOverride?: string): FetchInput {
  const trimmed = input.trim();
  if (trimmed === '-') return { kind: 'stdin' };
  if (trimmed === '') throw new InputError('nothing to fetch: give a lore URL, a message-id, an mbox file or -');
  const override = loreOverride ? normalizeBase(loreOverride) : undefined;

  if (/^https?:\/\//i.test(trimmed)) return resolveUrl(trimmed, override);

  if (existsSync(trimmed)) {
    if (!statSync(trimmed).isFile()) throw new InputError(`${trimmed} is not a file`);
    return { kind: 'file', path: path.resolve(trimmed) };
  }

  const id = cleanMessageId(trimmed);
  if (looksLikeMessageId(id) && !/^\.{0,2}\//.test(trimmed)) {
    return { kind: 'lore', messageId: id, base: override ?? DEFAULT_LORE, list: 'all' };
  }
  if (/[/\\]|\.(?:mbox|gz|eml|patch|mbx)$/i.test(trimmed)) throw new InputError(`no such file: ${trimmed}`);
  throw new InputError(
    `cannot tell what "${trimmed}" is`,
    'give a lore URL, a message-id (with or without <>, or as id:...), an mbox or mbox.gz file, or - for stdin',
  );
}

function resolveUrl(raw: string, override: string | undefined): FetchInput {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`not a valid URL: ${raw}`);
  }
  // Split before decoding: a message-id may hold an encoded `/`.
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const decoded = segments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InputError(`badly encoded URL: ${raw}`);
    }
  });

  if (REDIRECTORS.has(url.hostname.toLowerCase())) {
    const id = decoded.filter((s) => s !== 'r').find((s) => s.includes('@'));
    if (!id) throw new InputError(`no message-id in ${raw}`);
    return { kind: 'lore', messageId: cleanMessageId(id), base: override ?? DEFAULT_LORE, list: 'all' };
  }

  // lore paths are [prefix/]<list>/<msgid>[/suffix]: the message-id is the last segment with an @.
  let at = -1;
  for (let i = decoded.length - 1; i >= 0; i--) {
    if ((decoded[i] as string).includes('@')) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new InputError(`no message-id in ${raw}`, 'a lore URL looks like https://lore.kernel.org/linux-mm/<message-id>/');
  const suffix = decoded.slice(at + 1).join('/');
  if (!LORE_SUFFIXES.has(suffix)) throw new InputError(`unrecognised lore URL ${raw} (after the message-id: "${suffix}")`);
  const messageId = cleanMessageId(decoded[at] as string);
  if (override) return { kind: 'lore', messageId, base: override, list: 'all' };
  const list = at >= 1 ? (decoded[at - 1] as string) : 'all';
  const prefix = segments.slice(0, Math.max(at - 1, 0)).join('/');
  return {
    kind: 'lore',
    messageId,
    base: `${url.origin}${prefix ? `/${prefix}` : ''}`,
    // lore's /r/ only redirects a bare message URL, so the thread mbox is asked of /all/.
    list: list === 'r' || at === 0 ? 'all' : list,
  };
}

/** A message-id as a path segment: `/` and friends encoded, `@` kept readable like lore does. */
export function encodeMessageId(id: string): string {
  return encodeURIComponent(id).replace(/%40/g, '@');
}

export function threadMboxUrl(input: Extract<FetchInput, { kind: 'lore' }>): string {
  return `${input.base}/${encodeURIComponent(input.list)}/${encodeMessageId(input.messageId)}/t.mbox.gz`;
}

export function threadPageUrl(input: Extract<FetchInput, { kind: 'lore' }>): string {
  return `${input.base}/${encodeURIComponent(input.list)}/${encodeMessageId(input.messageId)}/`;
}
