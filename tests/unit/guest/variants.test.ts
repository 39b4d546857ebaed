import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { mergeVariantSuites, type SuiteResult } from '../../../src/guest/index.js';
import { DEFAULT_VARIANTS, resolveVariants, splitVariantTestName, variantTestName, variantTests, variantsFor } from '../../../src/guest/variants.js';
import { switchCoverage } from '../../../src/guest/switches.js';
import type { TestJudgement } from '../../../src/guest/judge.js';

const judged = (name: string, verdict: TestJudgement['verdict'], coverage: TestJudgement['coverage'] = []): TestJudgement =>
  ({ name, verdict, workloadVerdict: verdict, modelVerdict: verdict, summary: verdict, coverage, gaps: [], badPages: [], badPagesTotal: 0, violations: [], conformance: { verdict: 'pass', reason: '' }, dataOracle: { verdict: 'pass', reason: '' }, counterOracle: { verdict: 'pass', reason: '' }, findings: [], samples: [], evidence: [], logs: {} }) as TestJudgement;

function suite(runDir: string, tests: TestJudgement[], over: Partial<SuiteResult> = {}): SuiteResult {
  const verdict = tests.some((t) => t.verdict === 'fail') ? 'fail' : 'pass';
  return {
    verdict,
    summary: verdict === 'pass' ? `all ${tests.length} test(s) passed` : 'failed',
    boot: { status: 'completed', reason: 'guest command exited 0', accel: 'tcg', accelReason: 'test', consoleLog: `${runDir}/console.log`, consoleTail: '', durationMs: 1000, bootToCommandMs: 500 },
    findings: [],
    tests,
    gaps: [],
    runDir,
    profile: 'quick',
    coverage: [{ path: 'store', label: 'store', count: 10, source: 'trace' }],
    ...over,
  };
}

describe('variants', () => {
  it('resolves names, defaults to the default set, and refuses an unknown one with the list', () => {
    expect(resolveVariants(undefined).map((v) => v.name)).toEqual([...DEFAULT_VARIANTS]);
    expect(resolveVariants('nomemcg,default,nomemcg').map((v) => v.name)).toEqual(['nomemcg', 'default']);
    expect(() => resolveVariants('nomemcg,nocgroup')).toThrow(InputError);
    expect(() => resolveVariants('nocgroup')).toThrow(/unknown variant "nocgroup"/);
  });

  it('runs only its own tests of those asked for, and refuses a combination that runs nothing', () => {
    const [nomemcg] = resolveVariants('nomemcg');
    expect(variantTests(nomemcg!, ['swap-cycle', 'swapoff-race', 'cpu-hotplug', 'writeback'])).toEqual(['swap-cycle', 'writeback']);
    expect(variantsFor('default,nomemcg', ['cpu-hotplug'])).toEqual(['default', 'nomemcg']);
    expect(() => variantsFor('nomemcg', ['cpu-hotplug'])).toThrow(/no variant of nomemcg runs any of the tests asked for \(cpu-hotplug\)/);
  });

  it('names a variant test test@variant and reads it back; the default keeps the plain name', () => {
    expect(variantTestName('writeback', 'default')).toBe('writeback');
    expect(variantTestName('writeback', 'nomemcg')).toBe('writeback@nomemcg');
    expect(splitVariantTestName('writeback@nomemcg')).toEqual({ test: 'writeback', variant: 'nomemcg' });
    expect(splitVariantTestName('writeback')).toEqual({ test: 'writeback', variant: 'default' });
  });
});

describe('merging the variants of one kernel', () => {
  it('renames tests and findings, sums coverage, and lets a failing variant fail the whole', () => {
    const finding = { kind: 'BUG' as const, title: 'BUG: kernel NULL pointer dereference', callTrace: ['shrink_worker'], signature: 's', line: 3, excerpt: '', test: 'writeback' };
    const merged = mergeVariantSuites([
      { variant: 'default', suite: suite('/r/patch-1', [judged('writeback', 'pass')]) },
      { variant: 'nomemcg', suite: suite('/r/patch-1-nomemcg', [judged('writeback', 'fail')], { findings: [finding], summary: 'writeback: kernel: BUG' }) },
    ]);
    expect(merged.verdict).toBe('fail');
    expect(merged.tests.map((t) => t.name)).toEqual(['writeback', 'writeback@nomemcg']);
    expect(merged.findings.map((f) => f.test)).toEqual(['writeback@nomemcg']);
    expect(merged.summary).toBe('[nomemcg] writeback: kernel: BUG');
    expect(merged.coverage?.find((c) => c.path === 'store')?.count).toBe(20);
    expect(merged.variants?.map((v) => [v.name, v.runDir, v.verdict])).toEqual([['default', '/r/patch-1', 'pass'], ['nomemcg', '/r/patch-1-nomemcg', 'fail']]);
    // The default's boot speaks for the step while every variant got to its suite.
    expect(merged.boot.consoleLog).toBe('/r/patch-1/console.log');
  });

  it('takes the boot of a variant that never got to its suite, so the boot stage fails for it', () => {
    const panicked = suite('/r/patch-1-nomemcg', [judged('writeback', 'skipped')], { verdict: 'fail', boot: { status: 'panic', reason: 'Kernel panic at boot', accel: 'tcg', accelReason: 'test', consoleLog: '/r/patch-1-nomemcg/console.log', consoleTail: '', durationMs: 900 } });
    const merged = mergeVariantSuites([
      { variant: 'default', suite: suite('/r/patch-1', [judged('writeback', 'pass')]) },
      { variant: 'nomemcg', suite: panicked },
    ]);
    expect(merged.boot.status).toBe('panic');
    expect(merged.boot.reason).toBe('[nomemcg] Kernel panic at boot');
    expect(merged.boot.bootToCommandMs).toBeUndefined();
    expect(merged.boot.consoleLog).toBe('/r/patch-1-nomemcg/console.log');
  });
});

describe('switches coverage', () => {
  const sw = (kind: 'compressor' | 'enabled' | 'zpool' | 'shrinker_enabled' | 'max_pool_percent' | 'accept_threshold_percent', live: number, rc = 0) => ({ kind, to: 'x', rc, live });

  it('counts only accepted switches with live entries, and a kind that never had one is a gap', () => {
    const c = switchCoverage({ compressor: ['lzo', 'lzo-rle'], zpool: ['zsmalloc'] }, [sw('compressor', 12), sw('compressor', 0), sw('compressor', 5, 1), sw('enabled', 3), sw('max_pool_percent', 0)]);
    expect(c.coverage.find((x) => x.path === 'switch:compressor')).toEqual({ path: 'switch:compressor', label: 'compressor switches with live entries', count: 1 });
    // One zpool in the kernel: nothing to switch, so no entry and no gap.
    expect(c.coverage.some((x) => x.path === 'switch:zpool')).toBe(false);
    expect(c.gaps).toContain('switch:max_pool_percent');
    expect(c.gaps).not.toContain('switch:enabled');
    // shrinker_enabled never tried (a kernel without the option): not a gap.
    expect(c.gaps).not.toContain('switch:shrinker_enabled');
  });
});
