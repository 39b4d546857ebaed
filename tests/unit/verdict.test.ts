import { describe, expect, it } from 'vitest';
import { combineVerdicts } from '../../src/common/verdict.js';

describe('combineVerdicts', () => {
  it('lets error dominate fail, and fail dominate pass', () => {
    expect(combineVerdicts(['pass', 'fail', 'error'])).toBe('error');
    expect(combineVerdicts(['pass', 'fail'])).toBe('fail');
    expect(combineVerdicts(['pass', 'skipped'])).toBe('pass');
    expect(combineVerdicts(['skipped'])).toBe('skipped');
    expect(combineVerdicts([])).toBe('skipped');
  });
});
