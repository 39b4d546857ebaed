import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleSeries } from '../../../src/lore/assemble.js';
import { joinMboxrd } from '../../../src/lore/mbox.js';
import { parseMessage } from '../../../src/lore/message.js';
import type { Series } from '../../../src/lore/schema.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { b4am } from './b4.js';
import { coverBody, fixture, patchBody, rawMail, tempDir, type MailSpec } from './helpers.js';

// Thread shapes seen on real zswap threads and in b4's samples (issue 14), each checked against
// what `b4 am` collects from the same mbox; where we differ on purpose the test says why.

let scratch: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  scratch = await tempDir('kh-shapes-');
});
afterAll(async () => {
  await scratch.cleanup();
});

const trailerLines = (series: Series, index: number): string[] => (series.patches[index - 1]?.trailers ?? []).map((t) => `${t.name}: ${t.value}`);

/** The thread as messages for us and as an mbox file for b4. */
async function thread(name: string, specs: MailSpec[], version?: number) {
  const raws = specs.map((s, i) => rawMail(s, i));
  const file = path.join(scratch.dir, `${name}.mbox`);
  await writeFile(file, joinMboxrd(raws));
  const msgs = await Promise.all(raws.map((r, i) => parseMessage(r, i)));
  return { file, ...assembleSeries(msgs, { source: file, version }) };
}

const BOB = 'Bob Okafor <bob@kernel.example.org>';
const REPORTER = 'Rita Reporter <rita@bugs.example.net>';

/** A diff made without git (quilt): no `---` separator, the diff opens with `--- a/`. */
function quiltBody(n: number): string {
  return `Change number ${n}, made with quilt.

Signed-off-by: Alice Chen <alice@example.com>

--- a/file${n}.c
+++ b/file${n}.c
@@ -1,1 +1,2 @@
 int x;
+int y${n};
`;
}

describe('a patch sent in reply to someone else’s bug report', () => {
  const specs: MailSpec[] = [
    { id: 'report@bugs', subject: 'BUG: KASAN: slab-use-after-free in zswap_writeback_entry', from: REPORTER, body: 'Hi,\n\nswapoff during writeback crashes:\n\n  BUG: KASAN: slab-use-after-free\n' },
    { id: 'reply@dev', subject: 'Re: BUG: KASAN: slab-use-after-free in zswap_writeback_entry', from: BOB, body: '> swapoff during writeback crashes:\n\nLooks like the tree goes away under us.\n', parent: 'report@bugs' },
    { id: 'fix@alice', subject: '[PATCH] mm/zswap: fix race between writeback and swapoff', body: patchBody(1), parent: 'report@bugs' },
    { id: 'review@bob', subject: 'Re: [PATCH] mm/zswap: fix race between writeback and swapoff', from: BOB, body: 'Reviewed-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'fix@alice' },
    // tested on the report, not on the patch: it says the reporter saw the bug, not the fix
    { id: 'tested@rita', subject: 'Re: BUG: KASAN: slab-use-after-free in zswap_writeback_entry', from: REPORTER, body: 'Tested-by: Rita Reporter <rita@bugs.example.net>\n', parent: 'reply@dev' },
  ];

  it('has no cover letter; the report is linked as context; the review goes to the patch, as b4 does', async () => {
    const { series, file } = await thread('bug-report', specs);
    expect(series.cover).toBeUndefined();
    expect(series.inReplyTo).toMatchObject({ messageId: 'report@bugs', author: { email: 'rita@bugs.example.net' } });
    expect(series.subject).toBe('mm/zswap: fix race between writeback and swapoff');
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`]);
    expect(series.warnings.some((w) => w.includes('<report@bugs>') && w.includes('linked as context'))).toBe(true);
    const b4 = (await b4am(file, 'fix@alice', { dir: scratch.dir })).patches;
    expect(b4.map((p) => p.trailers)).toEqual([trailerLines(series, 1)]);
  });

  it('takes a [PATCH] that answers a reply deep in the report thread as the patch, not as review', async () => {
    const deep = specs.map((s) => (s.id === 'fix@alice' ? { ...s, parent: 'reply@dev' } : s));
    const { series } = await thread('bug-report-deep', deep);
    expect(series.patches.map((p) => p.messageId)).toEqual(['fix@alice']);
    expect(series.inReplyTo?.messageId).toBe('reply@dev');
    expect(trailerLines(series, 1)).toContain(`Reviewed-by: ${BOB}`);
  });

  it('still takes a naked cover from the series’ own author (no 0/N, patches answer it)', async () => {
    const { series } = await thread('naked-own', [
      { id: 'naked@alice', subject: 'mm: zswap: two fixes', body: coverBody() },
      { id: 'p1@alice', subject: '[PATCH 1/2] mm: one', body: patchBody(1), parent: 'naked@alice' },
      { id: 'p2@alice', subject: '[PATCH 2/2] mm: two', body: patchBody(2), parent: 'naked@alice' },
    ]);
    expect(series.cover?.messageId).toBe('naked@alice');
    expect(series.inReplyTo).toBeUndefined();
  });
});

describe('a patch not made by git (quilt: no --- separator)', () => {
  it('puts collected trailers in the commit message’s trailer block, before the diff, and git am keeps them', async () => {
    const { series, mbox, file } = await thread('quilt', [
      { id: 'q1@alice', subject: '[PATCH] mm: quilt change', body: quiltBody(1) },
      { id: 'qr@bob', subject: 'Re: [PATCH] mm: quilt change', from: BOB, body: 'Acked-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'q1@alice' },
    ]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Acked-by: ${BOB}`]);
    expect(mbox).toContain(`Signed-off-by: Alice Chen <alice@example.com>\nAcked-by: ${BOB}\n\n--- a/file1.c\n+++ b/file1.c\n`);
    expect(mbox).not.toMatch(/^\+int y1;\n[\s\S]*Acked-by/m);

    // git am: the diff applies and the trailer is in the commit, not in the file
    const repo = path.join(scratch.dir, 'quilt-repo');
    const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
    const git = (args: string[]) => execa('git', args, { cwd: repo, env });
    await execa('mkdir', ['-p', repo]);
    await git(['init', '-q']);
    await writeFile(path.join(repo, 'file1.c'), 'int x;\n');
    await git(['add', '.']);
    await git(['commit', '-qm', 'base']);
    await writeFile(path.join(scratch.dir, 'quilt-series.mbox'), mbox);
    await git(['am', '-q', path.join(scratch.dir, 'quilt-series.mbox')]);
    expect((await git(['log', '-1', '--format=%(trailers:only,unfold)'])).stdout.trim().split('\n')).toEqual(trailerLines(series, 1));
    expect((await git(['show', 'HEAD:file1.c'])).stdout).toBe('int x;\nint y1;');

    const b4 = (await b4am(file, 'q1@alice', { dir: scratch.dir })).patches;
    expect(b4.map((p) => p.trailers)).toEqual([trailerLines(series, 1)]);
  });
});

describe('trailer identity is the whole trailer', () => {
  it('adds a reviewer’s Reviewed-by sent to the patch and to the cover under two display names twice, as b4 does', async () => {
    const { series, file } = await thread('two-names', [
      { id: 'c@alice', subject: '[PATCH 0/2] mm: s', body: coverBody() },
      { id: 'p1@alice', subject: '[PATCH 1/2] mm: one', body: patchBody(1), parent: 'c@alice' },
      { id: 'p2@alice', subject: '[PATCH 2/2] mm: two', body: patchBody(2), parent: 'c@alice' },
      { id: 'r1@bob', subject: 'Re: [PATCH 1/2] mm: one', from: BOB, body: 'Reviewed-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'p1@alice' },
      { id: 'r0@bob', subject: 'Re: [PATCH 0/2] mm: s', from: BOB, body: 'For the series:\nReviewed-by: Bob O. <bob@kernel.example.org>\n', parent: 'c@alice' },
    ]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`, 'Reviewed-by: Bob O. <bob@kernel.example.org>']);
    expect(trailerLines(series, 2)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Reviewed-by: Bob O. <bob@kernel.example.org>']);
    const b4 = (await b4am(file, 'c@alice', { dir: scratch.dir })).patches;
    expect(b4.map((p) => [...p.trailers].sort())).toEqual([[...trailerLines(series, 1)].sort(), [...trailerLines(series, 2)].sort()]);
  });
});

describe('trailers flow forward only', () => {
  const specs: MailSpec[] = [
    { id: 'v2p@alice', subject: '[PATCH v2] mm: one', body: patchBody(1) },
    { id: 'v2r@dana', subject: 'Re: [PATCH v2] mm: one', from: 'Dana <dana@x.org>', body: 'Acked-by: Dana <dana@x.org>\n', parent: 'v2p@alice' },
    // v3 resends the same diff (a commit message change) as a reply to v2
    { id: 'v3p@alice', subject: '[PATCH v3] mm: one', body: patchBody(1, { message: 'Change number 1, better said.' }), parent: 'v2p@alice' },
    { id: 'v3r@bob', subject: 'Re: [PATCH v3] mm: one', from: BOB, body: 'Reviewed-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'v3p@alice' },
  ];

  it('carries a v2 review to the unchanged v3, with the warning', async () => {
    const { series, file } = await thread('forward', specs);
    expect(series.version).toBe(3);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`, 'Acked-by: Dana <dana@x.org>']);
    expect(series.warnings.some((w) => w.includes('carried "Acked-by: Dana <dana@x.org>" over'))).toBe(true);
    expect((await b4am(file, 'v3p@alice', { version: 3, dir: scratch.dir })).patches.map((p) => p.trailers)).toEqual([trailerLines(series, 1)]);
  });

  it('never adds a review of v3 to v2', async () => {
    const { series, file } = await thread('backward', specs, 2);
    expect(series.version).toBe(2);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Dana <dana@x.org>']);
    expect(series.warnings.some((w) => w.includes('Bob Okafor'))).toBe(false);
    // Where we differ from b4 on purpose: b4 carries v3's review back to the unchanged v2. Bob
    // reviewed v3; whoever applies v2 (a stable backport, a bisect) must not claim he saw it.
    const b4 = (await b4am(file, 'v2p@alice', { version: 2, dir: scratch.dir })).patches;
    expect(b4.map((p) => p.trailers)).toEqual([[...trailerLines(series, 1), `Reviewed-by: ${BOB}`]]);
  });
});

describe('a partial reroll (v3 2/2 sent as a reply in the v2 thread)', () => {
  it('applies the replaced version’s cover-letter trailers to every patch, the reroll too, as b4 does', async () => {
    const { series } = await fetchSeries(fixture('partial-reroll'));
    const b4 = (await b4am(fixture('partial-reroll'), '20240202100000.2-2-alice.chen@example.com', { dir: scratch.dir })).patches;
    expect(b4.map((p) => p.trailers)).toEqual([trailerLines(series, 1), trailerLines(series, 2)]);
    expect(series.warnings.some((w) => w.startsWith('v3 2/2 was resent after') && w.includes('check it still holds'))).toBe(true);
  });
});

/** A fix-up of patchBody(n): its diff has patch n's line as context, so it applies only after n. */
function fixupBody(n: number, sender = 'Alice Chen <alice@example.com>'): string {
  return `Andrew, please squash this into "mm: ${n}": the new line wants a neighbour.

Signed-off-by: ${sender}
---
 file${n}.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/file${n}.c b/file${n}.c
--- a/file${n}.c
+++ b/file${n}.c
@@ -1,2 +1,3 @@
 int x;
 int y${n};
+int z${n};
-- 
2.43.0
`;
}

/** `git am` of an assembled mbox on a repo holding file1..N.c as `int x;`: the commits' subjects. */
async function gitAm(name: string, files: number, mbox: string): Promise<{ subjects: string[]; show: (file: string) => Promise<string> }> {
  const repo = path.join(scratch.dir, `${name}-repo`);
  const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (args: string[]) => execa('git', args, { cwd: repo, env });
  await execa('mkdir', ['-p', repo]);
  await git(['init', '-q']);
  for (let n = 1; n <= files; n++) await writeFile(path.join(repo, `file${n}.c`), 'int x;\n');
  await git(['add', '.']);
  await git(['commit', '-qm', 'base']);
  await writeFile(path.join(scratch.dir, `${name}-series.mbox`), mbox);
  await git(['am', '-q', path.join(scratch.dir, `${name}-series.mbox`)]);
  const subjects = (await git(['log', '--reverse', '--format=%s', 'HEAD~' + String((mbox.match(/^Subject: /gm) ?? []).length) + '..HEAD'])).stdout.split('\n');
  return { subjects, show: async (file) => (await git(['show', `HEAD:${file}`])).stdout };
}

describe('fix-up patches sent in reply to a patch', () => {
  const series3: MailSpec[] = [
    { id: 'c@alice', subject: '[PATCH v3 0/3] mm: s', body: coverBody() },
    { id: 'p1@alice', subject: '[PATCH v3 1/3] mm: one', body: patchBody(1), parent: 'c@alice' },
    { id: 'p2@alice', subject: '[PATCH v3 2/3] mm: two', body: patchBody(2), parent: 'c@alice' },
    { id: 'p3@alice', subject: '[PATCH v3 3/3] mm: three', body: patchBody(3), parent: 'c@alice' },
    { id: 'c-ack@dana', subject: 'Re: [PATCH v3 0/3] mm: s', from: 'Dana <dana@x.org>', body: 'Acked-by: Dana <dana@x.org>\n', parent: 'c@alice' },
    { id: 'r3@bob', subject: 'Re: [PATCH v3 3/3] mm: three', from: BOB, body: 'Reviewed-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'p3@alice' },
  ];
  const fix3: MailSpec = { id: 'f3@alice', subject: '[PATCH v3 3/3] mm: three (fix)', body: fixupBody(3), parent: 'r3@bob' };
  const fix3Ack: MailSpec = { id: 'f3-ack@bob', subject: 'Re: [PATCH v3 3/3] mm: three (fix)', from: BOB, body: 'Acked-by: Bob Okafor <bob@kernel.example.org>\n', parent: 'f3@alice' };

  it('applies "[PATCH v3 3/3] … (fix)" right after 3/3, not in its place, with only its own trailers; git am takes the whole series', async () => {
    const { series, mbox, file } = await thread('fixup-3', [...series3, fix3, fix3Ack]);
    expect(series.patches.map((p) => [p.messageId, p.label, p.index, p.total])).toEqual([
      ['p1@alice', '1/3', 1, 4],
      ['p2@alice', '2/3', 2, 4],
      ['p3@alice', '3/3', 3, 4],
      ['f3@alice', '3/3 fix-up', 4, 4],
    ]);
    expect(series.patches[3]?.fixupOf).toEqual({ index: 3, label: '3/3', messageId: 'p3@alice' });
    expect(series.patches.slice(0, 3).every((p) => p.fixupOf === undefined)).toBe(true);
    // 3/3 keeps its review and the cover's ack; the fix-up has its own sign-off and the ack of it, not the cover's
    expect(trailerLines(series, 3)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`, 'Acked-by: Dana <dana@x.org>']);
    expect(trailerLines(series, 4)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Acked-by: ${BOB}`]);
    expect(series.warnings.some((w) => w.includes('<f3@alice>') && w.includes('fix-up of 3/3') && w.includes('right after it'))).toBe(true);
    expect(mbox).toContain('Subject: [PATCH v3 3/3 fixup] mm: three (fix)');

    const am = await gitAm('fixup-3', 3, mbox);
    expect(am.subjects).toEqual(['mm: one', 'mm: two', 'mm: three', 'mm: three (fix)']);
    expect(await am.show('file3.c')).toBe('int x;\nint y3;\nint z3;');

    // Where we differ from b4 on purpose: b4 files both mails under 3/3 and writes the fix-up
    // first, before the patch it needs, where it cannot apply.
    const b4 = (await b4am(file, 'c@alice', { dir: scratch.dir })).patches;
    expect(b4.map((p) => p.subject)).toEqual(['[PATCH v3 1/3] mm: one', '[PATCH v3 2/3] mm: two', '[PATCH v3 3/3] mm: three (fix)', '[PATCH v3 3/3] mm: three']);
  });

  it('places a "-fix" of 1/3 right after 1/3, before 2/3, even when its Date is earlier (a skewed clock)', async () => {
    const fix1: MailSpec = { id: 'f1@alice', subject: '[PATCH] mm: one-fix', body: fixupBody(1), parent: 'p1@alice', minutes: -30 };
    const { series, mbox } = await thread('fixup-1', [...series3, fix1]);
    expect(series.patches.map((p) => p.label)).toEqual(['1/3', '1/3 fix-up', '2/3', '3/3']);
    expect(series.patches[1]).toMatchObject({ messageId: 'f1@alice', fixupOf: { index: 1, messageId: 'p1@alice' }, fromVersion: 3 });
    const am = await gitAm('fixup-1', 3, mbox);
    expect(am.subjects).toEqual(['mm: one', 'mm: one-fix', 'mm: two', 'mm: three']);
    expect(await am.show('file1.c')).toBe('int x;\nint y1;\nint z1;');
  });

  it('takes the newest of a fix-up sent twice, keeps two different fix-ups in date order, and leaves out an older version’s', async () => {
    const { series } = await thread('fixup-many', [
      { id: 'v2p3@alice', subject: '[PATCH v2 3/3] mm: three', body: patchBody(3) },
      { id: 'v2f@alice', subject: '[PATCH v2 3/3] mm: three (fix)', body: fixupBody(3), parent: 'v2p3@alice' },
      ...series3,
      fix3,
      { id: 'f3b@alice', subject: '[PATCH v3 3/3] mm: three (fix)', body: fixupBody(3), parent: 'p3@alice' },
      { id: 'g3@alice', subject: '[PATCH] fixup! mm: three', body: fixupBody(3), parent: 'p3@alice' },
    ]);
    expect(series.version).toBe(3);
    expect(series.patches.map((p) => [p.label, p.messageId])).toEqual([
      ['1/3', 'p1@alice'],
      ['2/3', 'p2@alice'],
      ['3/3', 'p3@alice'],
      ['3/3 fix-up 1', 'f3b@alice'],
      ['3/3 fix-up 2', 'g3@alice'],
    ]);
    expect(series.warnings.some((w) => w.includes('took the newest <f3b@alice>') && w.includes('<f3@alice>'))).toBe(true);
    expect(series.patches.some((p) => p.messageId === 'v2f@alice')).toBe(false);
    const v2 = (await thread('fixup-many-v2', [{ id: 'v2p3@alice', subject: '[PATCH v2] mm: three', body: patchBody(3) }, { id: 'v2f@alice', subject: '[PATCH v2] mm: three (fix)', body: fixupBody(3), parent: 'v2p3@alice' }])).series;
    expect(v2.patches.map((p) => p.label)).toEqual(['1/1', '1/1 fix-up']);
  });

  it('squashes fix-ups into the patch they fix when asked: one commit with both diffs, the fix-ups listed on it', async () => {
    const fix3b: MailSpec = { id: 'g3@alice', subject: '[PATCH] fixup! mm: three', body: fixupBody(3).replace(/\+int z3;/, '+int w3;').replace('@@ -1,2 +1,3 @@\n int x;\n int y3;', '@@ -1,3 +1,4 @@\n int x;\n int y3;\n int z3;'), parent: 'p3@alice' };
    const raws = [...series3, fix3, fix3Ack, fix3b].map((m, i) => rawMail(m, i));
    const msgs = await Promise.all(raws.map((r, i) => parseMessage(r, i)));
    const { series, mbox } = assembleSeries(msgs, { source: 'test', squashFixups: true });
    expect(series.patches.map((p) => [p.label, p.index, p.total])).toEqual([
      ['1/3', 1, 3],
      ['2/3', 2, 3],
      ['3/3', 3, 3],
    ]);
    expect(series.patches[2]?.squashedFixups).toEqual([
      { messageId: 'f3@alice', subject: 'mm: three (fix)' },
      { messageId: 'g3@alice', subject: 'fixup! mm: three' },
    ]);
    expect(trailerLines(series, 3)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`, 'Acked-by: Dana <dana@x.org>']);
    expect(series.warnings.filter((w) => w.includes('squashed the fix-up')).length).toBe(2);
    const am = await gitAm('fixup-squash', 3, mbox);
    expect(am.subjects).toEqual(['mm: one', 'mm: two', 'mm: three']);
    expect(await am.show('file3.c')).toBe('int x;\nint y3;\nint z3;\nint w3;');
  });

  it('takes a resend under the same subject answering its patch as a reroll, not as a fix-up', async () => {
    const { series } = await thread('fixup-not', [
      { id: 'a1@alice', subject: '[PATCH] mm: zswap: writeback fix', body: patchBody(1) },
      { id: 'a2@alice', subject: '[PATCH v2] mm: zswap: writeback fix', body: patchBody(1, { message: 'Reworded.' }), parent: 'a1@alice' },
    ]);
    expect(series.version).toBe(2);
    expect(series.patches.map((p) => [p.messageId, p.fixupOf])).toEqual([['a2@alice', undefined]]);
    const renamed = await thread('fixup-not-renamed', [
      { id: 'b1@alice', subject: '[PATCH] mm: zswap: fix the writeback race', body: patchBody(1) },
      { id: 'b2@alice', subject: '[PATCH v2] mm: zswap: writeback race fix', body: patchBody(1, { message: 'Reworded.' }), parent: 'b1@alice' },
    ]);
    expect(renamed.series.version).toBe(2);
    expect(renamed.series.patches.map((p) => [p.messageId, p.label])).toEqual([['b2@alice', '1/1']]);
  });

  it('takes "[PATCH v2] … (fix)" answering a fix-up as that fix-up resent, whatever version it names', async () => {
    const { series } = await thread('fixup-v2', [...series3, fix3, { id: 'f3v2@alice', subject: '[PATCH v2] mm: three (fix)', body: fixupBody(3), parent: 'f3@alice' }]);
    expect(series.version).toBe(3);
    expect(series.patches.map((p) => [p.label, p.messageId])).toEqual([
      ['1/3', 'p1@alice'],
      ['2/3', 'p2@alice'],
      ['3/3', 'p3@alice'],
      ['3/3 fix-up', 'f3v2@alice'],
    ]);
  });
});

describe('the tree a series names', () => {
  it('reads it from a subject prefix, else from a Based-on: ref, never from a Based-on: message', async () => {
    const prefixed = await thread('tree-prefix', [
      { id: 'c@alice', subject: '[PATCH mm-new v3 0/1] mm: s', body: coverBody() },
      { id: 'p1@alice', subject: '[PATCH mm-new v3 1/1] mm: one', body: patchBody(1), parent: 'c@alice' },
    ]);
    expect(prefixed.series.baseTree).toEqual({ name: 'mm-new', from: 'subject' });
    expect(prefixed.series.version).toBe(3);
    const stable = await thread('tree-stable', [{ id: 'p1@alice', subject: '[PATCH 6.1.y] mm: zswap: one', body: patchBody(1) }]);
    expect(stable.series.baseTree).toEqual({ name: '6.1.y', from: 'subject' });
    const based = await thread('tree-based-on', [{ id: 'p1@alice', subject: '[PATCH] mm: one', body: patchBody(1, { message: 'Change.\n\nBased-on: mm-unstable' }) }]);
    expect(based.series.baseTree).toEqual({ name: 'mm-unstable', from: 'based-on' });
    const prerequisite = await thread('tree-prereq', [{ id: 'p1@alice', subject: '[PATCH] mm: one', body: patchBody(1, { message: 'Change.\n\nBased-on: <20240101.1-1-someone@example.com>' }) }]);
    expect(prerequisite.series.baseTree).toBeUndefined();
  });
});
