import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../common/paths.js';
import type { PatchReport, StageName } from '../report/types.js';

/**
 * Reuse by content, never by guess: a step whose kernel image, merged .config and guest-side
 * code (all of kharness's sources: the guest's workload and suite, and the judge) are
 * byte-identical to an earlier step's,
 * booted with the same options, would run the very same guest suite. Everything that could make
 * the runs differ is in the key, so reuse never crosses configs, variants, tests, profiles or
 * kharness versions. The tree's test_zswap is kept beside the key (step.ts): when only it
 * differs, only selftest-zswap runs again.
 */
export interface GuestKeyParts {
  kharness: string;
  imageSha: string;
  configSha: string;
  guestSourcesSha: string;
  config: string;
  tests: readonly string[];
  variants: readonly string[];
  profile: string;
  trace: boolean;
  runs: number;
  budgetS?: number;
  accel?: string;
  /** --keep-traces: a run that keeps every trace never takes one whose passing traces were dropped */
  keepTraces?: boolean;
  /** the environment overrides that change what the guest run does (guestEnvironment) */
  environment?: string;
}

/** The key itself: a hash of every part, in a fixed order. Pure. */
export function guestKey(p: GuestKeyParts): string {
  const ordered = [p.kharness, p.imageSha, p.configSha, p.guestSourcesSha, p.config, p.tests.join(','), p.variants.join(','), p.profile, String(p.trace), String(p.runs), String(p.budgetS ?? ''), p.accel ?? '', String(p.keepTraces ?? false), p.environment ?? ''];
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}

export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The variables that swap the VM launcher or inject a guest fault: a run under them is another run. */
const GUEST_ENVIRONMENT = ['KHARNESS_VNG', 'KHARNESS_TEST_FAULT'] as const;

export function guestEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return GUEST_ENVIRONMENT.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`).join('\n');
}

let sourcesSha: Promise<string> | undefined;

/**
 * This kharness, by content: every file under src/ (what runs in the guest, suite.sh and the
 * workload's source, and the host code that judges it), so results are never reused across
 * versions of either, whatever package.json says. Computed once per process.
 */
export function guestSourcesSha(): Promise<string> {
  sourcesSha ??= (async () => {
    const root = path.join(projectRoot, 'src');
    const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
    const h = createHash('sha256');
    for (const f of files) h.update(path.relative(root, f)).update('\0').update(await fileSha256(f));
    return h.digest('hex');
  })();
  return sourcesSha;
}

/** The stages a reused step takes from the earlier one. */
export const REUSED_STAGES: readonly StageName[] = ['boot', 'test', 'model'];

/** Why a step carries another's guest results, as every report shows it. */
export function reusedNote(label: string): string {
  return `same kernel as ${label === 'base' ? 'the base' : label}: results reused`;
}

/**
 * The step's guest stages, tests and findings taken from the earlier step, each stage saying so.
 * Pure: the earlier report is not changed.
 */
export function carryGuestResults(r: PatchReport, from: PatchReport): PatchReport {
  const note = reusedNote(from.label);
  const stages = { ...r.stages };
  for (const s of REUSED_STAGES) stages[s] = { ...from.stages[s], summary: `${note}; ${from.stages[s].summary}`, durationMs: 0 };
  return {
    ...r,
    stages,
    reusedFrom: from.label,
    tests: from.tests.map((t) => ({ ...t, preExisting: [], reusedFrom: t.reusedFrom ?? from.label })),
    ...(from.kernelFindings ? { kernelFindings: from.kernelFindings } : {}),
    ...(from.suiteCoverage ? { suiteCoverage: from.suiteCoverage } : {}),
    ...(from.boot ? { boot: from.boot } : {}),
  };
}

/** A step that ran only TESTS again on an earlier step's kernel: its guest stages say so. */
export function markRerun(r: PatchReport, label: string, tests: readonly string[]): string {
  const note = `${reusedNote(label)} but for ${tests.join(', ')}, run again (test_zswap changed)`;
  r.reusedFrom = label;
  const rerun = (name: string): boolean => tests.some((t) => name === t || name.startsWith(`${t}@`));
  r.tests = r.tests.map((t) => (rerun(t.name) ? t : { ...t, reusedFrom: t.reusedFrom ?? label }));
  for (const s of ['test', 'model'] as const) r.stages[s] = { ...r.stages[s], summary: `${note}; ${r.stages[s].summary}` };
  return note;
}

/** Whose results a step may carry: a step our side broke (error) is run again, never reused. */
export function reusable(p: PatchReport): boolean {
  return REUSED_STAGES.every((s) => p.stages[s].verdict !== 'error') && p.stages.boot.verdict !== 'skipped';
}
