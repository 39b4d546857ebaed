import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveTests, variantsFor } from '../guest/index.js';
import { runSeries } from '../run/pipeline.js';
import type { ConfigJobData } from './jobs.js';
import type { ConfigJobRunner } from './queue.js';

export interface PipelineRunnerOptions {
  /** --results DIR: a shared folder; each job's report folder is DIR/<job id> */
  results?: string;
  /** --work: worktrees and build dirs (default: the cache) */
  work?: string;
}

/** The run a config job asks for, as `kharness run` options. */
function runOptions(data: ConfigJobData, input: string, out: string, work?: string): Parameters<typeof runSeries>[0] {
  // Checked again here: a job from another kharness version may name tests this one lacks (exit 2).
  const tests = resolveTests(data.work.tests.join(','));
  return {
    input,
    version: data.version,
    lore: data.lore,
    tree: data.work.tree || undefined,
    base: data.base,
    configs: [data.config],
    tests,
    variants: variantsFor(data.work.variants.join(','), tests),
    profile: data.work.profile,
    runs: data.work.runs,
    trace: data.work.trace,
    testBase: data.work.testBase,
    sandbox: data.work.sandbox,
    reporter: data.reporter,
    out,
    work,
    quiet: true,
  };
}

/** The production runner: one config's whole fold of the series through runSeries, on this machine. */
export function pipelineRunner(opts: PipelineRunnerOptions): ConfigJobRunner {
  return async (data, ctx) => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-job-'));
    try {
      let input = data.input;
      if (data.mbox !== undefined) {
        input = path.join(scratch, 'series.mbox');
        await writeFile(input, data.mbox);
      }
      const out = opts.results ? path.join(path.resolve(opts.results), ctx.jobId) : path.join(scratch, 'report');
      const result = await runSeries(runOptions(data, input, out, opts.work));
      return { exitCode: result.exitCode, report: result.report, resultsDir: opts.results ? ctx.jobId : undefined };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  };
}
