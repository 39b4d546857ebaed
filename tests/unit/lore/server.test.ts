import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { encodeMessageId } from '../../../src/lore/input.js';
import { msgidsIn, rawHeaders, splitMbox } from '../../../src/lore/mbox.js';
import { parseTestFaults, startLoreServer, type LoreServer, type LoreTestFaults } from '../../../src/lore/server.js';
import { SWAPOFF, THREADS } from './helpers.js';

let server: LoreServer;
beforeAll(async () => {
  server = await startLoreServer(THREADS, 0);
});
afterAll(async () => {
  await server.close();
});

const get = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${server.url}${path}`, { redirect: 'manual', ...init });
const ids = (mbox: Buffer): string[] => splitMbox(mbox).map((m) => msgidsIn(rawHeaders(m).find(([k]) => k === 'message-id')?.[1])[0] ?? '');

describe('serve-lore', () => {
  it('listens on 127.0.0.1 on a port of its own choosing', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.threads).toBe(10);
  });

  it('serves the whole thread of any of its messages as gzipped mboxrd', async () => {
    for (const id of [SWAPOFF.v1cover, SWAPOFF.v2p2, SWAPOFF.eve]) {
      const res = await get(`/linux-mm/${encodeMessageId(id)}/t.mbox.gz`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/gzip');
      const mbox = gunzipSync(Buffer.from(await res.arrayBuffer()));
      expect(mbox.toString('latin1').startsWith('From mboxrd@z Thu Jan  1 00:00:00 1970\n')).toBe(true);
      expect(ids(mbox)).toHaveLength(13);
      expect(ids(mbox)).toContain(SWAPOFF.v1cover);
    }
  });

  it('escapes From lines in bodies the mboxrd way, and they come back intact', async () => {
    const res = await get(`/all/${encodeMessageId(SWAPOFF.aliceSlashId)}/t.mbox.gz`);
    const mbox = gunzipSync(Buffer.from(await res.arrayBuffer())).toString('latin1');
    expect(mbox).toContain('\n>From what I can see');
    expect(mbox).toContain('\n>>From here on');
    const reply = splitMbox(Buffer.from(mbox, 'latin1')).find((m) => m.toString().includes(SWAPOFF.aliceSlashId));
    expect(reply?.toString()).toContain('\nFrom what I can see');
    expect(reply?.toString()).toContain('\n>From here on');
  });

  it('serves one message at /raw', async () => {
    const res = await get(`/all/${encodeMessageId(SWAPOFF.chrisV2)}/raw`);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(ids(body)).toEqual([SWAPOFF.chrisV2]);
  });

  it('redirects the message URL without a slash, and /T to /T/', async () => {
    const res = await get(`/linux-mm/${encodeMessageId(SWAPOFF.v2cover)}`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`/linux-mm/${encodeMessageId(SWAPOFF.v2cover)}/`);
    const t = await get(`/all/${encodeMessageId(SWAPOFF.v2cover)}/T`);
    expect(t.status).toBe(301);
    expect(t.headers.get('location')).toBe(`/all/${encodeMessageId(SWAPOFF.v2cover)}/T/`);
  });

  it('serves HTML pages for a message and for the thread (flat and nested)', async () => {
    const msg = await get(`/linux-mm/${encodeMessageId(SWAPOFF.v2cover)}/`);
    expect(msg.status).toBe(200);
    expect(msg.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await msg.text()).toContain('[PATCH v2 0/2] mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()');
    for (const view of ['T', 't']) {
      const page = await (await get(`/linux-mm/${encodeMessageId(SWAPOFF.v2cover)}/${view}/`)).text();
      expect(page).toContain('Re: [PATCH v2 2/2] mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()');
      expect(page).toContain('href="t.mbox.gz"');
      expect(page).toContain('&lt;chris.l@example.net&gt;');
    }
    const nested = await (await get(`/linux-mm/${encodeMessageId(SWAPOFF.v2cover)}/t/`)).text();
    expect(nested).toContain('margin-left:4em');
  });

  it('decodes an encoded / in the message-id', async () => {
    expect(encodeMessageId(SWAPOFF.aliceSlashId)).toBe('alice%2Freply%2B1@example.com');
    const res = await get(`/all/${encodeMessageId(SWAPOFF.aliceSlashId)}/raw`);
    expect(res.status).toBe(200);
  });

  it('answers 404 for an unknown message-id or route, 405 for other methods', async () => {
    expect((await get('/all/nobody@nowhere/t.mbox.gz')).status).toBe(404);
    expect((await get('/all/nobody@nowhere/')).status).toBe(404);
    expect((await get(`/all/${encodeMessageId(SWAPOFF.v2cover)}/t.atom`)).status).toBe(404);
    expect((await get(`/all/${encodeMessageId(SWAPOFF.v2cover)}/raw`, { method: 'POST' })).status).toBe(405);
  });

  it('lists its threads at /', async () => {
    const page = await (await get('/')).text();
    expect(page).toContain('zswap-swapoff.mbox');
    expect(page).toContain('(13 messages)');
  });

  it('refuses a folder that does not exist', async () => {
    await expect(startLoreServer('/nonexistent/kharness-threads', 0)).rejects.toBeInstanceOf(InputError);
  });
});

describe('serve-lore test faults', () => {
  const mboxPath = `/all/${encodeMessageId(SWAPOFF.v2cover)}/t.mbox.gz`;
  async function withFaults(faults: LoreTestFaults, fn: (s: LoreServer) => Promise<void>): Promise<void> {
    const s = await startLoreServer(THREADS, 0, faults);
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  }
  const whole = async (s: LoreServer): Promise<Buffer> => Buffer.from(await (await fetch(`${s.url}${mboxPath}`)).arrayBuffer());

  it('acts out its sequence in order, then serves normally, counting every request', async () => {
    const faults = parseTestFaults('429:2:1,503:1,reset:1,cut:1');
    await withFaults(faults, async (s) => {
      for (const want of [429, 429]) {
        const res = await fetch(`${s.url}${mboxPath}`);
        expect(res.status).toBe(want);
        expect(res.headers.get('retry-after')).toBe('1');
        await res.arrayBuffer();
      }
      const unavailable = await fetch(`${s.url}${mboxPath}`);
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers.get('retry-after')).toBeNull();
      await unavailable.arrayBuffer();
      await expect(fetch(`${s.url}${mboxPath}`)).rejects.toThrow(/fetch failed/);
      // The cut: a 200 whose body stops short of its Content-Length.
      const cut = await fetch(`${s.url}${mboxPath}`);
      expect(cut.status).toBe(200);
      await expect(cut.arrayBuffer()).rejects.toThrow(/terminated/);
      const served = await whole(s);
      expect(ids(gunzipSync(served))).toHaveLength(13);
      expect(s.requests).toBe(6);
    });
  });

  it('sends a slow body chunked, and the same bytes', async () => {
    const plain = await whole(server);
    await withFaults({ slowBody: { chunkBytes: 512, delayMs: 20 } }, async (s) => {
      const res = await fetch(`${s.url}${mboxPath}`);
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const reader = res.body!.getReader();
      const sizes: number[] = [];
      for (let r = await reader.read(); !r.done; r = await reader.read()) sizes.push(r.value.byteLength);
      expect(sizes.length).toBeGreaterThanOrEqual(Math.ceil(plain.length / 512));
      expect(Math.max(...sizes)).toBeLessThanOrEqual(512);
    });
    await withFaults({ slowBody: { chunkBytes: 512, delayMs: 1 } }, async (s) => {
      expect((await whole(s)).equals(plain)).toBe(true);
    });
  });

  it('reads --test-faults, and refuses what it cannot read', () => {
    expect(parseTestFaults('429:2:1, 503:1,reset:3,cut:1,slow:64:20')).toEqual({
      sequence: [
        { kind: 'status', status: 429, times: 2, retryAfter: 1 },
        { kind: 'status', status: 503, times: 1, retryAfter: undefined },
        { kind: 'reset', times: 3 },
        { kind: 'cut', times: 1 },
      ],
      slowBody: { chunkBytes: 64, delayMs: 20 },
    });
    for (const bad of ['429', '429:0', '200:1', 'reset:1:2', 'slow:64', 'boom:1', '429:1:soon', '503:1:2:3']) {
      expect(() => parseTestFaults(bad), bad).toThrow(InputError);
    }
  });
});
