import { InputError } from '../common/errors.js';

/**
 * The subset of public-inbox's search language the robot uses (and serve-lore answers):
 * `dfn:PATH` (the diff touches that file), `s:WORDS` (subject), `f:WORDS` (from), `d:A..B` (date
 * range), and bare words (subject or body); every term must hold (AND). `AND` between terms is
 * accepted; OR, NOT and parentheses are not part of the subset and are refused.
 */
export type QueryTerm =
  | { kind: 'dfn'; path: string }
  | { kind: 's' | 'f' | 'text'; words: string }
  | { kind: 'd'; from?: Date; until?: Date };

/** What a message offers to a query. */
export interface SearchableMessage {
  subject: string;
  from: string;
  date?: Date;
  body: string;
  /** Files its diff touches (both sides of a rename). */
  diffFiles: string[];
}

const UNITS_MS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
};

/**
 * A date as public-inbox's `d:` reads it: `YYYYMMDD`, `YYYY-MM-DD`, an ISO 8601 time, or git's
 * approxidate `N.units.ago` (`2.weeks.ago`). `endOfDay` makes a bare day inclusive at the upper end.
 */
export function parseDateSpec(spec: string, now: Date, endOfDay = false): Date {
  const ago = /^(\d+)[._ ]?(second|minute|hour|day|week|month|year)s?[._ ]ago$/i.exec(spec);
  if (ago) return new Date(now.getTime() - Number(ago[1]) * (UNITS_MS[(ago[2] as string).toLowerCase()] as number));
  const day = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(spec);
  if (day) {
    const start = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    return new Date(endOfDay ? start + 86_400_000 - 1 : start);
  }
  const parsed = /^\d{4}-\d{2}-\d{2}T/.test(spec) ? new Date(spec) : new Date(NaN);
  if (Number.isNaN(parsed.getTime())) throw new InputError(`cannot read the date "${spec}"`, 'use YYYYMMDD, YYYY-MM-DD, an ISO 8601 time, or N.units.ago (2.weeks.ago)');
  return parsed;
}

/** Splits a query into words, keeping `s:"two words"` together. */
function tokens(query: string): string[] {
  return [...query.matchAll(/(?:[a-z]+:)?"[^"]*"|\S+/gi)].map((m) => m[0]);
}

function unquote(s: string): string {
  return s.replace(/^"(.*)"$/, '$1');
}

export function parseQuery(query: string, now = new Date()): QueryTerm[] {
  const terms: QueryTerm[] = [];
  for (const token of tokens(query)) {
    if (token === 'AND') continue;
    if (token === 'OR' || token === 'NOT' || /^[-+(]|\)$/.test(token)) throw new InputError(`the search subset has no "${token}"`, 'terms are ANDed: dfn:, s:, f:, d:, and bare words');
    const m = /^([a-z]+):(.*)$/i.exec(token);
    const prefix = m?.[1]?.toLowerCase();
    const value = unquote(m?.[2] ?? token);
    if (prefix === 'dfn') terms.push({ kind: 'dfn', path: value });
    else if (prefix === 's' || prefix === 'f') terms.push({ kind: prefix, words: value });
    else if (prefix === 'd') terms.push(dateRange(value, now));
    else if (prefix === undefined) terms.push({ kind: 'text', words: value });
    else throw new InputError(`the search subset has no "${prefix}:" prefix`, 'use dfn:, s:, f:, d:, or bare words');
  }
  return terms;
}

function dateRange(value: string, now: Date): QueryTerm {
  const [from = '', until, extra] = value.split('..');
  if (extra !== undefined) throw new InputError(`d:${value} is not a date range`, 'd:FROM..UNTIL, d:FROM.., or d:..UNTIL');
  if (until === undefined) return { kind: 'd', from: parseDateSpec(from, now), until: parseDateSpec(from, now, true) };
  return { kind: 'd', from: from ? parseDateSpec(from, now) : undefined, until: until ? parseDateSpec(until, now, true) : undefined };
}

const hasWords = (haystack: string, words: string): boolean => words.toLowerCase().split(/\s+/).filter(Boolean).every((w) => haystack.toLowerCase().includes(w));

function termHolds(term: QueryTerm, m: SearchableMessage): boolean {
  switch (term.kind) {
    case 'dfn':
      return m.diffFiles.some((f) => f === term.path || f.endsWith(`/${term.path}`));
    case 's':
      return hasWords(m.subject, term.words);
    case 'f':
      return hasWords(m.from, term.words);
    case 'text':
      return hasWords(`${m.subject}\n${m.body}`, term.words);
    case 'd':
      if (!m.date) return false;
      return (!term.from || m.date >= term.from) && (!term.until || m.date <= term.until);
  }
}

export function matchesQuery(terms: readonly QueryTerm[], m: SearchableMessage): boolean {
  return terms.every((t) => termHolds(t, m));
}

/** The files a diff touches, from its `diff --git` and `---`/`+++` lines (`/dev/null` left out). */
export function diffFiles(body: string): string[] {
  const files = new Set<string>();
  for (const m of body.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
    files.add(m[1] as string);
    files.add(m[2] as string);
  }
  for (const m of body.matchAll(/^(?:---|\+\+\+) (?:[ab]\/)?(\S+)/gm)) if (m[1] !== '/dev/null') files.add(m[1] as string);
  return [...files];
}
