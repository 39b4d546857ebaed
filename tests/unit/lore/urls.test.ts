import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { resolveInput, threadMboxUrl, threadPageUrl } from '../../../src/lore/input.js';
import { adHocServer, fixture, useTempCache } from './helpers.js';

/**
 * The lore client against hand-written URLs: what people paste (lore list URLs, /all/, /r/,
 * patch.msgid.link, lkml.kernel.org/r) and the exact request path it then sends. Nothing here
 * builds an expected URL with the client's own encoder: every expectation is a literal string.
 * The HTTP side is a tiny real server that records the raw request line's path, answers 404 for
 * unknown threads, and serves one real thread (tests/fixtures/lore/threads/zswap-swapoff.mbox).
 */
const CHENGMING = '20240126083015.3557006-1-chengming.zhou@linux.dev';
const ALICE_COVER = '20240125024007.3010002-1-alice.chen@example.com';

useTempCache();
let server: { url: string; close: () => Promise<void> };
let requests: { path: string; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  const thread = gzipSync(readFileSync(fixture('zswap-swapoff')));
  server = await adHocServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === `/linux-mm/${ALICE_COVER}/t.mbox.gz`) {
      res.writeHead(200, { 'Content-Type': 'application/gzip' });
      res.end(thread);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 Not Found\n');
  });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  requests = [];
});

/** The one path the client asked for (and that it asked once), the fetch failing with 404. */
async function requested(input: string, opts: { lore?: string } = {}): Promise<string> {
  const err = await fetchSeries(input, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the recording server answers 404').toBeInstanceOf(InputError);
  expect(requests).toHaveLength(1);
  return requests[0]!.path;
}

describe('resolveInput on literal lore URLs', () => {
  const lore = (list: string) => ({ kind: 'lore', messageId: CHENGMING, base: 'https://lore.kernel.org', list });
  const cases: [string, ReturnType<typeof lore>][] = [
    [`https://lore.kernel.org/linux-mm/${CHENGMING}/t.mbox.gz`, lore('linux-mm')],
    [`https://lore.kernel.org/linux-mm/${CHENGMING}/`, lore('linux-mm')],
    [`https://lore.kernel.org/linux-mm/${CHENGMING}`, lore('linux-mm')],
    [`https://lore.kernel.org/linux-mm/${CHENGMING}/T/#u`, lore('linux-mm')],
    [`https://lore.kernel.org/linux-mm/${CHENGMING}/t/`, lore('linux-mm')],
    [`https://lore.kernel.org/lkml/${CHENGMING}/raw`, lore('lkml')],
    [`https://lore.kernel.org/all/${CHENGMING}/`, lore('all')],
    [`https://lore.kernel.org/r/${CHENGMING}`, lore('all')],
    [`https://lore.kernel.org/${CHENGMING}/`, lore('all')],
    [`https://patch.msgid.link/${CHENGMING}`, lore('all')],
    [`https://msgid.link/r/${CHENGMING}`, lore('all')],
    [`https://lkml.kernel.org/r/${CHENGMING}`, lore('all')],
    [`http://lore.kernel.org/linux-mm/%3C${CHENGMING}%3E/`, { ...lore('linux-mm'), base: 'http://lore.kernel.org' }],
  ];
  for (const [url, want] of cases) {
    it(`reads ${url}`, () => {
      expect(resolveInput(url)).toEqual(want);
    });
  }

  it('gives the thread mbox and page URLs lore serves for a list URL', () => {
    const r = resolveInput(`https://lore.kernel.org/linux-mm/${CHENGMING}/T/`);
    if (r.kind !== 'lore') throw new Error(r.kind);
    expect(threadMboxUrl(r)).toBe('https://lore.kernel.org/linux-mm/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
    expect(threadPageUrl(r)).toBe('https://lore.kernel.org/linux-mm/20240126083015.3557006-1-chengming.zhou@linux.dev/');
    const msgid = resolveInput(`https://patch.msgid.link/${CHENGMING}`);
    if (msgid.kind !== 'lore') throw new Error(msgid.kind);
    expect(threadMboxUrl(msgid)).toBe('https://lore.kernel.org/all/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
  });

  it('keeps the path prefix of a mirror and decodes percent-encoded message-ids', () => {
    expect(resolveInput(`https://mirror.example.org/lore/linux-mm/${CHENGMING}/`)).toEqual({ kind: 'lore', messageId: CHENGMING, base: 'https://mirror.example.org/lore', list: 'linux-mm' });
    expect(resolveInput('https://lore.kernel.org/all/alice%2Freply+1@example.com/')).toMatchObject({ messageId: 'alice/reply+1@example.com', list: 'all' });
    expect(resolveInput('https://lore.kernel.org/all/50%25off@example.com/T/')).toMatchObject({ messageId: '50%off@example.com' });
    expect(resolveInput('https://lore.kernel.org/all/CAHk-%3Dwi%2Bx@mail.gmail.com/')).toMatchObject({ messageId: 'CAHk-=wi+x@mail.gmail.com' });
    expect(resolveInput('https://lore.kernel.org/all/CAHk-=wi+x@mail.gmail.com/')).toMatchObject({ messageId: 'CAHk-=wi+x@mail.gmail.com' });
  });

  it('sends every network input to --lore, with the /all/ list', () => {
    for (const input of [`https://lore.kernel.org/linux-mm/${CHENGMING}/`, `https://patch.msgid.link/${CHENGMING}`, `<${CHENGMING}>`, `id:${CHENGMING}`]) {
      expect(resolveInput(input, 'http://127.0.0.1:8080/'), input).toEqual({ kind: 'lore', messageId: CHENGMING, base: 'http://127.0.0.1:8080', list: 'all' });
    }
  });

  it('refuses lore URLs it cannot read', () => {
    expect(() => resolveInput('https://lore.kernel.org/linux-mm/')).toThrow(/no message-id in https:\/\/lore\.kernel\.org\/linux-mm\//);
    expect(() => resolveInput(`https://lore.kernel.org/linux-mm/${CHENGMING}/attachments/`)).toThrow(/unrecognised lore URL .* \(after the message-id: "attachments"\)/);
    expect(() => resolveInput('https://patch.msgid.link/')).toThrow(InputError);
    expect(() => resolveInput('https://lore.kernel.org/all/bad%E0%A4%A@example.com/')).toThrow(/badly encoded URL/);
    expect(() => resolveInput('ftp://lore.kernel.org/x', 'ftp://x')).toThrow(/--lore must be an http\(s\) URL/);
  });
});

describe('the request the client sends', () => {
  it('asks a lore list URL for <list>/<msgid>/t.mbox.gz on its own host, whatever suffix was pasted', async () => {
    for (const suffix of ['/', '', '/T/#u', '/t/', '/raw', '/t.mbox.gz']) {
      requests = [];
      expect(await requested(`${server.url}/linux-mm/${CHENGMING}${suffix}`), suffix).toBe('/linux-mm/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
    }
  });

  it('asks /all/ for /r/ links, and keeps a mirror prefix', async () => {
    expect(await requested(`${server.url}/r/${CHENGMING}`)).toBe('/all/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
    requests = [];
    expect(await requested(`${server.url}/lore/lkml/${CHENGMING}/`)).toBe('/lore/lkml/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
  });

  it('asks --lore for /all/<msgid>/t.mbox.gz for a patch.msgid.link or lore.kernel.org URL and a bare id', async () => {
    for (const input of [`https://patch.msgid.link/${CHENGMING}`, `https://lore.kernel.org/linux-mm/${CHENGMING}/T/`, `<${CHENGMING}>`]) {
      requests = [];
      expect(await requested(input, { lore: server.url }), input).toBe('/all/20240126083015.3557006-1-chengming.zhou@linux.dev/t.mbox.gz');
    }
    expect(requests[0]!.headers['user-agent']).toMatch(/^kharness\//);
  });

  it('percent-encodes what a path segment cannot hold: / % # ? space and UTF-8, keeping @', async () => {
    const cases: [string, string][] = [
      ['alice/reply@example.com', '/all/alice%2Freply@example.com/t.mbox.gz'],
      ['50%off@example.com', '/all/50%25off@example.com/t.mbox.gz'],
      ['a#b?c@example.com', '/all/a%23b%3Fc@example.com/t.mbox.gz'],
      ['j\u00fcrgen.m\u00fcller@example.de', '/all/j%C3%BCrgen.m%C3%BCller@example.de/t.mbox.gz'],
    ];
    for (const [id, want] of cases) {
      requests = [];
      expect(await requested(id, { lore: server.url }), id).toBe(want);
    }
    // An encoded / in a pasted URL stays encoded: it is part of the id, not a path separator.
    requests = [];
    expect(await requested(`${server.url}/all/alice%2Freply@example.com/`)).toBe('/all/alice%2Freply@example.com/t.mbox.gz');
  });

  it('sends + and = so that lore, which uri_unescape()s the segment, reads the same message-id', async () => {
    // public-inbox writes these literally (its MID_ESC keeps + = : , ; $ &) and unescapes the
    // path segment before the lookup, so `+` and `%2B` both name the message. What must hold:
    // the segment is one segment, and it decodes to the id exactly.
    for (const id of ['CAHk-=wi+x@mail.gmail.com', 'CAJD7tkY+abc=def/ghi@mail.gmail.com']) {
      requests = [];
      const path = await requested(id, { lore: server.url });
      const m = /^\/all\/([^/]+)\/t\.mbox\.gz$/.exec(path);
      expect(m, path).not.toBeNull();
      expect(decodeURIComponent(m![1]!)).toBe(id);
      expect(m![1]).not.toMatch(/[/#?\s]/);
    }
  });

  it('fetches the thread it asked for, naming the literal source and thread page', async () => {
    const { series } = await fetchSeries(`${server.url}/linux-mm/${ALICE_COVER}/T/#u`);
    expect(requests.map((r) => r.path)).toEqual(['/linux-mm/20240125024007.3010002-1-alice.chen@example.com/t.mbox.gz']);
    expect(series.source).toBe(`${server.url}/linux-mm/20240125024007.3010002-1-alice.chen@example.com/t.mbox.gz`);
    expect(series.threadUrl).toBe(`${server.url}/linux-mm/20240125024007.3010002-1-alice.chen@example.com/`);
    expect(series.version).toBe(2);
    expect(series.patches).toHaveLength(2);
  });

  it('says which message-id was not found on a 404', async () => {
    const err = await fetchSeries(`${server.url}/linux-mm/${CHENGMING}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String((err as Error).message)).toBe(`unknown message-id <${CHENGMING}>: ${server.url}/linux-mm/${CHENGMING}/t.mbox.gz answered 404 (not found)`);
  });
});
