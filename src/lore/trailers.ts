import type { Person } from './message.js';

export interface Trailer {
  name: string;
  value: string;
}

/** How a trailer is checked before it is applied from a follow-up. */
export type TrailerKind =
  /** names a person who vouches (Reviewed-by, Acked-by, ...): only that person may send it */
  | 'person'
  /** points at a commit, a URL or a list (Fixes, Link, Closes, Cc): anyone may send it */
  | 'reference';

const CANONICAL: Record<string, string> = {
  'reviewed-by': 'Reviewed-by',
  'acked-by': 'Acked-by',
  'tested-by': 'Tested-by',
  'reported-by': 'Reported-by',
  'suggested-by': 'Suggested-by',
  'fixes': 'Fixes',
  'link': 'Link',
  'closes': 'Closes',
  'cc': 'Cc',
};

/**
 * These describe who wrote and who carried a patch; a reviewer typing them in a reply (or in a
 * fix-up diff they propose) does not make them true for the patch under review.
 */
const NOT_FROM_FOLLOWUPS = new Set(['signed-off-by', 'co-developed-by', 'from', 'author', 'to', 'date', 'subject']);

const TRAILER_LINE = /^([A-Za-z][A-Za-z0-9-]*):[ \t]+(\S.*?)\s*$/;
const EMAIL = /[^\s<>"]+@[^\s<>"]+\.[^\s<>"]+/;
const DIFF_START = /^(?:diff --git \S|Index: \S|--- (?:a\/|\S+\s*$)|GIT binary patch)/;

/** Canonical spelling and kind of a trailer a follow-up may add, or undefined if it may not. */
export function followupTrailerName(name: string): { name: string; kind: TrailerKind } | undefined {
  const lower = name.toLowerCase();
  if (NOT_FROM_FOLLOWUPS.has(lower)) return undefined;
  const canonical = CANONICAL[lower];
  if (canonical) return { name: canonical, kind: ['fixes', 'link', 'closes', 'cc'].includes(lower) ? 'reference' : 'person' };
  // Less common attestations (Reviewed-and-tested-by, Debugged-by, ...) follow the same rule.
  if (lower.endsWith('-by')) return { name: name.charAt(0).toUpperCase() + name.slice(1), kind: 'person' };
  return undefined;
}

export function emailOf(value: string): string | undefined {
  const bracketed = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  if (bracketed) return bracketed[1];
  return EMAIL.exec(value)?.[0];
}

/** The display name of `Name <email>`, quotes removed. */
export function nameOf(value: string): string {
  const i = value.indexOf('<');
  const name = (i >= 0 ? value.slice(0, i) : '').replace(/#.*$/, '');
  return name.replace(/^["'\s]+|["'\s]+$/g, '').trim();
}

/**
 * Whether a person-trailer may be taken from a mail sent by `sender`. Like b4: the address must be
 * the sender's, or else the name must be exactly the sender's display name (people review from
 * a second address under the same name).
 */
export function senderMatch(value: string, sender: Person): 'email' | 'name' | false {
  const email = emailOf(value)?.toLowerCase();
  if (email && email === sender.email.toLowerCase()) return 'email';
  const name = nameOf(value).toLowerCase();
  if (name && name === sender.name.trim().toLowerCase()) return 'name';
  return false;
}

/**
 * Two trailers are the same when the whole trailer is, case and spacing aside, as b4 compares
 * them: `Reviewed-by: Nhat Pham <n@x>` and `Reviewed-by: Nhat <n@x>` are two trailers.
 */
export function trailerKey(t: Trailer): string {
  return `${t.name.toLowerCase()}\0${t.value.replace(/\s+/g, ' ').trim().toLowerCase()}`;
}

export interface FollowupTrailers {
  trailers: Array<Trailer & { kind: TrailerKind }>;
  /** Trailer-looking lines that were not taken, with the reason. */
  rejected: string[];
}

/**
 * Trailers a reviewer typed in a reply. Quoted lines (`>`) and everything after the signature
 * marker are ignored; a trailer wrapped by the mail client is joined back. In a reply that
 * carries a diff only the text above the diff counts: the diff's own trailers belong to the
 * fix-up it proposes.
 */
export function extractFollowupTrailers(body: string): FollowupTrailers {
  const lines: string[] = [];
  for (const line of body.split('\n')) {
    if (/^-- ?$/.test(line)) break;
    if (DIFF_START.test(line) || /^---\s*$/.test(line)) break;
    if (/^\s*[>|]/.test(line)) {
      lines.push('');
      continue;
    }
    lines.push(line.replace(/\r$/, ''));
  }

  const trailers: FollowupTrailers['trailers'] = [];
  const rejected: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = TRAILER_LINE.exec(lines[i] as string);
    if (!m) continue;
    const known = followupTrailerName(m[1] as string);
    if (!known) continue;
    let value = (m[2] as string).replace(/<mailto:[^>]*>/g, '');

    // Rejoin what a mail client wrapped: the address pushed onto the next line, or the
    // parenthesised subject of a Fixes: tag broken across lines.
    if (known.kind === 'person' || known.name === 'Cc') {
      const next = lines[i + 1]?.trim();
      if (!EMAIL.test(value) && next && EMAIL.test(next) && !TRAILER_LINE.test(next)) {
        value = `${value} ${next}`;
        i++;
      }
    } else if (known.name === 'Fixes') {
      let joined = 0;
      while (value.includes('(') && !/\)\s*$/.test(value) && joined < 3) {
        const next = lines[i + 1]?.trim();
        if (!next || TRAILER_LINE.test(next)) break;
        value = `${value} ${next}`;
        i++;
        joined++;
      }
    }
    value = value.replace(/\s+/g, ' ').trim();
    // `Acked-by: Name <addr> (Company)`: the affiliation is not part of the ack (b4 drops it too).
    if (known.kind === 'person') value = value.replace(/(<[^<>\s]+@[^<>\s]+>)\s*\([^()]*\)$/, '$1');

    const line = `${known.name}: ${value}`;
    if (known.kind === 'person' || known.name === 'Cc') {
      if (!EMAIL.test(value)) {
        rejected.push(`"${line}" has no e-mail address`);
        continue;
      }
    } else if (known.name === 'Fixes') {
      if (!/^[0-9a-f]{6,40}\b/i.test(value)) {
        rejected.push(`"${line}" does not start with a commit id`);
        continue;
      }
    } else if (!/^https?:\/\/\S+/.test(value)) {
      rejected.push(`"${line}" is not a URL`);
      continue;
    }
    trailers.push({ name: known.name, value, kind: known.kind });
  }
  return { trailers, rejected };
}

/**
 * Whether git's mailinfo ends the commit message at this line (its `patchbreak`): a `---`
 * separator, `diff -` of any diff program, a CVS `Index: `, or `--- <file>` opening a diff made
 * without git (quilt, `diff -u`), which has no separator before it.
 */
export function isPatchBreak(line: string): boolean {
  if (line.startsWith('diff -') || line.startsWith('Index: ')) return true;
  if (!line.startsWith('---')) return false;
  if (line[3] === ' ' && line.length > 4 && !/\s/.test(line[4] as string)) return true;
  return /^---\s*$/.test(line);
}

/** Index of the line where a patch's commit message ends (where git am ends it), or the end. */
function commitMessageEnd(lines: readonly string[]): number {
  for (let i = 0; i < lines.length; i++) if (isPatchBreak(lines[i] as string)) return i;
  return lines.length;
}

function isTrailerBlockLine(line: string): boolean {
  return TRAILER_LINE.test(line) || /^\s+\S/.test(line) || /^\[.*\]\s*$/.test(line);
}

/** The start of the trailer block of a commit message (its last paragraph), or -1 if none. */
function trailerBlockStart(message: readonly string[]): number {
  let start = message.length;
  while (start > 0 && message[start - 1] !== '') start--;
  const block = message.slice(start);
  if (block.length === 0) return -1;
  if (!block.every(isTrailerBlockLine) || !block.some((l) => TRAILER_LINE.test(l))) return -1;
  return start;
}

/** The trailers a patch's author wrote (Signed-off-by, ...), in order. */
export function ownTrailers(body: string): Trailer[] {
  const lines = body.split('\n');
  const message = lines.slice(0, commitMessageEnd(lines));
  while (message.length > 0 && message[message.length - 1]?.trim() === '') message.pop();
  const start = trailerBlockStart(message);
  if (start < 0) return [];
  const out: Trailer[] = [];
  for (const line of message.slice(start)) {
    const m = TRAILER_LINE.exec(line);
    if (m) out.push({ name: m[1] as string, value: m[2] as string });
  }
  return out;
}

/**
 * Adds trailers at the end of the commit message's trailer block, just above the `---` line
 * (git am takes everything before it as the commit message). Starts a block if there is none.
 */
export function insertTrailers(body: string, trailers: readonly Trailer[]): string {
  if (trailers.length === 0) return body;
  const lines = body.split('\n');
  const end = commitMessageEnd(lines);
  const message = lines.slice(0, end);
  const rest = lines.slice(end);
  const trailing: string[] = [];
  while (message.length > 0 && message[message.length - 1]?.trim() === '') trailing.push(message.pop() as string);
  const added = trailers.map((t) => `${t.name}: ${t.value}`);
  const hasBlock = trailerBlockStart(message) >= 0;
  const rebuilt = message.length === 0 || hasBlock ? [...message, ...added] : [...message, '', ...added];
  // Without a `---` the diff would run straight on from the trailers; git needs them apart.
  const gap = trailing.length > 0 ? trailing : rest.length > 0 && !/^---\s*$/.test(rest[0] as string) ? [''] : [];
  return [...rebuilt, ...gap, ...rest].join('\n');
}
