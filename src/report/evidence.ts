import { checkpatchErrors, locationLine } from './facts.js';
import { cleanLine, cleanText, tailLines } from './text.js';
import type { PatchReport, StageName, TestDetails } from './types.js';

/**
 * The evidence of a stage or test as plain lines: what JUnit failure bodies, KCIDB log excerpts
 * and the email reply quote. Only what the report holds, trimmed to the relevant lines.
 */

export interface EvidenceOptions {
  /** include the raw console excerpt of each finding (else title + top of the call trace) */
  excerpts?: boolean;
  /** frames of a call trace to show */
  frames?: number;
  /** wrong pages to list */
  pages?: number;
}

type Finding = TestDetails['findings'][number];
type Violation = TestDetails['violations'][number];

export function findingLines(f: Finding, opts: EvidenceOptions = {}): string[] {
  const again = f.repeats ? [`(printed ${f.repeats} more time(s) in this test)`] : [];
  if (opts.excerpts && f.excerpt.trim()) return [...cleanText(f.excerpt).replace(/\n+$/, '').split('\n'), ...again];
  const frames = opts.frames ?? 8;
  const lines = [`${cleanLine(f.title)}${f.repeats ? ` (x${f.repeats + 1})` : ''}`];
  if (f.callTrace.length) {
    lines.push('Call Trace:');
    for (const fn of f.callTrace.slice(0, frames)) lines.push(` ${cleanLine(fn)}`);
    if (f.callTrace.length > frames) lines.push(' ...');
  }
  return lines;
}

export function violationLines(v: Violation): string[] {
  const where = [v.slot ? `slot ${v.slot}` : '', v.entry ? `entry ${v.entry}` : ''].filter(Boolean).join(', ');
  return [cleanLine(`${v.rule}${where ? ` (${where})` : ''}: ${v.message}`), ...v.events.map((e) => `  ${cleanLine(e)}`)];
}

export function badPageLines(t: TestDetails, max = 10): string[] {
  const lines = t.badPages.slice(0, max).map((b) => cleanLine(b.description));
  const more = Math.max(t.badPagesTotal, t.badPages.length) - lines.length;
  if (more > 0) lines.push(`... and ${more} more wrong page${more === 1 ? '' : 's'}`);
  return lines;
}

export function buildLines(p: PatchReport): string[] {
  const b = p.build;
  if (!b) return [];
  const lines: string[] = [];
  const withLevel = (level: string, e: { file: string; line?: number; message: string; flag?: string }): string =>
    locationLine(/^(error|warning|note):/i.test(e.message.trim()) ? e : { ...e, message: `${level}: ${e.message}` });
  for (const e of b.errors) lines.push(withLevel('error', e));
  for (const w of b.newWarnings) lines.push(withLevel('warning', w));
  for (const f of checkpatchErrors(p)) lines.push(cleanLine(`checkpatch ERROR: ${f.type}: ${f.message}${f.location ? ` (${f.location})` : ''}`));
  return lines;
}

/** Everything a failing (or flaky) guest test has to show, in reading order. */
export function testLines(t: TestDetails, opts: EvidenceOptions = {}): string[] {
  const lines: string[] = [];
  for (const f of t.findings) lines.push(...findingLines(f, opts), '');
  const pages = badPageLines(t, opts.pages ?? 10);
  if (pages.length) lines.push(`wrong pages: ${Math.max(t.badPagesTotal, t.badPages.length)}`, ...pages.map((l) => `  ${l}`), '');
  for (const v of t.violations) lines.push(...violationLines(v), '');
  const shown = t.selftest?.filter((c) => c.status === 'fail' || c.status === 'flaky') ?? [];
  if (shown.length) lines.push(...shown.map((c) => cleanLine(`${c.status === 'flaky' ? 'flaky' : 'not ok'} ${c.number} ${c.name}${c.directive ? ` # ${c.directive}` : ''}`)), '');
  for (const [name, o] of [
    ['data oracle', t.dataOracle],
    ['counter oracle', t.counterOracle],
  ] as const) {
    if (o.verdict === 'fail' && !(name === 'data oracle' && pages.length)) lines.push(cleanLine(`${name}: ${o.reason}`));
  }
  while (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The evidence of one stage of a patch. */
export function stageLines(p: PatchReport, stage: StageName, opts: EvidenceOptions = {}): string[] {
  const st = p.stages[stage];
  const evidence = st.evidence.map(cleanLine);
  switch (stage) {
    case 'build': {
      const lines = buildLines(p);
      return lines.length ? lines : evidence;
    }
    case 'boot': {
      const lines = [...evidence];
      if (p.boot) {
        if (p.boot.reason && !lines.includes(cleanLine(p.boot.reason))) lines.push(cleanLine(`${p.boot.status}: ${p.boot.reason}`));
        if (p.boot.consoleTail && st.verdict !== 'pass') lines.push('console tail:', ...tailLines(p.boot.consoleTail, 20).map((l) => `  ${l}`));
      }
      return lines;
    }
    case 'test': {
      const lines = [...evidence];
      for (const t of p.tests.filter((x) => x.verdict === 'fail' || x.verdict === 'error' || x.verdict === 'flaky')) {
        const body = testLines(t, opts);
        if (body.length) lines.push('', `${t.name}: ${cleanLine(t.summary)}`, ...body.map((l) => (l ? `  ${l}` : l)));
      }
      return lines;
    }
    case 'model': {
      const lines = [...evidence];
      for (const t of p.tests) {
        for (const v of t.violations) lines.push('', `${t.name}:`, ...violationLines(v).map((l) => `  ${l}`));
        if (t.conformance.verdict !== 'pass' && t.conformance.verdict !== 'fail' && t.conformance.reason) lines.push(cleanLine(`${t.name}: trace conformance ${t.conformance.verdict}: ${t.conformance.reason}`));
      }
      return lines;
    }
    default:
      return evidence;
  }
}
