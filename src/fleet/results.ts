import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InfraError } from '../common/errors.js';
import { rebaseReport, writeReports } from '../report/index.js';
import type { RunReport } from '../report/types.js';
import { runOutcome } from '../run/outcome.js';
import type { ConfigJobResult, SeriesJobResult } from './jobs.js';

const STATUS_ORDER: RunReport['status'][] = ['bad-input', 'crashed', 'interrupted', 'running', 'complete'];

/**
 * One report from a series' config jobs, as a local run with the same configs writes it: each
 * config's rows in turn, tagged with the config when there are several, one verdict over all.
 * `subdirs` names each config's artifact folder inside the report folder (several configs).
 */
export function mergeConfigReports(results: readonly ConfigJobResult[], subdirs: readonly string[] = []): RunReport {
  const first = results[0]!.report;
  if (results.length === 1) return first;
  const reports = results.map((r, i) => (subdirs[i] ? rebaseReport(r.report, subdirs[i]!, '.') : r.report));
  const patches = reports.flatMap((r, i) => r.patches.map((p) => ({ ...p, config: results[i]!.config })));
  const status = STATUS_ORDER.find((s) => reports.some((r) => r.status === s)) ?? 'complete';
  const reason = reports.find((r) => r.status === status)?.statusReason;
  const outcome = runOutcome(patches, status, first.series.patches.length, reason);
  return {
    ...first,
    startedAt: reports.map((r) => r.startedAt).sort()[0]!,
    finishedAt: reports.map((r) => r.finishedAt).sort().at(-1)!,
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    status,
    statusReason: reason,
    exitCode: outcome.exitCode,
    verdict: outcome.verdict,
    summary: outcome.summary,
    firstBadPatch: outcome.firstBadPatch,
    environment: { ...first.environment, configs: reports.map((r) => r.environment.config) },
    patches,
    files: {},
  };
}

/**
 * Writes a queued series' reports into `reportDir` as a local run would: the artifacts (logs,
 * console, merged .config) copied from the workers' shared `--results` folder when given (one
 * subfolder per config when there are several), then every report format from the report(s).
 */
export async function writeSeriesResult(result: SeriesJobResult, reportDir: string, resultsRoot?: string): Promise<RunReport> {
  await mkdir(reportDir, { recursive: true });
  const several = result.configs.length > 1;
  const subdirs = result.configs.map((c) => (several ? c.config : ''));
  for (const [i, c] of result.configs.entries()) {
    if (!resultsRoot || !c.resultsDir) continue;
    const from = path.join(path.resolve(resultsRoot), c.resultsDir);
    if (!existsSync(from)) throw new InfraError(`the worker's artifacts are not in ${from}`, '--results must name the same shared folder the workers were given');
    await cp(from, path.join(reportDir, subdirs[i]!), { recursive: true });
  }
  const report = mergeConfigReports(result.configs, subdirs);
  await writeReports(reportDir, report);
  return report;
}
