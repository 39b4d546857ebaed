import { describe, expect, it } from 'vitest';
import { runOutcome } from '../../../src/run/outcome.js';
import { applyPreExisting, patchVerdict, skippedStage, stage, summarize } from '../../../src/run/stages.js';
import type { PatchReport, StageName, StageReport } from '../../../src/report/types.js';

function step(index: number, stages: Partial<Record<StageName, StageReport>>, over: Partial<PatchReport> = {}): PatchReport {
  const all: Record<StageName, StageReport> = { apply: stage('pass', ''), build: stage('pass', 'built'), boot: stage('pass', ''), test: stage('pass', ''), model: stage('pass', ''), ...stages };
  return { index, label: index ? `${index}/1` : 'base', subject: 's', verdict: patchVerdict(all), summary: summarize(all), preExisting: [], stages: all, tests: [], ...over };
}

const makeFails = (): Partial<Record<StageName, StageReport>> => ({
  build: stage('fail', 'make exited 2 without a compiler diagnostic: tinyconfig'),
  boot: skippedStage('the build failed'),
  test: skippedStage('the build failed'),
  model: skippedStage('the build failed'),
});

describe('the run outcome', () => {
  it('says passed only when every step passed', () => {
    const o = runOutcome([step(0, {}), step(1, {})], 'complete', 1);
    expect(o).toMatchObject({ verdict: 'pass', exitCode: 0 });
    expect(o.summary).toBe('all 1 patch(es) passed');
  });

  it('a base our side could not build: error, exit 3, the reason in the summary, never "passed"', () => {
    const base = step(0, { build: stage('error', 'build stage of the base broke: make -s tinyconfig failed (exit 2)'), boot: skippedStage('x'), test: skippedStage('x'), model: skippedStage('x') });
    const p1 = step(1, { build: skippedStage('not tested: the base could not be tested'), boot: skippedStage('x'), test: skippedStage('x'), model: skippedStage('x') });
    const o = runOutcome([base, p1], 'complete', 1);
    expect(o.verdict).toBe('error');
    expect(o.exitCode).toBe(3);
    expect(o.summary).toContain('tinyconfig failed');
    expect(o.summary).not.toMatch(/passed/);
  });

  it('a build failure the base shares is not blamed, and not a pass either: the patch was not tested', () => {
    const base = step(0, makeFails());
    const p1 = applyPreExisting(base, step(1, makeFails()));
    expect(p1.verdict).toBe('skipped');
    expect(p1.stages.build.summary).toMatch(/fails as the base does/);
    const o = runOutcome([base, p1], 'complete', 1);
    // nothing was tested: not the 0 that says every patch passed
    expect(o.exitCode).toBe(3);
    expect(o.verdict).toBe('skipped');
    expect(o.summary).not.toMatch(/passed/);
    expect(o.summary).toMatch(/not tested/);
  });

  it('a patch failure is exit 1 and named', () => {
    const o = runOutcome([step(0, {}), step(1, { test: stage('fail', 'swap-cycle: 3 page(s) read back wrong') })], 'complete', 1);
    expect(o).toMatchObject({ verdict: 'fail', exitCode: 1, firstBadPatch: 1 });
    expect(o.summary).toContain('patch 1/1 fail: test fail: swap-cycle: 3 page(s) read back wrong');
  });

  it('--no-base-test: the base is a skipped step, the patches still pass, the summary says the base was not tested', () => {
    const base = step(0, { apply: skippedStage('not tested: --no-base-test'), build: skippedStage('x'), boot: skippedStage('x'), test: skippedStage('x'), model: skippedStage('x') });
    const o = runOutcome([base, step(1, {})], 'complete', 1);
    expect(o).toMatchObject({ verdict: 'pass', exitCode: 0 });
    expect(o.summary).toBe('no patch of 1 introduced a failure; the base was not tested');
  });

  it('interrupted is 130 and never a pass', () => {
    const o = runOutcome([step(0, {})], 'interrupted', 1, 'Ctrl-C');
    expect(o.exitCode).toBe(130);
    expect(o.verdict).toBe('skipped');
    expect(o.summary).toMatch(/0 of 1 patches tested/);
  });

  it('bad input is 2 and says nothing was tested; a crash is 3', () => {
    expect(runOutcome([], 'bad-input', 0, '--base deadbeef is not a commit')).toMatchObject({ exitCode: 2, summary: 'nothing was tested: --base deadbeef is not a commit' });
    expect(runOutcome([], 'crashed', 0, 'ENOSPC')).toMatchObject({ exitCode: 3, verdict: 'error' });
  });

  it('an error on one patch is exit 3 when no patch failed, and exit 1 when one did', () => {
    const err = step(2, { boot: stage('error', 'QEMU was killed'), test: skippedStage('x'), model: skippedStage('x') }, { label: '2/2' });
    expect(runOutcome([step(0, {}), step(1, {}), err], 'complete', 2)).toMatchObject({ verdict: 'error', exitCode: 3 });
    const fail = step(1, { test: stage('fail', 'oops') });
    expect(runOutcome([step(0, {}), fail, err], 'complete', 2)).toMatchObject({ verdict: 'fail', exitCode: 1 });
  });
});

describe('pre-existing matching', () => {
  const selftest = (name: string) => ({ name: 'selftest-zswap', verdict: 'fail' as const, summary: '', samples: [], coverage: [], gaps: [], badPages: [], badPagesTotal: 0, conformance: { verdict: 'skipped', reason: '' }, dataOracle: { verdict: 'skipped', reason: '' }, counterOracle: { verdict: 'skipped', reason: '' }, violations: [], findings: [], preExisting: [], selftest: [{ number: 1, name, status: 'fail' as const }] });
  it('a new splat no test owns is not hidden behind a failure the base shares', () => {
    const base = step(0, { test: stage('fail', 'selftest') }, { tests: [selftest('test_zswap_writeback_enabled')] });
    const p = step(1, { test: stage('fail', 'selftest; kernel: KASAN') }, { tests: [selftest('test_zswap_writeback_enabled')], kernelFindings: [{ kind: 'KASAN', title: 'KASAN: use-after-free in zswap_swapon', signature: 'KASAN in zswap_swapon [abcd]' }] });
    const judged = applyPreExisting(base, p);
    expect(judged.stages.test.verdict).toBe('fail');
    expect(judged.verdict).toBe('fail');
  });
  it('a failure with nothing stable to compare is never matched away', () => {
    const bare = { ...selftest('x'), name: 'swap-cycle', selftest: undefined };
    const base = step(0, { test: stage('fail', 'x') }, { tests: [bare] });
    const judged = applyPreExisting(base, step(1, { test: stage('fail', 'x') }, { tests: [bare] }));
    expect(judged.stages.test.verdict).toBe('fail');
  });
});
