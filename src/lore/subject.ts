/** What a mail subject says about the patch it carries. */
export interface ParsedSubject {
  /** The subject as sent, whitespace collapsed. */
  full: string;
  /** The subject without reply markers and bracketed prefixes: the commit subject. */
  subject: string;
  reply: boolean;
  revision: number;
  /** True when the subject names no version (`v1` is then assumed). */
  revisionInferred: boolean;
  counter: number;
  total: number;
  /** True when the subject names no `N/M` counter (`1/1` is then assumed). */
  counterInferred: boolean;
  rfc: boolean;
  resend: boolean;
  patch: boolean;
  /** Bracketed words that are not version, counter, PATCH, RFC or RESEND (e.g. `net-next`). */
  extraPrefixes: string[];
}

// Localised reply markers seen on lists: Re, Aw (German), Sv/Vs (Nordic), Antw (Dutch), Odp (Polish).
const REPLY_PREFIX = /^(?:re|aw|sv|vs|antw|odp|fwd?|fw)\s*(?:\[\d+\])?\s*:\s*/i;

export function parseSubject(raw: string): ParsedSubject {
  const full = raw.replace(/\s+/g, ' ').trim();
  let rest = full;
  let reply = false;
  for (;;) {
    const m = REPLY_PREFIX.exec(rest);
    if (!m) break;
    reply = true;
    rest = rest.slice(m[0].length);
  }

  const parsed: ParsedSubject = {
    full,
    subject: '',
    reply,
    revision: 1,
    revisionInferred: true,
    counter: 1,
    total: 1,
    counterInferred: true,
    rfc: false,
    resend: false,
    patch: false,
    extraPrefixes: [],
  };

  for (;;) {
    const m = /^\[([^\]]*)\]\s*/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    readBracket(m[1] ?? '', parsed);
  }
  parsed.subject = rest.trim();
  return parsed;
}

function readBracket(content: string, out: ParsedSubject): void {
  // `PATCHv3`, `RFCv2` glue the version to the word; commas and semicolons separate words as much
  // as spaces do: `[PATCH v6,19/24]` is version 6, patch 19 of 24 (b4 reads it as v1 1/1).
  const words = content
    .replace(/\b(patch|rfc|resend)(v\d+)\b/gi, '$1 $2')
    .split(/[\s,;]+/)
    .map((w) => w.replace(/:$/, ''))
    .filter((w) => w.length > 0);
  for (const word of words) {
    const counter = /^(\d{1,4})\/(\d{1,4})$/.exec(word);
    if (counter) {
      out.counter = Number(counter[1]);
      out.total = Number(counter[2]);
      out.counterInferred = false;
      continue;
    }
    const version = /^v(\d{1,3})$/i.exec(word);
    if (version) {
      out.revision = Number(version[1]);
      out.revisionInferred = false;
      continue;
    }
    const lower = word.toLowerCase();
    if (lower === 'patch') out.patch = true;
    else if (lower === 'rfc') out.rfc = true;
    else if (lower === 'resend') out.resend = true;
    else out.extraPrefixes.push(word);
  }
}

/** The subject a patch gets in the assembled mbox: uniform prefixes so `git am` strips them. */
export function canonicalSubject(subject: string, version: number, index: number, total: number): string {
  const parts = ['PATCH'];
  if (version > 1) parts.push(`v${version}`);
  if (total > 1) parts.push(`${String(index).padStart(String(total).length, '0')}/${total}`);
  return `[${parts.join(' ')}] ${subject}`;
}

/** A filesystem-safe name for a series: `v2-mm-zswap-remove-unnecessary-tree-cleanups`. */
export function seriesSlug(version: number, subject: string): string {
  const MAX = 60;
  let words = subject
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (words.length > MAX) {
    const cut = words.slice(0, MAX + 1);
    const lastDash = cut.lastIndexOf('-');
    words = (lastDash > 10 ? cut.slice(0, lastDash) : words.slice(0, MAX)).replace(/-+$/, '');
  }
  return `v${version}-${words || 'series'}`;
}
