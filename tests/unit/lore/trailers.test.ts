import { describe, expect, it } from 'vitest';
import {
  extractFollowupTrailers,
  followupTrailerName,
  insertTrailers,
  ownTrailers,
  senderMatch,
  trailerKey,
} from '../../../src/lore/trailers.js';
import { patchBody } from './helpers.js';

const names = (body: string): string[] => extractFollowupTrailers(body).trailers.map((t) => `${t.name}: ${t.value}`);

describe('extractFollowupTrailers', () => {
  it('drops an affiliation after the address, as b4 does, and keeps a # comment', () => {
    const { trailers } = extractFollowupTrailers('Acked-by: Chris Li <chrisl@kernel.org> (Google)\nReviewed-by: Bob <bob@x.org> # for the mm part\n');
    expect(trailers.map((t) => `${t.name}: ${t.value}`)).toEqual(['Acked-by: Chris Li <chrisl@kernel.org>', 'Reviewed-by: Bob <bob@x.org> # for the mm part']);
  });

  it('takes every kind of follow-up trailer, in canonical spelling', () => {
    const body = `Looks good.

reviewed-by: Bob <bob@x.org>
Acked-by: Bob <bob@x.org>
Tested-by: Bob <bob@x.org>
Reported-by: Bob <bob@x.org>
Suggested-by: Bob <bob@x.org>
Fixes: 0123456789ab ("mm: broke it")
Link: https://lore.kernel.org/r/abc@x
Closes: https://bugzilla.kernel.org/show_bug.cgi?id=1
Cc: stable@vger.kernel.org
Reviewed-and-tested-by: Bob <bob@x.org>
`;
    expect(names(body)).toEqual([
      'Reviewed-by: Bob <bob@x.org>',
      'Acked-by: Bob <bob@x.org>',
      'Tested-by: Bob <bob@x.org>',
      'Reported-by: Bob <bob@x.org>',
      'Suggested-by: Bob <bob@x.org>',
      'Fixes: 0123456789ab ("mm: broke it")',
      'Link: https://lore.kernel.org/r/abc@x',
      'Closes: https://bugzilla.kernel.org/show_bug.cgi?id=1',
      'Cc: stable@vger.kernel.org',
      'Reviewed-and-tested-by: Bob <bob@x.org>',
    ]);
    expect(extractFollowupTrailers(body).trailers.map((t) => t.kind)).toEqual([
      'person', 'person', 'person', 'person', 'person', 'reference', 'reference', 'reference', 'reference', 'person',
    ]);
  });

  it('ignores quoted lines', () => {
    expect(names('> Reviewed-by: Quoted <q@x.org>\n>> Acked-by: Deeper <d@x.org>\n  > Tested-by: Indented <i@x.org>\nok\n')).toEqual([]);
  });

  it('ignores everything below the signature marker', () => {
    expect(names('Acked-by: Bob <bob@x.org>\n-- \nBob\nReviewed-by: Sig <sig@x.org>\n')).toEqual(['Acked-by: Bob <bob@x.org>']);
  });

  it('rejoins an address wrapped onto the next line', () => {
    expect(names('Reviewed-by: Bob Okafor\n<bob@x.org>\n')).toEqual(['Reviewed-by: Bob Okafor <bob@x.org>']);
  });

  it('rejoins a Fixes: subject wrapped over lines', () => {
    expect(names('Fixes: 0123456789ab ("mm: a long\nsubject that wraps")\n')).toEqual(['Fixes: 0123456789ab ("mm: a long subject that wraps")']);
  });

  it('does not take Signed-off-by, nor anything in or after a proposed diff', () => {
    const body = `How about:

Suggested-by: Chris <c@x.org>
diff --git a/f b/f
--- a/f
+++ b/f
@@ -1 +1 @@
-a
+b
Acked-by: Inside Diff <in@x.org>
`;
    expect(names(`Signed-off-by: Chris <c@x.org>\n${body}`)).toEqual(['Suggested-by: Chris <c@x.org>']);
  });

  it('rejects malformed trailers with a reason', () => {
    const r = extractFollowupTrailers('Reviewed-by: Bob\nFixes: not-a-sha ("x")\nLink: lore somewhere\nCc: nobody\n');
    expect(r.trailers).toEqual([]);
    expect(r.rejected).toEqual([
      '"Reviewed-by: Bob" has no e-mail address',
      '"Fixes: not-a-sha ("x")" does not start with a commit id',
      '"Link: lore somewhere" is not a URL',
      '"Cc: nobody" has no e-mail address',
    ]);
  });

  it('strips mailto: litter left by HTML mailers', () => {
    expect(names('Acked-by: Bob <bob@x.org<mailto:bob@x.org>>\n')).toEqual(['Acked-by: Bob <bob@x.org>']);
  });

  it('does not mistake prose with colons for trailers', () => {
    expect(names('Note: this is fine.\nAlso: https://example.org\n')).toEqual([]);
  });

  it('knows which names a follow-up may add', () => {
    expect(followupTrailerName('signed-off-by')).toBeUndefined();
    expect(followupTrailerName('Co-developed-by')).toBeUndefined();
    expect(followupTrailerName('Debugged-by')).toEqual({ name: 'Debugged-by', kind: 'person' });
    expect(followupTrailerName('closes')).toEqual({ name: 'Closes', kind: 'reference' });
  });
});

describe('senderMatch', () => {
  const bob = { name: 'Bob Okafor', email: 'Bob@Kernel.example.org' };
  it('matches by address, ignoring case', () => {
    expect(senderMatch('Robert O. <bob@kernel.example.org>', bob)).toBe('email');
  });
  it('matches by exact display name when the address differs (like b4)', () => {
    expect(senderMatch('Bob Okafor <bob@home.example>', bob)).toBe('name');
  });
  it('does not match someone else', () => {
    expect(senderMatch('Eve Mallory <eve@x.org>', bob)).toBe(false);
    expect(senderMatch('Bob <bob@elsewhere.org>', bob)).toBe(false);
  });
});

describe('trailerKey', () => {
  it('is the whole trailer, case and spacing aside, as b4 compares them', () => {
    expect(trailerKey({ name: 'Reviewed-by', value: 'Bob  <BOB@x.org>' })).toBe(trailerKey({ name: 'reviewed-by', value: 'bob <bob@x.org>' }));
    // the same address under another display name is another trailer (b4: name and value)
    expect(trailerKey({ name: 'Reviewed-by', value: 'Bob <bob@x.org>' })).not.toBe(trailerKey({ name: 'Reviewed-by', value: 'Robert <bob@x.org>' }));
    expect(trailerKey({ name: 'Reviewed-by', value: 'Bob <bob@x.org>' })).not.toBe(trailerKey({ name: 'Acked-by', value: 'Bob <bob@x.org>' }));
  });
});

describe('ownTrailers and insertTrailers', () => {
  it('reads the trailer block of a patch', () => {
    expect(ownTrailers(patchBody(1, { trailers: ['Reported-by: R <r@x.org>', 'Signed-off-by: A <a@x.org>'] }))).toEqual([
      { name: 'Reported-by', value: 'R <r@x.org>' },
      { name: 'Signed-off-by', value: 'A <a@x.org>' },
    ]);
  });

  it('appends to the trailer block, just before ---', () => {
    const out = insertTrailers(patchBody(1), [{ name: 'Reviewed-by', value: 'Bob <bob@x.org>' }]);
    expect(out).toContain('Signed-off-by: Alice Chen <alice@example.com>\nReviewed-by: Bob <bob@x.org>\n---\n file1.c');
    expect(out.split('diff --git')[1]).toBe(patchBody(1).split('diff --git')[1]);
  });

  it('starts a trailer block when the message has none', () => {
    const body = 'Only prose here.\n---\n f | 1 +\n';
    expect(insertTrailers(body, [{ name: 'Acked-by', value: 'B <b@x.org>' }])).toBe('Only prose here.\n\nAcked-by: B <b@x.org>\n---\n f | 1 +\n');
  });

  it('keeps the trailers apart from a diff that has no --- line', () => {
    const body = 'Message.\n\nSigned-off-by: A <a@x.org>\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n';
    const out = insertTrailers(body, [{ name: 'Acked-by', value: 'B <b@x.org>' }]);
    expect(out).toBe('Message.\n\nSigned-off-by: A <a@x.org>\nAcked-by: B <b@x.org>\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n');
    expect(ownTrailers(out).map((t) => t.name)).toEqual(['Signed-off-by', 'Acked-by']);
  });

  it('treats a paragraph of prose with a colon as prose, not as a trailer block', () => {
    const body = 'Fix it.\n\nThe reason: it broke.\n---\n';
    expect(ownTrailers(body)).toEqual([]);
    expect(insertTrailers(body, [{ name: 'Acked-by', value: 'B <b@x.org>' }])).toBe('Fix it.\n\nThe reason: it broke.\n\nAcked-by: B <b@x.org>\n---\n');
  });
});
