import type { Verdict } from '../common/verdict.js';

/**
 * report.json: the full record of one `kharness run`. Every other report format (Markdown, HTML,
 * JUnit, KCIDB, the email reply) is rendered from this and nothing else.
 */
export interface RunReport {
  schemaVersion: 1;
  tool: { name: 'kharness'; version: string };
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /**
   * complete: every patch went through every stage; running: written after a patch finished
   * (what a killed run leaves); interrupted: Ctrl-C; crashed: kharness or the environment broke
   * outside any stage; bad-input: the input or options were wrong, nothing was tested
   */
  status: 'complete' | 'running' | 'interrupted' | 'crashed' | 'bad-input';
  /** what went wrong when status is not complete */
  statusReason?: string;
  exitCode: number;
  verdict: Verdict;
  summary: string;
  /** the first patch (1-based) whose verdict is fail, when one is */
  firstBadPatch?: number;
  series: SeriesInfo;
  environment: EnvironmentInfo;
  base: { commit: string; source: 'option' | 'series' | 'ref' | 'head'; reason: string };
  /**
   * index 0 is the base (the first patch's parent), then patch 1..N in order; with several
   * configs, that for each config in environment.configs order (base/zswap, 1/zswap, ...,
   * base/zswap-debug, 1/zswap-debug, ...)
   */
  patches: PatchReport[];
  /** output files, relative to the report folder */
  files: Record<string, string>;
  /**
   * host time (ms) outside the per-patch stage times: fetch, prepare (KVM probe, base, worktree,
   * git am of the series), build-extra (checkpatch, selftest compile, artifact copies: what
   * kharness adds to make), reports (rendering every report file, summed over rewrites)
   */
  phases?: Record<string, number>;
}

export interface PersonInfo {
  name: string;
  email: string;
}

export interface SeriesInfo {
  slug: string;
  subject: string;
  version: number;
  source: string;
  threadUrl?: string;
  /** Message-ID of the cover letter, or of patch 1 when there is none: what the reply answers */
  replyTo: string;
  cover?: { subject: string; author: PersonInfo; messageId: string };
  patches: { index: number; total: number; subject: string; author: PersonInfo; messageId: string; trailers: { name: string; value: string }[]; attestation?: AttestationInfo }[];
  warnings: string[];
  baseCommit?: string;
  /** the tree the series names (`[PATCH mm-new ...]`, `Based-on:`) */
  baseTree?: string;
}

/** A patch mail's DKIM and patatt signatures as fetched; absent in reports before attestation. */
export interface AttestationInfo {
  /** signed: a good signature and no bad one; bad: one verified bad; unknown: none could be checked; unsigned: none */
  status: 'signed' | 'bad' | 'unknown' | 'unsigned';
  /** one line: "signed by patatt ed25519 jane@example.com; DKIM kernel.org", "not signed", ... */
  summary: string;
  signatures: { method: 'dkim' | 'patatt'; status: 'good' | 'bad' | 'unknown'; identity: string; algorithm?: string; detail: string }[];
}

export interface EnvironmentInfo {
  host: { kernel: string; cpus: number; memoryGiB: number; hostname: string };
  accel: { accel: 'kvm' | 'tcg'; reason: string };
  versions: Record<string, string>;
  tree: {
    repo: string;
    worktree: string;
    head?: string;
    /** public git URL of the base tree (https:// or git://), for KCIDB's git_repository_url */
    url?: string;
    /** widely-recognized name of the tree (mainline, mm-unstable, debian-6.12), for KCIDB's tree_name */
    name?: string;
  };
  /** the config of the first (or only) set of rows */
  config: ConfigInfo;
  /** every config the run built, in row order, when it built more than one (each patch has a row per config) */
  configs?: ConfigInfo[];
  profile: string;
  tests: string[];
  /** boot/runtime variants, each its own boot per step (absent: default only) */
  variants?: string[];
  /** kernel architecture built and booted (x86_64), for KCIDB's build architecture */
  arch?: string;
  /** how the tree's code ran: in bubblewrap, or unsandboxed (--no-sandbox); absent in reports before sandboxing */
  sandbox?: { mode: 'bubblewrap' | 'none'; detail: string };
  /** who the reply's Reported-by: names (--reporter, else git config user.name/user.email); absent: nobody configured */
  reporter?: PersonInfo;
}

export interface ConfigInfo {
  name: string;
  hash: string;
  fragments: string[];
}

export type StageName = 'apply' | 'build' | 'boot' | 'test' | 'model';
export const STAGES: readonly StageName[] = ['apply', 'build', 'boot', 'test', 'model'];

export interface StageReport {
  verdict: Verdict;
  summary: string;
  durationMs?: number;
  /** when the stage started (ISO 8601), for KCIDB's start_time */
  startedAt?: string;
  /** human lines a reviewer reads first: the error line, the wrong page, the splat title */
  evidence: string[];
  /** log files, relative to the report folder */
  logs: Record<string, string>;
  /** when a verdict changed on retry: how often each verdict came out */
  flakyCounts?: Partial<Record<Verdict, number>>;
}

export interface BuildDetails {
  durationMs: number;
  objectsBuilt: number;
  cached: boolean;
  warningsTotal: number;
  newWarnings: { file: string; line?: number; message: string; flag?: string }[];
  errors: { file: string; line?: number; message: string }[];
  checkpatch?: { errors: number; warnings: number; checks: number; findings: { level: string; type: string; message: string; location?: string }[] };
  /** sha256 of the bzImage booted: the same source and config give the same one (reproducible builds) */
  imageSha256?: string;
}

export interface CounterSample {
  /** seconds since the test started */
  t: number;
  values: Record<string, number>;
}

export interface TestDetails {
  name: string;
  verdict: Verdict;
  summary: string;
  /** the step whose run of this test this is: the kernel was identical (run/reuse.ts) */
  reusedFrom?: string;
  durationMs?: number;
  counters?: { before: Record<string, number>; after: Record<string, number>; delta: Record<string, number> };
  /** zswap counters sampled during the test, for plots */
  samples: CounterSample[];
  coverage: { path: string; label: string; count: number; source: 'trace' | 'counters' | 'workload' }[];
  gaps: string[];
  badPages: { region: string; page: number; phase: string; expectVersion: number; seenVersion: number; seenPage: number; zero: boolean; description: string }[];
  badPagesTotal: number;
  conformance: { verdict: string; reason: string; events?: number };
  dataOracle: { verdict: string; reason: string; reads?: number };
  counterOracle: { verdict: string; reason: string };
  violations: { rule: string; message: string; slot?: string; entry?: string; events: string[] }[];
  /** repeats: how many more times the same splat (same signature) was printed in the test */
  findings: { kind: string; title: string; function?: string; signature: string; callTrace: string[]; excerpt: string; repeats?: number }[];
  selftest?: { number: number; name: string; status: 'pass' | 'fail' | 'skip' | 'flaky'; directive?: string }[];
  /** failures the base had too: reported, not blamed on this patch */
  preExisting: string[];
  /** the kind of a failure without a splat, selftest case or wrong data (hang, panic, ...) */
  failure?: string;
}

export interface PatchReport {
  /** 0 = base */
  index: number;
  /** "base" or "k/N" */
  label: string;
  /** the kernel config this row was built and booted with, when the run tested more than one */
  config?: string;
  subject: string;
  commit?: string;
  messageId?: string;
  author?: PersonInfo;
  /** sha256 (hex) of the patch file as applied (its mbox message), for KCIDB's patchset_hash */
  patchSha256?: string;
  verdict: Verdict;
  summary: string;
  /** failures that were already there on the base: not blamed on this patch */
  preExisting: string[];
  /** the step (its label) whose guest results this one carries: its kernel was byte-identical */
  reusedFrom?: string;
  stages: Record<StageName, StageReport>;
  build?: BuildDetails;
  tests: TestDetails[];
  /** console findings no test owns (a splat before the first test, or after the last) */
  kernelFindings?: { kind: string; title: string; signature: string }[];
  /** lifetime paths summed over the traced tests; gaps: paths no test ran (labels) */
  suiteCoverage?: { paths: { path: string; label: string; count: number }[]; gaps: string[] };
  boot?: { status: string; reason: string; accel: string; durationMs: number; bootToCommandMs?: number; consoleLog?: string; consoleTail: string };
}
