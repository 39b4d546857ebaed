import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ERAS, formatPrototype } from './eras.js';
import type { ApiEra, EraId, Prototype, PrototypeCheck } from './types.js';

/**
 * Prototype checks compiled against the build's own preprocessed mm/zswap.c. One gcc run checks
 * every era at once: each (era, function) pair is one `_Static_assert` on its own line, and gcc
 * reports every failed assertion with its line, so the answer is per function. A second line per
 * function initialises a pointer to it from a double: the error names the type it really has.
 */

/** The appended lines are numbered from 1 in this pseudo file, whatever the .i's line markers say. */
export const CHECK_FILE = '<kharness-prototypes>';

export interface CheckLayout {
  /** the text to append to zswap.i */
  text: string;
  /** line (in CHECK_FILE) -> what it checks */
  asserts: Map<number, { era: EraId; fn: string; prototype: Prototype }>;
  types: Map<number, string>;
  /** pairs that cannot be checked against zswap.i (defined outside mm/zswap.c) */
  unchecked: { era: EraId; fn: string }[];
}

/** Pure: the C text of the checks for these eras. */
export function checkLayout(eras: readonly ApiEra[] = ERAS): CheckLayout {
  const lines: string[] = [`# 1 "${CHECK_FILE}"`];
  const asserts: CheckLayout['asserts'] = new Map();
  const types = new Map<number, string>();
  const unchecked: CheckLayout['unchecked'] = [];
  const typed = new Set<string>();
  for (const era of eras) {
    for (const f of era.functions) {
      if (!f.prototype) {
        unchecked.push({ era: era.id, fn: f.fn });
        continue;
      }
      const p = f.prototype;
      lines.push(`_Static_assert(__builtin_types_compatible_p(__typeof__(${f.fn}), ${p.ret} (${p.params.join(', ') || 'void'})), "kharness ${era.id} ${f.fn}");`);
      asserts.set(lines.length - 1, { era: era.id, fn: f.fn, prototype: p });
      if (!typed.has(f.fn)) {
        typed.add(f.fn);
        lines.push(`static __typeof__(${f.fn}) *kharness_type_${typed.size} = 1.0;`);
        types.set(lines.length - 1, f.fn);
      }
    }
  }
  return { text: `\n${lines.join('\n')}\n`, asserts, types, unchecked };
}

/** `_Bool (*)(struct folio *)` as gcc prints a pointer to it -> `bool (struct folio *)`. */
function functionType(pointerType: string): string {
  return pointerType.replace(/\s*\(\*\)\s*/, ' ').replace(/\b_Bool\b/g, 'bool').replace(/\s+/g, ' ').trim();
}

const norm = (t: string): string => t.replace(/\b_Bool\b/g, 'bool').replace(/\s+/g, ' ').trim();

/** Why `actual` is not `expected`, in the words the reports show. */
export function mismatchDetail(fn: string, expected: Prototype, actual: string | undefined): string {
  const want = formatPrototype(expected);
  if (!actual) return `${fn} does not have the type ${want} here`;
  const m = /^(.*?)\s*\((.*)\)$/.exec(actual);
  if (m && norm(m[1]!) !== norm(expected.ret)) {
    const paramsSame = norm(m[2]!) === norm(expected.params.join(', '));
    return paramsSame ? `${fn} returns ${m[1]} here (expected ${want})` : `${fn} is ${actual} here (expected ${want})`;
  }
  if (m) return `${fn} takes (${m[2]}) here (expected ${want})`;
  return `${fn} is ${actual} here, not a function (expected ${want})`;
}

/**
 * Pure: turns gcc's diagnostics into one result per (era, function). Errors outside the appended
 * lines mean gcc cannot compile the .i at all: nothing is decided then (the caller says so).
 */
export function parseCheckDiagnostics(stderr: string, layout: CheckLayout): { checks: PrototypeCheck[]; foreign: string[] } {
  const errors = new Map<number, string[]>();
  const foreign: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.*?):(\d+):(?:\d+:)? (?:fatal )?error: (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] !== CHECK_FILE) {
      foreign.push(line);
      continue;
    }
    const n = Number(m[2]);
    errors.set(n, [...(errors.get(n) ?? []), m[3]!]);
  }
  const actual = new Map<string, string>();
  for (const [n, fn] of layout.types) {
    const t = errors.get(n)?.map((e) => /initializing type '([^']*)'(?: \{aka '[^']*'\})? using type 'double'/.exec(e)?.[1]).find(Boolean);
    if (t) actual.set(fn, functionType(t));
  }
  const checks: PrototypeCheck[] = [];
  for (const [n, a] of layout.asserts) {
    const expected = formatPrototype(a.prototype);
    const errs = errors.get(n) ?? [];
    const base = { era: a.era, fn: a.fn, expected, actual: actual.get(a.fn) };
    if (errs.length === 0) checks.push({ ...base, result: 'match', detail: `${a.fn}: ${expected}` });
    else if (errs.some((e) => /undeclared/.test(e))) checks.push({ ...base, actual: undefined, result: 'absent', detail: `${a.fn} does not exist in this mm/zswap.c` });
    else if (errs.some((e) => /static assertion failed/.test(e))) checks.push({ ...base, result: 'mismatch', detail: mismatchDetail(a.fn, a.prototype, base.actual) });
    else checks.push({ ...base, result: 'unchecked', detail: `cannot check ${a.fn}: gcc: ${errs[0]}` });
  }
  for (const u of layout.unchecked) checks.push({ era: u.era, fn: u.fn, expected: 'not in mm/zswap.c', result: 'unchecked', detail: `${u.fn} is defined outside mm/zswap.c: not checked (its arguments are not read)` });
  return { checks, foreign };
}

/**
 * Compiles the checks against a copy of zswap.i with gcc (the compiler the build uses) and
 * returns every (era, function) result. Throws when gcc cannot compile the .i itself.
 */
export async function checkPrototypes(zswapPreprocessed: string, eras: readonly ApiEra[] = ERAS, gcc = 'gcc'): Promise<PrototypeCheck[]> {
  const layout = checkLayout(eras);
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-api-'));
  try {
    const src = path.join(dir, 'zswap-api.c');
    await writeFile(src, (await readFile(zswapPreprocessed, 'utf8')) + layout.text);
    // C locale: plain quotes in the messages parsed above; gnu11 as kbuild compiles the kernel.
    const r = await execa(gcc, ['-fsyntax-only', '-w', '-std=gnu11', '-x', 'c', '-fno-diagnostics-show-caret', '-fdiagnostics-color=never', src], {
      reject: false,
      env: { LC_ALL: 'C', LANG: 'C' },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (r.failed && r.exitCode === undefined) throw new Error(`cannot run ${gcc}: ${r.shortMessage}`);
    const { checks, foreign } = parseCheckDiagnostics(String(r.stderr), layout);
    if (foreign.length > 0) throw new Error(`gcc cannot compile the preprocessed mm/zswap.c itself: ${foreign.slice(0, 3).join(' | ')}`);
    return checks;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
