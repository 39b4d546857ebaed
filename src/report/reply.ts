import { canonicalSubject } from '../lore/subject.js';
import { buildLines, findingLines, violationLines } from './evidence.js';
import {
  VERDICT_WORDS,
  configSlug,
  accelName,
  bareMessageId,
  baseRows,
  reportConfigs,
  msgidPath,
  errorPatches,
  failingPatches,
  flakyText,
  gapLabels,
  missingPatchNumbers,
  patchLabel,
  preExistingOf,
  reuseOf,
  replySubject,
  seriesAuthor,
  seriesPatches,
  attestationRows,
  stagesWith,
  statusText,
} from './facts.js';
import { formatPerson } from './reporter.js';
import { cleanLine, shortCommit, tailLines, wrap } from './text.js';
import { STAGES, type PatchReport, type RunReport, type StageName, type TestDetails } from './types.js';

/**
 * reply.txt: a plain-text reply to the series in the style of the kernel test robot (0-day/LKP):
 * headers, a greeting, what was tested, then each regression with its trimmed log excerpt and the
 * tags to add. The tags are quoted with "| " as LKP does, so that b4 (and kharness's own lore
 * stage) do not collect them as trailers of the patch under review. Prose is wrapped at 72
 * columns; log excerpts are indented by four spaces and never wrapped. Everything said comes from
 * the report.
 */

const WIDTH = 72;
const EXCERPT_INDENT = '    ';

/** RFC 5322 folding: continuation lines start with a space; values are one line of clean text. */
function header(name: string, value: string): string {
  const line = `${name}: ${cleanLine(value)}`;
  if (line.length <= 78) return line;
  const words = line.split(' ');
  const out: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > 78) {
      out.push(cur);
      cur = ` ${w}`;
    } else {
      cur = cur ? `${cur} ${w}` : w;
    }
  }
  if (cur) out.push(cur);
  return out.join('\n');
}

/**
 * The thread on the lore the series came from: that server and list, at the message the reply
 * answers (the cover letter). A series read from a file falls back to lore.kernel.org's /r/.
 */
export function closesUrl(report: RunReport): string {
  const thread = report.series.threadUrl;
  const m = thread ? /^(https?:\/\/[^/\s]+(?:\/[^/\s]+)*?)\/[^/\s]+\/?$/i.exec(cleanLine(thread)) : null;
  if (m) return `${m[1]}/${msgidPath(report.series.replyTo)}/`;
  return `https://lore.kernel.org/r/${msgidPath(report.series.replyTo)}/`;
}

/** The file the merged .config of a failing row is written to, beside reply.txt. */
export function reproduceConfigName(p: PatchReport): string {
  return `reproduce-${p.index === 0 ? 'base' : `patch-${p.index}`}${configSlug(p)}.config`;
}

/** A word for a shell command line: quoted unless it is plainly safe. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The exact `kharness run` that repeats a failing row: its base, config, failing tests and variants. */
export function reproduceCommand(p: PatchReport, report: RunReport): string {
  const s = report.series;
  const input = s.threadUrl && /^https?:\/\//i.test(s.threadUrl) ? s.threadUrl : s.source;
  const config = p.config ?? report.environment.config.name;
  const failed = p.tests.filter((t) => t.verdict === 'fail').map((t) => t.name);
  const tests = [...new Set(failed.map((n) => n.split('@')[0] as string))];
  const variants = [...new Set(failed.map((n) => n.split('@')[1] ?? 'default'))];
  const words = ['kharness', 'run', input, '--use-version', String(s.version)];
  if (report.environment.tree.name) words.push('--tree', report.environment.tree.name);
  if (report.base.commit) words.push('--base', report.base.commit);
  words.push('--config', config);
  if (tests.length) words.push('--tests', tests.join(','), '--variants', variants.join(','));
  return words.map((w) => shellWord(cleanLine(w))).join(' ');
}

function reproduceSection(report: RunReport, failing: PatchReport[]): string[] {
  const out = [para('reproduce:')];
  const base = report.base.commit ? `${report.base.commit} (${cleanLine(report.base.reason)})` : 'not chosen';
  const configs = report.environment.configs ?? [report.environment.config];
  const lines = [`# base: ${base}`, ...configs.map((c) => `# config ${cleanLine(c.name)}: ${c.fragments.map((f) => cleanLine(f)).join(' ') || '(fragments unknown)'}`)];
  for (const p of failing) {
    const merged = p.stages.build.logs.config ? `, merged .config in ${reproduceConfigName(p)}` : '';
    lines.push(`# ${patchLabel(p, report)} ("${cleanLine(p.subject)}")${merged}`, reproduceCommand(p, report));
  }
  out.push('', excerpt(lines), '');
  return out;
}

function tagLines(report: RunReport): string[] {
  const reporter = report.environment.reporter;
  return [
    para(reporter ? 'If you fix the issue in a separate patch/commit (i.e. not just a new version of the same patch/commit), kindly add following tags' : 'If you fix the issue in a separate patch/commit (i.e. not just a new version of the same patch/commit), kindly add the following tag (this kharness has no reporter identity configured, so it names no reporter)'),
    ...(reporter ? [`| Reported-by: ${cleanLine(formatPerson(reporter))}`] : []),
    `| Closes: ${closesUrl(report)}`,
    '',
  ];
}

/** The first name to greet: "Jane" from "Jane Doe", "Jane" from "Doe, Jane"; empty when unknown. */
export function firstName(name: string): string {
  let n = cleanLine(name).replace(/["']/g, '').trim();
  if (n.includes(',')) n = n.slice(n.indexOf(',') + 1).trim();
  const first = n.split(/\s+/)[0] ?? '';
  return /\p{L}/u.test(first) ? first : '';
}

function para(text: string, indent = '', hanging = indent): string {
  return wrap(text, WIDTH, indent, hanging);
}

function excerpt(lines: string[]): string {
  return lines.map((l) => (l ? `${EXCERPT_INDENT}${cleanLine(l).replace(/\s+$/, '')}` : '')).join('\n');
}

function quoteSubject(p: PatchReport, report: RunReport): string {
  return `patch ${patchLabel(p, report)} ("${cleanLine(p.subject)}")`;
}

/** The status column of the per-patch list: `pass`, `FAIL: test, model`, `flaky: test`. */
function stageStatus(p: PatchReport): string {
  switch (p.verdict) {
    case 'pass':
      return 'pass';
    case 'fail':
      return `FAIL: ${stagesWith(p, ['fail']).join(', ')}`.replace(/: $/, '');
    case 'error':
      return `ERROR: ${stagesWith(p, ['error']).join(', ')}`.replace(/: $/, '');
    case 'skipped':
      return 'not tested';
    case 'flaky':
      return `flaky: ${stagesWith(p, ['flaky']).join(', ')}`.replace(/: $/, '');
  }
}

/** The patch mails' signatures, one line a patch, when the report has them. */
function attestationLines(report: RunReport): string[] {
  const rows = attestationRows(report);
  if (!rows.length) return [];
  const w = Math.max(0, ...rows.map((r) => r.label.length));
  const hanging = ' '.repeat(2 + w + 2);
  return [para('Signatures of the patch mails (DKIM, patatt):'), '', ...rows.map((r) => wrap(r.summary, WIDTH, `  ${r.label.padEnd(w)}  `, hanging)), ''];
}

function perPatchLines(report: RunReport): string[] {
  const rows: [string, string, string][] = [];
  for (const base of baseRows(report)) rows.push([patchLabel(base, report), base.verdict === 'pass' ? 'pass' : VERDICT_WORDS[base.verdict], `${shortCommit(base.commit ?? report.base.commit)}${base.verdict === 'pass' ? '' : ` (${cleanLine(base.summary)})`}`]);
  for (const p of seriesPatches(report)) rows.push([patchLabel(p, report), stageStatus(p), `${cleanLine(p.subject)}${reuseOf(p) ? ` (${reuseOf(p)})` : ''}`]);
  for (const k of missingPatchNumbers(report)) rows.push([`${k}/${report.series.patches.length}`, 'not tested', cleanLine(report.series.patches.find((x) => x.index === k)?.subject ?? '')]);
  const w1 = Math.max(0, ...rows.map((r) => r[0].length));
  const w2 = Math.max(0, ...rows.map((r) => r[1].length));
  const hanging = ' '.repeat(2 + w1 + 2 + w2 + 2);
  return rows.map(([label, status, subject]) => wrap(subject, WIDTH, `  ${label.padEnd(w1)}  ${status.padEnd(w2)}  `, hanging));
}

/** What ran, said once when it is the same for every patch; else what each patch should go through. */
function whatRan(report: RunReport): string {
  const patches = seriesPatches(report);
  const tests = [...new Set(patches.flatMap((p) => p.tests.map((t) => t.name)))];
  // "built, booted" only when every patch built and booted; "tested" when every test stage finished.
  const done = (v: string): boolean => v === 'pass' || v === 'flaky';
  const finished = (v: string): boolean => done(v) || v === 'fail';
  const allRan =
    patches.length > 0 &&
    patches.length === report.series.patches.length * reportConfigs(report).length &&
    patches.every((p) => done(p.stages.apply.verdict) && done(p.stages.build.verdict) && done(p.stages.boot.verdict) && finished(p.stages.test.verdict) && finished(p.stages.model.verdict));
  if (!allRan) return 'Each patch was to be applied on top of the previous ones, built, booted, run through the guest tests and checked against the reference model; a stage does not run when an earlier one fails or the run stops. Per patch:';
  const testText = tests.length ? `ran ${listText(tests)}` : 'ran the guest tests';
  const traced = patches.every((p) => p.tests.every((t) => t.conformance.verdict === 'pass' || t.conformance.verdict === 'fail'));
  const model = traced ? "had the kernel's zswap trace checked against the reference model of entry lifetimes" : 'went through the model checks (not every test was checked against a kernel trace)';
  const reused = patches.some((p) => p.reusedFrom) ? ' A patch whose kernel came out byte-identical to an earlier one carries its results, and says so below.' : '';
  return `Each patch was applied on top of the previous ones, built, booted, ${testText}, and ${model}.${reused}`;
}

function listText(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function testEvidence(t: TestDetails): string[] {
  const out: string[] = [];
  for (const f of t.findings) {
    out.push(para(`${cleanLine(f.kind)} during ${t.name}${f.function ? `, in ${cleanLine(f.function)}()` : ''}:`), '', excerpt(findingLines(f, { frames: 8 })), '');
  }
  const total = Math.max(t.badPagesTotal, t.badPages.length);
  if (total) {
    const shown = t.badPages.slice(0, 5).map((b) => cleanLine(b.description));
    if (total > shown.length) shown.push(`... and ${total - shown.length} more`);
    out.push(para(`Wrong data read back during ${t.name} (${total} page${total === 1 ? '' : 's'}):`), '', excerpt(shown), '');
  }
  const failed = t.selftest?.filter((c) => c.status === 'fail') ?? [];
  if (failed.length) out.push(para(`Failed selftest cases of ${t.name}:`), '', excerpt(failed.map((c) => `not ok ${c.number} ${c.name}`)), '');
  if (!out.length) out.push(para(`${t.name} failed: ${cleanLine(t.summary)}`), '');
  return out;
}

function stageEvidence(p: PatchReport, stage: StageName): string[] {
  const st = p.stages[stage];
  const out: string[] = [];
  switch (stage) {
    case 'apply':
      out.push(para('It does not apply:'), '', excerpt(st.evidence.length ? st.evidence : [st.summary]), '');
      break;
    case 'build': {
      const lines = buildLines(p);
      const b = p.build;
      const what = b && b.errors.length ? 'It does not build' : b && b.newWarnings.length ? 'It builds with new warnings' : 'The build failed';
      out.push(para(`${what}:`), '', excerpt(lines.length ? lines : st.evidence.length ? st.evidence : [st.summary]), '');
      break;
    }
    case 'boot': {
      const lines = [...st.evidence];
      if (p.boot?.consoleTail) lines.push('', ...tailLines(p.boot.consoleTail, 15));
      out.push(para(`It does not boot: ${cleanLine(st.summary)}`), '', excerpt(lines.length ? lines : [st.summary]), '');
      break;
    }
    case 'test': {
      const failing = p.tests.filter((t) => t.verdict === 'fail');
      if (failing.length) for (const t of failing) out.push(...testEvidence(t));
      else out.push(para(`The tests failed: ${cleanLine(st.summary)}`), '', ...(st.evidence.length ? [excerpt(st.evidence), ''] : []));
      break;
    }
    case 'model': {
      const found = p.tests.flatMap((t) => t.violations.map((v) => ({ t, v })));
      if (found.length) {
        for (const { t, v } of found) {
          out.push(para(`The reference model of zswap entry lifetimes found a violation of "${cleanLine(v.rule)}" in the kernel's trace of ${t.name} (the offending event last):`), '', excerpt(violationLines(v)), '');
        }
      } else {
        out.push(para(`The model checks failed: ${cleanLine(st.summary)}`), '', ...(st.evidence.length ? [excerpt(st.evidence), ''] : []));
      }
      break;
    }
  }
  return out;
}

function regressionSection(p: PatchReport, report: RunReport, first: boolean): string[] {
  const out: string[] = [];
  const stages = stagesWith(p, ['fail']);
  out.push(para(`kharness noticed the following ${first ? '' : 'further '}problem${stages.length > 1 ? 's' : ''} with ${quoteSubject(p, report)}, at ${listText(stages)}:`), '');
  for (const s of stages) out.push(...stageEvidence(p, s));
  return out;
}

/** reply.txt. Pure: the same report gives the same text. */
export function renderReply(report: RunReport): string {
  const s = report.series;
  const target = replySubject(report);
  const subjectLine = /^re:/i.test(target.subject.trim()) ? target.subject : `Re: ${canonicalSubject(cleanLine(target.subject), s.version, target.index, target.total)}`;
  const msgid = `<${bareMessageId(s.replyTo)}>`;
  const out: string[] = [header('Subject', subjectLine), header('In-Reply-To', msgid), header('References', msgid), ''];

  const author = seriesAuthor(report);
  const name = author ? firstName(author.name) : '';
  out.push(name ? `Hi ${name},` : 'Hi,', '');

  const env = report.environment;
  out.push(para(`kharness tested this series on ${shortCommit(report.base.commit)} (${cleanLine(report.base.reason)}) with ${env.configs ? `configs ${listText(env.configs.map((c) => cleanLine(c.name)))} (each patch built and booted with each)` : `config ${cleanLine(env.config.name)}`}, under ${accelName(report)}.`), '');
  if (env.sandbox?.mode === 'none') out.push(para(`The series' code ran unsandboxed on this machine (${cleanLine(env.sandbox.detail)}).`), '');
  if (report.status !== 'complete') {
    out.push(para(`The run did not finish (${statusText(report)}${report.statusReason ? `: ${cleanLine(report.statusReason)}` : ''}), so this covers only what ran before it stopped.`), '');
  }
  out.push(para(whatRan(report)), '', ...perPatchLines(report), '');
  out.push(...attestationLines(report));

  const failing = failingPatches(report);
  const untested = [...seriesPatches(report).filter((p) => p.verdict === 'skipped').map((p) => patchLabel(p, report)), ...missingPatchNumbers(report).map((k) => `${k}/${s.patches.length}`)];
  if (failing.length) {
    failing.forEach((p, i) => out.push(...regressionSection(p, report, i === 0)));
    out.push(...reproduceSection(report, failing), ...tagLines(report));
  } else if (!seriesPatches(report).some((p) => STAGES.some((st) => p.stages[st].verdict !== 'skipped'))) {
    out.push(para('Nothing in the series was tested: the run stopped before the first patch. No verdict on any patch.'), '');
  } else {
    const scope = untested.length || errorPatches(report).length ? 'No regressions found in what ran' : 'No regressions found';
    out.push(para(`${scope}.${untested.length ? ` Not tested: ${listText(untested)}.` : ''}`), '');
  }

  for (const p of errorPatches(report)) {
    const broken = stagesWith(p, ['error']);
    const why = broken.map((st) => `${st}: ${cleanLine(p.stages[st].summary)}`).join('; ');
    out.push(para(`kharness could not finish testing ${quoteSubject(p, report)} (${why || cleanLine(p.summary)}). That is a problem on our side or in the test environment, not a verdict on the patch.`), '');
  }

  const flaky = report.patches.flatMap((p) => STAGES.filter((st) => p.stages[st].verdict === 'flaky').map((st) => `${patchLabel(p, report)} ${st}: ${cleanLine(p.stages[st].summary)} (${flakyText(p.stages[st].flakyCounts) || 'changed on retry'})`));
  if (flaky.length) out.push(para('Flaky (the result changed on retry), not reported as a regression:'), ...flaky.map((f) => para(f, '  ', '    ')), '');

  const pre = [...new Set(seriesPatches(report).flatMap(preExistingOf))];
  const failingBases = baseRows(report).filter((b) => b.verdict === 'fail');
  if (pre.length || failingBases.length) {
    out.push(para('Already failing on the base, so not caused by this series:'));
    const lines = pre.length ? pre : failingBases.map((b) => `${b.config ? `${b.config}: ` : ''}${cleanLine(b.summary)}`);
    out.push(...lines.map((l) => para(l, '  ', '    ')), '');
  }

  const gaps = new Map<string, Set<string>>();
  for (const p of seriesPatches(report)) for (const t of p.tests) for (const g of gapLabels(t)) gaps.set(t.name, (gaps.get(t.name) ?? new Set()).add(g));
  if (gaps.size) {
    out.push(para('Lifetime paths the tests were meant to drive but never ran (no evidence either way):'));
    for (const [test, labels] of gaps) out.push(para(`${test}: ${[...labels].join(', ')}`, '  ', '    '));
    out.push('');
  }

  out.push('-- ', `kharness ${cleanLine(report.tool.version)}`, `run ${cleanLine(report.runId)}`);
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
