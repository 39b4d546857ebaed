import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfraError, InputError } from '../../../src/common/errors.js';
import { FORMATS, REPORT_FILES, RunReportSchema, readReport, rebaseReport, writeReports } from '../../../src/report/index.js';
import { FIXTURES, clone, fixture, tempDir } from './helpers.js';

describe('RunReportSchema', () => {
  it('accepts both fixtures as written', async () => {
    for (const name of ['regression', 'interrupted']) {
      const raw = JSON.parse(await readFile(path.join(FIXTURES, `${name}.json`), 'utf8'));
      const parsed = RunReportSchema.safeParse(raw);
      expect(parsed.success, name).toBe(true);
      // Nothing in a fixture is unknown to the schema (zod would silently drop it).
      expect(parsed.data).toEqual(raw);
    }
  });

  it('rejects a broken report with the path of what is wrong', () => {
    const cases: [string, (r: Record<string, any>) => void, string][] = [
      ['missing field', (r) => delete r.series.replyTo, 'series.replyTo'],
      ['unknown verdict', (r) => (r.patches[2].stages.test.verdict = 'broken'), 'patches.2.stages.test.verdict'],
      ['unknown stage missing', (r) => delete r.patches[1].stages.model, 'patches.1.stages.model'],
      ['wrong type', (r) => (r.patches[2].tests[0].badPagesTotal = '17'), 'patches.2.tests.0.badPagesTotal'],
      ['patches out of order', (r) => ([r.patches[1], r.patches[2]] = [r.patches[2], r.patches[1]]), 'patches.1.index'],
      ['first bad patch not in the report', (r) => (r.firstBadPatch = 9), 'firstBadPatch'],
      ['bad status', (r) => (r.status = 'done'), 'status'],
      ['bad patch hash', (r) => (r.patches[1].patchSha256 = 'xyz'), 'patches.1.patchSha256'],
    ];
    for (const [what, breakIt, where] of cases) {
      const r = clone(fixture('regression')) as unknown as Record<string, any>;
      breakIt(r);
      const parsed = RunReportSchema.safeParse(r);
      expect(parsed.success, what).toBe(false);
      expect(parsed.error?.issues.map((i) => i.path.join('.')), what).toContain(where);
    }
  });
});

describe('readReport', () => {
  it('reads a report folder or the file itself', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, 'report.json'), await readFile(path.join(FIXTURES, 'interrupted.json')));
      expect((await readReport(dir)).status).toBe('interrupted');
      expect((await readReport(path.join(dir, 'report.json'))).runId).toBe('20250116T140000Z-mm-zswap-replace-the-tree-refcount');
    } finally {
      await cleanup();
    }
  });

  it('throws InputError on a missing, unparsable, invalid or newer report.json', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await expect(readReport(path.join(dir, 'nope'))).rejects.toThrow(InputError);
      await expect(readReport(dir)).rejects.toThrow(/holds no report\.json/);
      await writeFile(path.join(dir, 'report.json'), '{"schemaVersion": 1,');
      await expect(readReport(dir)).rejects.toThrow(/not valid JSON/);
      const broken = clone(fixture('regression')) as unknown as Record<string, any>;
      broken.patches[0].stages.build.verdict = 'green';
      await writeFile(path.join(dir, 'report.json'), JSON.stringify(broken));
      const err = await readReport(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(String((err as Error).message)).toMatch(/not a kharness report \(patches\.0\.stages\.build\.verdict: /);
      await writeFile(path.join(dir, 'report.json'), JSON.stringify({ ...fixture('regression'), schemaVersion: 2 }));
      await expect(readReport(dir)).rejects.toThrow(/schemaVersion 2; this kharness reads schemaVersion 1/);
    } finally {
      await cleanup();
    }
  });
});

describe('writeReports', () => {
  it('writes every format atomically and returns format → relative path', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const report = fixture('regression');
      const files = await writeReports(path.join(dir, 'out'), report);
      expect(files).toEqual({ json: 'report.json', md: 'report.md', html: 'index.html', junit: 'junit.xml', kcidb: 'kcidb.json', reply: 'reply.txt', checks: 'checks.json' });
      expect((await readdir(path.join(dir, 'out'))).sort()).toEqual(['checks.json', 'index.html', 'junit.xml', 'kcidb.json', 'reply.txt', 'report.json', 'report.md']);
      // report.json round-trips through the schema and lists the files, the report's own kept.
      const back = await readReport(path.join(dir, 'out'));
      expect(back.files).toEqual({ 'console-p2': 'logs/p2/console.log', ...files });
      expect({ ...back, files: report.files }).toEqual(report);
      const text = await readFile(path.join(dir, 'out', 'report.json'), 'utf8');
      expect(text).toMatch(/^\{\n {2}"schemaVersion": 1,/);
      // Rewriting over existing files leaves no temporary file behind.
      await writeReports(path.join(dir, 'out'), back);
      expect((await readdir(path.join(dir, 'out'))).filter((f) => f.includes('.tmp-'))).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('writes only the formats asked for', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const files = await writeReports(dir, fixture('interrupted'), { formats: ['reply', 'junit'] });
      expect(files).toEqual({ reply: 'reply.txt', junit: 'junit.xml' });
      expect((await readdir(dir)).sort()).toEqual(['junit.xml', 'reply.txt']);
    } finally {
      await cleanup();
    }
  });

  it('refuses an invalid report (our bug, not the user input) and writes nothing', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const broken = clone(fixture('regression')) as unknown as Record<string, any>;
      broken.patches[3].tests[1].verdict = 'ok';
      await expect(writeReports(path.join(dir, 'x'), broken as never)).rejects.toThrow(InfraError);
      expect(existsSync(path.join(dir, 'x'))).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('fails as an infrastructure error when the folder cannot be written, leaving no temp files', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, 'file'), 'not a folder');
      await expect(writeReports(path.join(dir, 'file'), fixture('interrupted'))).rejects.toThrow(/cannot write the report to/);
      expect(await readdir(dir)).toEqual(['file']);
    } finally {
      await cleanup();
    }
  });

  it('names one file per format', () => {
    expect(Object.keys(REPORT_FILES).sort()).toEqual([...FORMATS].sort());
  });
});

describe('rebaseReport', () => {
  it('moves log paths so they point at the original folder from another one', () => {
    const r = rebaseReport(fixture('regression'), '/runs/a', '/runs/b/out');
    expect(r.patches[2]!.stages.test.logs.results).toBe('../../a/logs/p2/results.jsonl');
    expect(r.patches[2]!.boot!.consoleLog).toBe('../../a/logs/p2/console.log');
    expect(r.files['console-p2']).toBe('../../a/logs/p2/console.log');
    expect(rebaseReport(fixture('regression'), '/runs/a', '/runs/a')).toEqual(fixture('regression'));
  });
});
