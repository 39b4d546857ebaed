import { z } from 'zod';
import type { RunReport } from './types.js';

/**
 * The zod schema of report.json, mirroring types.ts field for field. `readReport` and the tests use
 * it; the compile-time check at the bottom fails the build when the two drift apart.
 */

export const VerdictSchema = z.enum(['pass', 'fail', 'error', 'skipped', 'flaky']);

export const PersonInfoSchema = z.object({ name: z.string(), email: z.string() });

const counterMap = z.record(z.string(), z.number());

export const AttestationInfoSchema = z.object({
  status: z.enum(['signed', 'bad', 'unknown', 'unsigned']),
  summary: z.string(),
  signatures: z.array(
    z.object({ method: z.enum(['dkim', 'patatt']), status: z.enum(['good', 'bad', 'unknown']), identity: z.string(), algorithm: z.string().optional(), detail: z.string() }),
  ),
});

export const SeriesInfoSchema = z.object({
  slug: z.string(),
  subject: z.string(),
  version: z.number().int().positive(),
  source: z.string(),
  threadUrl: z.string().optional(),
  replyTo: z.string().min(1),
  cover: z.object({ subject: z.string(), author: PersonInfoSchema, messageId: z.string() }).optional(),
  patches: z.array(
    z.object({
      index: z.number().int().positive(),
      total: z.number().int().positive(),
      subject: z.string(),
      author: PersonInfoSchema,
      messageId: z.string(),
      trailers: z.array(z.object({ name: z.string(), value: z.string() })),
      attestation: AttestationInfoSchema.optional(),
    }),
  ),
  warnings: z.array(z.string()),
  baseCommit: z.string().optional(),
  baseTree: z.string().optional(),
});

const ConfigInfoSchema = z.object({ name: z.string(), hash: z.string(), fragments: z.array(z.string()) });

export const EnvironmentInfoSchema = z.object({
  host: z.object({ kernel: z.string(), cpus: z.number().int().nonnegative(), memoryGiB: z.number().nonnegative(), hostname: z.string() }),
  accel: z.object({ accel: z.enum(['kvm', 'tcg']), reason: z.string() }),
  versions: z.record(z.string(), z.string()),
  tree: z.object({
    repo: z.string(),
    worktree: z.string(),
    head: z.string().optional(),
    url: z.string().optional(),
    name: z.string().optional(),
  }),
  config: ConfigInfoSchema,
  configs: z.array(ConfigInfoSchema).min(2).optional(),
  profile: z.string(),
  tests: z.array(z.string()),
  variants: z.array(z.string()).optional(),
  arch: z.string().optional(),
  sandbox: z.object({ mode: z.enum(['bubblewrap', 'none']), detail: z.string() }).optional(),
  reporter: PersonInfoSchema.optional(),
});

export const StageNameSchema = z.enum(['apply', 'build', 'boot', 'test', 'model']);

export const StageReportSchema = z.object({
  verdict: VerdictSchema,
  summary: z.string(),
  durationMs: z.number().nonnegative().optional(),
  startedAt: z.string().optional(),
  evidence: z.array(z.string()),
  logs: z.record(z.string(), z.string()),
  flakyCounts: z.record(VerdictSchema, z.number().int().nonnegative()).optional(),
});

export const BuildDetailsSchema = z.object({
  imageSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  durationMs: z.number().nonnegative(),
  objectsBuilt: z.number().int().nonnegative(),
  cached: z.boolean(),
  warningsTotal: z.number().int().nonnegative(),
  newWarnings: z.array(z.object({ file: z.string(), line: z.number().int().optional(), message: z.string(), flag: z.string().optional() })),
  errors: z.array(z.object({ file: z.string(), line: z.number().int().optional(), message: z.string() })),
  checkpatch: z
    .object({
      errors: z.number().int().nonnegative(),
      warnings: z.number().int().nonnegative(),
      checks: z.number().int().nonnegative(),
      findings: z.array(z.object({ level: z.string(), type: z.string(), message: z.string(), location: z.string().optional() })),
    })
    .optional(),
});

export const CounterSampleSchema = z.object({ t: z.number(), values: counterMap });

export const TestDetailsSchema = z.object({
  name: z.string(),
  verdict: VerdictSchema,
  summary: z.string(),
  reusedFrom: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  counters: z.object({ before: counterMap, after: counterMap, delta: counterMap }).optional(),
  samples: z.array(CounterSampleSchema),
  coverage: z.array(z.object({ path: z.string(), label: z.string(), count: z.number().int().nonnegative(), source: z.enum(['trace', 'counters', 'workload']) })),
  gaps: z.array(z.string()),
  badPages: z.array(
    z.object({
      region: z.string(),
      page: z.number().int(),
      phase: z.string(),
      expectVersion: z.number().int(),
      seenVersion: z.number().int(),
      seenPage: z.number().int(),
      zero: z.boolean(),
      description: z.string(),
    }),
  ),
  badPagesTotal: z.number().int().nonnegative(),
  conformance: z.object({ verdict: z.string(), reason: z.string(), events: z.number().int().nonnegative().optional() }),
  dataOracle: z.object({ verdict: z.string(), reason: z.string(), reads: z.number().int().nonnegative().optional() }),
  counterOracle: z.object({ verdict: z.string(), reason: z.string() }),
  violations: z.array(z.object({ rule: z.string(), message: z.string(), slot: z.string().optional(), entry: z.string().optional(), events: z.array(z.string()) })),
  findings: z.array(
    z.object({ kind: z.string(), title: z.string(), function: z.string().optional(), signature: z.string(), callTrace: z.array(z.string()), excerpt: z.string(), repeats: z.number().int().positive().optional() }),
  ),
  selftest: z.array(z.object({ number: z.number().int(), name: z.string(), status: z.enum(['pass', 'fail', 'skip', 'flaky']), directive: z.string().optional() })).optional(),
  preExisting: z.array(z.string()),
  failure: z.string().optional(),
});

export const PatchReportSchema = z.object({
  index: z.number().int().nonnegative(),
  label: z.string(),
  config: z.string().optional(),
  subject: z.string(),
  commit: z.string().optional(),
  messageId: z.string().optional(),
  author: PersonInfoSchema.optional(),
  patchSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'a sha256 in lower-case hex')
    .optional(),
  verdict: VerdictSchema,
  summary: z.string(),
  preExisting: z.array(z.string()),
  reusedFrom: z.string().optional(),
  stages: z.object({
    apply: StageReportSchema,
    build: StageReportSchema,
    boot: StageReportSchema,
    test: StageReportSchema,
    model: StageReportSchema,
  }),
  build: BuildDetailsSchema.optional(),
  kernelFindings: z.array(z.object({ kind: z.string(), title: z.string(), signature: z.string() })).optional(),
  tests: z.array(TestDetailsSchema),
  suiteCoverage: z
    .object({
      paths: z.array(z.object({ path: z.string(), label: z.string(), count: z.number().int().nonnegative() })),
      gaps: z.array(z.string()),
    })
    .optional(),
  boot: z
    .object({
      status: z.string(),
      reason: z.string(),
      accel: z.string(),
      durationMs: z.number().nonnegative(),
      bootToCommandMs: z.number().nonnegative().optional(),
      consoleLog: z.string().optional(),
      consoleTail: z.string(),
    })
    .optional(),
});

export const RunReportSchema = z
  .object({
    schemaVersion: z.literal(1),
    tool: z.object({ name: z.literal('kharness'), version: z.string() }),
    runId: z.string().min(1),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number().nonnegative(),
    status: z.enum(['complete', 'running', 'interrupted', 'crashed', 'bad-input']),
    statusReason: z.string().optional(),
    exitCode: z.number().int(),
    verdict: VerdictSchema,
    summary: z.string(),
    firstBadPatch: z.number().int().positive().optional(),
    series: SeriesInfoSchema,
    environment: EnvironmentInfoSchema,
    base: z.object({ commit: z.string(), source: z.enum(['option', 'series', 'ref', 'head']), reason: z.string() }),
    patches: z.array(PatchReportSchema),
    files: z.record(z.string(), z.string()),
    phases: z.record(z.string(), z.number().nonnegative()).optional(),
  })
  .superRefine((r, ctx) => {
    // Cross-field facts every renderer relies on.
    // Each config's rows in turn (environment.configs order), each the base then 1..N in order;
    // a report written mid-run has fewer rows in its last config, and none of the later ones.
    const configs = r.environment.configs?.map((c) => c.name);
    let group = 0;
    let expected = 0;
    r.patches.forEach((p, i) => {
      if (configs && p.index === 0 && i > 0 && configs[group + 1] !== undefined && p.config === configs[group + 1]) {
        group++;
        expected = 0;
      }
      if (p.index !== expected) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['patches', i, 'index'], message: `patch at position ${i} has index ${p.index} (index 0 is the base, then 1..N in order${configs ? ', for each config in turn' : ''})` });
      expected = p.index + 1;
      const config = configs?.[group];
      if (p.config !== config) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['patches', i, 'config'], message: config ? `row ${i} should be config ${config}, is ${p.config ?? '(none)'}` : `row ${i} names config ${p.config}, but the run built one config` });
    });
    if (r.firstBadPatch !== undefined && !r.patches.some((p) => p.index === r.firstBadPatch)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['firstBadPatch'], message: `names patch ${r.firstBadPatch}, which the report does not have` });
    }
  });

// Compile-time check: the schema and types.ts describe the same thing (both directions).
// Strict identity (optional fields count), not mere mutual assignability.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesTypes: Same<z.infer<typeof RunReportSchema>, RunReport> = true;
void schemaMatchesTypes;
