import { joinMboxrd } from './mbox.js';

/** Shape of a generated thread: how many patches, versions and review replies. */
export interface SynthOptions {
  patches: number;
  versions: number;
  replies: number;
}

export interface SynthThread {
  mbox: Buffer;
  /** Message-ID of the newest version's cover letter. */
  newestCover: string;
  messages: number;
}

const REVIEWERS = [
  { name: 'Bob Okafor', email: 'bob@kernel.example.org' },
  { name: 'Chris Lindqvist', email: 'chris.l@example.net' },
  { name: 'Dana Ruiz', email: 'dana@example.org' },
  { name: 'Eve Mallory', email: 'eve@attacker.example' },
];
const AUTHOR = { name: 'Alice Chen', email: 'alice.chen@example.com' };

function date(minutes: number): string {
  return new Date(Date.UTC(2024, 2, 1) + minutes * 60_000).toUTCString().replace('GMT', '+0000');
}

function mail(h: { from: string; subject: string; id: string; parent?: string; refs?: string[]; minutes: number }, body: string): Buffer {
  const refs = h.refs ?? (h.parent ? [h.parent] : []);
  const lines = [
    `From: ${h.from}`,
    'To: linux-mm@kvack.org',
    `Subject: ${h.subject}`,
    `Date: ${date(h.minutes)}`,
    `Message-ID: <${h.id}>`,
    ...(h.parent ? [`In-Reply-To: <${h.parent}>`, `References: ${refs.map((r) => `<${r}>`).join(' ')}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return Buffer.from(`${lines.join('\n')}\n\n${body}`, 'utf8');
}

/** A plausible patch: a paragraph of message, a diffstat and a ~40-line diff in its own file. */
function patchBody(index: number, revision: number): string {
  // Every third patch changes between versions; the rest keep their diff (so reviews carry over).
  const variant = index % 3 === 0 ? revision : 1;
  const file = `mm/zswap_part${index}.c`;
  const added: string[] = [];
  for (let i = 0; i < 18; i++) added.push(`+\tpart${index}_step${i}(entry, ${variant});`);
  return `Split step ${index} of the zswap swapoff rework into its own function so
that the teardown order is visible in one place. The new helper takes
the tree lock itself and is called with the swap cache folio locked.

No functional change intended.

Signed-off-by: ${AUTHOR.name} <${AUTHOR.email}>
---
 ${file} | 20 ++++++++++++++++++--
 1 file changed, 18 insertions(+), 2 deletions(-)

diff --git a/${file} b/${file}
index 0123456789ab..ba9876543210 100644
--- a/${file}
+++ b/${file}
@@ -10,8 +10,24 @@ static void part${index}(struct zswap_entry *entry)
 {
 	struct xarray *tree = swap_zswap_tree(entry->swpentry);
 
-	xa_lock(tree);
-	xa_unlock(tree);
+	xa_lock(tree);
${added.join('\n')}
+	xa_unlock(tree);
 	zswap_entry_free(entry);
 }
 
-- 
2.43.0
`;
}

/**
 * A large thread in lore's mboxrd format: `versions` rounds of a `patches`-patch series, each
 * cover answering the previous one, and `replies` reviews spread over patches, covers and
 * other reviews, with matching trailers, some from the wrong sender, and quoted text.
 */
export function synthThread(opts: SynthOptions): SynthThread {
  const messages: Buffer[] = [];
  const patchIds: string[][] = [];
  const coverIds: string[] = [];
  let minutes = 0;
  for (let v = 1; v <= opts.versions; v++) {
    const prefix = v > 1 ? `PATCH v${v}` : 'PATCH';
    const pad = String(opts.patches).length;
    const coverId = `synth-v${v}-0-alice@example.com`;
    const shortlog = Array.from({ length: opts.patches }, (_, i) => `  mm: zswap: split swapoff step ${i + 1}`).join('\n');
    messages.push(
      mail(
        { from: `${AUTHOR.name} <${AUTHOR.email}>`, subject: `[${prefix} ${'0'.padStart(pad, '0')}/${opts.patches}] mm: zswap: rework swapoff`, id: coverId, parent: coverIds[v - 2], minutes },
        `This series reworks zswap swapoff, version ${v}.\n\n${AUTHOR.name} (${opts.patches}):\n${shortlog}\n\n mm/zswap.c | ${opts.patches * 20} +++++\n ${opts.patches} files changed, ${opts.patches * 18} insertions(+), ${opts.patches * 2} deletions(-)\n\nbase-commit: fa8f9df0f573dab7a516b19235a49f0f00e30ed2\n-- \n2.43.0\n`,
      ),
    );
    coverIds.push(coverId);
    const ids: string[] = [];
    for (let i = 1; i <= opts.patches; i++) {
      const id = `synth-v${v}-${i}-alice@example.com`;
      ids.push(id);
      messages.push(
        mail(
          { from: `${AUTHOR.name} <${AUTHOR.email}>`, subject: `[${prefix} ${String(i).padStart(pad, '0')}/${opts.patches}] mm: zswap: split swapoff step ${i}`, id, parent: coverId, minutes: minutes + 1 },
          patchBody(i, v),
        ),
      );
    }
    patchIds.push(ids);
    minutes += 10_000;
  }

  const replyIds: string[] = [];
  for (let r = 0; r < opts.replies; r++) {
    const who = REVIEWERS[r % REVIEWERS.length] as { name: string; email: string };
    const v = (r % opts.versions) + 1;
    const index = ((r * 7) % opts.patches) + 1;
    const toCover = r % 10 === 0;
    const toReply = r % 5 === 4 && replyIds.length > 0;
    const parent = toReply ? (replyIds[replyIds.length - 1] as string) : toCover ? (coverIds[v - 1] as string) : (patchIds[v - 1]?.[index - 1] as string);
    const named = r % 13 === 0 ? (REVIEWERS[0] as { name: string; email: string }) : who;
    const tag = ['Reviewed-by', 'Acked-by', 'Tested-by'][r % 3] as string;
    const id = `synth-reply-${r}@example.org`;
    replyIds.push(id);
    messages.push(
      mail(
        { from: `${who.name} <${who.email}>`, subject: `Re: [PATCH] mm: zswap: split swapoff step ${index}`, id, parent, minutes: (v - 1) * 10_000 + 100 + r },
        `On ${date(0)}, ${AUTHOR.name} wrote:\n> Split step ${index} of the zswap swapoff rework into its own function so\n> that the teardown order is visible in one place.\n>\n> Reviewed-by: Quoted <quoted@example.org>\n\nLooks right to me.\n\n${tag}: ${named.name} <${named.email}>\n\n-- \n${who.name}\n`,
      ),
    );
  }
  return { mbox: joinMboxrd(messages), newestCover: coverIds[coverIds.length - 1] as string, messages: messages.length };
}
