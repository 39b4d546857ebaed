import { describe, expect, it } from 'vitest';
import { applyPreExisting, applyStage, buildStage, patchVerdict, skippedStage, stage, testStage } from '../../../src/run/stages.js';
import type { SuiteResult } from '../../../src/guest/index.js';
import type { TestJudgement } from '../../../src/guest/judge.js';
import type { BuildResult } from '../../../src/build/index.js';
import type { PatchReport, StageName, StageReport, TestDetails } from '../../../src/report/types.js';

const rel = (p: string): string => p;

function buildResult(over: Partial<BuildResult>): BuildResult {
  return { commit: 'c', config: 'zswap', verdict: 'pass', summary: 'ok', durationMs: 1, errors: [], newWarnings: [], warningsTotal: 0, logPath: '/l', objectsBuilt: 1, cached: false, ...over };
}

function testDetails(name: string, over: Partial<TestDetails>): TestDetails {
  return {
    name,
    verdict: 'fail',
    summary: '',
    samples: [],
    coverage: [],
    gaps: [],
    badPages: [],
    badPagesTotal: 0,
    conformance: { verdict: 'skipped', reason: '' },
    dataOracle: { verdict: 'skipped', reason: '' },
    counterOracle: { verdict: 'skipped', reason: '' },
    violations: [],
    findings: [],
    preExisting: [],
    ...over,
  };
}

function patch(index: number, stages: Partial<Record<StageName, StageReport>>, tests: TestDetails[] = []): PatchReport {
  const all: Record<StageName, StageReport> = { apply: stage('pass', ''), build: stage('pass', ''), boot: stage('pass', ''), test: stage('pass', ''), model: stage('pass', ''), ...stages };
  return { index, label: index ? `${index}/2` : 'base', subject: 's', verdict: patchVerdict(all), summary: '', preExisting: [], stages: all, tests };
}

describe('stage verdicts', () => {
  it('never turns the environment breaking into a patch failure', () => {
    expect(buildStage(buildResult({ verdict: 'error', summary: 'make was killed (SIGKILL)' }), rel).verdict).toBe('error');
    expect(buildStage(buildResult({ verdict: 'fail', summary: 'build error' }), rel).verdict).toBe('fail');
    expect(patchVerdict({ apply: stage('pass', ''), build: stage('error', ''), boot: skippedStage(''), test: skippedStage(''), model: skippedStage('') })).toBe('error');
  });

  it('maps apply results: 3-way is a pass that says so, a conflict a fail naming the file', () => {
    const a = applyStage({ index: 1, subject: 's', status: 'applied-3way', conflicts: [{ file: 'mm/zswap.c', hunks: [] }], log: '' }, rel);
    expect(a.verdict).toBe('pass');
    expect(a.summary).toMatch(/3-way.*mm\/zswap.c/);
    const f = applyStage({ index: 1, subject: 's', status: 'failed', conflicts: [{ file: 'mm/zswap.c', hunks: ['@@ line 1679 @@'] }], log: '' }, rel);
    expect(f.verdict).toBe('fail');
    expect(f.evidence).toContain('conflict in mm/zswap.c');
    expect(applyStage({ index: 2, subject: 's', status: 'skipped', conflicts: [], log: '' }, rel).verdict).toBe('skipped');
  });
});

describe('pre-existing failures', () => {
  const selftestFail = (cases: string[]): TestDetails =>
    testDetails('selftest-zswap', { selftest: cases.map((name, i) => ({ number: i + 1, name, status: 'fail' as const })) });

  it('does not blame a patch for what already fails on the base', () => {
    const base = patch(0, { test: stage('fail', 'selftest') }, [selftestFail(['test_zswap_usage'])]);
    const p1 = patch(1, { test: stage('fail', 'selftest') }, [selftestFail(['test_zswap_usage'])]);
    const judged = applyPreExisting(base, p1);
    expect(judged.verdict).toBe('pass');
    expect(judged.preExisting).toEqual(['selftest-zswap: selftest case test_zswap_usage']);
    expect(judged.stages.test.summary).toMatch(/only failures the base has too/);
  });

  it('still fails a patch that adds a failure of its own', () => {
    const base = patch(0, { test: stage('fail', 'selftest') }, [selftestFail(['test_zswap_usage'])]);
    const p2 = patch(2, { test: stage('fail', 'selftest') }, [selftestFail(['test_zswap_usage', 'test_zswapin'])]);
    const judged = applyPreExisting(base, p2);
    expect(judged.verdict).toBe('fail');
    expect(judged.preExisting).toEqual(['selftest-zswap: selftest case test_zswap_usage']);
  });

  it('tells a new kernel splat from an old one by its signature', () => {
    const finding = (sig: string) => ({ kind: 'WARNING', title: 'WARNING', signature: sig, callTrace: [], excerpt: '' });
    const base = patch(0, { test: stage('fail', '') }, [testDetails('swap-cycle', { findings: [finding('WARNING in zswap_swapoff [aaaa]')] })]);
    const same = patch(1, { test: stage('fail', '') }, [testDetails('swap-cycle', { findings: [finding('WARNING in zswap_swapoff [aaaa]')] })]);
    const other = patch(1, { test: stage('fail', '') }, [testDetails('swap-cycle', { findings: [finding('WARNING in zswap_store [bbbb]')] })]);
    expect(applyPreExisting(base, same).verdict).toBe('pass');
    expect(applyPreExisting(base, other).verdict).toBe('fail');
  });
});

describe('test stage', () => {
  const judged = (name: string, workloadVerdict: TestJudgement['workloadVerdict'], summary: string, selftest?: TestJudgement['selftest']): TestJudgement =>
    ({ name, verdict: workloadVerdict, workloadVerdict, summary, logs: {}, evidence: [], durationMs: 1, selftest }) as unknown as TestJudgement;
  const suite = (tests: TestJudgement[]): SuiteResult => ({ verdict: 'pass', summary: '', boot: {} as SuiteResult['boot'], findings: [], tests, gaps: [], runDir: '/r', profile: 'quick' });

  it('a test flaky within the run makes the stage flaky, named, with its attempts counted', () => {
    const cases = [
      { number: 1, name: 'test_zswap_usage', status: 'pass' as const },
      { number: 2, name: 'test_no_kmem_bypass', status: 'flaky' as const, directive: 'failed 2 of 3 runs of test_zswap', runs: { fail: 2, pass: 1 } },
    ];
    const why = 'selftest case(s) flaky: test_no_kmem_bypass (failed 2 of 3 runs of test_zswap)';
    const st = testStage(suite([judged('swap-cycle', 'pass', 'passed'), judged('selftest-zswap', 'flaky', why, { cases, runs: 3 })]), rel);
    expect(st.verdict).toBe('flaky');
    expect(st.flakyCounts).toEqual({ fail: 2, pass: 1 });
    expect(st.summary).toBe(`selftest-zswap: ${why}`);
    // A failure elsewhere is still the stage's verdict.
    expect(testStage(suite([judged('swap-cycle', 'fail', 'data'), judged('selftest-zswap', 'flaky', 'f')]), rel).verdict).toBe('fail');
  });
});
