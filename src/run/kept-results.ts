import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { uniqueTmpPath } from '../common/atomic.js';
import { cacheDir } from '../common/paths.js';
import type { SuiteResult } from '../guest/index.js';
import type { PatchReport } from '../report/types.js';

/**
 * Guest results kept between runs by their guest key (reuse.ts: the kernel image, .config, guest
 * code and every option that shapes the run), with their guest folders and the date: the base's,
 * and every patch's that passed. A later run of any series that boots a byte-identical kernel with
 * the same config, variants, tests, profile and kharness takes them and says so: a repeat run, a
 * v2 whose first patches did not change, a base shared by many series. A patch's failure is never
 * kept (it is always seen afresh, as Bazel reruns a failed test); a run that was flaky or broke on
 * our side is never kept; `--retest-base` and `--retest-kept` run again what was kept.
 */
export interface KeptRun {
  savedAt: string;
  report: PatchReport;
  suite: SuiteResult;
  selftestSha: string;
  /** the guest folders, relative to the report folder they were made in */
  runDirs: string[];
  /** the step's own guest folder among them (`patch-1`): the others are it with a suffix */
  guestDir: string;
  /** that report folder: every path in report and suite under it is rewritten on load */
  reportDir: string;
}

const FILE = 'kept.json';
/** Entries beyond this many, oldest first, are dropped when one is added (each holds a step's guest files). */
const MAX_KEPT = 200;

function keptRoot(): string {
  return path.join(cacheDir(), 'kept-results');
}

export function keptDir(key: string): string {
  return path.join(keptRoot(), key);
}

/**
 * Whether a step's run may be kept: every stage ran, none broke on our side, and nothing was
 * flaky; for a patch, moreover, everything passed. The base's failures are kept: they are the
 * background every patch is compared against, not a finding.
 */
export function keepable(p: PatchReport, isBase: boolean): boolean {
  const stages = Object.values(p.stages);
  const ran = stages.every((s) => s.verdict === 'pass' || s.verdict === 'fail') && p.tests.every((t) => t.verdict !== 'flaky' && t.verdict !== 'error');
  return ran && (isBase || (stages.every((s) => s.verdict === 'pass') && p.tests.every((t) => t.verdict === 'pass')));
}

/**
 * Written whole in a folder of its own, then swapped in by rename: a run reading the entry while
 * another keeps a newer one sees the old one or the new one, never half of either.
 */
export async function saveKept(key: string, entry: Omit<KeptRun, 'savedAt'>): Promise<void> {
  const dir = keptDir(key);
  const tmp = uniqueTmpPath(dir);
  try {
    await mkdir(path.join(tmp, 'files'), { recursive: true });
    for (const rel of entry.runDirs) await cp(path.join(entry.reportDir, rel), path.join(tmp, 'files', rel), { recursive: true });
    await writeFile(path.join(tmp, FILE), JSON.stringify({ ...entry, savedAt: new Date().toISOString() }));
    const old = uniqueTmpPath(dir);
    await rename(dir, old).catch(() => undefined);
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await pruneKept(MAX_KEPT);
}

/** Drops the oldest entries beyond MAX; one another run is reading stays readable (its files are copied first). */
export async function pruneKept(max: number): Promise<void> {
  const root = keptRoot();
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
  if (names.length <= max) return;
  const dated = await Promise.all(names.map(async (n) => ({ n, t: await stat(path.join(root, n, FILE)).then((s) => s.mtimeMs, () => 0) })));
  dated.sort((a, b) => a.t - b.t);
  for (const { n } of dated.slice(0, dated.length - max)) await rm(path.join(root, n), { recursive: true, force: true });
}

/** A kept folder name moved from its own step's folder (FROM) to this step's (TO): `patch-1-nomemcg` to `patch-3-nomemcg`. */
export function movedRunDir(rel: string, from: string, to: string): string {
  return rel === from || rel.startsWith(`${from}-`) || rel.startsWith(`${from}/`) ? `${to}${rel.slice(from.length)}` : rel;
}

/** Every string of VALUE that is a path into the kept folders, as it is in this run's report folder. */
function rewritePaths<T>(value: T, fix: (s: string) => string): T {
  if (typeof value === 'string') return fix(value) as T;
  if (Array.isArray(value)) return value.map((v) => rewritePaths(v, fix)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewritePaths(v, fix)])) as T;
  return value;
}

/**
 * The run kept for KEY, its guest folders copied into REPORT_DIR as the folders of this run's
 * step GUEST_DIR, and every path (absolute, or relative to the report folder) rewritten to
 * there; undefined when there is none, it is damaged, or ACCEPT refuses its report (the step then
 * simply runs, and nothing was copied).
 */
export async function loadKept(key: string, reportDir: string, guestDir: string, accept: (report: PatchReport) => boolean = () => true): Promise<KeptRun | undefined> {
  const dir = keptDir(key);
  try {
    const entry = JSON.parse(await readFile(path.join(dir, FILE), 'utf8')) as KeptRun;
    if (!entry.report?.stages || !accept(entry.report) || !Array.isArray(entry.suite?.tests) || !Array.isArray(entry.runDirs) || typeof entry.reportDir !== 'string' || typeof entry.guestDir !== 'string') return undefined;
    if (!entry.runDirs.every((r) => typeof r === 'string' && !path.isAbsolute(r) && !r.split(/[\\/]/).includes('..') && existsSync(path.join(dir, 'files', r)))) return undefined;
    const moved = (rel: string): string => movedRunDir(rel, entry.guestDir, guestDir);
    for (const rel of entry.runDirs) {
      await rm(path.join(reportDir, moved(rel)), { recursive: true, force: true });
      await cp(path.join(dir, 'files', rel), path.join(reportDir, moved(rel)), { recursive: true });
    }
    const under = (rel: string): boolean => entry.runDirs.some((r) => rel === r || rel.startsWith(`${r}/`));
    const fix = (s: string): string => {
      if (s.startsWith(`${entry.reportDir}/`)) {
        const rel = s.slice(entry.reportDir.length + 1);
        return path.join(reportDir, under(rel) ? moved(rel) : rel);
      }
      return under(s) ? moved(s) : s;
    };
    return { ...rewritePaths(entry, fix), reportDir, guestDir };
  } catch {
    return undefined;
  }
}
