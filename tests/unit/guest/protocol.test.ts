import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  HungSchema,
  MAX_BYTES,
  ProbeSchema,
  SampleSchema,
  SuiteStatusSchema,
  TestResultSchema,
  TraceLostSchema,
  parseRecords,
  readSuiteArtifacts,
  resultFor,
  setupErrorOf,
  unclaimedErrors,
} from '../../../src/guest/protocol.js';

const rec = (test: string, over: Record<string, unknown> = {}): string =>
  JSON.stringify({ test, status: 'pass', duration_ms: 1200, counters_before: { zswpout: 1 }, counters_after: { zswpout: 9 }, rc: 0, ...over });

describe('guest protocol schemas', () => {
  const cases = [
    ['results.jsonl', TestResultSchema, rec('writeback'), '{"test":"writeback","status":"pass","duration_ms":"soon","counters_before":{},"counters_after":{}}', /^duration_ms: Expected number, received string$/],
    ['status.json', SuiteStatusSchema, '{"state":"error","error":"no-swap-device","detail":"wanted: /dev/vda"}', '{"state":"finished"}', /^state: Invalid discriminator value/],
    ['probes.jsonl', ProbeSchema, '{"probe":"p:kharness/store zswap_store","placed":false,"error":"Invalid argument"}', '{"probe":"p:kharness/store zswap_store","placed":"ok"}', /^placed: Expected boolean/],
    ['hung.jsonl', HungSchema, '{"test":"swap-cycle","workload":"swap-cycle-reject","timeout_s":300}', '{"test":"swap-cycle","workload":"../../etc","timeout_s":300}', /^workload: Invalid/],
    ['writeback.samples', SampleSchema, '{"t_ms":1000,"counters":{"zswpout":5}}', '{"t_ms":1000,"counters":{"zswpout":-5}}', /^counters\.zswpout: Number must be greater than or equal to 0/],
    ['writeback.trace-lost.json', TraceLostSchema, '{"overrun":0,"dropped":2,"unread":0}', '{"overrun":0,"dropped":2}', /^unread: Required/],
  ] as const;

  for (const [file, schema, valid, invalid, message] of cases) {
    it(`${file}: keeps a valid record and names the line of an invalid one`, () => {
      const r = parseRecords(`${valid}\n${invalid}\n{broken\n`, schema as z.ZodType<unknown>, file);
      expect(r.records).toHaveLength(1);
      expect(r.records[0]!.line).toBe(1);
      expect(r.errors.map((e) => [e.file, e.line])).toEqual([
        [file, 2],
        [file, 3],
      ]);
      expect(r.errors[0]!.message).toMatch(message);
      expect(r.errors[1]!.message).toMatch(/^not JSON/);
    });
  }

  it('rejects a result record with a field the protocol does not have (a typo is not ignored)', () => {
    const r = parseRecords(rec('writeback', { hugn: true }), TestResultSchema, 'results.jsonl');
    expect(r.records).toEqual([]);
    expect(r.errors[0]!.message).toMatch(/Unrecognized key.*hugn/);
  });

  it('requires the counters and the duration: nothing defaults to 0', () => {
    const r = parseRecords('{"test":"writeback","status":"pass"}', TestResultSchema, 'results.jsonl');
    expect(r.errors[0]!.message).toBe('duration_ms: Required; counters_before: Required; counters_after: Required');
  });
});

describe('readSuiteArtifacts', () => {
  let dir: string;
  let outside: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kh-proto-'));
    outside = await mkdtemp(path.join(tmpdir(), 'kh-outside-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('reads every suite file and attributes a malformed line to the test it names', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('swap-cycle')}\n${rec('writeback', { status: 'passed' })}\n{"test":"swapoff-race","status":\n`);
    await writeFile(path.join(dir, 'status.json'), '{"state":"done"}\n');
    await writeFile(path.join(dir, 'probes.jsonl'), '{"probe":"p:kharness/store zswap_store swp=+40(%di):x64","placed":true}\n{"probe":"p:kharness/wb zswap_writeback_entry","placed":false,"error":"No such file"}\n');
    const a = await readSuiteArtifacts(dir);
    expect(a.status).toEqual({ state: 'done' });
    expect(a.probes).toEqual({ placed: ['p:kharness/store zswap_store swp=+40(%di):x64'], failed: [{ fn: 'zswap_writeback_entry', reason: 'tracefs refused the probe: No such file' }] });
    expect(resultFor(a, 'swap-cycle')).toMatchObject({ record: { test: 'swap-cycle' }, errors: [] });
    const wb = resultFor(a, 'writeback');
    expect(wb.record).toBeUndefined();
    expect(wb.errors).toEqual([expect.stringMatching(/^results\.jsonl line 2: status: Invalid enum value/)]);
    expect(resultFor(a, 'swapoff-race').errors).toEqual([expect.stringMatching(/^results\.jsonl line 3: not JSON/)]);
    expect(unclaimedErrors(a, ['swap-cycle', 'writeback', 'swapoff-race'])).toEqual([]);
  });

  it('keeps garbage no test claims for the run (the fault hook malformed-results, when every test has a record)', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('swap-cycle')}\n{"status":\n[1,2]\n`);
    const a = await readSuiteArtifacts(dir);
    expect(resultFor(a, 'swap-cycle').errors).toEqual([]);
    expect(unclaimedErrors(a, ['swap-cycle'])).toEqual([expect.stringMatching(/^results\.jsonl line 2: not JSON/), expect.stringMatching(/^results\.jsonl line 3: record: Expected object, received array/)]);
  });

  it('flags two records for one test', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('writeback')}\n${rec('writeback', { status: 'fail' })}\n`);
    expect(resultFor(await readSuiteArtifacts(dir), 'writeback').errors).toEqual(['results.jsonl lines 1, 2: 2 records for writeback']);
  });

  it('does not follow a results.jsonl symlink to a file outside the run dir', async () => {
    const secret = path.join(outside, 'shadow');
    await writeFile(secret, `${rec('writeback')}\nroot:SECRET:19000::::::\n`);
    await symlink(secret, path.join(dir, 'results.jsonl'));
    const a = await readSuiteArtifacts(dir);
    expect(a.results).toEqual([]);
    const r = resultFor(a, 'writeback');
    expect(r.errors).toEqual(['results.jsonl: results.jsonl is a symbolic link (not followed)']);
    expect(JSON.stringify(a)).not.toContain('SECRET');
  });

  it('refuses an oversized results file and one that is not a regular file', async () => {
    await writeFile(path.join(dir, 'results.jsonl'), `${rec('writeback')}\n${' '.repeat(MAX_BYTES.results)}\n`);
    expect(resultFor(await readSuiteArtifacts(dir), 'writeback').errors).toEqual([expect.stringMatching(/^results\.jsonl: is \d+ bytes, over the 1048576-byte limit: not read$/)]);
    await rm(path.join(dir, 'results.jsonl'));
    await mkdir(path.join(dir, 'results.jsonl'));
    expect(resultFor(await readSuiteArtifacts(dir), 'writeback').errors).toEqual(['results.jsonl: results.jsonl is not a regular file']);
  });

  it('turns a malformed status.json into a setup error, and a missing one into no status', async () => {
    expect((await readSuiteArtifacts(dir)).status).toBeUndefined();
    expect(setupErrorOf(await readSuiteArtifacts(dir))).toBeUndefined();
    await writeFile(path.join(dir, 'status.json'), 'done\n');
    expect(setupErrorOf(await readSuiteArtifacts(dir))).toMatch(/^status\.json line 1: not JSON/);
    await writeFile(path.join(dir, 'status.json'), '{"state":"error","error":"no-zswap","detail":"/sys/module/zswap/parameters missing"}\n');
    expect(setupErrorOf(await readSuiteArtifacts(dir))).toBe('no-zswap: /sys/module/zswap/parameters missing');
  });
});
