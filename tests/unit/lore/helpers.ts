import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { parseMessage, type MailMessage } from '../../../src/lore/message.js';

export const THREADS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/lore/threads');
export const fixture = (name: string): string => path.join(THREADS, `${name}.mbox`);

/** Message-IDs of the main fixture thread (tests/fixtures/lore/threads/zswap-swapoff.mbox). */
export const SWAPOFF = {
  v1cover: '20240120024007.2850671-1-alice.chen@example.com',
  v1p1: '20240120024007.2850671-2-alice.chen@example.com',
  v1p2: '20240120024007.2850671-3-alice.chen@example.com',
  v2cover: '20240125024007.3010002-1-alice.chen@example.com',
  v2p1: '20240125024007.3010002-2-alice.chen@example.com',
  v2p2: '20240125024007.3010002-3-alice.chen@example.com',
  bobV1Review: 'Za7xK2bob-v1-1@kernel.example.org',
  chrisDiff: 'CAF8kJuPchris1+swapoff@mail.example.net',
  chrisV2: 'CAF8kJuPchris2+swapoff@mail.example.net',
  aliceSlashId: 'alice/reply+1@example.com',
  eve: 'eve-1@attacker.example',
  base: 'fa8f9df0f573dab7a516b19235a49f0f00e30ed2',
};

export interface MailSpec {
  id: string;
  subject: string;
  body: string;
  from?: string;
  parent?: string;
  /** Minutes after a fixed epoch; defaults to the position in the list. */
  minutes?: number;
  headers?: string[];
}

export function rawMail(spec: MailSpec, position = 0): Buffer {
  const date = new Date(Date.UTC(2024, 1, 1) + (spec.minutes ?? position) * 60_000).toUTCString().replace('GMT', '+0000');
  const lines = [
    `From: ${spec.from ?? 'Alice Chen <alice@example.com>'}`,
    `Subject: ${spec.subject}`,
    `Date: ${date}`,
    `Message-ID: <${spec.id}>`,
    ...(spec.parent ? [`In-Reply-To: <${spec.parent}>`, `References: <${spec.parent}>`] : []),
    ...(spec.headers ?? ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit']),
  ];
  return Buffer.from(`${lines.join('\n')}\n\n${spec.body}`, 'utf8');
}

/** Parses in-memory mails as a thread, in order. */
export async function mails(specs: MailSpec[]): Promise<MailMessage[]> {
  return Promise.all(specs.map((s, i) => parseMessage(rawMail(s, i), i)));
}

/** A small but well-formed patch mail body; `n` makes the diff unique. */
export function patchBody(n: number, opts: { message?: string; trailers?: string[] } = {}): string {
  const trailers = opts.trailers ?? ['Signed-off-by: Alice Chen <alice@example.com>'];
  return `${opts.message ?? `Change number ${n}.`}

${trailers.join('\n')}
---
 file${n}.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/file${n}.c b/file${n}.c
index 1111111..2222222 100644
--- a/file${n}.c
+++ b/file${n}.c
@@ -1,1 +1,2 @@
 int x;
+int y${n};
-- 
2.43.0
`;
}

export function coverBody(text = 'A series.'): string {
  return `${text}

Alice Chen (2):
  one
  two

 file1.c | 1 +
 2 files changed, 2 insertions(+)

base-commit: ${SWAPOFF.base}
-- 
2.43.0
`;
}

export async function tempDir(prefix = 'kh-lore-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A throwaway HTTP server for answers serve-lore never gives (HTML, corrupt gzip, 500, ...). */
export async function adHocServer(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nobody listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const s = await adHocServer((_req, res) => res.end());
  const port = Number(new URL(s.url).port);
  await s.close();
  return port;
}

/**
 * Points KHARNESS_CACHE at a fresh folder for the calling file's tests: a thread cached by an
 * earlier run, from a server that had the same port, must not answer for this file's servers.
 */
export function useTempCache(): { dir: () => string } {
  let saved: string | undefined;
  let temp: Awaited<ReturnType<typeof tempDir>> | undefined;
  beforeAll(async () => {
    saved = process.env.KHARNESS_CACHE;
    temp = await tempDir('kh-lore-cache-');
    process.env.KHARNESS_CACHE = temp.dir;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.KHARNESS_CACHE;
    else process.env.KHARNESS_CACHE = saved;
    await temp?.cleanup();
  });
  return {
    dir: () => {
      if (!temp) throw new Error('useTempCache: the cache folder exists only inside tests');
      return temp.dir;
    },
  };
}
