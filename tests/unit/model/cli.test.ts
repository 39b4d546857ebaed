import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerModelCommands } from '../../../src/model/cli.js';
import { parseTrace } from '../../../src/model/trace-file.js';
import { InputError } from '../../../src/common/errors.js';
import { trace } from './trace-builder.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kharness-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('kharness').exitOverride();
  registerModelCommands(program);
  await program.parseAsync(['node', 'kharness', ...args]);
  vi.restoreAllMocks();
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}

function traceFile(name: string, lines: unknown[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

describe('kharness model replay', () => {
  it('exits 0 and prints the lifetime paths for a legal trace', async () => {
    const file = traceFile('ok.jsonl', trace().swapon(0, 5).store(1, 10, 20).load(1, 30, 40, { frees: ['a'] }).calls);
    const r = await run('model', 'replay', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/no violation/);
    expect(r.out).toMatch(/writeback to disk \(ret 0\)\s+0 {2}\(never ran\)/);
  });

  it('exits 1 on a violation, and --json carries the rule and the event window', async () => {
    const file = traceFile('bad.jsonl', trace().swapon(0, 5).store(1, 10, 20).swapoff(30, 40).calls);
    const r = await run('model', 'replay', file, '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out);
    expect(json.violations[0].rule).toBe('swapoff-with-live-entries');
    expect(json.violations[0].events.map((e: { seq: number }) => e.seq)).toEqual([0, 1, 2]);
    expect(json.stats.swapoff).toBe(1);
  });

  it('exits 2 on unreadable or malformed input', async () => {
    expect((await run('model', 'replay', path.join(dir, 'missing.jsonl'))).code).toBe(2);
    const bad = path.join(dir, 'bad-line.jsonl');
    writeFileSync(bad, '{"kind":"store","seq":0}\n');
    const r = await run('model', 'replay', bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad-line\.jsonl:1: not a trace call/);
  });
});

describe('kharness model check / list', () => {
  it('exits 1 with the counterexample for v6.7', async () => {
    const r = await run('model', 'check', '--design', 'v6.7');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/use-after-free after 9 steps/);
  });

  it('exits 0 for v6.12 within small bounds', async () => {
    const r = await run('model', 'check', '--design', 'v6.12', '--threads', '1', '--slots', '2', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ violation: null, complete: true, bounds: { threads: 1, slots: 2 } });
  });

  it('exits 2 for an unknown design or a search cut short', async () => {
    const unknown = await run('model', 'check', '--design', 'v1.0');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/known designs: v6\.1, v6\.7, seed-proposal, v6\.12, v6\.12-no-cmpxchg/);
    expect((await run('model', 'check', '--design', 'v6.12', '--max-states', '10')).code).toBe(2);
  });

  it('lists the designs', async () => {
    const r = await run('model', 'list');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean)).toHaveLength(5);
  });
});

describe('parseTrace', () => {
  it('skips blank lines and comments, and keeps markers', () => {
    const calls = parseTrace('# captured by the guest\n\n{"kind":"marker","name":"swapoff-begin","type":0,"seq":0,"cpu":0,"pid":1,"start":5}\n');
    expect(calls).toEqual([{ kind: 'marker', name: 'swapoff-begin', type: 0, seq: 0, cpu: 0, pid: 1, start: 5 }]);
  });

  it('names the line of bad JSON', () => {
    expect(() => parseTrace('{"kind":"swapoff","type":0,"seq":0,"cpu":0,"pid":1,"start":1}\n{oops', 't.jsonl')).toThrow(new InputError('t.jsonl:2: not JSON: ' + jsonError('{oops')));
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}
