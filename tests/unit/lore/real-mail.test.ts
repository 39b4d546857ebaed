import { describe, expect, it } from 'vitest';
import { assembleSeries } from '../../../src/lore/assemble.js';
import { splitMbox, joinMboxrd } from '../../../src/lore/mbox.js';
import { parseMessage } from '../../../src/lore/message.js';
import type { Series } from '../../../src/lore/schema.js';
import { mails, patchBody, rawMail, type MailSpec } from './helpers.js';

// The shapes real list mail takes (issue 14, item 7), each in the thread it breaks.

const trailerLines = (series: Series, index: number): string[] => (series.patches[index - 1]?.trailers ?? []).map((t) => `${t.name}: ${t.value}`);
const PATCH: MailSpec = { id: 'p1@alice', subject: '[PATCH] mm: one', body: patchBody(1) };
const BOB = 'Bob Okafor <bob@kernel.example.org>';

async function seriesOf(specs: MailSpec[]): Promise<Series> {
  return assembleSeries(await mails(specs), { source: 'test' }).series;
}

describe('real mail', () => {
  it('reads a quoted-printable review with a soft-broken trailer', async () => {
    const series = await seriesOf([
      PATCH,
      {
        id: 'r@bob',
        subject: 'Re: [PATCH] mm: one',
        from: BOB,
        parent: 'p1@alice',
        headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'],
        body: 'Looks good =E2=80=94 thanks.\n\nReviewed-by: Bob Okafor <bob@kernel.exam=\nple.org>\n',
      },
    ]);
    expect(trailerLines(series, 1)).toContain(`Reviewed-by: ${BOB}`);
  });

  it('reads a format=flowed review whose trailer the client wrapped', async () => {
    const series = await seriesOf([
      PATCH,
      {
        id: 'r@bob',
        subject: 'Re: [PATCH] mm: one',
        from: BOB,
        parent: 'p1@alice',
        headers: ['Content-Type: text/plain; charset=utf-8; format=flowed', 'Content-Transfer-Encoding: 8bit'],
        body: 'On Mon, Alice wrote:\n> a quoted line that was\n> flowed\n\nAcked-by: Bob Okafor \n<bob@kernel.example.org>\n',
      },
    ]);
    expect(trailerLines(series, 1)).toContain(`Acked-by: ${BOB}`);
  });

  it('reads a PGP-signed (multipart/signed) review', async () => {
    const body = [
      '--sig',
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Transfer-Encoding: 7bit',
      '',
      'Reviewed-by: Bob Okafor <bob@kernel.example.org>',
      '',
      '--sig',
      'Content-Type: application/pgp-signature; name="signature.asc"',
      '',
      '-----BEGIN PGP SIGNATURE-----',
      'iQIzBAEBCAAdFiEE',
      '-----END PGP SIGNATURE-----',
      '',
      '--sig--',
      '',
    ].join('\n');
    const series = await seriesOf([
      PATCH,
      { id: 'r@bob', subject: 'Re: [PATCH] mm: one', from: BOB, parent: 'p1@alice', headers: ['MIME-Version: 1.0', 'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig"'], body },
    ]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`]);
  });

  it('reads the text part of a text+HTML review, not its HTML', async () => {
    const body = ['--alt', 'Content-Type: text/plain; charset=utf-8', '', 'Tested-by: Bob Okafor <bob@kernel.example.org>', '', '--alt', 'Content-Type: text/html; charset=utf-8', '', '<p>Tested-by: Mallory &lt;m@x.org&gt;</p>', '', '--alt--', ''].join('\n');
    const series = await seriesOf([PATCH, { id: 'r@bob', subject: 'Re: [PATCH] mm: one', from: BOB, parent: 'p1@alice', headers: ['MIME-Version: 1.0', 'Content-Type: multipart/alternative; boundary="alt"'], body }]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Tested-by: ${BOB}`]);
  });

  it('threads by an In-Reply-To with a trailing comment, and by folded References when In-Reply-To is empty', async () => {
    const series = await seriesOf([
      PATCH,
      { id: 'r1@bob', subject: 'Re: [PATCH] mm: one', from: BOB, headers: ['In-Reply-To: <p1@alice> (Alice Chen\'s message of "Thu, 1 Feb 2024 00:00:00 +0000")', 'Content-Type: text/plain'], body: 'Reviewed-by: Bob Okafor <bob@kernel.example.org>\n' },
      { id: 'r2@dana', subject: 'Re: [PATCH] mm: one', from: 'Dana <dana@x.org>', headers: ['In-Reply-To:', 'References: <other@x>\n <p1@alice>\n\t<r1@bob>', 'Content-Type: text/plain'], body: 'Tested-by: Dana <dana@x.org>\n' },
    ]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Reviewed-by: ${BOB}`, 'Tested-by: Dana <dana@x.org>']);
  });

  it('threads by In-Reply-To when References: is empty, and ignores an In-Reply-To that is only a comment', async () => {
    const series = await seriesOf([
      PATCH,
      { id: 'r1@erin', subject: 'Re: [PATCH] mm: one', from: 'Erin <erin@x.org>', headers: ['In-Reply-To: <p1@alice>', 'References:', 'Content-Type: text/plain'], body: 'Acked-by: Erin <erin@x.org>\n' },
      { id: 'r2@fay', subject: 'Re: [PATCH] mm: one', from: 'Fay <fay@x.org>', headers: ['In-Reply-To: (your message of yesterday)', 'References: <p1@alice>', 'Content-Type: text/plain'], body: 'Tested-by: Fay <fay@x.org>\n' },
    ]);
    expect(trailerLines(series, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', 'Acked-by: Erin <erin@x.org>', 'Tested-by: Fay <fay@x.org>']);
  });

  it('takes one copy of a message archived twice with other headers (two lists), without a warning; warns when the copies differ', async () => {
    const review: MailSpec = { id: 'r@bob', subject: 'Re: [PATCH] mm: one', from: BOB, parent: 'p1@alice', body: 'Acked-by: Bob Okafor <bob@kernel.example.org>\n' };
    const twice = await seriesOf([PATCH, review, { ...review, headers: ['List-Id: <cgroups.vger.kernel.org>', 'Content-Type: text/plain; charset=utf-8'], minutes: 30 }]);
    expect(trailerLines(twice, 1)).toEqual(['Signed-off-by: Alice Chen <alice@example.com>', `Acked-by: ${BOB}`]);
    expect(twice.warnings.filter((w) => w.includes('r@bob'))).toEqual([]);
    const differing = await seriesOf([PATCH, review, { ...review, body: 'Acked-by: Bob Okafor <bob@kernel.example.org>\nbut see my other mail\n' }]);
    expect(differing.warnings.some((w) => w.includes('<r@bob>') && w.includes('differ'))).toBe(true);
  });

  it('keeps a reply that quotes a whole format-patch mail (its From <sha> line) as one message', async () => {
    const quoted = `Something like this?\n\nFrom 3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e Mon Sep 17 00:00:00 2001\nFrom: Bob Okafor <bob@kernel.example.org>\nSubject: [PATCH] fixup\n\n${patchBody(9)}`;
    const raws = [rawMail(PATCH, 0), rawMail({ id: 'r@bob', subject: 'Re: [PATCH] mm: one', from: BOB, parent: 'p1@alice', body: quoted }, 1)];
    const split = splitMbox(joinMboxrd(raws));
    expect(split).toHaveLength(2);
    const msgs = await Promise.all(split.map((r, i) => parseMessage(r, i)));
    const { series } = assembleSeries(msgs, { source: 'test' });
    expect(series.patches.map((p) => p.messageId)).toEqual(['p1@alice']);
    expect(series.warnings.some((w) => w.includes('<r@bob>') && w.includes('carries a diff'))).toBe(true);
  });
});
