import { existsSync, readFileSync } from 'node:fs';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, InfraError, InputError } from '../../../src/common/errors.js';
import { THREAD_CACHE_TTL_MS, threadCachePath } from '../../../src/lore/cache.js';
import { fetchSeries, type FetchOptions } from '../../../src/lore/fetch.js';
import { MAX_ATTEMPTS, MAX_BODY_BYTES, MAX_RETRY_WAIT_MS, USER_AGENT, retryAfterMs } from '../../../src/lore/http.js';
import { startLoreServer, type LoreServer, type LoreTestFaults } from '../../../src/lore/server.js';
import { SWAPOFF, THREADS, adHocServer, useTempCache } from './helpers.js';

/**
 * The lore client's manners against the real serve-lore on 127.0.0.1, put into test-fault modes:
 * retries (429 with Retry-After, 503, a dropped connection, a body cut off), rate limiting that
 * persists, a slow body, the size cap and the thread cache. Requests are counted on the server.
 */
const cache = useTempCache();
const ID = SWAPOFF.v2cover;
const V2_PATCHES = [SWAPOFF.v2p1, SWAPOFF.v2p2];
/** A short backoff base: a retry the server names no wait for takes 10, 20, 40 ms. */
const FAST = { retryBaseMs: 10 };
const MBOX_PATH = `/all/${ID}/t.mbox.gz`;

let gzBytes = 0;
beforeAll(async () => {
  await withLore({}, async (lore) => {
    gzBytes = (await (await fetch(`${lore.url}${MBOX_PATH}`)).arrayBuffer()).byteLength;
  });
  expect(gzBytes).toBeGreaterThan(2048); // the size-cap and slow-body tests below need a few KiB
});

async function withLore(faults: LoreTestFaults, fn: (lore: LoreServer) => Promise<void>): Promise<void> {
  const lore = await startLoreServer(THREADS, 0, faults);
  try {
    await fn(lore);
  } finally {
    await lore.close();
  }
}

/** Fetches the fixture thread from `lore` without the cache (unless told), timing it. */
async function timedFetch(lore: LoreServer, opts: FetchOptions = {}): Promise<{ patches: string[]; ms: number }> {
  const t0 = performance.now();
  const { series } = await fetchSeries(ID, { lore: lore.url, cache: false, http: FAST, ...opts });
  return { patches: series.patches.map((p) => p.messageId), ms: performance.now() - t0 };
}

async function failure(lore: LoreServer, opts: FetchOptions = {}): Promise<{ err: Error; ms: number }> {
  const t0 = performance.now();
  const err = await fetchSeries(ID, { lore: lore.url, cache: false, http: FAST, ...opts }).then(
    () => new Error('the fetch succeeded'),
    (e: unknown) => e as Error,
  );
  return { err, ms: performance.now() - t0 };
}

const status = (code: number, times: number, retryAfter?: number): LoreTestFaults => ({ sequence: [{ kind: 'status', status: code, times, retryAfter }] });

describe('retries against serve-lore', () => {
  it('waits the Retry-After of a 429, then fetches', async () => {
    await withLore(status(429, 1, 1), async (lore) => {
      const { patches, ms } = await timedFetch(lore);
      expect(patches).toEqual(V2_PATCHES);
      expect(lore.requests).toBe(2);
      // The backoff alone would be 10 ms: only the Retry-After explains a second (less timer slack).
      expect(ms).toBeGreaterThanOrEqual(990);
    });
  });

  it('backs off exponentially over 503s, then fetches', async () => {
    await withLore(status(503, 2), async (lore) => {
      const { patches, ms } = await timedFetch(lore, { http: { retryBaseMs: 100 } });
      expect(patches).toEqual(V2_PATCHES);
      expect(lore.requests).toBe(3);
      expect(ms).toBeGreaterThanOrEqual(100 + 200 - 10);
    });
  });

  it('asks again after a dropped connection', async () => {
    await withLore({ sequence: [{ kind: 'reset', times: 2 }] }, async (lore) => {
      expect((await timedFetch(lore)).patches).toEqual(V2_PATCHES);
      expect(lore.requests).toBe(3);
    });
  });

  it('asks again after a body cut off mid-stream', async () => {
    await withLore({ sequence: [{ kind: 'cut', times: 1 }] }, async (lore) => {
      expect((await timedFetch(lore)).patches).toEqual(V2_PATCHES);
      expect(lore.requests).toBe(2);
    });
  });

  it('takes a slow body, chunk by chunk, whole', async () => {
    const slowBody = { chunkBytes: 256, delayMs: 30 };
    await withLore({ slowBody }, async (lore) => {
      const { patches, ms } = await timedFetch(lore);
      expect(patches).toEqual(V2_PATCHES);
      expect(lore.requests).toBe(1);
      expect(ms).toBeGreaterThanOrEqual((Math.ceil(gzBytes / slowBody.chunkBytes) - 1) * slowBody.delayMs - 10);
    });
  });

  it('gives up after a bounded number of attempts on a dropped connection', async () => {
    await withLore({ sequence: [{ kind: 'reset', times: 100 }] }, async (lore) => {
      const { err } = await failure(lore);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toMatch(new RegExp(`^fetching ${lore.url}${MBOX_PATH} failed \\(${MAX_ATTEMPTS} attempts\\): the server dropped the connection \\(UND_ERR_SOCKET\\)$`));
      expect(lore.requests).toBe(MAX_ATTEMPTS);
    });
  });
});

describe('errors that stay', () => {
  it('a body cut off every time is an infrastructure error saying so', async () => {
    await withLore({ sequence: [{ kind: 'cut', times: 100 }] }, async (lore) => {
      const { err } = await failure(lore);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toMatch(new RegExp(`^reading the answer from ${lore.url}${MBOX_PATH} failed \\(${MAX_ATTEMPTS} attempts\\): the connection dropped after \\d+ bytes of the body`));
      expect(lore.requests).toBe(MAX_ATTEMPTS);
    });
  });

  it('a 429 that persists is rate limiting: an infrastructure error (exit 3) naming the Retry-After', async () => {
    await withLore(status(429, 100, 0), async (lore) => {
      const { err } = await failure(lore);
      expect(err).toBeInstanceOf(InfraError);
      expect((err as InfraError).exitCode).toBe(ExitCode.Infrastructure);
      expect(err.message).toBe(`${lore.url}${MBOX_PATH} answered 429 Too Many Requests ${MAX_ATTEMPTS} times: the server is rate limiting us (Retry-After: 0 s)`);
      expect(lore.requests).toBe(MAX_ATTEMPTS);
    });
  });

  it('a 403 that persists is rate limiting too, not bad input', async () => {
    await withLore(status(403, 100), async (lore) => {
      const { err } = await failure(lore);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toMatch(/answered 403 Forbidden 4 times: the server is rate limiting us$/);
      expect(lore.requests).toBe(MAX_ATTEMPTS);
    });
  });

  it('a Retry-After longer than the cap ends the fetch at once, naming the wait asked', async () => {
    const asked = MAX_RETRY_WAIT_MS / 1000 + 60;
    await withLore(status(429, 100, asked), async (lore) => {
      const { err, ms } = await failure(lore);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toBe(`${lore.url}${MBOX_PATH} answered 429 Too Many Requests: the server is rate limiting us and asks to wait ${asked} s (Retry-After), more than the 60 s kharness waits`);
      expect(lore.requests).toBe(1);
      expect(ms).toBeLessThan(1000);
    });
  });

  it('a 404 is bad input (exit 2), asked once', async () => {
    await withLore({}, async (lore) => {
      const err = await fetchSeries('nobody@nowhere.example', { lore: lore.url, cache: false, http: FAST }).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).exitCode).toBe(ExitCode.BadInput);
      expect(lore.requests).toBe(1);
    });
  });

  it('refuses a body over the cap, from its Content-Length, asked once', async () => {
    await withLore({}, async (lore) => {
      const { err } = await failure(lore, { http: { ...FAST, maxBodyBytes: 1000 } });
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toBe(`${lore.url}${MBOX_PATH} sent more than 1000 bytes (Content-Length ${gzBytes}): refusing a body that large`);
      expect(lore.requests).toBe(1);
    });
  });

  it('refuses a body over the cap while streaming it, without waiting for the rest', async () => {
    const slowBody = { chunkBytes: 128, delayMs: 80 };
    const wholeBodyMs = (Math.ceil(gzBytes / slowBody.chunkBytes) - 1) * slowBody.delayMs;
    await withLore({ slowBody }, async (lore) => {
      const { err, ms } = await failure(lore, { http: { ...FAST, maxBodyBytes: 500 } });
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toMatch(/sent more than 500 bytes \(\d+ bytes read so far\): refusing a body that large$/);
      expect(lore.requests).toBe(1);
      expect(ms).toBeLessThan(wholeBodyMs / 2);
    });
  });

  it('caps bodies at 64 MiB by default', () => {
    expect(MAX_BODY_BYTES).toBe(64 * 1024 * 1024);
  });
});

describe('the thread cache', () => {
  it('answers a second fetch without asking the server, with the same series', async () => {
    await withLore({}, async (lore) => {
      const first = await fetchSeries(ID, { lore: lore.url });
      const second = await fetchSeries(ID, { lore: lore.url });
      expect(lore.requests).toBe(1);
      expect(second).toEqual(first);
      const entry = threadCachePath(`${lore.url}${MBOX_PATH}`);
      expect(path.dirname(entry)).toBe(path.join(cache.dir(), 'lore'));
      expect(existsSync(entry)).toBe(true);
    });
  });

  it('is bypassed by cache: false and KHARNESS_LORE_NO_CACHE=1, whose answer replaces the entry', async () => {
    await withLore({}, async (lore) => {
      await fetchSeries(ID, { lore: lore.url });
      const entry = threadCachePath(`${lore.url}${MBOX_PATH}`);
      const aged = new Date(Date.now() - 60_000);
      await utimes(entry, aged, aged);
      await fetchSeries(ID, { lore: lore.url, cache: false });
      expect(lore.requests).toBe(2);
      expect((await stat(entry)).mtimeMs).toBeGreaterThan(aged.getTime() + 30_000);
      process.env.KHARNESS_LORE_NO_CACHE = '1';
      try {
        await fetchSeries(ID, { lore: lore.url });
      } finally {
        delete process.env.KHARNESS_LORE_NO_CACHE;
      }
      expect(lore.requests).toBe(3);
    });
  });

  it('asks again once an entry is older than the TTL', async () => {
    await withLore({}, async (lore) => {
      await fetchSeries(ID, { lore: lore.url });
      const entry = threadCachePath(`${lore.url}${MBOX_PATH}`);
      const justFresh = new Date(Date.now() - THREAD_CACHE_TTL_MS + 30_000);
      await utimes(entry, justFresh, justFresh);
      await fetchSeries(ID, { lore: lore.url });
      expect(lore.requests).toBe(1);
      const expired = new Date(Date.now() - THREAD_CACHE_TTL_MS - 1000);
      await utimes(entry, expired, expired);
      await fetchSeries(ID, { lore: lore.url });
      expect(lore.requests).toBe(2);
    });
  });

  it('drops entries past their TTL when it writes one', async () => {
    await withLore({}, async (lore) => {
      const stale = threadCachePath('http://127.0.0.1:1/all/old@example.com/t.mbox.gz');
      await mkdir(path.dirname(stale), { recursive: true });
      await writeFile(stale, 'old');
      const expired = new Date(Date.now() - THREAD_CACHE_TTL_MS - 1000);
      await utimes(stale, expired, expired);
      await fetchSeries(ID, { lore: lore.url });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(threadCachePath(`${lore.url}${MBOX_PATH}`))).toBe(true);
    });
  });

  it('keeps only what parsed as a thread: an HTML page is asked for again', async () => {
    let requests = 0;
    const html = await adHocServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!DOCTYPE html>\n<html><body>Checking your browser</body></html>\n');
    });
    try {
      for (let i = 0; i < 2; i++) await expect(fetchSeries('a@b', { lore: html.url })).rejects.toThrow(/is an HTML page, not an mbox$/);
      expect(requests).toBe(2);
    } finally {
      await html.close();
    }
  });
});

describe('what the client sends and reads', () => {
  let seen: string | undefined;
  let recorder: Awaited<ReturnType<typeof adHocServer>>;
  beforeAll(async () => {
    recorder = await adHocServer((req, res) => {
      seen = req.headers['user-agent'];
      res.writeHead(404);
      res.end();
    });
  });
  afterAll(async () => {
    await recorder.close();
  });

  it('names itself with the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(THREADS, '../../../../package.json'), 'utf8')) as { version: string };
    await fetchSeries('a@b', { lore: recorder.url }).catch(() => undefined);
    expect(seen).toBe(USER_AGENT);
    expect(USER_AGENT.startsWith(`kharness/${version} (`)).toBe(true);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2024-02-01T12:00:00Z');
    expect(retryAfterMs('1', now)).toBe(1000);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('Thu, 01 Feb 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Thu, 01 Feb 2024 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
