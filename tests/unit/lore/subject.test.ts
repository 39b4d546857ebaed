import { describe, expect, it } from 'vitest';
import { canonicalSubject, parseSubject, seriesSlug } from '../../../src/lore/subject.js';

describe('parseSubject', () => {
  const cases: Array<[string, Partial<ReturnType<typeof parseSubject>>]> = [
    ['[PATCH v2 3/7] mm: zswap: foo', { revision: 2, counter: 3, total: 7, subject: 'mm: zswap: foo', revisionInferred: false, counterInferred: false }],
    ['[RFC PATCH net-next v2 03/10] net: bar', { rfc: true, patch: true, revision: 2, counter: 3, total: 10, extraPrefixes: ['net-next'], subject: 'net: bar' }],
    ['[PATCHv3] mm: glued version', { revision: 3, counter: 1, total: 1, counterInferred: true, revisionInferred: false, subject: 'mm: glued version' }],
    ['[PATCH 1/2 v2] mm: version after counter', { revision: 2, counter: 1, total: 2 }],
    // b4 reads this as v1 1/1: the comma glues version and counter into one word.
    ['[PATCH v6,19/24] mm: comma', { revision: 6, counter: 19, total: 24, subject: 'mm: comma' }],
    ['[PATCH net-next,v2,3/4] net: commas everywhere', { revision: 2, counter: 3, total: 4, extraPrefixes: ['net-next'] }],
    ['[PATCH RESEND] mm: resent', { resend: true, revision: 1, counter: 1, total: 1, revisionInferred: true, counterInferred: true }],
    ['[PATCH RESEND v2 2/3] mm: resent v2', { resend: true, revision: 2, counter: 2, total: 3 }],
    ['[PATCH v2 RESEND 2/3] mm: resend in the middle', { resend: true, revision: 2, counter: 2, total: 3 }],
    ['[PATCH] mm: no counter', { counter: 1, total: 1, counterInferred: true, reply: false }],
    ['[PATCH 0/5] mm: cover', { counter: 0, total: 5, counterInferred: false }],
    ['[PATCH v4 00/12] mm: padded cover', { revision: 4, counter: 0, total: 12 }],
    ['Re: [PATCH v2 1/2] mm: reply', { reply: true, revision: 2, counter: 1, total: 2, subject: 'mm: reply' }],
    ['RE: Re: AW: [PATCH] mm: many replies', { reply: true, subject: 'mm: many replies' }],
    ['Re:[PATCH 2/2] mm: no space', { reply: true, counter: 2 }],
    ['[RFC][PATCH 1/3] mm: two brackets', { rfc: true, patch: true, counter: 1, total: 3, subject: 'mm: two brackets' }],
    ['[PATCH mm-unstable v3 2/2] mm: tree prefix', { revision: 3, counter: 2, total: 2, extraPrefixes: ['mm-unstable'] }],
    ['[RFCv2 PATCH 4/5] mm: glued rfc', { rfc: true, revision: 2, counter: 4, total: 5 }],
    ['mm: zswap: two swapoff cleanups', { patch: false, reply: false, subject: 'mm: zswap: two swapoff cleanups', counterInferred: true }],
    ['  [PATCH   v2   1/2]   mm:   spaces  ', { revision: 2, counter: 1, subject: 'mm: spaces' }],
  ];
  for (const [subject, want] of cases) {
    it(subject.trim(), () => {
      expect(parseSubject(subject)).toMatchObject(want);
    });
  }

  it('keeps brackets inside the subject text', () => {
    expect(parseSubject('[PATCH] mm: fix [bug] in foo').subject).toBe('mm: fix [bug] in foo');
  });
});

describe('canonicalSubject', () => {
  it('writes version and zero-padded counter the way git format-patch does', () => {
    expect(canonicalSubject('mm: x', 2, 3, 12)).toBe('[PATCH v2 03/12] mm: x');
    expect(canonicalSubject('mm: x', 1, 1, 1)).toBe('[PATCH] mm: x');
  });
});

describe('seriesSlug', () => {
  it('is lowercase, dash-separated and version-prefixed', () => {
    expect(seriesSlug(2, 'mm: zswap: remove unnecessary tree cleanups')).toBe('v2-mm-zswap-remove-unnecessary-tree-cleanups');
  });
  it('cuts long subjects at a word boundary', () => {
    const slug = seriesSlug(1, 'mm: zswap: a very long subject that goes on and on well past any reasonable directory name length');
    expect(slug.length).toBeLessThanOrEqual(63);
    expect(slug).toMatch(/^v1-mm-zswap-a-very-long[a-z0-9-]*[a-z0-9]$/);
  });
  it('is filesystem-safe even for odd subjects', () => {
    expect(seriesSlug(3, '../../etc/passwd; rm -rf /')).toBe('v3-etc-passwd-rm-rf');
    expect(seriesSlug(1, '')).toBe('v1-series');
  });
});
