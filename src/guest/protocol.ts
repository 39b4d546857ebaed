import path from 'node:path';
import { z } from 'zod';
import { readUntrusted } from '../common/untrusted-file.js';

/**
 * The guest→host protocol: every record suite.sh writes into the run directory, one JSON object
 * per line, validated here. The guest runs the kernel under test, so nothing it wrote is trusted:
 * files are read through readUntrusted (no symlinks, regular files, size caps), and a record that
 * does not parse or does not match its schema is an error naming the file and line, never a
 * silently dropped line or a field defaulted to 0.
 *
 * Files (all written by src/guest/suite.sh):
 *   results.jsonl          one TestResultRecord per test, appended when the test ends
 *   status.json            one SuiteStatusRecord when the suite ends (absent: it never ended)
 *   probes.jsonl           one ProbeRecord per kprobe line the guest tried to place
 *   hung.jsonl             one HungRecord per workload that ran past TEST_TIMEOUT
 *   <test>.samples         one SampleRecord a second while the test ran
 *   <test>.trace-lost.json one TraceLostRecord after tracing stopped
 */

const count = z.number().int().nonnegative();
/** Counters that only ever grow: vm events and zswap's cumulative debugfs counts (not the gauges stored_pages, pool_total_size, ...). */
export const CUMULATIVE_COUNTER = /^(?:zswp\w+|pswp\w+|swap_ra\w*|written_back_pages|pool_limit_hit|reject_\w+|decompress_fail|duplicate_entry)$/;

/** Counters in bytes (debugfs pool_total_size, ...); every other counter counts pages or events. */
export const BYTES_COUNTER = /(?:size|bytes)$/;

/** debugfs zswap counters and /proc/vmstat zswp*, pswp*, swap_ra*, by name */
export const CountersSchema = z.record(z.string(), z.number().int().nonnegative());

export const TestResultSchema = z
  .object({
    test: z.string().regex(/^[a-z0-9-]+$/),
    status: z.enum(['pass', 'fail', 'skip', 'error']),
    duration_ms: count,
    counters_before: CountersSchema,
    counters_after: CountersSchema,
    /** the workload's (or test_zswap's) exit status */
    rc: z.number().int().optional(),
    /** swap-cycle's second workload, the rejected-store run */
    reject_rc: z.number().int().optional(),
    /** test_zswap's exit status in each rerun made because a failed case had not passed yet */
    retry_rcs: z.array(z.number().int()).max(10).optional(),
    /** a workload ran past TEST_TIMEOUT and was killed (the guest's hang detector fired) */
    hung: z.boolean().optional(),
    /** test_zswap ran past SELFTEST_TIMEOUT (`timeout` exited 124) */
    timeout: z.boolean().optional(),
    /** the budget that ran out, in seconds */
    timeout_s: z.number().int().positive().optional(),
    reason: z.string().optional(),
  })
  .strict();
export type TestResultRecord = z.infer<typeof TestResultSchema>;

/**
 * Setup steps whose failure is the kernel's, not ours: the suite stops, and the host fails every
 * test with the reason (a patch that breaks zswap enabling fails, it does not pass untested).
 */
export const SETUP_FAILURES = {
  'zswap-not-enabled': 'zswap could not be enabled',
} as const;
export type SetupFailure = keyof typeof SETUP_FAILURES;

export const SuiteStatusSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('done') }).strict(),
  z.object({ state: z.literal('error'), error: z.string().min(1), detail: z.string().optional() }).strict(),
  z.object({ state: z.literal('fail'), failure: z.enum(Object.keys(SETUP_FAILURES) as [SetupFailure, ...SetupFailure[]]), detail: z.string().optional() }).strict(),
]);
export type SuiteStatusRecord = z.infer<typeof SuiteStatusSchema>;

export const ProbeSchema = z
  .object({
    /** the kprobe_events line, as the host planned it */
    probe: z.string().min(1),
    placed: z.boolean(),
    /** what tracefs said when it refused the line */
    error: z.string().optional(),
  })
  .strict();
export type ProbeRecord = z.infer<typeof ProbeSchema>;

export const HungSchema = z
  .object({
    test: z.string().regex(/^[a-z0-9-]+$/),
    /** the workload run that hung: the test's name, or e.g. swap-cycle-reject */
    workload: z.string().regex(/^[a-z0-9-]+$/),
    timeout_s: z.number().int().positive(),
  })
  .strict();
export type HungRecord = z.infer<typeof HungSchema>;

export const SampleSchema = z.object({ t_ms: count, counters: CountersSchema }).strict();
export type SampleRecord = z.infer<typeof SampleSchema>;

export const TraceLostSchema = z
  .object({
    /** ring-buffer overruns and dropped events, summed over CPUs */
    overrun: count,
    dropped: count,
    /** events still in the buffer when the pipe reader was stopped */
    unread: count,
  })
  .strict();
export type TraceLostRecord = z.infer<typeof TraceLostSchema>;

export interface ProtocolError {
  file: string;
  /** 1-based; absent when the whole file is at fault (missing, a symlink, too large) */
  line?: number;
  message: string;
}

export interface Located<T> {
  line: number;
  record: T;
}

export function formatProtocolError(e: ProtocolError): string {
  return e.line === undefined ? `${e.file}: ${e.message}` : `${e.file} line ${e.line}: ${e.message}`;
}

export function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'record'}: ${i.message}`).join('; ');
}

/** One record per non-blank line; every line that is not a valid record is an error with its number. */
export function parseRecords<T>(text: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, fileName: string): { records: Located<T>[]; errors: ProtocolError[] } {
  const records: Located<T>[] = [];
  const errors: ProtocolError[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const cut = i === lines.length - 1 ? ' (the line is unterminated: the writer was cut short?)' : '';
      errors.push({ file: fileName, line, message: `not JSON: ${(err as Error).message}${cut}` });
      return;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) records.push({ line, record: parsed.data });
    else errors.push({ file: fileName, line, message: formatZodError(parsed.error) });
  });
  return { records, errors };
}

export interface ReadRecordsResult<T> {
  records: Located<T>[];
  errors: ProtocolError[];
  /** the file does not exist (an error only when it was required) */
  missing: boolean;
}

/** Reads a guest-written JSONL file safely and parses it; a missing optional file is no error. */
export async function readRecords<T>(file: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, opts: { maxBytes: number; required?: boolean }): Promise<ReadRecordsResult<T>> {
  const name = path.basename(file);
  const r = await readUntrusted(file, { maxBytes: opts.maxBytes });
  if (!r.ok) {
    if (r.missing && !opts.required) return { records: [], errors: [], missing: true };
    return { records: [], errors: [{ file: name, message: r.reason }], missing: r.missing };
  }
  // A cut file has lost records at its end: judging the rest as complete would be a guess.
  if (r.truncated) return { records: [], errors: [{ file: name, message: `is ${r.bytes} bytes, over the ${opts.maxBytes}-byte limit: not read` }], missing: false };
  return { ...parseRecords(r.text, schema, name), missing: false };
}

/** Size caps: far above what the suite writes, far below what could hurt the host. */
export const MAX_BYTES = {
  results: 1 << 20,
  status: 64 << 10,
  probes: 1 << 20,
  hung: 64 << 10,
  samples: 16 << 20,
  traceLost: 4 << 10,
} as const;

export interface SuiteArtifacts {
  runDir: string;
  results: Located<TestResultRecord>[];
  /** results.jsonl errors, each with the test it belongs to when the line names one */
  resultErrors: (ProtocolError & { test?: string })[];
  /** undefined: no status.json, the suite never reached its end */
  status?: SuiteStatusRecord;
  probes: { placed: string[]; failed: { fn: string; reason: string }[] };
  hung: HungRecord[];
  /** every protocol error of the suite-level files (results, status, probes, hung) */
  errors: ProtocolError[];
}

/** A line's test name even when the line is not valid JSON, so its error reaches that test. */
function testNamed(text: string, line: number): string | undefined {
  const raw = text.split('\n')[line - 1] ?? '';
  try {
    const v: unknown = JSON.parse(raw);
    if (v && typeof v === 'object' && typeof (v as { test?: unknown }).test === 'string') return (v as { test: string }).test;
  } catch {
    /* not JSON: fall back to the text */
  }
  return /"test"\s*:\s*"([a-z0-9-]+)"/.exec(raw)?.[1];
}

async function readResults(runDir: string): Promise<Pick<SuiteArtifacts, 'results' | 'resultErrors'>> {
  const r = await readUntrusted(path.join(runDir, 'results.jsonl'), { maxBytes: MAX_BYTES.results });
  if (!r.ok) return { results: [], resultErrors: r.missing ? [] : [{ file: 'results.jsonl', message: r.reason }] };
  if (r.truncated) return { results: [], resultErrors: [{ file: 'results.jsonl', message: `is ${r.bytes} bytes, over the ${MAX_BYTES.results}-byte limit: not read` }] };
  const parsed = parseRecords(r.text, TestResultSchema, 'results.jsonl');
  return { results: parsed.records, resultErrors: parsed.errors.map((e) => ({ ...e, test: e.line === undefined ? undefined : testNamed(r.text, e.line) })) };
}

/**
 * Everything the suite wrote for the run as a whole, validated. Per-test files (samples, traces,
 * data logs) are read by judgeTest. Never throws on what the guest wrote.
 */
export async function readSuiteArtifacts(runDir: string): Promise<SuiteArtifacts> {
  const { results, resultErrors } = await readResults(runDir);
  const status = await readRecords(path.join(runDir, 'status.json'), SuiteStatusSchema, { maxBytes: MAX_BYTES.status });
  const statusErrors = [...status.errors];
  if (status.records.length > 1) statusErrors.push({ file: 'status.json', line: status.records[1]!.line, message: 'more than one status record' });
  const probes = await readRecords(path.join(runDir, 'probes.jsonl'), ProbeSchema, { maxBytes: MAX_BYTES.probes });
  const hung = await readRecords(path.join(runDir, 'hung.jsonl'), HungSchema, { maxBytes: MAX_BYTES.hung });
  return {
    runDir,
    results,
    resultErrors,
    status: statusErrors.length ? undefined : status.records[0]?.record,
    probes: {
      placed: probes.records.filter((p) => p.record.placed).map((p) => p.record.probe),
      // kprobe_events lines are `p:GROUP/EVENT FUNCTION ARGS...`: the function is the second word.
      failed: probes.records
        .filter((p) => !p.record.placed)
        .map((p) => ({ fn: p.record.probe.split(' ')[1] ?? p.record.probe, reason: `tracefs refused the probe${p.record.error ? `: ${p.record.error}` : ''}` })),
    },
    hung: hung.records.map((h) => h.record),
    errors: [...resultErrors, ...statusErrors, ...probes.errors, ...hung.errors],
  };
}

/**
 * The suite could not set up (status.json says so), or its status cannot be trusted: the reason,
 * for judgeTest's `setupError`.
 */
export function setupErrorOf(a: SuiteArtifacts): string | undefined {
  const bad = a.errors.filter((e) => e.file === 'status.json');
  if (bad.length) return bad.map(formatProtocolError).join('; ');
  if (a.status?.state === 'error') return `${a.status.error}${a.status.detail ? `: ${a.status.detail}` : ''}`;
  return undefined;
}

/** The kernel failed the suite's setup (status.json `fail`): the reason, for judgeTest's `setupFailure`. */
export function setupFailureOf(a: SuiteArtifacts): string | undefined {
  if (a.errors.some((e) => e.file === 'status.json')) return undefined;
  if (a.status?.state !== 'fail') return undefined;
  return `${SETUP_FAILURES[a.status.failure]}${a.status.detail ? `: ${a.status.detail}` : ''}`;
}

/**
 * A test's result record and the protocol errors that concern it: errors on lines naming the test,
 * whole-file errors, a second record for the same test, and, when the test has no valid record,
 * errors on lines that name no test (one of them may have been its record).
 */
export function resultFor(a: SuiteArtifacts, test: string): { record?: TestResultRecord; line?: number; errors: string[] } {
  const mine = a.results.filter((r) => r.record.test === test);
  const errors = a.resultErrors.filter((e) => e.test === test || e.line === undefined || (e.test === undefined && mine.length === 0)).map(formatProtocolError);
  if (mine.length > 1) errors.push(`results.jsonl lines ${mine.map((r) => r.line).join(', ')}: ${mine.length} records for ${test}`);
  return { record: mine[0]?.record, line: mine[0]?.line, errors };
}

/**
 * Errors no test claims: lines naming no test while every test has a record, or naming a test the
 * run did not plan. The run's verdict must still show them.
 */
export function unclaimedErrors(a: SuiteArtifacts, tests: readonly string[]): string[] {
  const withRecord = new Set(a.results.map((r) => r.record.test));
  const allHaveRecords = tests.every((t) => withRecord.has(t));
  return a.resultErrors
    .filter((e) => e.line !== undefined && (e.test === undefined ? allHaveRecords : !tests.includes(e.test)))
    .map(formatProtocolError)
    .concat(a.results.filter((r) => !tests.includes(r.record.test)).map((r) => `results.jsonl line ${r.line}: a record for ${r.record.test}, a test the run did not plan`))
    .concat(a.errors.filter((e) => e.file === 'probes.jsonl' || e.file === 'hung.jsonl').map(formatProtocolError));
}
