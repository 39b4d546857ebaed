import { describe, expect, it } from 'vitest';
import { combineVerdicts } from '../../src/common/verdict.js';

describe('combineVerdicts', () => {
  it('lets a failure dominate an error (the finding stands), and error dominate pass', () => {
    expect(combineVerdicts(['pass', 'fail', 'error'])).toBe('fail');
    expect(combineVerdicts(['pass', 'error', 'flaky'])).toBe('error');
    expect(combineVerdicts(['pass', 'fail'])).toBe('fail');
    expect(combineVerdicts(['pass', 'skipped'])).toBe('pass');
    expect(combineVerdicts(['skipped'])).toBe('skipped');
    expect(combineVerdicts([])).toBe('skipped');
  });
});
