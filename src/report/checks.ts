import { z } from 'zod';
import { bareMessageId, configSlug, missingPatchNumbers, patchLabel, reportConfigs, seriesPatches, stagesWith } from './facts.js';
import { cleanLine } from './text.js';
import type { PatchReport, RunReport } from './types.js';

/**
 * checks.json: one patchwork check per patch (and per config), each `check` the exact body of a
 * POST to patchwork's /api/patches/<id>/checks/; `msgid` finds the patch (/api/patches/?msgid=).
 * Patchwork has no "could not test": a patch our side could not judge is a warning, never a fail.
 */
export const PatchworkCheckSchema = z.object({
  state: z.enum(['success', 'warning', 'fail']),
  /** [a-z0-9-]: what patchwork groups a tool's checks by */
  context: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  description: z.string().max(255),
  target_url: z.string().url().nullable(),
});

export const ChecksSchema = z.array(z.object({ msgid: z.string(), patch: z.string(), check: PatchworkCheckSchema }));
export type PatchworkCheck = z.infer<typeof PatchworkCheckSchema>;
export type Checks = z.infer<typeof ChecksSchema>;

export interface ChecksOptions {
  /** public URL the report folder is served at; without it target_url is null */
  baseUrl?: string;
}

const context = (config: string): string => `kharness-${config.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}`;
const short = (s: string): string => (s.length > 255 ? `${s.slice(0, 252)}...` : s);

function stateOf(p: PatchReport): { state: PatchworkCheck['state']; description: string } {
  switch (p.verdict) {
    case 'pass':
      return { state: 'success', description: 'built, booted, guest tests and model passed' };
    case 'fail':
      return { state: 'fail', description: `failed at ${stagesWith(p, ['fail']).join(', ')}: ${cleanLine(p.summary)}` };
    case 'flaky':
      return { state: 'warning', description: `flaky (changed on retry): ${cleanLine(p.summary)}` };
    case 'error':
      return { state: 'warning', description: `not tested, kharness or the test machine broke (not the patch): ${cleanLine(p.summary)}` };
    case 'skipped':
      return { state: 'warning', description: `not tested: ${cleanLine(p.summary)}` };
  }
}

export function buildChecks(report: RunReport, opts: ChecksOptions = {}): Checks {
  const target = (anchor: string): string | null => (opts.baseUrl ? `${opts.baseUrl.replace(/\/+$/, '')}/index.html#${anchor}` : null);
  const out: Checks = seriesPatches(report).map((p) => {
    const { state, description } = stateOf(p);
    const msgid = p.messageId ?? report.series.patches.find((x) => x.index === p.index)?.messageId ?? '';
    return { msgid: bareMessageId(msgid), patch: patchLabel(p, report), check: { state, context: context(p.config ?? report.environment.config.name), description: short(description), target_url: target(`patch-${p.index}${configSlug(p)}`) } };
  });
  // Patches the run never reached still get their check: not tested, per config.
  for (const k of missingPatchNumbers(report)) {
    const patch = report.series.patches.find((x) => x.index === k);
    for (const config of reportConfigs(report)) {
      out.push({ msgid: bareMessageId(patch?.messageId ?? ''), patch: `${k}/${report.series.patches.length}`, check: { state: 'warning', context: context(config), description: 'not tested: the run stopped before this patch', target_url: target(`patch-${k}`) } });
    }
  }
  return out;
}

export function renderChecks(report: RunReport, opts: ChecksOptions = {}): string {
  return `${JSON.stringify(ChecksSchema.parse(buildChecks(report, opts)), null, 2)}\n`;
}
