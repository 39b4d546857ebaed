import { describe, expect, it } from 'vitest';
import { assembleSeries } from '../../../src/lore/assemble.js';
import { fetchSeries } from '../../../src/lore/fetch.js';
import { parseMessage } from '../../../src/lore/message.js';
import { fixture, mails, patchBody, rawMail } from './helpers.js';

describe('transfer encodings and charsets (encodings fixture)', () => {
  it('decodes a base64 patch, a quoted-printable patch and RFC 2047 names', async () => {
    const { series, mbox } = await fetchSeries(fixture('encodings'));
    expect(series.patches).toHaveLength(2);
    expect(series.patches[0]?.author).toEqual({ name: 'Zoë Kowalczyk', email: 'zoe@example.pl' });
    // The base64 body decodes to the patch text, diff included.
    expect(mbox).toContain('+\tkvfree(trees);\n }\n');
    // Quoted-printable: an encoded trailing space (=20) survives, so blank context lines stay " ".
    const second = mbox.split(/^From 0{40} /m)[2] ?? '';
    expect(second).toMatch(/\n \n/);
    expect(second).not.toMatch(/=20|=3D|=\n/);
    // Non-ASCII names are RFC 2047-encoded in the headers git am reads.
    expect(mbox).toContain(`From: =?UTF-8?B?${Buffer.from('Zoë Kowalczyk').toString('base64')}?= <zoe@example.pl>`);
  });

  it('decodes an ISO-8859-1 review and a windows-1252 quoted-printable cover', async () => {
    const { series } = await fetchSeries(fixture('encodings'));
    expect(series.patches[0]?.trailers).toContainEqual({
      name: 'Reviewed-by',
      value: 'Jörg Müller <joerg@example.de>',
      from: 'Jörg Müller <joerg@example.de>',
      messageId: 'enc-joerg@example.de',
    });
    expect(series.cover?.subject).toBe('mm: zswap: swapoff cleanups – encoded');
    expect(series.cover?.body).toContain('quoted-printable – with an en dash.');
  });
});

describe('patches sent as attachments', () => {
  it('uses a format-patch file attached to the mail, with a warning naming the message', async () => {
    const { series, mbox } = await fetchSeries(fixture('attachment'));
    expect(series.patches[0]?.subject).toBe('mm: zswap: size the trees array by its own element type');
    expect(series.warnings).toContain(
      'v1 1/1 <att-1@example.com> ("[PATCH] mm: zswap: size the trees array by its own element type") was sent as an attachment (0001-mm-zswap-size-the-trees-array-by-its-own-element-ty.patch); used the attached diff',
    );
    expect(mbox).toContain('-\ttrees = kvcalloc(nr, sizeof(*tree), GFP_KERNEL);\n+\ttrees = kvcalloc(nr, sizeof(*trees), GFP_KERNEL);');
    // The mail's own "my client mangles patches" note is not part of the commit message.
    expect(mbox).not.toContain('mangles');
    expect(series.patches[0]?.trailers.map((t) => t.name)).toEqual(['Signed-off-by', 'Acked-by']);
  });

  it('puts a bare attached diff under the commit message typed in the mail', async () => {
    const diff = patchBody(7).slice(patchBody(7).indexOf('diff --git'));
    const boundary = 'BOUNDARY';
    const body = [
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Fix the thing.',
      '',
      'Signed-off-by: Alice Chen <alice@example.com>',
      `--${boundary}`,
      'Content-Type: text/x-diff; name="fix.diff"',
      'Content-Disposition: attachment; filename="fix.diff"',
      '',
      diff,
      `--${boundary}--`,
      '',
    ].join('\n');
    const msgs = await mails([{ id: 'a@x', subject: '[PATCH] mm: fix', body, headers: [`Content-Type: multipart/mixed; boundary="${boundary}"`] }]);
    const { series, mbox } = assembleSeries(msgs, { source: 't' });
    expect(mbox).toContain('Fix the thing.\n\nSigned-off-by: Alice Chen <alice@example.com>\n---\ndiff --git a/file7.c b/file7.c');
    expect(series.warnings.some((w) => w.includes('<a@x>') && w.includes('attachment (fix.diff)'))).toBe(true);
  });

  it('ignores an attachment that is not a diff', async () => {
    const body = '--B\nContent-Type: text/plain\n\nSee the log.\n--B\nContent-Type: text/plain; name="dmesg.txt"\nContent-Disposition: attachment; filename="dmesg.txt"\n\n[    0.0] boot\n--B--\n';
    const m = await parseMessage(rawMail({ id: 'a@x', subject: 'Re: [PATCH] x', body, headers: ['Content-Type: multipart/mixed; boundary="B"'] }), 0);
    expect(m.hasDiff).toBe(false);
    expect(m.attachedPatch).toBeUndefined();
  });
});

describe('odd messages', () => {
  it('notes an HTML-only message by its Message-ID', async () => {
    const m = await parseMessage(rawMail({ id: 'html@x', subject: 'Re: x', body: '<p>hi</p>\n', headers: ['Content-Type: text/html; charset=utf-8'] }), 0);
    expect(m.notes).toEqual(['message <html@x> has only an HTML part; its text was ignored']);
  });

  it('invents a Message-ID for a message without one, and warns', async () => {
    const raw = Buffer.from(`From: A <a@x.org>\nSubject: [PATCH] mm: one\n\n${patchBody(1)}`);
    const { series } = assembleSeries([await parseMessage(raw, 0)], { source: 't' });
    expect(series.patches[0]?.messageId).toBe('no-message-id-0@kharness.invalid');
    expect(series.warnings).toContain('message "[PATCH] mm: one" has no Message-ID; called it <no-message-id-0@kharness.invalid>');
  });
});
