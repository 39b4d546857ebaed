import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { assembleSeries } from '../../../src/lore/assemble.js';
import { fetchSeries, parseThread } from '../../../src/lore/fetch.js';
import type { Series } from '../../../src/lore/schema.js';
import { synthThread } from '../../../src/lore/synth.js';
import { SWAPOFF, coverBody, fixture, mails, patchBody } from './helpers.js';

const trailerLines = (series: Series, index: number): string[] =>
  (series.patches[index - 1]?.trailers ?? []).map((t) => `${t.name}: ${t.value}`);

describe('the zswap-swapoff thread (v1 + v2, reviews, an inline diff)', () => {
  it('takes the newest version, its cover and base-commit, patches in order', async () => {
    const { series } = await fetchSeries(fixture('zswap-swapoff'));
    expect(series.version).toBe(2);
    expect(series.versions).toEqual([1, 2]);
    expect(series.cover?.messageId).toBe(SWAPOFF.v2cover);
    expect(series.subject).toBe('mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()');
    expect(series.slug).toBe('v2-mm-zswap-remove-unnecessary-tree-cleanups-in-zswap-swapoff');
    expect(series.baseCommit).toBe(SWAPOFF.base);
    expect(series.patches.map((p) => [p.index, p.total, p.messageId])).toEqual([
      [1, 2, SWAPOFF.v2p1],
      [2, 2, SWAPOFF.v2p2],
    ]);
    expect(series.patches[0]?.author).toEqual({ name: 'Alice Chen', email: 'alice.chen@example.com' });
  });

  it('collects trailers from replies to patches and to the cover, and carries reviews of an unchanged diff', async () => {
    const { series } = await fetchSeries(fixture('zswap-swapoff'));
    expect(trailerLines(series, 1)).toEqual([
      'Signed-off-by: Alice Chen <alice.chen@example.com>',
      'Link: https://lore.kernel.org/linux-mm/Za7xK2bob-v1-1@kernel.example.org/',
      'Cc: stable@vger.kernel.org',
      'Tested-by: Dana Ruiz <dana@example.org>',
      'Reviewed-by: Bob Okafor <bob@kernel.example.org>',
    ]);
    expect(series.warnings.some((w) => w.startsWith('v2 1/2: carried "Reviewed-by: Bob Okafor') && w.includes(SWAPOFF.v1p1))).toBe(true);
    expect(trailerLines(series, 2)).toEqual([
      'Signed-off-by: Alice Chen <alice.chen@example.com>',
      'Acked-by: Chris Lindqvist <chris.l@example.net>',
      'Suggested-by: Chris Lindqvist <chris.l@example.net>',
      'Fixes: 44c7c734a513 ("mm/zswap: split zswap rb-tree into multiple trees")',
      'Tested-by: Eve Mallory <eve@attacker.example>',
      'Tested-by: Dana Ruiz <dana@example.org>',
    ]);
    const collected = series.patches[1]?.trailers.find((t) => t.name === 'Acked-by');
    expect(collected).toMatchObject({ from: 'Chris Lindqvist <chris.l@example.net>', messageId: SWAPOFF.chrisV2 });
  });

  it('does not apply a trailer naming someone other than its sender, and says so', async () => {
    const { series, mbox } = await fetchSeries(fixture('zswap-swapoff'));
    expect(trailerLines(series, 2)).not.toContain('Reviewed-by: Bob Okafor <bob@kernel.example.org>');
    expect(series.warnings).toContain(
      `v2 2/2: did not apply "Reviewed-by: Bob Okafor <bob@kernel.example.org>" from <${SWAPOFF.eve}>: it was sent by Eve Mallory <eve@attacker.example>, not by the person it names`,
    );
    // Nor quoted trailers, nor one below a signature.
    expect(mbox).not.toContain('Quoted Person');
    expect(mbox).not.toContain('Signature Line');
  });

  it('treats a reply with a diff as review, not as a patch', async () => {
    const { series, mbox } = await fetchSeries(fixture('zswap-swapoff'), { version: 1 });
    expect(series.patches.map((p) => p.messageId)).toEqual([SWAPOFF.v1p1, SWAPOFF.v1p2]);
    expect(series.warnings.some((w) => w.includes(SWAPOFF.chrisDiff) && w.includes('carries a diff'))).toBe(true);
    // The Signed-off-by under Chris's proposed diff is not a trailer for Alice's patch.
    expect(trailerLines(series, 2)).toEqual(['Signed-off-by: Alice Chen <alice.chen@example.com>']);
    expect(trailerLines(series, 1)).toContain('Reviewed-by: Bob Okafor <bob@kernel.example.org>');
    expect(mbox.match(/^From 0{40} /gm)).toHaveLength(2);
  });

  it('writes an mbox with canonical subjects and trailers before the ---', async () => {
    const { mbox } = await fetchSeries(fixture('zswap-swapoff'));
    expect(mbox).toContain('Subject: [PATCH v2 1/2] mm: zswap: clear the tree pointers before freeing them in zswap_swapoff()');
    expect(mbox).toContain(
      'Signed-off-by: Alice Chen <alice.chen@example.com>\nAcked-by: Chris Lindqvist <chris.l@example.net>\nSuggested-by: Chris Lindqvist <chris.l@example.net>\n' +
        'Fixes: 44c7c734a513 ("mm/zswap: split zswap rb-tree into multiple trees")\nTested-by: Eve Mallory <eve@attacker.example>\n' +
        'Tested-by: Dana Ruiz <dana@example.org>\n---\n mm/zswap.c |',
    );
    expect(mbox).toContain(`Message-ID: <${SWAPOFF.v2p2}>`);
    expect(mbox).not.toContain('[PATCH 0/2]');
  });

  it('refuses a version the thread does not have, listing those it has', async () => {
    await expect(fetchSeries(fixture('zswap-swapoff'), { version: 3 })).rejects.toThrow(/there is no v3 in .*; it has v1, v2/);
    await expect(fetchSeries(fixture('zswap-swapoff'), { version: 3 })).rejects.toBeInstanceOf(InputError);
  });
});

describe('series shapes from the fixtures', () => {
  it('fills a partial reroll (v3 2/2 answering v2 2/2) from v2, with a warning', async () => {
    const { series } = await fetchSeries(fixture('partial-reroll'));
    expect(series.version).toBe(3);
    expect(series.patches.map((p) => [p.messageId, p.fromVersion])).toEqual([
      ['20240201100000.1-1-alice.chen@example.com', 2],
      ['20240202100000.2-2-alice.chen@example.com', 3],
    ]);
    expect(series.warnings).toContain(
      'v3 resends only some patches (a partial reroll): took 1/2 from v2, <20240201100000.1-1-alice.chen@example.com> ("[PATCH v2 1/2] mm: zswap: clear the tree pointers before freeing them in zswap_swapoff()")',
    );
    // The v2 cover's ack covers the series the reroll completes, the rewritten patch too (as b4
    // has it), with a warning that it was given before the rewrite.
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice.chen@example.com>', 'Reviewed-by: Bob Okafor <bob@kernel.example.org>', 'Acked-by: Dana Ruiz <dana@example.org>']);
    expect(trailerLines(series, 2)).toEqual(['Signed-off-by: Alice Chen <alice.chen@example.com>', 'Acked-by: Dana Ruiz <dana@example.org>']);
    expect(series.warnings.some((w) => w.startsWith('v3 2/2 was resent after "Acked-by: Dana Ruiz') && w.includes('applied to it'))).toBe(true);
    expect(series.cover?.messageId).toBe('20240201100000.1-0-alice.chen@example.com');
    expect(series.baseCommit).toBe(SWAPOFF.base);
  });

  it('finds a naked cover (a thread root without [PATCH 0/N]) and applies its acks to every patch', async () => {
    const { series } = await fetchSeries(fixture('naked-cover'));
    expect(series.cover?.messageId).toBe('naked-root@example.com');
    expect(series.subject).toBe('mm: zswap: two swapoff cleanups');
    for (const i of [1, 2]) expect(trailerLines(series, i)).toContain('Acked-by: Bob Okafor <bob@kernel.example.org>');
  });

  it('names the missing patch', async () => {
    const err = await fetchSeries(fixture('missing-patch')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^v1 is missing patch 2\/3 \(the thread has 1\/3, 3\/3\)/);
  });

  it('takes a message archived twice (the same copy) once, without a warning', async () => {
    const { series } = await fetchSeries(fixture('duplicates'));
    expect(series.patches.map((p) => p.messageId)).toEqual(['dup-1@example.com', 'dup-2@example.com']);
    expect(series.warnings.filter((w) => w.includes('dup-'))).toEqual([]);
  });

  it('takes a single patch rerolled as a reply to v1, and not the fix-up diff a reviewer sent', async () => {
    const { series } = await fetchSeries(fixture('single-reroll'));
    expect(series.version).toBe(2);
    expect(series.patches.map((p) => p.messageId)).toEqual(['single-v2@example.com']);
    expect(trailerLines(series, 1)).toContain('Reviewed-by: Bob Okafor <bob@kernel.example.org>');
    expect(series.warnings.some((w) => w.includes('single-fixup@kernel.example.org') && w.includes('carries a diff'))).toBe(true);
    const v1 = await fetchSeries(fixture('single-reroll'), { version: 1 });
    expect(v1.series.patches.map((p) => p.messageId)).toEqual(['single-v1@example.com']);
  });

  it('reads [PATCH v6,1/2] as v6 patch 1 of 2', async () => {
    const { series, mbox } = await fetchSeries(fixture('comma-version'));
    expect(series.version).toBe(6);
    expect(series.patches.map((p) => p.messageId)).toEqual(['comma-1@example.com', 'comma-2@example.com']);
    expect(mbox).toContain('Subject: [PATCH v6 2/2]');
  });

  it('reports a thread without patches as bad input', async () => {
    await expect(fetchSeries(fixture('discussion-only'))).rejects.toThrow(/no patches in .*discussion-only\.mbox: none of its 2 message\(s\) carries a diff/);
  });
});

describe('assembly rules on small threads', () => {
  it('applies cover-letter trailers to every patch, once, with no duplicates', async () => {
    const msgs = await mails([
      { id: 'c@x', subject: '[PATCH 0/2] mm: s', body: coverBody() },
      { id: 'p1@x', subject: '[PATCH 1/2] mm: one', body: patchBody(1), parent: 'c@x' },
      { id: 'p2@x', subject: '[PATCH 2/2] mm: two', body: patchBody(2), parent: 'c@x' },
      { id: 'r1@x', subject: 'Re: [PATCH 0/2] mm: s', from: 'Bob <bob@x.org>', body: 'Acked-by: Bob <bob@x.org>\n', parent: 'c@x' },
      { id: 'r2@x', subject: 'Re: [PATCH 1/2] mm: one', from: 'Bob <bob@x.org>', body: 'Acked-by: Bob <BOB@x.org>\n', parent: 'p1@x' },
    ]);
    const { series } = assembleSeries(msgs, { source: 'test' });
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Bob <BOB@x.org>']);
    expect(trailerLines(series, 2)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Bob <bob@x.org>']);
  });

  it('credits a reply to a reply to the patch at the top of its branch', async () => {
    const msgs = await mails([
      { id: 'p1@x', subject: '[PATCH] mm: one', body: patchBody(1) },
      { id: 'r1@x', subject: 'Re: [PATCH] mm: one', from: 'Bob <bob@x.org>', body: 'Question?\n', parent: 'p1@x' },
      { id: 'r2@x', subject: 'Re: [PATCH] mm: one', from: 'Dana <dana@x.org>', body: '> Question?\n\nTested-by: Dana <dana@x.org>\n', parent: 'r1@x' },
    ]);
    expect(trailerLines(assembleSeries(msgs, { source: 't' }).series, 1)).toContain('Tested-by: Dana <dana@x.org>');
  });

  it('applies person-trailers only from their sender, by address or by exact name; references from anyone', async () => {
    const msgs = await mails([
      { id: 'p1@x', subject: '[PATCH] mm: one', body: patchBody(1) },
      {
        id: 'r1@x',
        subject: 'Re: [PATCH] mm: one',
        from: 'Bob Okafor <bob@work.example>',
        body:
          'Reviewed-by: Bob Okafor <bob@home.example>\n' +
          'Reported-by: Someone Else <else@x.org>\n' +
          'Suggested-by: Bob Okafor <bob@work.example>\n' +
          'Fixes: abcdef123456 ("mm: old")\n' +
          'Closes: https://bugs.example.org/1\n',
        parent: 'p1@x',
      },
    ]);
    const { series } = assembleSeries(msgs, { source: 't' });
    expect(trailerLines(series, 1)).toEqual([
      'Signed-off-by: Alice Chen <alice@example.com>',
      'Reviewed-by: Bob Okafor <bob@home.example>',
      'Suggested-by: Bob Okafor <bob@work.example>',
      'Fixes: abcdef123456 ("mm: old")',
      'Closes: https://bugs.example.org/1',
    ]);
    expect(series.warnings).toContain(
      'v1 1/1: did not apply "Reported-by: Someone Else <else@x.org>" from <r1@x>: it was sent by Bob Okafor <bob@work.example>, not by the person it names',
    );
    expect(series.warnings.some((w) => w.includes('applied "Reviewed-by: Bob Okafor <bob@home.example>" from <r1@x> by name'))).toBe(true);
  });

  it('does not add a trailer the patch already carries', async () => {
    const msgs = await mails([
      { id: 'p1@x', subject: '[PATCH] mm: one', body: patchBody(1, { trailers: ['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Bob <bob@x.org>'] }) },
      { id: 'r1@x', subject: 'Re: [PATCH] mm: one', from: 'Bob <bob@x.org>', body: 'Acked-by: Bob <bob@x.org>\n', parent: 'p1@x' },
    ]);
    const { series, mbox } = assembleSeries(msgs, { source: 't' });
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Bob <bob@x.org>']);
    expect(mbox.match(/Acked-by/g)).toHaveLength(1);
  });

  it('reports rejected trailer lines naming the message', async () => {
    const msgs = await mails([
      { id: 'p1@x', subject: '[PATCH] mm: one', body: patchBody(1) },
      { id: 'r1@x', subject: 'Re: [PATCH] mm: one', from: 'Bob <bob@x.org>', body: 'Reviewed-by: Bob\n', parent: 'p1@x' },
    ]);
    expect(assembleSeries(msgs, { source: 't' }).series.warnings).toContain('ignored "Reviewed-by: Bob" has no e-mail address in <r1@x> ("Re: [PATCH] mm: one")');
  });

  it('takes the newest of two mails for one slot (a RESEND) and says which', async () => {
    const msgs = await mails([
      { id: 'p1@x', subject: '[PATCH 1/2] mm: one', body: patchBody(1), minutes: 1 },
      { id: 'p2@x', subject: '[PATCH 2/2] mm: two', body: patchBody(2), minutes: 2 },
      { id: 'p1r@x', subject: '[PATCH RESEND 1/2] mm: one', body: patchBody(1), minutes: 100 },
    ]);
    const { series } = assembleSeries(msgs, { source: 't' });
    expect(series.patches.map((p) => p.messageId)).toEqual(['p1r@x', 'p2@x']);
    expect(series.warnings.some((w) => w.startsWith('2 messages are v1 patch 1/2; took the newest <p1r@x>'))).toBe(true);
  });

  it('does not let a stray [PATCH 1/1] answering the cover take the place of patch 1/2', async () => {
    const msgs = await mails([
      { id: 'c@x', subject: '[PATCH 0/2] mm: s', body: coverBody() },
      { id: 'p1@x', subject: '[PATCH 1/2] mm: one', body: patchBody(1), parent: 'c@x' },
      { id: 'p2@x', subject: '[PATCH 2/2] mm: two', body: patchBody(2), parent: 'c@x' },
      { id: 'stray@x', subject: '[PATCH 1/1] mm: unrelated', body: patchBody(9), parent: 'c@x', minutes: 50 },
    ]);
    const { series } = assembleSeries(msgs, { source: 't' });
    expect(series.patches.map((p) => p.messageId)).toEqual(['p1@x', 'p2@x']);
    expect(series.warnings).toContain('ignored <stray@x> ("[PATCH 1/1] mm: unrelated"): it is numbered 1/1, but v1 has 2 patch(es)');
  });

  it('groups [PATCH 1/2 v2] with its version and infers an unversioned patch’s version from its cover', async () => {
    const msgs = await mails([
      { id: 'c@x', subject: '[PATCH v2 0/2] mm: s', body: coverBody() },
      { id: 'p1@x', subject: '[PATCH 1/2 v2] mm: one', body: patchBody(1), parent: 'c@x' },
      { id: 'p2@x', subject: '[PATCH 2/2] mm: two', body: patchBody(2), parent: 'c@x' },
    ]);
    const { series } = assembleSeries(msgs, { source: 't' });
    expect(series.version).toBe(2);
    expect(series.versions).toEqual([2]);
    expect(series.patches.map((p) => p.messageId)).toEqual(['p1@x', 'p2@x']);
  });

  it('takes the author from an in-body From: line, as git am does', async () => {
    const msgs = await mails([{ id: 'p1@x', subject: '[PATCH] mm: one', body: `From: Real Author <real@x.org>\n\n${patchBody(1)}` }]);
    expect(assembleSeries(msgs, { source: 't' }).series.patches[0]?.author).toEqual({ name: 'Real Author', email: 'real@x.org' });
  });

  it('notes base-commit and prerequisite-patch-id lines', async () => {
    const pre = 'prerequisite-patch-id: 0123456789abcdef0123456789abcdef01234567';
    const msgs = await mails([
      { id: 'c@x', subject: '[PATCH 0/1] mm: s', body: coverBody().replace('-- \n', `${pre}\n-- \n`) },
      { id: 'p1@x', subject: '[PATCH 1/1] mm: one', body: patchBody(1), parent: 'c@x' },
    ]);
    const { series } = assembleSeries(msgs, { source: 't' });
    expect(series.baseCommit).toBe(SWAPOFF.base);
    expect(series.prerequisitePatchIds).toEqual(['0123456789abcdef0123456789abcdef01234567']);
  });

  it('says when the message asked for belongs to an older version', async () => {
    const msgs = await mails([
      { id: 'a1@x', subject: '[PATCH] mm: one', body: patchBody(1) },
      { id: 'b1@x', subject: '[PATCH v2] mm: one', body: patchBody(2), parent: 'a1@x' },
    ]);
    const { series } = assembleSeries(msgs, { source: 't', wantedMessageId: 'a1@x' });
    expect(series.version).toBe(2);
    expect(series.warnings).toContain('<a1@x> is part of v1; took v2, the newest (use -v 1 for that one)');
  });

  it('refuses an empty thread', () => {
    expect(() => assembleSeries([], { source: 'empty.mbox' })).toThrow(/empty\.mbox holds no messages: the thread is empty/);
  });
});

describe('the generated large thread (the bench input)', () => {
  it('assembles the newest of 3 versions of 30 patches, with cover trailers on every patch', async () => {
    const thread = synthThread({ patches: 30, versions: 3, replies: 100 });
    const msgs = await parseThread(thread.mbox, 'synth');
    expect(msgs).toHaveLength(thread.messages);
    const { series, mbox } = assembleSeries(msgs, { source: 'synth' });
    expect(series.version).toBe(3);
    expect(series.cover?.messageId).toBe(thread.newestCover);
    expect(series.patches.map((p) => p.index)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // b4 loses these: a v3 cover sent in reply to v2 looks like a follow-up to it.
    for (const p of series.patches) {
      expect(p.trailers.map((t) => `${t.name}: ${t.value}`)).toEqual(expect.arrayContaining(['Tested-by: Dana Ruiz <dana@example.org>']));
    }
    expect(mbox).not.toContain('quoted@example.org');
    expect(series.warnings.some((w) => w.includes('not by the person it names'))).toBe(true);
  });
});
