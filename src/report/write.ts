import { mkdir, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic.js';
import path from 'node:path';
import { InfraError, InputError, errorMessage } from '../common/errors.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { renderKcidb } from './kcidb.js';
import { renderMarkdown } from './markdown.js';
import { renderChecks } from './checks.js';
import { renderReply, reproduceConfigName } from './reply.js';
import { failingPatches } from './facts.js';
import { RunReportSchema } from './schema.js';
import type { RunReport } from './types.js';

export const REPORT_JSON = 'report.json';

export const FORMATS = ['json', 'md', 'html', 'junit', 'kcidb', 'reply', 'checks'] as const;
export type ReportFormat = (typeof FORMATS)[number];

/** The file each format is written to, relative to the report folder. */
export const REPORT_FILES: Record<ReportFormat, string> = {
  json: REPORT_JSON,
  md: 'report.md',
  html: 'index.html',
  junit: 'junit.xml',
  kcidb: 'kcidb.json',
  reply: 'reply.txt',
  checks: 'checks.json',
};

export interface WriteOptions {
  /** prefix for links to the logs named in the report, when they live elsewhere (`../run/`) */
  linkPrefix?: string;
  /** public URL the report folder is served at (KCIDB log_url/output_files) */
  baseUrl?: string;
  /** only these formats (default: all) */
  formats?: readonly ReportFormat[];
}

/** One format rendered to text (pure). */
export function renderFormat(report: RunReport, format: ReportFormat, opts: Omit<WriteOptions, 'formats'> = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'md':
      return renderMarkdown(report, { linkPrefix: opts.linkPrefix });
    case 'html':
      return renderHtml(report, { linkPrefix: opts.linkPrefix });
    case 'junit':
      return renderJunit(report);
    case 'kcidb':
      return renderKcidb(report, { baseUrl: opts.baseUrl });
    case 'reply':
      return renderReply(report);
    case 'checks':
      return renderChecks(report, { baseUrl: opts.baseUrl });
  }
}

/** The merged .config of each failing row, beside reply.txt under the name its reproduce: section gives. */
async function writeReplyAttachments(dir: string, report: RunReport): Promise<void> {
  for (const p of failingPatches(report)) {
    const rel = p.stages.build.logs.config;
    // Only a file inside the report folder: the report names it, and the report may be someone else's.
    if (!rel || path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) continue;
    const text = await readFile(path.join(dir, rel)).catch(() => undefined);
    if (text) await writeFileAtomic(path.join(dir, reproduceConfigName(p)), text);
  }
}

function describeIssues(error: { issues: { path: (string | number)[]; message: string }[] }, max = 3): string {
  const shown = error.issues.slice(0, max).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  if (error.issues.length > max) shown.push(`and ${error.issues.length - max} more`);
  return shown.join('; ');
}

/**
 * Writes report.json and every rendering of it into `dir`, each atomically (report.json last),
 * and returns format → path relative to `dir`. The report.json written already lists these
 * files under `files` (merged with the ones it had, logs included).
 */
export async function writeReports(dir: string, report: RunReport, opts: WriteOptions = {}): Promise<Record<string, string>> {
  const checked = RunReportSchema.safeParse(report);
  if (!checked.success) throw new InfraError(`refusing to write an invalid report to ${dir}: ${describeIssues(checked.error)}`);
  const formats = opts.formats ?? FORMATS;
  const written: Record<string, string> = {};
  for (const f of formats) written[f] = REPORT_FILES[f];
  const full: RunReport = { ...checked.data, files: { ...checked.data.files, ...written } };

  const order = [...formats].sort((a, b) => Number(a === 'json') - Number(b === 'json'));
  try {
    await mkdir(dir, { recursive: true });
    const rendered = order.map((f) => ({ file: path.join(dir, REPORT_FILES[f]), text: renderFormat(full, f, opts) }));
    // Each file through its own unique temporary name: a reader, or another run writing the
    // same folder, sees a whole old file or a whole new one.
    for (const r of rendered) await writeFileAtomic(r.file, r.text);
    if (formats.includes('reply')) await writeReplyAttachments(dir, full);
  } catch (err) {
    throw new InfraError(`cannot write the report to ${dir}: ${errorMessage(err)}`);
  }
  return written;
}

/**
 * The same report with every file path it names (stage logs, console log, files) made relative to
 * another folder: what a report written elsewhere (`kharness report DIR --out OTHER`) must say.
 * URLs and absolute paths are left alone.
 */
export function rebaseReport(report: RunReport, fromDir: string, toDir: string): RunReport {
  const rel = path.relative(path.resolve(toDir), path.resolve(fromDir));
  if (rel === '') return report;
  const move = (p: string): string => (path.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) ? p : path.posix.join(rel.split(path.sep).join('/'), p));
  const mapValues = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, move(v)]));
  return {
    ...report,
    files: mapValues(report.files),
    patches: report.patches.map((p) => ({
      ...p,
      stages: Object.fromEntries(Object.entries(p.stages).map(([k, st]) => [k, { ...st, logs: mapValues(st.logs) }])) as RunReport['patches'][number]['stages'],
      ...(p.boot ? { boot: { ...p.boot, ...(p.boot.consoleLog ? { consoleLog: move(p.boot.consoleLog) } : {}) } } : {}),
    })),
  };
}

/** A report folder or a report.json path → both. */
export async function locateReport(input: string): Promise<{ dir: string; file: string }> {
  let isDir = false;
  try {
    isDir = (await stat(input)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError(`${input} does not exist`, 'give a report folder (reports/<series>) or its report.json');
    throw new InputError(`cannot read ${input}: ${errorMessage(err)}`);
  }
  const file = isDir ? path.join(input, REPORT_JSON) : input;
  return { dir: path.dirname(file), file };
}

/** Reads and validates report.json from a report folder (or the file itself). */
export async function readReport(dirOrFile: string): Promise<RunReport> {
  const { file } = await locateReport(dirOrFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError(`${dirOrFile} holds no ${REPORT_JSON}`, 'run "kharness run <series>" first, or give the path of a report.json');
    throw new InputError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not valid JSON: ${errorMessage(err)}`);
  }
  const version = (data as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (data !== null && typeof data === 'object' && version !== undefined && version !== 1) {
    throw new InputError(`${file} has schemaVersion ${JSON.stringify(version)}; this kharness reads schemaVersion 1`, 'render it with the kharness version that wrote it');
  }
  const parsed = RunReportSchema.safeParse(data);
  if (!parsed.success) throw new InputError(`${file} is not a kharness report (${describeIssues(parsed.error)})`);
  return parsed.data;
}
