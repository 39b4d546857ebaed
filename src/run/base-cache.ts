import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { uniqueTmpPath } from '../common/atomic.js';
import { cacheDir } from '../common/paths.js';
import type { SuiteResult } from '../guest/index.js';
import type { PatchReport } from '../report/types.js';

/**
 * The base's guest results, kept between runs by their guest key (reuse.ts: the kernel image,
 * .config, guest code and every option that shapes the run), with their guest folders and the
 * date. A later run of any series on the same base, config, variants, tests, profile and kharness
 * reuses them and says so; `--retest-base` runs the base again; a base whose run was flaky or
 * broke on our side is never kept.
 */
export interface CachedBase {
  savedAt: string;
  report: PatchReport;
  suite: SuiteResult;
  selftestSha: string;
  /** the guest folders, relative to the report folder they were made in */
  runDirs: string[];
  /** that report folder: every path in report and suite under it is rewritten on load */
  reportDir: string;
}

const FILE = 'base.json';

export function baseCacheDir(key: string): string {
  return path.join(cacheDir(), 'base-results', key);
}

/** A run that may be kept: every stage ran, none broke on our side, and nothing was flaky. */
export function keepable(p: PatchReport): boolean {
  const stages = Object.values(p.stages);
  return stages.every((s) => s.verdict === 'pass' || s.verdict === 'fail') && p.tests.every((t) => t.verdict !== 'flaky' && t.verdict !== 'error');
}

/**
 * Written whole in a folder of its own, then swapped in by rename: a run reading the entry while
 * another keeps a newer one sees the old one or the new one, never half of either.
 */
export async function saveBase(key: string, entry: Omit<CachedBase, 'savedAt'>): Promise<void> {
  const dir = baseCacheDir(key);
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
}

/**
 * The kept base for KEY with its guest folders copied into REPORT_DIR and every path rewritten to
 * there; undefined when there is none, or it is damaged (the base then simply runs).
 */
export async function loadBase(key: string, reportDir: string): Promise<CachedBase | undefined> {
  const dir = baseCacheDir(key);
  try {
    const raw = await readFile(path.join(dir, FILE), 'utf8');
    const entry = JSON.parse(raw) as CachedBase;
    if (!entry.report?.stages || !Array.isArray(entry.suite?.tests) || !Array.isArray(entry.runDirs) || typeof entry.reportDir !== 'string' || !entry.runDirs.every((r) => existsSync(path.join(dir, 'files', r)))) return undefined;
    for (const rel of entry.runDirs) {
      if (path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) return undefined;
      await rm(path.join(reportDir, rel), { recursive: true, force: true });
      await cp(path.join(dir, 'files', rel), path.join(reportDir, rel), { recursive: true });
    }
    return JSON.parse(raw.split(JSON.stringify(entry.reportDir).slice(1, -1)).join(JSON.stringify(reportDir).slice(1, -1))) as CachedBase;
  } catch {
    return undefined;
  }
}
