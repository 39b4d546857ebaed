import { describe, expect, it } from 'vitest';
import { buildKcidb, renderHtml, renderMarkdown, renderReply } from '../../../src/report/index.js';
import { RunReportSchema } from '../../../src/report/schema.js';
import { fixture, withAttestation } from './helpers.js';

/**
 * Every report format shows each patch mail's attestation (signed by whom, bad and why, not
 * signed), rendered from report.json alone; a report from before attestation shows none.
 */
describe('attestation in the reports', () => {
  const report = withAttestation();

  it('report.json keeps it through its schema, and refuses a status it does not know', () => {
    const parsed = RunReportSchema.parse(JSON.parse(JSON.stringify(report)));
    expect(parsed.series.patches.map((p) => p.attestation?.status)).toEqual(['signed', 'bad', 'unsigned', 'unknown']);
    const broken = structuredClone(report) as { series: { patches: { attestation?: { status: string } }[] } };
    broken.series.patches[0]!.attestation!.status = 'trusted';
    expect(RunReportSchema.safeParse(broken).success).toBe(false);
  });

  it('report.md lists every patch, the bad one in bold', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('- Attestation (DKIM and patatt signatures of each patch mail):');
    expect(md).toContain('  - 1/4: signed by patatt ed25519 alice@example.com; DKIM example.com');
    expect(md).toMatch(/ {2}- 2\/4: \*\*bad signature: patatt ed25519 alice@example\.com: body content validation failed/);
    expect(md).toContain('  - 3/4: not signed');
    expect(md).toContain('  - 4/4: not verified: DKIM example.com');
  });

  it('index.html shows it, escaped', () => {
    const html = renderHtml(report);
    expect(html).toContain('<dt>Attestation</dt><dd>1/4: signed by patatt ed25519 alice@example.com; DKIM example.com<br>2/4: <strong>bad signature:');
    expect(html).toContain('<br>3/4: not signed<br>');
  });

  it('the reply names each patch’s signatures', () => {
    const reply = renderReply(report);
    expect(reply).toContain('Signatures of the patch mails (DKIM, patatt):');
    expect(reply).toMatch(/^ {2}1\/4 {2}signed by patatt ed25519 alice@example\.com; DKIM example\.com$/m);
    expect(reply).toMatch(/^ {2}2\/4 {2}bad signature: patatt ed25519/m);
    expect(reply).toMatch(/^ {2}3\/4 {2}not signed$/m);
  });

  it('KCIDB carries it in each patch checkout’s misc, not the base’s', () => {
    const kcidb = buildKcidb(report);
    const misc = (kcidb.checkouts ?? []).map((c) => (c.misc as { attestation?: { status: string } } | undefined)?.attestation?.status);
    expect(misc).toEqual([undefined, 'signed', 'bad', 'unsigned', 'unknown']);
  });

  it('a report from before attestation shows none of it', () => {
    const old = fixture('regression');
    expect(renderMarkdown(old)).not.toContain('Attestation');
    expect(renderHtml(old)).not.toContain('Attestation');
    expect(renderReply(old)).not.toContain('Signatures of the patch mails');
    expect((buildKcidb(old).checkouts ?? []).some((c) => (c.misc as Record<string, unknown> | undefined)?.attestation)).toBe(false);
  });
});
