import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfraError, InputError } from '../../../src/common/errors.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { resolveInput } from '../../../src/lore/input.js';
import { startLoreServer, type LoreServer } from '../../../src/lore/server.js';
import { SWAPOFF, THREADS, adHocServer, closedPort, fixture, tempDir, useTempCache } from './helpers.js';

useTempCache();
let lore: LoreServer;
beforeAll(async () => {
  lore = await startLoreServer(THREADS, 0);
});
afterAll(async () => {
  await lore.close();
});

const v2Ids = [SWAPOFF.v2p1, SWAPOFF.v2p2];

describe('fetch over HTTP from serve-lore', () => {
  // Written out, not computed with the client's own encoder (nothing in this id needs encoding).
  const id = '20240125024007.3010002-1-alice.chen@example.com';
  const forms = ['/linux-mm/ID/', '/linux-mm/ID', '/all/ID/', '/all/ID/T/', '/all/ID/t/', '/linux-mm/ID/raw', '/linux-mm/ID/t.mbox.gz', '/linux-mm/ID/T/#u'];
  for (const form of forms) {
    it(`takes a full lore URL of the form ${form} from its own host`, async () => {
      const url = `${lore.url}${form.replace('ID', id)}`;
      const { series } = await fetchSeries(url, {});
      expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
      expect(series.source).toMatch(new RegExp(`^${lore.url}/(linux-mm|all)/${id.replace(/[.+]/g, '\\$&')}/t\\.mbox\\.gz$`));
      expect(series.threadUrl).toBe(`${lore.url}/${form.startsWith('/all') ? 'all' : 'linux-mm'}/${id}/`);
    });
  }

  for (const input of [SWAPOFF.v2cover, `<${SWAPOFF.v2cover}>`, `id:${SWAPOFF.v2cover}`, ` <${SWAPOFF.v2cover}> `]) {
    it(`takes the message-id "${input}" with --lore`, async () => {
      const { series } = await fetchSeries(input, { lore: lore.url });
      expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
      expect(series.source).toBe(`${lore.url}/all/${id}/t.mbox.gz`);
    });
  }

  it('takes a patch.msgid.link URL', async () => {
    const { series } = await fetchSeries(`https://patch.msgid.link/${SWAPOFF.v2p1}`, { lore: lore.url });
    expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
  });

  it('sends a lore.kernel.org URL to the --lore server instead', async () => {
    const { series } = await fetchSeries(`https://lore.kernel.org/linux-mm/${SWAPOFF.v2cover}/T/`, { lore: `${lore.url}/` });
    expect(series.source).toBe(`${lore.url}/all/${id}/t.mbox.gz`);
  });

  it('uses KHARNESS_LORE when --lore is not given', async () => {
    const saved = process.env.KHARNESS_LORE;
    process.env.KHARNESS_LORE = lore.url;
    try {
      const { series } = await fetchSeries(SWAPOFF.v2cover);
      expect(series.source.startsWith(lore.url)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.KHARNESS_LORE;
      else process.env.KHARNESS_LORE = saved;
    }
  });

  it('resolves a review reply, and an id with / and +, to the whole thread', async () => {
    for (const msgid of [SWAPOFF.eve, SWAPOFF.aliceSlashId]) {
      const { series } = await fetchSeries(msgid, { lore: lore.url });
      expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
    }
  });

  it('says when the id given is a patch of an older version, and honours -v', async () => {
    const newest = await fetchSeries(SWAPOFF.v1p2, { lore: lore.url });
    expect(newest.series.version).toBe(2);
    expect(newest.series.warnings).toContain(`<${SWAPOFF.v1p2}> is part of v1; took v2, the newest (use -v 1 for that one)`);
    const v1 = await fetchSeries(SWAPOFF.v1p2, { lore: lore.url, version: 1 });
    expect(v1.series.patches.map((p) => p.messageId)).toEqual([SWAPOFF.v1p1, SWAPOFF.v1p2]);
  });

  it('follows redirects', async () => {
    const hop = await adHocServer((req, res) => {
      res.writeHead(302, { Location: `${lore.url}${req.url ?? '/'}` });
      res.end();
    });
    try {
      const { series } = await fetchSeries(SWAPOFF.v2cover, { lore: hop.url });
      expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
    } finally {
      await hop.close();
    }
  });

  it('accepts a thread mbox sent uncompressed (a proxy that inflated it)', async () => {
    const raw = await readFile(fixture('zswap-swapoff'));
    const plain = await adHocServer((_req, res) => res.end(raw));
    try {
      expect((await fetchSeries(SWAPOFF.v2cover, { lore: plain.url })).series.version).toBe(2);
    } finally {
      await plain.close();
    }
  });
});

describe('local input', () => {
  it('reads an mbox file and an mbox.gz file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const gz = path.join(dir, 'thread.mbox.gz');
      await writeFile(gz, gzipSync(await readFile(fixture('zswap-swapoff'))));
      for (const file of [fixture('zswap-swapoff'), gz]) {
        const { series } = await fetchSeries(file);
        expect(series.patches.map((p) => p.messageId)).toEqual(v2Ids);
        expect(series.source).toBe(file);
      }
    } finally {
      await cleanup();
    }
  });

  it('reads standard input for -', async () => {
    const saved = Object.getOwnPropertyDescriptor(process, 'stdin');
    const data = await readFile(fixture('naked-cover'));
    Object.defineProperty(process, 'stdin', { value: Readable.from([data]), configurable: true });
    try {
      const { series } = await fetchSeries('-');
      expect(series.source).toBe('-');
      expect(series.cover?.messageId).toBe('naked-root@example.com');
    } finally {
      if (saved) Object.defineProperty(process, 'stdin', saved);
    }
  });

  it('tells a missing file from an unrecognisable input', () => {
    expect(() => resolveInput('./nope.mbox')).toThrow(/^no such file: \.\/nope\.mbox$/);
    expect(() => resolveInput('what is this')).toThrow(/cannot tell what "what is this" is/);
    expect(() => resolveInput('https://lore.kernel.org/linux-mm/')).toThrow(/no message-id in/);
    expect(() => resolveInput('x@y', 'ftp://mirror')).toThrow(/--lore must be an http\(s\) URL/);
  });

  it('resolves lore URLs with a path prefix and /r/ links', () => {
    expect(resolveInput('https://mirror.example/pub/lore/linux-mm/a%2Fb@c/T/')).toEqual({ kind: 'lore', messageId: 'a/b@c', base: 'https://mirror.example/pub/lore', list: 'linux-mm' });
    expect(resolveInput('https://lore.kernel.org/r/a@b')).toEqual({ kind: 'lore', messageId: 'a@b', base: 'https://lore.kernel.org', list: 'all' });
  });
});

describe('bad input, each with a clear error', () => {
  async function withServer(handler: Parameters<typeof adHocServer>[0], fn: (url: string) => Promise<void>): Promise<void> {
    const s = await adHocServer(handler);
    try {
      await fn(s.url);
    } finally {
      await s.close();
    }
  }

  it('an unknown message-id (404) is bad input', async () => {
    const err = await fetchSeries('nobody@nowhere.example', { lore: lore.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^unknown message-id <nobody@nowhere\.example>: .* answered 404/);
  });

  it('a corrupt gzip is bad input naming the thread', async () => {
    const corrupt = Buffer.concat([gzipSync(Buffer.alloc(5000, 65)).subarray(0, 30), Buffer.from('not gzip any more')]);
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/gzip' });
        res.end(corrupt);
      },
      async (url) => {
        const err = await fetchSeries('a@b', { lore: url }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InputError);
        expect((err as Error).message).toMatch(/^the thread mbox from .*\/all\/a@b\/t\.mbox\.gz is not a valid gzip file/);
      },
    );
  });

  it('an HTML page instead of an mbox is bad input', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!DOCTYPE html>\n<html><body>Welcome to our mailing list archive</body></html>\n');
      },
      async (url) => {
        await expect(fetchSeries('a@b', { lore: url })).rejects.toThrow(/^the thread of <a@b> \(.*\) is an HTML page, not an mbox$/);
      },
    );
  });

  it('an empty thread is bad input', async () => {
    await withServer(
      (_req, res) => res.end(gzipSync(Buffer.alloc(0))),
      async (url) => {
        const err = await fetchSeries('a@b', { lore: url }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InputError);
        expect((err as Error).message).toMatch(/^the thread of <a@b> .* is empty: the thread has no messages$/);
      },
    );
  });

  it('a thread whose first subject mentions <html> is still mail', async () => {
    const raw = Buffer.from('From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: A <a@x.org>\nSubject: [PATCH] docs: escape <html> in examples\nMessage-ID: <h@x>\n\nbody\n');
    await withServer(
      (_req, res) => res.end(gzipSync(raw)),
      async (url) => {
        // Not "an HTML page": it gets as far as looking for patches.
        await expect(fetchSeries('h@x', { lore: url })).rejects.toThrow(/^no patches in /);
      },
    );
  });

  it('text that is not mail is bad input', async () => {
    await withServer(
      (_req, res) => res.end('just words\n'),
      async (url) => {
        await expect(fetchSeries('a@b', { lore: url })).rejects.toThrow(/holds no mail messages \(not an mbox\?\)/);
      },
    );
  });

  it('a refused connection is an infrastructure error', async () => {
    const port = await closedPort();
    const err = await fetchSeries('a@b', { lore: `http://127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as Error).message).toBe(`connection refused by 127.0.0.1:${port} while fetching http://127.0.0.1:${port}/all/a@b/t.mbox.gz`);
  });

  it('a server error (5xx) that persists is an infrastructure error', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(503);
        res.end();
      },
      async (url) => {
        const err = await fetchSeries('a@b', { lore: url, http: { retryBaseMs: 5 } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InfraError);
        expect((err as Error).message).toMatch(/answered 503 Service Unavailable 4 times: the server is having trouble$/);
      },
    );
  });

  it('an empty local file is bad input', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const empty = path.join(dir, 'empty.mbox');
      await writeFile(empty, '');
      await expect(fetchSeries(empty)).rejects.toThrow(/empty\.mbox is empty: the thread has no messages/);
      const corrupt = path.join(dir, 'bad.mbox.gz');
      await copyFile(fixture('zswap-swapoff'), corrupt);
      await writeFile(corrupt, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from('garbage')]));
      await expect(fetchSeries(corrupt)).rejects.toThrow(/bad\.mbox\.gz is not a valid gzip file/);
    } finally {
      await cleanup();
    }
  });
});
