import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PersonInfoSchema } from '../report/schema.js';
import { RunReportSchema } from '../report/index.js';

/** The one BullMQ queue of the fleet: series parents and their config children both live here. */
export const QUEUE_NAME = 'kharness';
export const SERIES_JOB = 'series';
export const CONFIG_JOB = 'config';

/** What `queue status` shows of a job's series. */
export const SeriesLabelSchema = z.object({ subject: z.string(), version: z.number().int().positive(), slug: z.string().min(1) });
export type SeriesLabel = z.infer<typeof SeriesLabelSchema>;

/**
 * Everything that decides a config job's result, and so its id: the same work is computed once.
 * The patches are their diff hashes (as `git patch-id`), so a RESEND or a new subject is the same work.
 */
export const WorkKeySchema = z.object({
  tree: z.string(),
  /** --base, else the series' base-commit, else '' (the tree's choice at run time) */
  base: z.string(),
  patches: z.array(z.string()).min(1),
  profile: z.string(),
  tests: z.array(z.string()),
  variants: z.array(z.string()),
  runs: z.number().int().positive(),
  trace: z.boolean(),
  testBase: z.boolean(),
  sandbox: z.boolean(),
});
export type WorkKey = z.infer<typeof WorkKeySchema>;

/** One config's whole fold of a series, as a worker takes it from Redis. */
export const ConfigJobDataSchema = z.object({
  kind: z.literal('config'),
  series: SeriesLabelSchema,
  work: WorkKeySchema,
  config: z.string().min(1),
  /** where the worker fetches the series from: a lore URL or message-id */
  input: z.string().min(1),
  /** the series' mbox, when the submitter read it from a file the worker cannot see */
  mbox: z.string().optional(),
  version: z.number().int().positive().optional(),
  lore: z.string().optional(),
  /** --base as the submitter gave it (work.base also holds the series' own base-commit) */
  base: z.string().optional(),
  reporter: PersonInfoSchema.optional(),
  /** --retest, --retest-base and --retest-kept: no reuse of identical kernels' or kept results on the worker */
  retest: z.boolean().optional(),
  retestBase: z.boolean().optional(),
  retestKept: z.boolean().optional(),
});
export type ConfigJobData = z.infer<typeof ConfigJobDataSchema>;

/** The parent of a series' config jobs: done when every config is. */
export const SeriesJobDataSchema = z.object({
  kind: z.literal('series'),
  series: SeriesLabelSchema,
  /** the children in report order */
  children: z.array(z.object({ config: z.string().min(1), jobId: z.string().min(1) })).min(1),
});
export type SeriesJobData = z.infer<typeof SeriesJobDataSchema>;

/** What a config job returns: its report, and where its artifacts are under the worker's --results. */
export const ConfigJobResultSchema = z.object({
  config: z.string().min(1),
  exitCode: z.number().int(),
  report: RunReportSchema,
  /** the report folder's name under --results DIR (a shared folder), when the worker has one */
  resultsDir: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
  worker: z.string().optional(),
});
export type ConfigJobResult = z.infer<typeof ConfigJobResultSchema>;

export const SeriesJobResultSchema = z.object({ configs: z.array(ConfigJobResultSchema).min(1) });
export type SeriesJobResult = z.infer<typeof SeriesJobResultSchema>;

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

/** The config job's id: a hash of the work and the config (BullMQ ignores a second add of an id). */
export function configJobId(work: WorkKey, config: string): string {
  const w = WorkKeySchema.parse(work);
  // Key order fixed here, not by the caller's object: the same work hashes the same.
  return `cfg-${digest([w.tree, w.base, w.patches, config, w.profile, w.tests, w.variants, w.runs, w.trace, w.testBase, w.sandbox])}`;
}

/** The series parent's id: its config jobs' ids, in order. */
export function seriesJobId(work: WorkKey, configs: readonly string[]): string {
  return `series-${digest(configs.map((c) => configJobId(work, c)))}`;
}

/** One step of `kharness bisect --series … --queue`: build and test the series up to one patch. */
export const BISECT_JOB = 'bisect-step';

export const BadWhenSchema = z.object({ stage: z.enum(['any', 'build', 'test', 'model']), test: z.string().optional() });

export const BisectJobDataSchema = z.object({
  kind: z.literal('bisect-step'),
  series: SeriesLabelSchema,
  work: WorkKeySchema,
  config: z.string().min(1),
  /** 0 = the base, k = the series applied up to patch k */
  patch: z.number().int().min(0),
  badWhen: BadWhenSchema,
  input: z.string().min(1),
  mbox: z.string().optional(),
  version: z.number().int().positive().optional(),
  lore: z.string().optional(),
  base: z.string().optional(),
});
export type BisectJobData = z.infer<typeof BisectJobDataSchema>;

const OutcomeSchema = z.enum(['good', 'bad', 'skip', 'error']);

/** A bisect step's result, as src/bisect's BisectStep, with the worker that ran it. */
export const BisectJobResultSchema = z.object({
  commit: z.string(),
  subject: z.string(),
  patch: z.number().int().optional(),
  outcome: OutcomeSchema,
  runs: z.array(OutcomeSchema),
  flaky: z.record(OutcomeSchema, z.number()).optional(),
  reason: z.string(),
  evidence: z.array(z.string()),
  durationMs: z.number(),
  worker: z.string().optional(),
  /** the step's folder (logs, guest runs) under the worker's --results */
  resultsDir: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
});
export type BisectJobResult = z.infer<typeof BisectJobResultSchema>;

/**
 * A bisect step's id: the work up to its patch (the base and the diffs of patches 1..k), the
 * config, and what counts as bad. Two bisects of series sharing a prefix share those steps.
 */
export function bisectJobId(work: WorkKey, config: string, patch: number, badWhen: z.infer<typeof BadWhenSchema>): string {
  const w = WorkKeySchema.parse(work);
  return `bisect-${digest([w.tree, w.base, w.patches.slice(0, patch), config, w.profile, w.tests, w.variants, w.runs, w.trace, w.sandbox, badWhen.stage, badWhen.test ?? ''])}`;
}
