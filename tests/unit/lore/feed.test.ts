import { describe, expect, it } from 'vitest';
import { atomId, parseAtom } from '../../../src/lore/atom.js';
import { diffFiles, parseDateSpec, parseQuery } from '../../../src/lore/query.js';
import { LIST, useServedList } from '../robot/fixtures.js';

const server = useServedList('kh-feed-');

async function search(q: string): Promise<string[]> {
  const res = await fetch(`${server().url}/linux-mm/?${new URLSearchParams({ q, x: 'A' })}`);
  expect(res.status).toBe(200);
  return parseAtom(await res.text(), q).map((e) => e.messageId);
}

describe('serve-lore: the Atom feed and the search subset', () => {
  it('serves /<list>/new.atom as public-inbox does: newest first, urn:uuid ids, links on the list, thr:in-reply-to', async () => {
    const res = await fetch(`${server().url}/linux-mm/new.atom`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/atom+xml');
    const body = await res.text();
    expect(body.startsWith('<?xml version="1.0" encoding="us-ascii"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">')).toBe(true);
    expect(atomId(LIST.review)).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(body).toContain(`<id>${atomId(LIST.review)}</id>`);
    expect(body).toContain(`<thr:in-reply-to ref="${atomId(LIST.v2p1)}" href="${server().url}/linux-mm/${LIST.v2p1}/"/>`);
    const entries = parseAtom(body, 'feed');
    expect(entries).toHaveLength(11);
    expect(entries[0]).toMatchObject({ messageId: LIST.other, subject: '[PATCH] net: unrelated fix', author: { name: 'Bob Okafor', email: 'bob@example.org' }, link: `${server().url}/linux-mm/${LIST.other}/` });
    const dates = entries.map((e) => e.updated);
    expect([...dates].sort().reverse()).toEqual(dates);
    expect(entries.find((e) => e.messageId === LIST.review)?.inReplyTo).toBe(LIST.v2p1);
  });

  it('dfn: finds the mails whose diff touches the file', async () => {
    const ids = await search('dfn:mm/zswap.c');
    expect(ids).toHaveLength(6);
    expect(ids).not.toContain(LIST.other);
    expect(ids).not.toContain(LIST.review);
    expect(ids).not.toContain(LIST.v1);
    expect(await search('dfn:file7.c')).toEqual([LIST.other]);
  });

  it('s:, f: and bare words, ANDed with AND or without', async () => {
    expect(await search('s:RESEND s:"store path"')).toEqual([LIST.resend]);
    expect(await search('f:bob AND s:tidy')).toEqual([LIST.review]);
    expect(await search('looks good')).toEqual([LIST.review]);
  });

  it('d: ranges: both ends (the end day inclusive), open ends, and combined with dfn:', async () => {
    expect((await search('d:20240201..20240201')).sort()).toEqual([LIST.v1, 'v1-1-alice@example.com', 'v1-2-alice@example.com']);
    expect(await search('d:..20240201')).toHaveLength(3);
    const from3rd = await search('d:20240203..');
    expect(from3rd).toContain(LIST.review);
    expect(from3rd).toContain(LIST.other);
    expect(from3rd).not.toContain(LIST.v2);
    expect((await search('dfn:mm/zswap.c s:tidy d:2024-02-03..')).sort()).toEqual(['resend-v2-1-alice@example.com', 'resend-v2-2-alice@example.com']);
    expect(await search('d:2.weeks.ago..')).toEqual([]);
  });

  it('refuses what is not in the subset (400), and answers HTML without x=A', async () => {
    const bad = await fetch(`${server().url}/linux-mm/?q=${encodeURIComponent('s:a OR s:b')}&x=A`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('OR');
    const html = await fetch(`${server().url}/linux-mm/?q=${encodeURIComponent('f:bob')}`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('net: unrelated fix');
  });
});

describe('the query language (pure)', () => {
  const now = new Date('2024-12-06T12:00:00Z');
  it('reads dates as public-inbox does: YYYYMMDD, YYYY-MM-DD, N.units.ago', () => {
    expect(parseDateSpec('20241201', now).toISOString()).toBe('2024-12-01T00:00:00.000Z');
    expect(parseDateSpec('2024-12-05', now, true).toISOString()).toBe('2024-12-05T23:59:59.999Z');
    expect(parseDateSpec('2.weeks.ago', now).toISOString()).toBe('2024-11-22T12:00:00.000Z');
    expect(parseDateSpec('3.days.ago', now).toISOString()).toBe('2024-12-03T12:00:00.000Z');
    expect(() => parseDateSpec('last tuesday', now)).toThrow(/cannot read the date/);
  });

  it('parses terms, quoted words and ranges', () => {
    expect(parseQuery('dfn:mm/zswap.c AND s:"swap out" d:20241201..20241205', now)).toEqual([
      { kind: 'dfn', path: 'mm/zswap.c' },
      { kind: 's', words: 'swap out' },
      { kind: 'd', from: new Date('2024-12-01T00:00:00Z'), until: new Date('2024-12-05T23:59:59.999Z') },
    ]);
    expect(() => parseQuery('x:1')).toThrow(/no "x:" prefix/);
    expect(() => parseQuery('NOT s:a')).toThrow(/no "NOT"/);
  });

  it('knows the files a diff touches, renames both ways, new files without /dev/null', () => {
    const body = 'msg\n---\ndiff --git a/mm/old.c b/mm/new.c\nrename from mm/old.c\ndiff --git a/mm/added.c b/mm/added.c\n--- /dev/null\n+++ b/mm/added.c\n';
    expect(diffFiles(body).sort()).toEqual(['mm/added.c', 'mm/new.c', 'mm/old.c']);
  });
});
