import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/common/paths.js';
import { MAX_THREAD_MESSAGES } from '../../../src/lore/fetch.js';
import { joinMboxrd, MAX_INFLATED_BYTES } from '../../../src/lore/mbox.js';
import { adHocServer, patchBody, rawMail, tempDir } from './helpers.js';

/**
 * Hostile thread mboxes through the real fetch path (the compiled CLI against an HTTP server):
 * a gzip bomb and a 10,000-message thread each end in a clear error, and the process's peak
 * memory stays bounded (measured with a preloaded exit hook, in KiB).
 */

const BIN = path.join(projectRoot, 'bin', 'kharness.js');
const PRELOAD = path.join(projectRoot, 'tests', 'unit', 'lore', 'max-rss.mjs');
const MiB = 1024 * 1024;
const MSGID = 'limits-0@example.com';

let scratch: Awaited<ReturnType<typeof tempDir>>;
const bodies = new Map<string, { body: Buffer; headers: Record<string, string> }>();
let server: Awaited<ReturnType<typeof adHocServer>>;

/** One gzip member per MiB of zeros, repeated: `mib` MiB inflated from about 1 KiB per MiB. */
function gzipBomb(mib: number): Buffer {
  const member = gzipSync(Buffer.alloc(MiB));
  return Buffer.concat(Array<Buffer>(mib).fill(member));
}

/** A thread of `n` messages: a one-patch series and n-1 replies to it. */
function hugeThread(n: number): Buffer {
  const mails = [rawMail({ id: MSGID, subject: '[PATCH] mm: zswap: one', body: patchBody(1) }, 0)];
  for (let i = 1; i < n; i++) mails.push(rawMail({ id: `limits-${i}@example.com`, subject: 'Re: [PATCH] mm: zswap: one', body: `reply ${i}\n`, parent: MSGID }, i));
  return gzipSync(joinMboxrd(mails));
}

beforeAll(async () => {
  scratch = await tempDir('kh-limits-');
  bodies.set('bomb', { body: gzipBomb(MAX_INFLATED_BYTES / MiB + 64), headers: { 'content-type': 'application/gzip' } });
  // the same bomb as a transfer encoding: fetch inflates it while it reads
  bodies.set('encoded', { body: gzipBomb(128), headers: { 'content-type': 'application/mbox', 'content-encoding': 'gzip' } });
  bodies.set('huge', { body: hugeThread(10_000), headers: { 'content-type': 'application/gzip' } });
  server = await adHocServer((req, res) => {
    const name = (req.url ?? '').split('/')[1] ?? '';
    const answer = bodies.get(name);
    if (!answer) return void res.writeHead(404).end();
    res.writeHead(200, { ...answer.headers, 'content-length': String(answer.body.length) }).end(answer.body);
  });
});
afterAll(async () => {
  await server?.close();
  await scratch?.cleanup();
});

/** `kharness fetch` of the thread at /<name>/, with its exit code, stderr and peak RSS in MiB. */
async function fetchThread(name: string): Promise<{ exitCode: number; stderr: string; maxRssMiB: number }> {
  if (!existsSync(path.join(projectRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (scripts/setup.sh does)');
  const rssFile = path.join(scratch.dir, `${name}.rss`);
  const r = await execa('node', ['--import', PRELOAD, BIN, 'fetch', `${server.url}/${name}/${MSGID}/`, '--no-cache', '-o', path.join(scratch.dir, name)], {
    reject: false,
    timeout: 60_000,
    env: { KH_MAX_RSS_FILE: rssFile, KHARNESS_CACHE: scratch.dir },
  });
  return { exitCode: r.exitCode ?? -1, stderr: String(r.stderr), maxRssMiB: Number(await readFile(rssFile, 'utf8')) / 1024 };
}

describe('hostile thread sizes, fetched for real', () => {
  it('a gzip bomb is refused as bad input once it passes the inflate cap, holding no more than the cap', async () => {
    expect(bodies.get('bomb')!.body.length).toBeLessThan(2 * MiB);
    const r = await fetchThread('bomb');
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`inflates to more than ${MAX_INFLATED_BYTES / MiB} MiB: not a mail thread`);
    expect(r.maxRssMiB).toBeLessThan(MAX_INFLATED_BYTES / MiB + 256);
    expect(existsSync(path.join(scratch.dir, 'bomb'))).toBe(false);
  });

  it('a bomb sent as Content-Encoding stops at the 64 MiB body cap', async () => {
    const r = await fetchThread('encoded');
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/sent more than 67108864 bytes .*refusing a body that large/);
    expect(r.maxRssMiB).toBeLessThan(64 + 256);
  });

  it(`a 10,000-message thread is refused before its messages are parsed (at most ${MAX_THREAD_MESSAGES})`, async () => {
    const r = await fetchThread('huge');
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`holds 10000 messages, more than the ${MAX_THREAD_MESSAGES} a thread may have`);
    expect(r.maxRssMiB).toBeLessThan(256);
  });
});
