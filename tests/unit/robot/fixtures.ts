import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { joinMboxrd } from '../../../src/lore/mbox.js';
import { startLoreServer, type LoreServer } from '../../../src/lore/server.js';
import { coverBody, patchBody, rawMail, tempDir, type MailSpec } from '../lore/helpers.js';

/** Message-IDs of the robot's list: a v1, its v2 (answering v1), a review of v2, and a RESEND of v2. */
export const LIST = {
  v1: 'v1-0-alice@example.com',
  v2: 'v2-0-alice@example.com',
  v2p1: 'v2-1-alice@example.com',
  review: 'review-of-v2@example.org',
  resend: 'resend-v2-0-alice@example.com',
  other: 'unrelated-0-bob@example.org',
};

const ZSWAP_DIFF = (n: number): string => `Change ${n} of zswap.

Signed-off-by: Alice Chen <alice@example.com>
---
 mm/zswap.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/mm/zswap.c b/mm/zswap.c
index 1111111..2222222 100644
--- a/mm/zswap.c
+++ b/mm/zswap.c
@@ -1,1 +1,2 @@
 int x;
+int zswap_change${n};
-- 
2.43.0
`;

function version(prefix: string, ids: string[], diffs: number[], minutes: number, parent?: string): MailSpec[] {
  const [cover, ...patches] = ids as [string, ...string[]];
  return [
    { id: cover, subject: `[${prefix} 0/2] mm: zswap: tidy the store path`, body: coverBody('Tidies the store path.'), minutes, parent },
    ...patches.map((id, i) => ({ id, subject: `[${prefix} ${i + 1}/2] mm: zswap: tidy step ${i + 1}`, body: ZSWAP_DIFF(diffs[i] as number), parent: cover, minutes: minutes + 1 })),
  ];
}

/** Writes the list's threads into `dir` (one mbox per thread, as serve-lore reads them). */
export async function writeList(dir: string): Promise<void> {
  const v1 = version('PATCH', [LIST.v1, 'v1-1-alice@example.com', 'v1-2-alice@example.com'], [1, 2], 10);
  // v2 changes patch 2; it answers v1's cover, so both live in one thread.
  const v2 = version('PATCH v2', [LIST.v2, LIST.v2p1, 'v2-2-alice@example.com'], [1, 3], 2000, LIST.v1);
  const review: MailSpec = { id: LIST.review, subject: 'Re: [PATCH v2 1/2] mm: zswap: tidy step 1', body: '> int x;\n\nLooks good.\n\nReviewed-by: Bob Okafor <bob@example.org>\n', from: 'Bob Okafor <bob@example.org>', parent: LIST.v2p1, minutes: 3000 };
  const resend = version('PATCH RESEND v2', [LIST.resend, 'resend-v2-1-alice@example.com', 'resend-v2-2-alice@example.com'], [1, 3], 4000);
  const other: MailSpec = { id: LIST.other, subject: '[PATCH] net: unrelated fix', body: patchBody(7), from: 'Bob Okafor <bob@example.org>', minutes: 5000 };
  const thread = (specs: MailSpec[]): Buffer => joinMboxrd(specs.map((s, i) => rawMail(s, i)));
  await writeFile(path.join(dir, 'a-tidy.mbox'), thread([...v1, ...v2, review]));
  await writeFile(path.join(dir, 'b-resend.mbox'), thread(resend));
  await writeFile(path.join(dir, 'c-other.mbox'), thread([other]));
}

/** Serves this list (writeList) with serve-lore for the calling test file: started before its tests, closed after. */
export function useServedList(prefix: string): () => LoreServer {
  let server: LoreServer | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const t = await tempDir(prefix);
    cleanup = t.cleanup;
    await writeList(t.dir);
    server = await startLoreServer(t.dir, 0);
  });
  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });
  return () => {
    if (!server) throw new Error('the list is served only while the test file runs');
    return server;
  };
}
