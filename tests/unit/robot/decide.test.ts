import { describe, expect, it } from 'vitest';
import { decide, dryRunLine, reportFolderName, emptyState, markTested, queue, resultSource, type SeriesVersion } from '../../../src/robot/decide.js';

const LIST = 'http://lore.example/linux-mm';

function version(key: string, over: Partial<SeriesVersion> = {}): SeriesVersion {
  return {
    key,
    seriesId: 'alice@example.com\nmm: zswap: tidy',
    version: 1,
    resend: false,
    subject: `[PATCH 0/2] mm: zswap: tidy (${key})`,
    contentHash: `hash-of-${key}`,
    date: '2024-02-01T00:00:00.000Z',
    threadUrl: `${LIST}/${key}/`,
    slug: 'v1-mm-zswap-tidy',
    ...over,
  };
}

describe('the robot decides (pure)', () => {
  it('queues one job per new version', () => {
    const { state, decisions } = decide(emptyState(LIST), [version('a'), version('b', { seriesId: 'bob\nother' })]);
    expect(decisions).toEqual([
      { key: 'a', action: 'test' },
      { key: 'b', action: 'test' },
    ]);
    expect(queue(state).map((v) => v.key)).toEqual(['a', 'b']);
  });

  it('a v2 supersedes a queued v1, found in the same poll or a later one', () => {
    const v1 = version('v1');
    const v2 = version('v2', { version: 2, contentHash: 'h2', date: '2024-02-02T00:00:00.000Z' });
    const together = decide(emptyState(LIST), [v2, v1]);
    expect(together.decisions).toContainEqual({ key: 'v1', action: 'superseded', other: 'v2' });
    expect(queue(together.state).map((v) => v.key)).toEqual(['v2']);

    const first = decide(emptyState(LIST), [v1]).state;
    expect(queue(first).map((v) => v.key)).toEqual(['v1']);
    const later = decide(first, [v2]);
    expect(later.decisions).toEqual([
      { key: 'v1', action: 'superseded', other: 'v2' },
      { key: 'v2', action: 'test' },
    ]);
    expect(queue(later.state).map((v) => v.key)).toEqual(['v2']);
  });

  it('a tested v1 stays tested when its v2 comes; an old version found late is superseded at once', () => {
    const tested = markTested(decide(emptyState(LIST), [version('v2', { version: 2 })]).state, 'v2', '/r/v2', 'pass');
    const late = decide(tested, [version('v1')]);
    expect(late.decisions).toEqual([{ key: 'v1', action: 'superseded', other: 'v2' }]);
    expect(late.state.versions.v2?.status).toBe('tested');
    expect(queue(late.state)).toEqual([]);
  });

  it('a version already known is never decided again (a reply or new trailers bring it back to the poll)', () => {
    const tested = markTested(decide(emptyState(LIST), [version('a')]).state, 'a', '/r/a', 'fail');
    const again = decide(tested, [version('a'), version('a')]);
    expect(again.decisions).toEqual([]);
    expect(again.state).toEqual(tested);
  });

  it('a RESEND with the same diffs reuses the result, before or after the test ran; different diffs are tested', () => {
    const orig = version('orig', { contentHash: 'same' });
    const resend = version('resend', { contentHash: 'same', resend: true, date: '2024-02-03T00:00:00.000Z' });
    const queued = decide(emptyState(LIST), [resend, orig]);
    expect(queued.decisions).toEqual([
      { key: 'orig', action: 'test' },
      { key: 'resend', action: 'reuse', other: 'orig' },
    ]);
    const done = markTested(queued.state, 'orig', '/r/orig', 'pass');
    expect(resultSource(done, 'resend')?.reportDir).toBe('/r/orig');

    const afterTest = decide(markTested(decide(emptyState(LIST), [orig]).state, 'orig', '/r/orig', 'pass'), [resend]);
    expect(afterTest.decisions).toEqual([{ key: 'resend', action: 'reuse', other: 'orig' }]);
    const changed = decide(afterTest.state, [version('resend2', { contentHash: 'other', resend: true, date: '2024-02-04T00:00:00.000Z' })]);
    expect(changed.decisions).toEqual([{ key: 'resend2', action: 'test' }]);
  });

  it('does not reuse a superseded version (its result was never made)', () => {
    const s = decide(emptyState(LIST), [version('v1', { contentHash: 'x' }), version('v2', { version: 2, contentHash: 'y' })]).state;
    const resendV1 = decide(s, [version('r1', { contentHash: 'x', resend: true })]);
    expect(resendV1.decisions).toEqual([{ key: 'r1', action: 'superseded', other: 'v2' }]);
  });

  it('--dry-run prints message-id, version and subject on one line, tabs and newlines of the subject flattened', () => {
    expect(dryRunLine({ key: 'a@b', version: 3, subject: '[PATCH v3 0/2] x\ty\nz' })).toBe('a@b\tv3\t[PATCH v3 0/2] x y z');
  });

  it('a tested RESEND gets a report folder of its own beside the original', () => {
    expect(reportFolderName(version('a', { slug: 'v2-mm-zswap-tidy' }))).toBe('v2-mm-zswap-tidy');
    expect(reportFolderName(version('b', { slug: 'v2-mm-zswap-tidy', resend: true }))).toBe('v2-mm-zswap-tidy-resend');
  });
});
