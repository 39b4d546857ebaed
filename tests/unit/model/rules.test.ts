import { describe, expect, it } from 'vitest';
import { firstOfEachRule } from '../../../src/model/rules.js';

describe('firstOfEachRule', () => {
  it('keeps the first violation of every rule before the rest, in order, up to the cap', () => {
    const v = (rule: string, n: number) => ({ rule, n });
    const list = [v('data-mismatch', 1), v('data-mismatch', 2), v('data-mismatch', 3), v('put-without-reference', 4), v('data-mismatch', 5), v('use-after-free', 6)];
    expect(firstOfEachRule(list, 4).map((x) => x.n)).toEqual([1, 4, 6, 2]);
    expect(firstOfEachRule(list, 10).map((x) => x.n)).toEqual([1, 4, 6, 2, 3, 5]);
  });
});
