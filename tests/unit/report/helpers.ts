import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { vi } from 'vitest';
import { registerReportCommands } from '../../../src/report/cli.js';
import { RunReportSchema } from '../../../src/report/schema.js';
import type { RunReport } from '../../../src/report/types.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report');

/**
 * The fixtures (tests/fixtures/report/):
 * - regression.json: v2 0/4 with a cover letter; the base fails one selftest case
 *   (test_no_kmem_bypass); 1/4 passes; 2/4 fails at test and model (KASAN double-free, 17 wrong
 *   pages, a double-free model violation); 3/4 passes with only the base's failure; 4/4 is flaky
 *   (swapoff-race pass 2, fail 1). Complete, verdict fail, first bad patch 2.
 * - interrupted.json: v1 1/3..3/3 without a cover letter, from an mbox file, under TCG; 1/3 does not
 *   build (error, new warning, checkpatch error); 2/3 was interrupted while building (error);
 *   3/3 never ran. Status interrupted, exit code 130.
 */
export function fixture(name: 'regression' | 'interrupted'): RunReport {
  return RunReportSchema.parse(JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')));
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** The regression fixture with every patch passing everything (for the "no regressions" reply). */
export function allPassing(): RunReport {
  const r = fixture('regression');
  r.verdict = 'pass';
  r.exitCode = 0;
  r.summary = 'every patch passed';
  delete r.firstBadPatch;
  for (const p of r.patches) {
    p.verdict = 'pass';
    p.summary = 'applied, built, booted; 4 tests passed; no model violation';
    p.preExisting = [];
    for (const s of Object.values(p.stages)) {
      s.verdict = 'pass';
      s.evidence = [];
      delete s.flakyCounts;
    }
    for (const t of p.tests) {
      t.verdict = 'pass';
      t.summary = 'passed';
      t.findings = [];
      t.violations = [];
      t.badPages = [];
      t.badPagesTotal = 0;
      t.preExisting = [];
      t.conformance = { verdict: 'pass', reason: 'every traced event agrees with the model' };
      t.dataOracle = { verdict: 'pass', reason: 'every read saw the version last written' };
      t.selftest = t.selftest?.map((c) => ({ ...c, status: 'pass' as const }));
    }
  }
  return r;
}

/** Every patch passing, where 2/N's kernel was 1/N's: its guest results are 1/N's (run/reuse.ts). */
export function withReuse(): RunReport {
  const r = allPassing();
  const one = r.patches.find((p) => p.index === 1)!;
  const two = r.patches.find((p) => p.index === 2)!;
  two.reusedFrom = one.label;
  two.summary = `${two.summary} (same kernel as ${one.label}: results reused)`;
  for (const s of ['boot', 'test', 'model'] as const) two.stages[s].summary = `same kernel as ${one.label}: results reused; ${two.stages[s].summary}`;
  two.tests = one.tests.map((t) => ({ ...clone(t), reusedFrom: one.label }));
  return r;
}

/**
 * The regression fixture as a run of two configs: the `zswap` rows pass everything, then the
 * fixture's own rows are the `zswap-debug` ones (where 2/4's KASAN splat is).
 */
export function twoConfigs(): RunReport {
  const r = fixture('regression');
  const debug = r.environment.config;
  const plain = { name: 'zswap', hash: '905f7de51cb1', fragments: debug.fragments.filter((f) => !f.includes('debug')) };
  r.environment.config = plain;
  r.environment.configs = [plain, debug];
  const passing = allPassing().patches;
  r.patches = [...passing.map((p) => ({ ...p, config: plain.name })), ...r.patches.map((p) => ({ ...p, config: debug.name }))];
  return r;
}

/** The regression fixture with its patch mails attested: 1/4 signed, 2/4 tampered, 3/4 unsigned, 4/4 unknown. */
export function withAttestation(): RunReport {
  const r = fixture('regression');
  const attestations: NonNullable<RunReport['series']['patches'][number]['attestation']>[] = [
    { status: 'signed', summary: 'signed by patatt ed25519 alice@example.com; DKIM example.com', signatures: [{ method: 'patatt', status: 'good', identity: 'alice@example.com', algorithm: 'ed25519-sha256', detail: 'verified' }, { method: 'dkim', status: 'good', identity: 'example.com', algorithm: 'rsa-sha256', detail: 'pass' }] },
    { status: 'bad', summary: 'bad signature: patatt ed25519 alice@example.com: body content validation failed: the mail body changed after signing', signatures: [{ method: 'patatt', status: 'bad', identity: 'alice@example.com', algorithm: 'ed25519-sha256', detail: 'body content validation failed: the mail body changed after signing' }] },
    { status: 'unsigned', summary: 'not signed', signatures: [] },
    { status: 'unknown', summary: 'not verified: DKIM example.com: not checked: no key (sel._domainkey.example.com)', signatures: [{ method: 'dkim', status: 'unknown', identity: 'example.com', detail: 'not checked: no key (sel._domainkey.example.com)' }] },
  ];
  r.series.patches.forEach((p, i) => (p.attestation = attestations[i]));
  return r;
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-report-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `kharness report ...` in-process, the way src/cli.ts wires it. */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('kharness').version('0.1.0').exitOverride();
  registerReportCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  process.exitCode = undefined;
  let code: number | undefined;
  try {
    await program.parseAsync(['node', 'kharness', ...args]);
  } catch (e) {
    // commander parse errors: src/cli.ts maps them to exit code 2
    code = (e as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  code ??= Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}

/**
 * A strict XML 1.0 well-formedness check, enough for the documents we write: one root, balanced
 * and properly nested tags, quoted attributes without `<`, only the five predefined entities or
 * character references, and no character XML 1.0 forbids. Returns the problems found.
 */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  // eslint-disable-next-line no-control-regex
  const forbidden = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.exec(xml);
  if (forbidden) problems.push(`forbidden character U+${forbidden[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${forbidden.index}`);
  let rest = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  const checkText = (text: string, where: string): void => {
    for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
      entity.lastIndex = i;
      if (!entity.test(text)) problems.push(`bare & in ${where}: ${text.slice(i, i + 20)}`);
    }
    if (text.includes('<')) problems.push(`< in ${where}`);
  };
  while (rest.length) {
    const lt = rest.indexOf('<');
    if (lt < 0) {
      if (rest.trim()) problems.push('text after the root');
      break;
    }
    const text = rest.slice(0, lt);
    if (stack.length) checkText(text, `text of <${stack[stack.length - 1]}>`);
    else if (text.trim()) problems.push(`text outside the root: ${text.slice(0, 20)}`);
    rest = rest.slice(lt);
    const m = /^<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(rest);
    if (!m) {
      problems.push(`bad markup: ${rest.slice(0, 40)}`);
      break;
    }
    const [whole, close, name, attrs, selfClose] = m;
    for (const a of (attrs ?? '').matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) checkText(a[1] ?? a[2] ?? '', `attribute of <${name}>`);
    if (close) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!selfClose) {
      if (!stack.length) roots++;
      stack.push(name!);
    } else if (!stack.length) roots++;
    rest = rest.slice(whole.length);
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

/** Counts of elements by name in an XML string. */
export function countTags(xml: string, name: string): number {
  return (xml.match(new RegExp(`<${name}[\\s/>]`, 'g')) ?? []).length;
}
