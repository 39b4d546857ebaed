import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KcidbSchema, readReport } from '../../../src/report/index.js';
import { FIXTURES, cli, countTags, fixture, tempDir } from './helpers.js';

afterEach(() => {
  process.exitCode = undefined;
});

async function reportDir(dir: string, name: 'regression' | 'interrupted'): Promise<string> {
  const d = path.join(dir, name);
  await mkdir(d, { recursive: true });
  await copyFile(path.join(FIXTURES, `${name}.json`), path.join(d, 'report.json'));
  return d;
}

describe('kharness report', () => {
  it('prints report.md by default, and each format with --format, from a folder or the file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const d = await reportDir(dir, 'regression');
      const report = fixture('regression');
      // Each format is recognised by what only it says about this report (2/4 fails at test and
      // model with a KASAN double-free), not by comparing the command with the renderer it calls.
      const md = await cli(['report', d]);
      expect(md.code).toBe(0);
      expect(md.stderr).toBe('');
      expect(md.stdout.startsWith('# kharness: v2 mm: zswap: fix the swapoff race with writeback\n')).toBe(true);
      expect(md.stdout).toContain('**Verdict: FAIL**: patch 2/4 fails: KASAN double-free in zswap\\_entry\\_free');
      expect(md.stdout).toContain('First bad patch: **2/4** mm: zswap: let writeback free the entry it took from the tree');
      expect(md.stdout).toContain('#### Model violation `double-free` in swap-cycle (slot 0:1187, entry 0xffff888104a3c1e0)');
      const html = await cli(['report', path.join(d, 'report.json'), '--format', 'html']);
      expect(html.code).toBe(0);
      expect(html.stdout.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
      expect(html.stdout).toContain('<h3 id="p2-test">test <span class="badge v-fail">FAIL</span></h3>');
      expect(html.stdout).not.toContain('# kharness:');
      const junit = await cli(['report', d, '-f', 'junit']);
      expect(junit.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')).toBe(true);
      expect(junit.stdout).toMatch(/<testsuites [^>]* tests="40" failures="3" errors="0" skipped="0"/);
      expect(countTags(junit.stdout, 'failure')).toBe(3);
      const reply = await cli(['report', d, '--format', 'reply']);
      expect(reply.stdout.split('\n').slice(0, 3)).toEqual([
        'Subject: Re: [PATCH v2 0/4] mm: zswap: fix the swapoff race with writeback',
        'In-Reply-To: <20250114101500.4711-1-jane.doe@example.org>',
        'References: <20250114101500.4711-1-jane.doe@example.org>',
      ]);
      expect(reply.stdout).toContain('  2/4   FAIL: test, model  mm: zswap: let writeback free the entry it\n');
      const json = await cli(['report', d, '--format', 'json']);
      expect(JSON.parse(json.stdout)).toEqual(report);
      const kcidb = await cli(['report', d, '--format', 'kcidb', '--url', 'https://ci.example.org/r/']);
      const parsed = KcidbSchema.parse(JSON.parse(kcidb.stdout));
      expect(parsed.builds![2]!.log_url).toBe('https://ci.example.org/r/logs/p2/build.log');
    } finally {
      await cleanup();
    }
  });

  it('writes every format into --out, keeping log links pointing at the original folder', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const d = await reportDir(dir, 'regression');
      const out = path.join(dir, 'rendered', 'again');
      const r = await cli(['report', d, '--out', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`wrote report.json, report.md, index.html, junit.xml, kcidb.json, reply.txt, checks.json to ${out}\n`);
      expect((await readdir(out)).sort()).toEqual(['checks.json', 'index.html', 'junit.xml', 'kcidb.json', 'reply.txt', 'report.json', 'report.md']);
      const md = await readFile(path.join(out, 'report.md'), 'utf8');
      expect(md).toContain('[test results](../../regression/logs/p2/results.jsonl)');
      const again = await readReport(out);
      expect(again.patches[2]!.stages.test.logs.results).toBe('../../regression/logs/p2/results.jsonl');
      expect(again.files.html).toBe('index.html');
      // In place: paths stay as they were.
      expect((await cli(['report', d, '--out', d, '--quiet'])).stderr).toBe('');
      expect((await readReport(d)).patches[2]!.stages.test.logs.results).toBe('logs/p2/results.jsonl');
    } finally {
      await cleanup();
    }
  });

  it('writes only the chosen format with --out and --format', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const d = await reportDir(dir, 'interrupted');
      const out = path.join(dir, 'only-reply');
      expect((await cli(['report', d, '--out', out, '--format', 'reply'])).code).toBe(0);
      expect(await readdir(out)).toEqual(['reply.txt']);
    } finally {
      await cleanup();
    }
  });

  it('exits 2 on a missing or invalid report and on an unknown format', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const missing = await cli(['report', path.join(dir, 'nothing')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`kharness: ${path.join(dir, 'nothing')} does not exist`);
      const empty = await cli(['report', dir]);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain('holds no report.json');
      await writeFile(path.join(dir, 'report.json'), JSON.stringify({ schemaVersion: 1, runId: 'x' }));
      const invalid = await cli(['report', dir]);
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).toMatch(/is not a kharness report \(tool: Required/);
      expect(invalid.stdout).toBe('');
      const d = await reportDir(dir, 'regression');
      const format = await cli(['report', d, '--format', 'pdf']);
      expect(format.code).toBe(2);
      expect(format.stderr).toContain("argument 'pdf' is invalid. Allowed choices are json, md, html, junit, kcidb, reply, checks.");
    } finally {
      await cleanup();
    }
  });
});
