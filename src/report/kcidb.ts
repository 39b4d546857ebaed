import { createHash } from 'node:crypto';
import { splitVariantTestName } from '../guest/variants.js';
import path from 'node:path';
import { z } from 'zod';
import { combineVerdicts, type Verdict } from '../common/verdict.js';
import { stageLines, testLines } from './evidence.js';
import { accelName, bareMessageId, configOf, flakyOutcome, flakyText, gapLabels, msgidPath, patchLabel } from './facts.js';
import { cleanLine, cleanText, linkTo } from './text.js';
import { STAGES, type PatchReport, type RunReport, type StageName, type StageReport, type TestDetails } from './types.js';

/**
 * kcidb.json: the run in KernelCI's KCIDB I/O format, schema v5.0, as defined by kernelci/kcidb-io
 * `kcidb_io/schema/v05_00.py` (builds carry `status` instead of v4's `valid`; test paths must match
 * `^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$`). One checkout per patch k (the base plus patches 1..k,
 * index 0 being the base alone), one build per patch whose build ran, tests per boot / guest test /
 * selftest case / model stage of each build. Origin `kharness`.
 */

export const KCIDB_ORIGIN = 'kharness';
export const KCIDB_VERSION = { major: 5, minor: 0 } as const;

// ---- The subset of the v5.0 schema this file uses, with its constraints (v05_00.py / v03_00.py patterns).
const ORIGIN = /^[a-z0-9_]+$/; // origin_pattern
const ORIGIN_ID = /^[a-z0-9_]+:.*$/; // origin_id_pattern
const SHA1 = /^[0-9a-f]{40}$/; // git_commit_hash_pattern
const SHA256_OR_EMPTY = /^$|^[0-9a-f]{64}$/; // patchset_hash
const GIT_URL = /^(https|git):\/\/.*$/; // git_repository_url_pattern
const TEST_PATH = /^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$/; // Version.test_path_re
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/; // format: date-time
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/; // format: email (message_id)
const MAX_EXCERPT = 16384; // log_excerpt maxLength

const StatusSchema = z.enum(['FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP']);
export type KcidbStatus = z.infer<typeof StatusSchema>;

const ResourceSchema = z.object({ name: z.string().regex(/^[^/]+$/), url: z.string().url() }).strict();

export const KcidbCheckoutSchema = z
  .object({
    id: z.string().regex(ORIGIN_ID),
    origin: z.string().regex(ORIGIN),
    tree_name: z.string().optional(),
    git_repository_url: z.string().regex(GIT_URL).optional(),
    git_commit_hash: z.string().regex(SHA1).optional(),
    patchset_files: z.array(ResourceSchema).optional(),
    patchset_hash: z.string().regex(SHA256_OR_EMPTY).optional(),
    message_id: z.string().regex(EMAIL).optional(),
    comment: z.string().optional(),
    start_time: z.string().regex(DATE_TIME).optional(),
    log_url: z.string().url().optional(),
    log_excerpt: z.string().max(MAX_EXCERPT).optional(),
    valid: z.boolean().optional(),
    misc: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const KcidbBuildSchema = z
  .object({
    id: z.string().regex(ORIGIN_ID),
    checkout_id: z.string().regex(ORIGIN_ID),
    origin: z.string().regex(ORIGIN),
    comment: z.string().optional(),
    start_time: z.string().regex(DATE_TIME).optional(),
    duration: z.number().nonnegative().optional(),
    architecture: z.string().regex(/^[a-z0-9_]*$/).optional(),
    compiler: z.string().optional(),
    config_name: z.string().optional(),
    log_url: z.string().url().optional(),
    log_excerpt: z.string().max(MAX_EXCERPT).optional(),
    output_files: z.array(ResourceSchema).optional(),
    status: StatusSchema.optional(),
    misc: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const KcidbTestSchema = z
  .object({
    id: z.string().regex(ORIGIN_ID),
    build_id: z.string().regex(ORIGIN_ID),
    origin: z.string().regex(ORIGIN),
    path: z.string().regex(TEST_PATH).optional(),
    comment: z.string().optional(),
    environment: z.object({ comment: z.string().optional(), misc: z.record(z.string(), z.unknown()).optional() }).strict().optional(),
    log_url: z.string().url().optional(),
    log_excerpt: z.string().max(MAX_EXCERPT).optional(),
    status: StatusSchema.optional(),
    start_time: z.string().regex(DATE_TIME).optional(),
    duration: z.number().nonnegative().optional(),
    output_files: z.array(ResourceSchema).optional(),
    misc: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const KcidbSchema = z
  .object({
    version: z.object({ major: z.literal(5), minor: z.number().int().min(0).max(0) }).strict(),
    checkouts: z.array(KcidbCheckoutSchema).optional(),
    builds: z.array(KcidbBuildSchema).optional(),
    tests: z.array(KcidbTestSchema).optional(),
  })
  .strict();

export type Kcidb = z.infer<typeof KcidbSchema>;
type Checkout = z.infer<typeof KcidbCheckoutSchema>;
type Build = z.infer<typeof KcidbBuildSchema>;
type Test = z.infer<typeof KcidbTestSchema>;

export interface KcidbOptions {
  /** public URL the report folder is served at; without it no log_url/output_files are written */
  baseUrl?: string;
}

const STATUS: Record<Exclude<Verdict, 'flaky'>, KcidbStatus> = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', skipped: 'SKIP' };

function excerpt(lines: string[]): string | undefined {
  const text = cleanText(lines.join('\n')).replace(/\n+$/, '');
  if (!text.trim()) return undefined;
  if (text.length <= MAX_EXCERPT) return text;
  const cut = '\n[... cut by kharness]';
  return text.slice(0, MAX_EXCERPT - cut.length) + cut;
}

function dateTime(s: string | undefined): string | undefined {
  return s !== undefined && DATE_TIME.test(s) ? s : undefined;
}

function secondsOf(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms) / 1000;
}

/** A path element KCIDB accepts: [a-zA-Z0-9_-]+. */
export function pathElement(s: string): string {
  const e = cleanLine(s).replace(/[^a-zA-Z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return e || 'unnamed';
}

function url(opts: KcidbOptions, rel: string): string | undefined {
  if (!opts.baseUrl) return undefined;
  const u = linkTo(opts.baseUrl, rel.split('/').map(encodeURIComponent).join('/'));
  return z.string().url().safeParse(u).success ? u : undefined;
}

function logFields(logs: Record<string, string>, opts: KcidbOptions): { log_url?: string; output_files?: { name: string; url: string }[] } {
  const entries = Object.values(logs)
    .map((rel) => ({ name: path.posix.basename(rel), url: url(opts, rel) }))
    .filter((r): r is { name: string; url: string } => r.url !== undefined && r.name !== '' && !r.name.includes('/'));
  if (!entries.length) return {};
  const [first, ...rest] = entries;
  return { log_url: first!.url, ...(rest.length ? { output_files: rest } : {}) };
}

function statusOf(verdict: Verdict, flakyCounts: StageReport['flakyCounts']): KcidbStatus {
  return STATUS[flakyOutcome({ verdict, flakyCounts })];
}

function flakyMisc(verdict: Verdict, counts: StageReport['flakyCounts']): Record<string, unknown> {
  return verdict === 'flaky' || counts ? { flaky: { counts: counts ?? {}, text: flakyText(counts) } } : {};
}

function loreRawUrl(report: RunReport, messageId: string): string | undefined {
  const thread = report.series.threadUrl;
  if (!thread) return undefined;
  // https://lore.kernel.org/<list>/<msgid>/ → https://lore.kernel.org/<list>/<patch msgid>/raw
  const m = /^(https?:\/\/[^/]+\/[^/]+)\//.exec(thread);
  if (!m) return undefined;
  return `${m[1]}/${msgidPath(messageId)}/raw`;
}

function patchsetHash(patches: PatchReport[]): string | undefined {
  if (!patches.length) return '';
  if (patches.some((p) => !p.patchSha256)) return undefined;
  // sha256 over newline-terminated sha256 hashes of each patch, in order ("sha256sum *.patch | cut -c-64 | sha256sum").
  return createHash('sha256')
    .update(patches.map((p) => `${p.patchSha256}\n`).join(''))
    .digest('hex');
}

function checkoutOf(report: RunReport, p: PatchReport, ids: Ids, opts: KcidbOptions): Checkout {
  const applied = report.patches.filter((x) => x.index > 0 && x.index <= p.index && x.config === p.config);
  const tree = report.environment.tree;
  const apply = p.stages.apply;
  // The checkout is the step's source, shared by every config's build.
  const label = patchLabel({ ...p, config: undefined }, report);
  const files = p.index > 0 ? applied.map((x) => ({ name: `${String(x.index).padStart(4, '0')}.patch`, url: x.messageId ? loreRawUrl(report, x.messageId) : undefined })) : [];
  const c: Checkout = {
    id: ids.checkout(p),
    origin: KCIDB_ORIGIN,
    tree_name: tree.name,
    git_repository_url: tree.url && GIT_URL.test(tree.url) ? tree.url : undefined,
    git_commit_hash: SHA1.test(report.base.commit) ? report.base.commit : undefined,
    patchset_files: files.length && files.every((f) => f.url) ? (files as { name: string; url: string }[]) : undefined,
    patchset_hash: patchsetHash(applied),
    message_id: p.messageId && EMAIL.test(bareMessageId(p.messageId)) ? bareMessageId(p.messageId) : undefined,
    comment: p.index === 0 ? `base ${report.base.commit}` : `${label} ${cleanLine(p.subject)}`,
    start_time: dateTime(apply.startedAt) ?? dateTime(report.startedAt),
    ...pick(logFields(apply.logs, opts), 'log_url'),
    log_excerpt: apply.verdict === 'pass' || apply.verdict === 'skipped' ? undefined : excerpt(stageLines(p, 'apply')),
    valid: apply.verdict === 'pass' ? true : apply.verdict === 'fail' ? false : undefined,
    misc: {
      patch: p.index,
      label,
      ...(p.commit ? { commit: p.commit } : {}),
      // the step's verdict over every config's row
      verdict: combineVerdicts(report.patches.filter((x) => x.index === p.index).map((x) => x.verdict)),
      apply: { verdict: apply.verdict, summary: apply.summary },
      ...attestationMisc(report, p),
      ...(p.index === 0 ? { base_reason: report.base.reason } : {}),
      ...flakyMisc(apply.verdict, apply.flakyCounts),
    },
  };
  return strip(c);
}

function pick<T extends object, K extends keyof T>(o: T, k: K): Pick<T, K> {
  return (k in o ? { [k]: o[k] } : {}) as Pick<T, K>;
}

/** Drops undefined properties: KCIDB allows no nulls, and JSON.stringify would drop them anyway. */
function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function compilerOf(versions: Record<string, string>): string | undefined {
  for (const key of ['compiler', 'gcc', 'clang', 'cc']) {
    const v = versions[key];
    if (v) return key === 'compiler' || v.toLowerCase().includes(key) ? v : `${key} ${v}`;
  }
  return undefined;
}

function buildOf(report: RunReport, p: PatchReport, ids: Ids, opts: KcidbOptions): Build {
  const st = p.stages.build;
  const b = p.build;
  const env = report.environment;
  const config = configOf(p, report);
  const arch = env.arch && /^[a-z0-9_]*$/.test(env.arch) ? env.arch : undefined;
  return strip({
    id: ids.build(p),
    checkout_id: ids.checkout(p),
    origin: KCIDB_ORIGIN,
    comment: cleanLine(st.summary),
    start_time: dateTime(st.startedAt),
    duration: secondsOf(b?.durationMs ?? st.durationMs),
    architecture: arch,
    compiler: compilerOf(env.versions),
    config_name: config.name,
    ...logFields(st.logs, opts),
    log_excerpt: st.verdict === 'pass' && !(b?.newWarnings.length) ? undefined : excerpt(stageLines(p, 'build')),
    status: statusOf(st.verdict, st.flakyCounts),
    misc: {
      kharness_verdict: st.verdict,
      config_hash: config.hash,
      config_fragments: config.fragments,
      ...(b
        ? {
            objects_built: b.objectsBuilt,
            cached: b.cached,
            warnings_total: b.warningsTotal,
            new_warnings: b.newWarnings.length,
            errors: b.errors.length,
            ...(b.checkpatch ? { checkpatch: { errors: b.checkpatch.errors, warnings: b.checkpatch.warnings, checks: b.checkpatch.checks } } : {}),
          }
        : {}),
      ...flakyMisc(st.verdict, st.flakyCounts),
    },
  });
}

interface Ids {
  checkout(p: PatchReport): string;
  build(p: PatchReport): string;
  test(p: PatchReport, path: string): string;
}

function idsFor(report: RunReport): Ids {
  const run = cleanLine(report.runId);
  const part = (p: PatchReport): string => (p.index === 0 ? 'base' : `p${p.index}`);
  // One checkout per step (the same source for every config); a build per step and config.
  const build = (p: PatchReport): string => `${KCIDB_ORIGIN}:${run}:${part(p)}${p.config ? `:${cleanLine(p.config)}` : ''}:build`;
  return {
    checkout: (p) => `${KCIDB_ORIGIN}:${run}:${part(p)}`,
    build,
    test: (p, testPath) => `${build(p).replace(/:build$/, '')}:${testPath}`,
  };
}

/**
 * What to do with a stage that did not run: nothing when an earlier stage of the patch failed
 * (KCIDB readers see the failed build or boot), MISS when the run stopped before it, else SKIP.
 */
function skippedStatus(report: RunReport, p: PatchReport, stage: StageName): KcidbStatus | undefined {
  const earlier = STAGES.slice(0, STAGES.indexOf(stage));
  if (earlier.some((s) => ['fail', 'error'].includes(p.stages[s].verdict))) return undefined;
  return report.status === 'complete' ? 'SKIP' : 'MISS';
}

/** The patch mail's attestation (patch rows only), when the report has it. */
function attestationMisc(report: RunReport, p: PatchReport): { attestation?: { status: string; summary: string } } {
  const a = report.series.patches.find((x) => x.index === p.index)?.attestation;
  return p.index > 0 && a ? { attestation: { status: a.status, summary: a.summary } } : {};
}

function testsOf(report: RunReport, p: PatchReport, ids: Ids, opts: KcidbOptions): Test[] {
  const out: Test[] = [];
  const buildId = ids.build(p);
  const env = report.environment;
  const environment = {
    comment: `QEMU under ${accelName(report)} on ${cleanLine(env.host.hostname)} (${env.host.cpus} CPUs, ${env.host.memoryGiB} GiB)`,
    misc: { accel: env.accel.accel, accel_reason: env.accel.reason, host_kernel: env.host.kernel, profile: env.profile, ...(env.sandbox ? { sandbox: env.sandbox.mode } : {}) },
  };
  const stageTest = (stage: StageName, testPath: string): void => {
    const st = p.stages[stage];
    const status = st.verdict === 'skipped' ? skippedStatus(report, p, stage) : statusOf(st.verdict, st.flakyCounts);
    if (!status) return;
    out.push(
      strip({
        id: ids.test(p, testPath),
        build_id: buildId,
        origin: KCIDB_ORIGIN,
        path: testPath,
        comment: cleanLine(st.summary),
        environment,
        ...logFields(st.logs, opts),
        log_excerpt: st.verdict === 'pass' || st.verdict === 'skipped' ? undefined : excerpt(stageLines(p, stage, { excerpts: true })),
        status,
        start_time: dateTime(st.startedAt),
        duration: secondsOf(st.durationMs),
        misc: { kharness_verdict: st.verdict, ...flakyMisc(st.verdict, st.flakyCounts), ...(p.reusedFrom && (stage === 'boot' || stage === 'test' || stage === 'model') ? { reused_from: p.reusedFrom } : {}) },
      }),
    );
  };

  stageTest('boot', 'boot');
  const testStage = p.stages.test;
  if (!p.tests.length) stageTest('test', 'zswap');
  for (const t of p.tests) {
    // A variant's test is a node under the variant: zswap.nomemcg.writeback.
    const { test: plain, variant } = splitVariantTestName(t.name);
    const testPath = variant === 'default' ? `zswap.${pathElement(plain)}` : `zswap.${pathElement(variant)}.${pathElement(plain)}`;
    out.push(guestTest(report, p, t, testPath, ids, environment, testStage));
    for (const c of t.selftest ?? []) {
      const casePath = `${testPath}.${pathElement(c.name)}`;
      out.push({
        id: ids.test(p, `${casePath}.${c.number}`),
        build_id: buildId,
        origin: KCIDB_ORIGIN,
        path: casePath,
        // A flaky case (failed, then passed when run again) is not blamed: PASS, flagged in misc.
        status: c.status === 'pass' || c.status === 'flaky' ? 'PASS' : c.status === 'fail' ? 'FAIL' : 'SKIP',
        environment,
        misc: { tap_number: c.number, ...(c.directive ? { directive: c.directive } : {}), ...(c.status === 'flaky' ? { flaky: true } : {}) },
      });
    }
  }
  stageTest('model', 'zswap.model');
  return out;
}

function guestTest(report: RunReport, p: PatchReport, t: TestDetails, testPath: string, ids: Ids, environment: Test['environment'], stage: StageReport): Test {
  const counts = t.verdict === 'flaky' ? stage.flakyCounts : undefined;
  const status = t.verdict === 'skipped' && report.status !== 'complete' ? 'MISS' : statusOf(t.verdict, counts);
  const pre = t.preExisting.length ? { pre_existing: t.preExisting } : {};
  return strip({
    id: ids.test(p, testPath),
    build_id: ids.build(p),
    origin: KCIDB_ORIGIN,
    path: testPath,
    comment: cleanLine(t.summary),
    environment,
    log_excerpt: t.verdict === 'pass' || t.verdict === 'skipped' ? undefined : excerpt(testLines(t, { excerpts: true })),
    status,
    duration: secondsOf(t.durationMs),
    misc: {
      kharness_verdict: t.verdict,
      ...flakyMisc(t.verdict, counts),
      bad_pages: t.badPagesTotal,
      violations: t.violations.map((v) => v.rule),
      findings: t.findings.map((f) => ({ kind: f.kind, title: cleanLine(f.title), signature: f.signature })),
      conformance: t.conformance,
      data_oracle: t.dataOracle,
      counter_oracle: t.counterOracle,
      coverage: Object.fromEntries(t.coverage.map((c) => [c.path, c.count])),
      never_ran: gapLabels(t),
      ...(t.counters ? { counters_delta: t.counters.delta } : {}),
      ...pre,
      // the step's kernel was identical to this step's: its guest results are carried (run/reuse.ts)
      ...(t.reusedFrom ? { reused_from: t.reusedFrom } : {}),
    },
  });
}

/** kcidb.json as an object (pure). */
export function buildKcidb(report: RunReport, opts: KcidbOptions = {}): Kcidb {
  const ids = idsFor(report);
  const checkouts: Checkout[] = [];
  const builds: Build[] = [];
  const tests: Test[] = [];
  for (const p of report.patches) {
    if (!checkouts.some((c) => c.id === ids.checkout(p))) checkouts.push(checkoutOf(report, p, ids, opts));
    const build = p.stages.build;
    if (build.verdict === 'skipped' && !p.build) continue;
    builds.push(buildOf(report, p, ids, opts));
    tests.push(...testsOf(report, p, ids, opts));
  }
  return { version: { ...KCIDB_VERSION }, checkouts, builds, tests };
}

/** kcidb.json, pretty-printed. */
export function renderKcidb(report: RunReport, opts: KcidbOptions = {}): string {
  return `${JSON.stringify(buildKcidb(report, opts), null, 2)}\n`;
}
