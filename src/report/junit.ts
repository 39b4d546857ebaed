import type { Verdict } from '../common/verdict.js';
import { stageLines, testLines } from './evidence.js';
import { flakyOutcome, flakyText, missingPatchNumbers, patchTitle, preExistingOf, reportConfigs, statusText } from './facts.js';
import { cleanLine, escapeXml } from './text.js';
import { STAGES, type PatchReport, type RunReport, type StageName, type StageReport, type TestDetails } from './types.js';

/**
 * junit.xml: one <testsuite> per patch (the base first), one <testcase> per stage; the test stage
 * is broken down into one <testcase> per guest test. fail → <failure>, error → <error>,
 * skipped → <skipped/>; a flaky result is a pass when some attempt passed (else its worst
 * outcome), with the counts in <system-out>.
 */

interface Case {
  name: string;
  classname: string;
  seconds?: number;
  outcome: Exclude<Verdict, 'flaky'>;
  message: string;
  body: string[];
  notes: string[];
}

const MAX_MESSAGE = 300;

function attr(s: string): string {
  return escapeXml(s, true);
}

function text(s: string): string {
  return escapeXml(s);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '0' : (ms / 1000).toFixed(3);
}

function oneLine(s: string): string {
  const line = cleanLine(s);
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 3)}...` : line;
}

function stageCase(p: PatchReport, stage: StageName, classname: string): Case {
  const st = p.stages[stage];
  const outcome = flakyOutcome(st);
  const notes: string[] = [];
  if (st.verdict === 'flaky' || st.flakyCounts) notes.push(`flaky: ${flakyText(st.flakyCounts) || 'the verdict changed on retry'}; reported as ${outcome}, not blamed as a failure`);
  return {
    name: stage,
    classname,
    seconds: st.durationMs,
    outcome,
    message: st.summary,
    body: outcome === 'fail' || outcome === 'error' || st.verdict === 'flaky' ? stageLines(p, stage, { excerpts: true }) : [],
    notes,
  };
}

function testCase(t: TestDetails, classname: string, stage: StageReport): Case {
  const outcome = flakyOutcome({ verdict: t.verdict, flakyCounts: t.verdict === 'flaky' ? stage.flakyCounts : undefined });
  const notes: string[] = [];
  if (t.verdict === 'flaky') notes.push(`flaky: ${flakyText(stage.flakyCounts) || 'the verdict changed on retry'} (test stage counts); reported as ${outcome}, not blamed as a failure`);
  if (t.gaps.length) notes.push(`never ran: ${t.gaps.map((g) => t.coverage.find((c) => c.path === g)?.label ?? g).join(', ')}`);
  if (t.preExisting.length) notes.push(`already failing on the base: not blamed: ${t.preExisting.join('; ')}`);
  if (t.reusedFrom) notes.push(`same kernel as ${t.reusedFrom}: its result, reused (not run again)`);
  return {
    name: `test: ${t.name}`,
    classname,
    seconds: t.durationMs,
    outcome,
    message: t.summary,
    body: outcome === 'fail' || outcome === 'error' || t.verdict === 'flaky' ? testLines(t, { excerpts: true }) : [],
    notes,
  };
}

function casesOf(p: PatchReport): Case[] {
  const step = p.index === 0 ? 'kharness.base' : `kharness.patch-${p.index}`;
  const classname = p.config ? `${step}.${p.config}` : step;
  const cases: Case[] = [];
  for (const stage of STAGES) {
    if (stage !== 'test') {
      cases.push(stageCase(p, stage, classname));
      continue;
    }
    const st = p.stages.test;
    const tests = p.tests.map((t) => testCase(t, classname, st));
    const stageBad = st.verdict === 'fail' || st.verdict === 'error';
    const explained = tests.some((c) => c.outcome === st.verdict);
    // The stage row stays when there is no per-test breakdown, or when its verdict is not
    // explained by one (a console finding between tests, a guest that died before reporting).
    if (!tests.length || (stageBad && !explained)) cases.push(stageCase(p, 'test', classname));
    cases.push(...tests);
  }
  return cases;
}

function caseXml(c: Case): string {
  const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="${seconds(c.seconds)}"`;
  const inner: string[] = [];
  const body = c.body.join('\n').replace(/\n+$/, '');
  if (c.outcome === 'fail') inner.push(`      <failure message="${attr(oneLine(c.message))}" type="${attr(c.name.startsWith('test: ') ? 'test' : c.name)}">${text(body)}</failure>`);
  else if (c.outcome === 'error') inner.push(`      <error message="${attr(oneLine(c.message))}" type="infrastructure">${text(body)}</error>`);
  else if (c.outcome === 'skipped') inner.push(`      <skipped message="${attr(oneLine(c.message))}"/>`);
  const out = [...c.notes, ...(c.outcome === 'pass' && body ? [body] : [])];
  if (out.length) inner.push(`      <system-out>${text(out.join('\n'))}</system-out>`);
  return inner.length ? `${open}>\n${inner.join('\n')}\n    </testcase>` : `${open}/>`;
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  seconds: number;
}

function count(cases: Case[]): Counts {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.outcome === 'fail').length,
    errors: cases.filter((c) => c.outcome === 'error').length,
    skipped: cases.filter((c) => c.outcome === 'skipped').length,
    seconds: cases.reduce((n, c) => n + (c.seconds ?? 0) / 1000, 0),
  };
}

function suiteXml(name: string, id: number, cases: Case[], props: [string, string][], timestamp: string, hostname: string, notes: string[]): { xml: string; counts: Counts } {
  const c = count(cases);
  const lines = [
    `  <testsuite name="${attr(name)}" id="${id}" tests="${c.tests}" failures="${c.failures}" errors="${c.errors}" skipped="${c.skipped}" time="${c.seconds.toFixed(3)}" timestamp="${attr(timestamp)}" hostname="${attr(hostname)}">`,
  ];
  if (props.length) lines.push('    <properties>', ...props.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(v)}"/>`), '    </properties>');
  lines.push(...cases.map(caseXml));
  if (notes.length) lines.push(`    <system-out>${text(notes.join('\n'))}</system-out>`);
  lines.push('  </testsuite>');
  return { xml: lines.join('\n'), counts: c };
}

/** junit.xml. Pure: the same report gives the same document. */
export function renderJunit(report: RunReport): string {
  const suites: string[] = [];
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, seconds: 0 };
  const add = (c: Counts): void => {
    total.tests += c.tests;
    total.failures += c.failures;
    total.errors += c.errors;
    total.skipped += c.skipped;
    total.seconds += c.seconds;
  };
  const timestamp = report.startedAt.replace(/Z$/, '').replace(/\.\d+$/, '');
  const hostname = report.environment.host.hostname;
  for (const [row, p] of report.patches.entries()) {
    const props: [string, string][] = [['verdict', p.verdict]];
    if (p.config) props.push(['config', p.config]);
    if (p.commit) props.push(['commit', p.commit]);
    if (p.messageId) props.push(['message-id', p.messageId]);
    if (p.author) props.push(['author', `${p.author.name} <${p.author.email}>`]);
    const notes = [cleanLine(p.summary)];
    const pre = preExistingOf(p);
    if (pre.length && p.index > 0) notes.push('already failing on the base: not blamed:', ...pre.map((x) => `  ${x}`));
    const started = (p.stages.apply.startedAt ?? report.startedAt).replace(/Z$/, '').replace(/\.\d+$/, '');
    const { xml, counts } = suiteXml(patchTitle(p, report), row, casesOf(p), props, started, hostname, notes);
    suites.push(xml);
    add(counts);
  }
  for (const k of missingPatchNumbers(report)) {
    const sp = report.series.patches.find((x) => x.index === k);
    const cases: Case[] = STAGES.map((s) => ({ name: s, classname: `kharness.patch-${k}`, outcome: 'skipped', message: `not run: the run is ${statusText(report)}`, body: [], notes: [] }));
    const { xml, counts } = suiteXml(`patch ${k}/${report.series.patches.length}: ${cleanLine(sp?.subject ?? '')}`, reportConfigs(report).length > 1 ? report.patches.length + k : k, cases, [['verdict', 'skipped']], timestamp, hostname, []);
    suites.push(xml);
    add(counts);
  }
  const name = `kharness: v${report.series.version} ${cleanLine(report.series.subject)}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(name)}" tests="${total.tests}" failures="${total.failures}" errors="${total.errors}" skipped="${total.skipped}" time="${(report.durationMs / 1000).toFixed(3)}" timestamp="${attr(timestamp)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
