import {
  configSlug,
  VERDICT_WORDS,
  accelName,
  baseRows,
  checkpatchErrors,
  firstFailingPatch,
  flakyText,
  gapLabels,
  isNotable,
  locationLine,
  missingPatchNumbers,
  notRun,
  patchLabel,
  preExistingOf,
  reuseOf,
  seriesPatches,
  attestationRows,
  stageCellText,
  statusText,
} from './facts.js';
import { cleanLine, escapeMd, formatDuration, linkTo, mdBlock, mdCode, plural, shortCommit } from './text.js';
import { STAGES, type PatchReport, type RunReport, type StageName, type TestDetails } from './types.js';

export interface RenderOptions {
  /** prefix for links to files named in the report (logs): `../run/`, or a URL */
  linkPrefix?: string;
}

/** How many of a long list a section shows before "... and N more". */
const MAX_ITEMS = 20;

function md(s: string): string {
  return escapeMd(s);
}

function verdictMd(v: keyof typeof VERDICT_WORDS): string {
  return v === 'fail' || v === 'error' ? `**${VERDICT_WORDS[v]}**` : VERDICT_WORDS[v];
}

/** A code span inside a table cell: GFM splits cells on `|` even inside code spans. */
function cellCode(s: string): string {
  return mdCode(s).replace(/\|/g, '\\|');
}

function link(text: string, target: string): string {
  // Link targets are our own relative paths or an http(s) URL from the report; any other scheme
  // (javascript:, data:) is shown, never linked. Brackets and spaces are encoded.
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) && !/^https?:\/\//i.test(target)) return `${md(text)} ${mdCode(target)}`;
  return `[${md(text)}](${encodeURI(cleanLine(target)).replace(/[()]/g, (c) => (c === '(' ? '%28' : '%29'))})`;
}

function bullets(items: string[], max = MAX_ITEMS): string[] {
  const out = items.slice(0, max).map((i) => `- ${i}`);
  if (items.length > max) out.push(`- ... and ${items.length - max} more`);
  return out;
}

function heading(report: RunReport): string[] {
  const s = report.series;
  const lines = [`# kharness: ${md(`v${s.version}`)} ${md(s.subject)}`, ''];
  lines.push(`**Verdict: ${VERDICT_WORDS[report.verdict]}**: ${md(report.summary)}`, '');
  const bad = firstFailingPatch(report);
  if (bad) lines.push(`First bad patch: **${md(patchLabel(bad, report))}** ${md(bad.subject)}`, '');
  if (report.status !== 'complete') {
    const missing = [...notRun(report).map((p) => patchLabel(p, report)), ...missingPatchNumbers(report).map((k) => `${k}/${s.patches.length}`)];
    lines.push(
      `> **This report is partial:** the run is ${md(statusText(report))}${report.statusReason ? ` (${md(report.statusReason)})` : ''}.` +
        (missing.length ? ` Not tested: ${missing.map(md).join(', ')}.` : ''),
      '',
    );
  }
  lines.push(`Run ${mdCode(report.runId)}, ${md(report.startedAt)} to ${md(report.finishedAt)} (${formatDuration(report.durationMs)}), kharness ${md(report.tool.version)}, exit code ${report.exitCode}.`, '');
  return lines;
}

function seriesSection(report: RunReport): string[] {
  const s = report.series;
  const lines = ['## Series', ''];
  lines.push(`- Subject: ${md(s.subject)}`);
  lines.push(`- Version: v${s.version}, ${plural(s.patches.length || seriesPatches(report).length, 'patch', 'patches')}${s.cover ? `, cover letter from ${md(s.cover.author.name)} ${md(`<${s.cover.author.email}>`)}` : ''}`);
  if (s.threadUrl) lines.push(`- Thread: ${link(s.threadUrl, s.threadUrl)}`);
  lines.push(`- Source: ${mdCode(s.source)}`);
  lines.push(`- Replying to: ${mdCode(`<${s.replyTo}>`)}`);
  if (s.baseCommit) lines.push(`- base-commit in the series: ${mdCode(s.baseCommit)}`);
  if (s.baseTree) lines.push(`- tree named by the series: ${mdCode(s.baseTree)}`);
  const attested = attestationRows(report);
  if (attested.length) lines.push('- Attestation (DKIM and patatt signatures of each patch mail):');
  for (const a of attested) lines.push(`  - ${md(a.label)}: ${a.status === 'bad' ? `**${md(a.summary)}**` : md(a.summary)}`);
  for (const w of s.warnings) lines.push(`- Warning: ${md(w)}`);
  lines.push('');
  return lines;
}

function baseSection(report: RunReport): string[] {
  const sources = { option: 'given with --base', series: 'named by the series', ref: 'a branch or tag the series applies on', head: 'HEAD of the tree' } as const;
  return ['## Base', '', `${mdCode(report.base.commit)} (${sources[report.base.source]}): ${md(report.base.reason)}`, ''];
}

function environmentSection(report: RunReport): string[] {
  const e = report.environment;
  const rows: [string, string][] = [
    ['Accelerator', `${accelName(report)}: ${md(e.accel.reason)}`],
    ...(e.sandbox ? ([['Sandbox', e.sandbox.mode === 'none' ? `**${md(e.sandbox.detail)}**` : md(e.sandbox.detail)]] as [string, string][]) : []),
    ['Host', `${md(e.host.hostname)}, Linux ${md(e.host.kernel)}, ${plural(e.host.cpus, 'CPU')}, ${e.host.memoryGiB} GiB`],
    ['Tree', `${cellCode(e.tree.repo)}${e.tree.name ? ` (${md(e.tree.name)})` : ''}${e.tree.url ? `, ${md(e.tree.url)}` : ''}${e.tree.head ? ` at ${cellCode(shortCommit(e.tree.head))}` : ''}`],
    [e.configs ? 'Configs' : 'Config', (e.configs ?? [e.config]).map((c) => `${md(c.name)} (${cellCode(c.hash)}): ${c.fragments.map(cellCode).join(', ') || 'no fragments'}`).join('; ')],
    ['Profile', md(e.profile)],
    ['Tests', e.tests.map(md).join(', ') || 'none'],
    ['Variants', (e.variants ?? ['default']).map(md).join(', ')],
  ];
  if (e.arch) rows.push(['Architecture', md(e.arch)]);
  for (const [k, v] of Object.entries(e.versions)) rows.push([md(k), md(v)]);
  return ['## Environment', '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), ''];
}

function cell(p: PatchReport, stage: StageName): string {
  const st = p.stages[stage];
  const text = stageCellText(st);
  return st.verdict === 'fail' || st.verdict === 'error' ? `**${md(text)}**` : md(text);
}

function verdictTable(report: RunReport): string[] {
  const lines = ['## Verdicts', ''];
  lines.push(`| patch | subject | ${STAGES.join(' | ')} | verdict |`);
  lines.push(`|---|---|${STAGES.map(() => '---').join('|')}|---|`);
  for (const p of report.patches) {
    const label = patchLabel(p, report);
    const name = isNotable(p) ? `[${md(label)}](#${anchor(p)})` : md(label);
    const subject = p.index === 0 ? cellCode(shortCommit(p.commit ?? report.base.commit)) : md(p.subject);
    const pre = `${preExistingOf(p).length && p.index > 0 ? ' (pre-existing failures not blamed)' : ''}${reuseOf(p) ? ` (${md(reuseOf(p)!)})` : ''}`;
    lines.push(`| ${name} | ${subject} | ${STAGES.map((s) => cell(p, s)).join(' | ')} | ${verdictMd(p.verdict)}${pre} |`);
  }
  for (const k of missingPatchNumbers(report)) {
    lines.push(`| ${k}/${report.series.patches.length} | ${md(report.series.patches.find((x) => x.index === k)?.subject ?? '')} | ${STAGES.map(() => 'not run').join(' | ')} | not run |`);
  }
  lines.push('');
  for (const base of baseRows(report)) {
    const which = base.config ? ` with ${md(base.config)}` : '';
    if (base.verdict !== 'pass') lines.push(`The base itself${which} is ${verdictMd(base.verdict)}: ${md(base.summary)}. What fails on the base is not blamed on the series.`, '');
  }
  return lines;
}

function anchor(p: PatchReport): string {
  return `${p.index === 0 ? 'base' : `patch-${p.index}`}${configSlug(p)}`;
}

function logLinks(p: PatchReport, opts: RenderOptions): string {
  const links: string[] = [];
  for (const s of STAGES) for (const [name, rel] of Object.entries(p.stages[s].logs)) links.push(link(name === s ? s : `${s} ${name}`, linkTo(opts.linkPrefix, rel)));
  if (p.boot?.consoleLog && !links.some((l) => l.includes(encodeURI(p.boot?.consoleLog ?? '')))) links.push(link('console', linkTo(opts.linkPrefix, p.boot.consoleLog)));
  return links.join(', ');
}

function buildEvidence(p: PatchReport): string[] {
  const b = p.build;
  const lines: string[] = [];
  if (!b) return lines;
  if (b.errors.length) lines.push(`**Build errors** (${b.errors.length}):`, '', ...bullets(b.errors.map((e) => mdCode(locationLine(e)))), '');
  if (b.newWarnings.length) lines.push(`**New warnings** (${b.newWarnings.length}, ${b.warningsTotal} in total):`, '', ...bullets(b.newWarnings.map((w) => mdCode(locationLine(w)))), '');
  const cp = checkpatchErrors(p);
  if (cp.length) lines.push(`**checkpatch errors** (${cp.length}):`, '', ...bullets(cp.map((f) => `${mdCode(f.type)} ${md(f.message)}${f.location ? ` at ${mdCode(f.location)}` : ''}`)), '');
  return lines;
}

function findingTitle(f: TestDetails['findings'][number]): string {
  return f.title.includes(f.kind) ? md(f.title) : `${md(f.kind)}: ${md(f.title)}`;
}

function findingsMd(t: TestDetails): string[] {
  const lines: string[] = [];
  for (const f of t.findings) {
    lines.push(`#### ${findingTitle(f)} (during ${md(t.name)})`, '');
    if (f.function) lines.push(`Blamed function: ${mdCode(f.function)}`, '');
    if (f.callTrace.length) lines.push(`Call trace: ${f.callTrace.slice(0, 12).map(mdCode).join(' ← ')}${f.callTrace.length > 12 ? ' ...' : ''}`, '');
    lines.push(`Signature: ${mdCode(f.signature)}`, '', mdBlock(f.excerpt), '');
  }
  return lines;
}

function badPagesMd(t: TestDetails): string[] {
  if (!t.badPagesTotal && !t.badPages.length) return [];
  const shown = t.badPages.slice(0, MAX_ITEMS);
  const lines = [`#### Wrong pages in ${md(t.name)}: ${t.badPagesTotal}${shown.length < t.badPagesTotal ? ` (${shown.length} shown)` : ''}`, ''];
  lines.push(...shown.map((b) => `- ${md(b.description)}`));
  if (t.badPagesTotal > shown.length) lines.push(`- ... and ${t.badPagesTotal - shown.length} more`);
  lines.push('');
  return lines;
}

function violationsMd(t: TestDetails): string[] {
  const lines: string[] = [];
  for (const v of t.violations) {
    const where = [v.slot ? `slot ${v.slot}` : '', v.entry ? `entry ${v.entry}` : ''].filter(Boolean).join(', ');
    lines.push(`#### Model violation ${mdCode(v.rule)} in ${md(t.name)}${where ? ` (${md(where)})` : ''}`, '', md(v.message), '');
    if (v.events.length) lines.push('Event window (oldest first, the offending event last):', '', mdBlock(v.events.join('\n')), '');
  }
  return lines;
}

function oraclesMd(t: TestDetails): string[] {
  const rows = [
    ['trace conformance', t.conformance.verdict, `${t.conformance.reason}${t.conformance.events !== undefined ? ` (${t.conformance.events} events)` : ''}`],
    ['data oracle', t.dataOracle.verdict, `${t.dataOracle.reason}${t.dataOracle.reads !== undefined ? ` (${t.dataOracle.reads} reads)` : ''}`],
    ['counter oracle', t.counterOracle.verdict, t.counterOracle.reason],
  ];
  return ['| check | verdict | why |', '|---|---|---|', ...rows.map(([a, b, c]) => `| ${a} | ${md(b ?? '')} | ${md(c ?? '')} |`), ''];
}

function selftestMd(t: TestDetails): string[] {
  const failed = t.selftest?.filter((c) => c.status === 'fail') ?? [];
  const flaky = t.selftest?.filter((c) => c.status === 'flaky') ?? [];
  const out: string[] = [];
  if (failed.length) out.push(`Selftest cases failed: ${failed.map((c) => `${c.number} ${mdCode(c.name)}`).join(', ')}`, '');
  if (flaky.length) out.push(`Selftest cases flaky: ${flaky.map((c) => `${c.number} ${mdCode(c.name)} (${md(c.directive ?? '')})`).join(', ')}`, '');
  return out;
}

function coverageMd(t: TestDetails): string[] {
  if (!t.coverage.length) return [`Lifetime-path coverage of ${md(t.name)}: not measured.`, ''];
  const ran = t.coverage.filter((c) => c.count > 0);
  const lines = [`Lifetime-path coverage of ${md(t.name)} (from ${md(t.coverage[0]?.source ?? 'trace')}): ${ran.map((c) => `${md(c.label)} ${c.count}`).join('; ') || 'nothing ran'}.`];
  const gaps = gapLabels(t);
  if (gaps.length) lines.push(`**never ran: ${gaps.map(md).join(', ')}**`);
  lines.push('');
  return lines;
}

function patchSection(p: PatchReport, report: RunReport, opts: RenderOptions): string[] {
  const title = p.index === 0 ? `Base ${shortCommit(p.commit ?? report.base.commit)}` : `Patch ${patchLabel(p, report)}: ${cleanLine(p.subject)}`;
  const lines = [`<a id="${anchor(p)}"></a>`, '', `### ${md(title)}: ${VERDICT_WORDS[p.verdict]}`, '', md(p.summary), ''];
  if (p.author) lines.push(`From ${md(p.author.name)} ${md(`<${p.author.email}>`)}${p.messageId ? `, ${mdCode(`<${p.messageId}>`)}` : ''}${p.commit ? `, commit ${mdCode(shortCommit(p.commit))}` : ''}.`, '');
  const logs = logLinks(p, opts);
  if (logs) lines.push(`Logs: ${logs}`, '');

  // Stages that did not simply pass, with their evidence and retry counts.
  for (const s of STAGES) {
    const st = p.stages[s];
    if (st.verdict === 'pass' && !st.flakyCounts) continue;
    if (st.verdict === 'skipped') {
      lines.push(`- ${s}: skipped (${md(st.summary)})`);
      continue;
    }
    const counts = flakyText(st.flakyCounts);
    lines.push(`- ${s}: ${verdictMd(st.verdict)}${counts ? ` (${counts})` : ''}: ${md(st.summary)}${st.durationMs !== undefined ? ` [${formatDuration(st.durationMs)}]` : ''}`);
    for (const e of st.evidence.slice(0, MAX_ITEMS)) lines.push(`  - ${mdCode(e)}`);
    if (st.evidence.length > MAX_ITEMS) lines.push(`  - ... and ${st.evidence.length - MAX_ITEMS} more`);
  }
  if (lines[lines.length - 1] !== '') lines.push('');

  lines.push(...buildEvidence(p));
  if (p.boot && p.stages.boot.verdict !== 'pass' && p.stages.boot.verdict !== 'skipped' && p.boot.consoleTail) {
    lines.push(`Boot: ${md(p.boot.status)}: ${md(p.boot.reason)}. Console tail:`, '', mdBlock(p.boot.consoleTail), '');
  }
  for (const t of p.tests) {
    // Tests that passed cleanly (pre-existing failures and gaps included) are covered by the
    // pre-existing list below and the coverage table at the end.
    const interesting = t.verdict !== 'pass' || t.findings.length || t.badPagesTotal || t.violations.length;
    if (!interesting) continue;
    lines.push(`#### Test ${md(t.name)}: ${VERDICT_WORDS[t.verdict]}${t.durationMs !== undefined ? ` (${formatDuration(t.durationMs)})` : ''}`, '', md(t.summary), '');
    if (t.reusedFrom) lines.push(`Same kernel as ${md(t.reusedFrom)}: its result, reused (not run again).`, '');
    lines.push(...findingsMd(t), ...badPagesMd(t), ...violationsMd(t), ...selftestMd(t));
    if (t.verdict !== 'pass') lines.push(...oraclesMd(t));
    lines.push(...coverageMd(t));
  }
  const pre = preExistingOf(p);
  if (pre.length && p.index > 0) lines.push('**Already failing on the base: not blamed**', '', ...bullets(pre.map(md)), '');
  return lines;
}

function coverageTable(report: RunReport): string[] {
  const rows: string[] = [];
  for (const p of report.patches) {
    for (const t of p.tests) {
      const ran = t.coverage.filter((c) => c.count > 0).length;
      const gaps = gapLabels(t);
      rows.push(`| ${md(patchLabel(p, report))} | ${md(t.name)} | ${VERDICT_WORDS[t.verdict]} | ${t.coverage.length ? `${ran}/${t.coverage.length}` : 'not measured'} | ${gaps.length ? `**never ran: ${gaps.map(md).join(', ')}**` : ''} |`);
    }
  }
  if (!rows.length) return [];
  const suite = report.patches
    .filter((p) => p.suiteCoverage)
    .map((p) => `- ${md(patchLabel(p, report))}: ${p.suiteCoverage!.gaps.length ? `**never ran in any test: ${p.suiteCoverage!.gaps.map(md).join('; ')}**` : 'every lifetime path ran'}`);
  return [
    '## Lifetime-path coverage',
    '',
    'Paths of the zswap entry lifetime each test drove (from the kernel trace, or the counters without one).',
    '',
    '| patch | test | verdict | paths that ran | gaps |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...(suite.length ? ['Across the whole suite:', '', ...suite, ''] : []),
  ];
}

function buildTable(report: RunReport): string[] {
  const rows = report.patches
    .filter((p) => p.build)
    .map((p) => {
      const b = p.build!;
      const cp = b.checkpatch ? `${b.checkpatch.errors}/${b.checkpatch.warnings}/${b.checkpatch.checks}` : '';
      return `| ${md(patchLabel(p, report))} | ${formatDuration(b.durationMs)}${b.cached ? ' (cached)' : ''} | ${b.objectsBuilt} | ${b.errors.length} | ${b.newWarnings.length} | ${b.warningsTotal} | ${cp} |`;
    });
  if (!rows.length) return [];
  return ['## Builds', '', '| patch | time | objects | errors | new warnings | warnings | checkpatch E/W/C |', '|---|---|---|---|---|---|---|', ...rows, ''];
}

function filesSection(report: RunReport, opts: RenderOptions): string[] {
  const entries = Object.entries(report.files);
  if (!entries.length) return [];
  return ['## Files', '', ...entries.map(([name, rel]) => `- ${link(name, linkTo(opts.linkPrefix, rel))}`), ''];
}

/** report.md: what a maintainer reads. Pure: the same report gives the same text. */
export function renderMarkdown(report: RunReport, opts: RenderOptions = {}): string {
  const lines: string[] = [
    ...heading(report),
    ...seriesSection(report),
    ...baseSection(report),
    ...environmentSection(report),
    ...verdictTable(report),
  ];
  const notable = report.patches.filter(isNotable);
  if (notable.length) {
    lines.push('## Details', '');
    for (const p of notable) lines.push(...patchSection(p, report, opts));
  }
  lines.push(...buildTable(report), ...coverageTable(report), ...filesSection(report, opts));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
