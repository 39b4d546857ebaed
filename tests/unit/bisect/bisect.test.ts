import { describe, expect, it } from 'vitest';
import { bisectSeries, combineRuns, renderBisectMarkdown, type BisectStep, type StepOutcome } from '../../../src/bisect/index.js';

const commits = Array.from({ length: 8 }, (_, i) => ({ commit: `${i}`.repeat(40), subject: i === 0 ? 'base' : `patch ${i}` }));

/** An evaluator where patch `bad` and later are bad; `skip` patches cannot be judged. */
function evaluator(bad: number, skip: number[] = [], seen: number[] = []) {
  return async (commit: string, subject: string, _previous: string | undefined, patch: number): Promise<BisectStep> => {
    seen.push(patch);
    const outcome: StepOutcome = skip.includes(patch) ? 'skip' : patch >= bad ? 'bad' : 'good';
    return { commit, subject, patch, outcome, runs: [outcome], reason: outcome, evidence: outcome === 'bad' ? [`${subject} broke`] : [], durationMs: 1 };
  };
}

describe('series bisection', () => {
  it('finds the first bad patch in log2 steps after checking both ends', async () => {
    for (let bad = 1; bad <= 7; bad++) {
      const seen: number[] = [];
      const r = await bisectSeries(commits, { badWhen: { stage: 'any' } }, evaluator(bad, [], seen));
      expect(r.culprit?.patch, `bad=${bad}`).toBe(bad);
      expect(r.culprit?.evidence).toEqual([`patch ${bad} broke`]);
      expect(seen.slice(0, 2)).toEqual([0, 7]);
      expect(seen.length).toBeLessThanOrEqual(2 + 3);
    }
  });

  it('blames nothing when the base is already bad, or the last patch is good', async () => {
    expect((await bisectSeries(commits, { badWhen: { stage: 'any' } }, evaluator(0))).culprit).toBeUndefined();
    const allGood = await bisectSeries(commits, { badWhen: { stage: 'any' } }, evaluator(99));
    expect(allGood.culprit).toBeUndefined();
    expect(allGood.conclusion).toMatch(/last patch is good/);
  });

  it('reports candidates instead of guessing when a step cannot be judged', async () => {
    const r = await bisectSeries(commits, { badWhen: { stage: 'any' } }, evaluator(4, [3]));
    expect(r.culprit).toBeUndefined();
    expect(r.candidates.map((c) => c.subject)).toEqual(['patch 3', 'patch 4']);
    expect(renderBisectMarkdown(r)).toMatch(/## Candidates/);
  });

  it('treats a step whose outcome changed between runs as flaky, with its counts', () => {
    expect(combineRuns(['bad', 'bad'])).toEqual({ outcome: 'bad' });
    expect(combineRuns(['bad', 'good', 'bad'])).toEqual({ outcome: 'skip', flaky: { bad: 2, good: 1 } });
    expect(combineRuns(['good', 'error'])).toEqual({ outcome: 'error' });
  });
});
