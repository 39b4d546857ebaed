import path from 'node:path';
import { Option, type Command } from 'commander';
import { action } from '../common/command.js';
import { info } from '../common/output.js';
import { FORMATS, REPORT_FILES, locateReport, readReport, rebaseReport, renderFormat, writeReports, type ReportFormat } from './write.js';

interface ReportFlags {
  format?: ReportFormat;
  out?: string;
  url?: string;
  quiet?: boolean;
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('render a run\'s report.json again (Markdown, HTML, JUnit, KCIDB, email reply): to stdout, or every format into --out')
    .argument('<report>', 'report folder (reports/<series>) or its report.json')
    .addOption(new Option('-f, --format <format>', 'format to print (default: md), or with --out the only one to write').choices([...FORMATS]))
    .option('-o, --out <dir>', 'write the files into DIR instead of printing (report.json, report.md, index.html, junit.xml, kcidb.json, reply.txt, checks.json)')
    .option('--url <base>', 'public URL the report folder is served at, for log links in kcidb.json')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      `
Formats: ${FORMATS.map((f) => `${f} (${REPORT_FILES[f]})`).join(', ')}.
Everything is rendered from report.json alone, so a report can be regenerated after a kharness
upgrade. Log links keep pointing at the original report folder when --out is elsewhere.`,
    )
    .action(
      action(async (input: string, flags: ReportFlags) => {
        const { dir } = await locateReport(input);
        const report = await readReport(input);
        if (!flags.out) {
          process.stdout.write(renderFormat(report, flags.format ?? 'md', { baseUrl: flags.url }));
          return;
        }
        const out = path.resolve(flags.out);
        // Log paths in the report are relative to its folder: keep them pointing there.
        const written = await writeReports(out, rebaseReport(report, dir, out), { baseUrl: flags.url, formats: flags.format ? [flags.format] : undefined });
        info({ quiet: flags.quiet }, `wrote ${Object.values(written).join(', ')} to ${out}`);
      }),
    );
}
