import path from 'node:path';
import { z } from 'zod';
import { formatProtocolError, readRecords } from './protocol.js';

/**
 * The `switches` variant's record (suite.sh `switcher`): zswap's parameters changed while a test's
 * traffic ran. WORKLOAD.switches.jsonl: a first line naming what the kernel has to switch between,
 * then one line per switch with its result and the entries live at that moment. This module owns
 * the format and what the judge makes of it: coverage per kind, a gap for a kind that never
 * switched with entries live.
 */
const Available = z.object({ available: z.object({ compressor: z.array(z.string().max(64)).max(16), zpool: z.array(z.string().max(64)).max(8) }).strict() }).strict();
const Switch = z
  .object({
    kind: z.enum(['compressor', 'zpool', 'enabled', 'shrinker_enabled', 'max_pool_percent', 'accept_threshold_percent']),
    to: z.string().max(64),
    rc: z.number().int(),
    live: z.number().int(),
  })
  .strict();
const SwitchLine = z.union([Available, Switch]);
export type SwitchRecord = z.infer<typeof Switch>;

const LABELS: Record<SwitchRecord['kind'], string> = {
  compressor: 'compressor switches with live entries',
  zpool: 'zpool switches with live entries',
  enabled: 'zswap.enabled toggled with live entries',
  shrinker_enabled: 'shrinker_enabled toggled with live entries',
  max_pool_percent: 'max_pool_percent changed with live entries',
  accept_threshold_percent: 'accept_threshold_percent changed with live entries',
};

export interface SwitchCoverage {
  coverage: { path: string; label: string; count: number }[];
  /** kinds this kernel could switch that never switched with entries live */
  gaps: string[];
  evidence: string[];
}

/** What the switcher did in one test; undefined when the test ran without it (another variant). */
export async function judgeSwitches(runDir: string, test: string): Promise<SwitchCoverage | undefined> {
  const r = await readRecords(path.join(runDir, `${test}.switches.jsonl`), SwitchLine, { maxBytes: 4 << 20 });
  if (r.missing) return undefined;
  const evidence = r.errors.slice(0, 3).map((e) => `switches: ${formatProtocolError(e)}`);
  const header = r.records.map((x) => x.record).find((x): x is z.infer<typeof Available> => 'available' in x);
  const switches = r.records.map((x) => x.record).filter((x): x is SwitchRecord => 'kind' in x);
  const single = (['compressor', 'zpool'] as const).filter((k) => header && header.available[k].length === 1).map((k) => `switches: ${k} not switched, this kernel has only ${header!.available[k][0]}`);
  return { ...switchCoverage(header?.available, switches), evidence: [...evidence, ...single, ...refusals(switches)] };
}

/** Coverage per kind: successful switches while entries were live. A kind the kernel cannot switch (one compressor) is no gap. */
export function switchCoverage(available: { compressor: string[]; zpool: string[] } | undefined, switches: SwitchRecord[]): Omit<SwitchCoverage, 'evidence'> {
  const possible = (Object.keys(LABELS) as SwitchRecord['kind'][]).filter((k) => (k === 'compressor' || k === 'zpool' ? (available?.[k].length ?? 0) > 1 : true));
  const coverage = possible.map((k) => ({ path: `switch:${k}`, label: LABELS[k], count: switches.filter((s) => s.kind === k && s.rc === 0 && s.live > 0).length }));
  // shrinker_enabled is absent on kernels without the option: a gap only where it switched at all.
  const gaps = coverage.filter((c) => c.count === 0 && (c.path !== 'switch:shrinker_enabled' || switches.some((s) => s.kind === 'shrinker_enabled'))).map((c) => c.path);
  return { coverage, gaps };
}

/** Switches the kernel refused: evidence (a value it does not take is not a bug by itself). */
function refusals(switches: SwitchRecord[]): string[] {
  const refused = switches.filter((s) => s.rc !== 0);
  if (!refused.length) return [];
  const kinds = [...new Set(refused.map((s) => `${s.kind}=${s.to}`))];
  return [`switches: ${refused.length} refused by the kernel (${kinds.slice(0, 4).join(', ')})`];
}
