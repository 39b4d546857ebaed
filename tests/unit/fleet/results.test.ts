import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigJobResultSchema, type ConfigJobResult } from '../../../src/fleet/jobs.js';
import { mergeConfigReports, writeSeriesResult } from '../../../src/fleet/results.js';
import { RunReportSchema } from '../../../src/report/index.js';
import { sampleReport } from './stub.js';

function configResult(config: string, passing: boolean, resultsDir?: string): ConfigJobResult {
  const report = sampleReport() as { verdict: string; patches: { verdict: string }[]; environment: { config: { name: string } } };
  report.environment.config.name = config;
  if (passing) for (const p of report.patches) p.verdict = 'pass';
  return ConfigJobResultSchema.parse({ config, exitCode: passing ? 0 : 1, report, resultsDir });
}

describe('a queued series\' result', () => {
  it('one config: the worker\'s report as it is', () => {
    const one = configResult('zswap', false);
    expect(mergeConfigReports([one])).toEqual(one.report);
  });

  it('several configs: each config\'s rows in turn, tagged, with one verdict over all, as a local run writes it', () => {
    const merged = mergeConfigReports([configResult('zswap', true), configResult('zswap-debug', false)], ['zswap', 'zswap-debug']);
    expect(RunReportSchema.safeParse(merged).success).toBe(true);
    expect(merged.environment.configs?.map((c) => c.name)).toEqual(['zswap', 'zswap-debug']);
    const n = merged.patches.length / 2;
    expect(merged.patches.map((p) => p.config)).toEqual([...Array(n).fill('zswap'), ...Array(n).fill('zswap-debug')]);
    expect(merged.verdict).toBe('fail');
    expect(merged.exitCode).toBe(1);
    const logs = merged.patches.flatMap((p) => Object.values(p.stages.build.logs));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.every((l) => l.startsWith('zswap/') || l.startsWith('zswap-debug/'))).toBe(true);
  });

  it('writes every report format and copies each config\'s artifacts from the shared folder', async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-results-'));
    try {
      for (const id of ['cfg-a', 'cfg-b']) {
        await mkdir(path.join(scratch, 'shared', id, 'logs'), { recursive: true });
        await writeFile(path.join(scratch, 'shared', id, 'logs', 'build-1.log'), id);
      }
      const out = path.join(scratch, 'out');
      const report = await writeSeriesResult({ configs: [configResult('zswap', true, 'cfg-a'), configResult('zswap-debug', true, 'cfg-b')] }, out, path.join(scratch, 'shared'));
      expect(report.verdict).toBe('pass');
      expect(await readFile(path.join(out, 'zswap-debug', 'logs', 'build-1.log'), 'utf8')).toBe('cfg-b');
      for (const f of ['report.json', 'report.md', 'index.html', 'junit.xml', 'kcidb.json', 'reply.txt', 'checks.json']) expect(existsSync(path.join(out, f)), f).toBe(true);
      await expect(writeSeriesResult({ configs: [configResult('zswap', true, 'cfg-missing')] }, out, path.join(scratch, 'shared'))).rejects.toThrow(/not in .*cfg-missing/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
