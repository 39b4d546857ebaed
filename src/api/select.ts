import { ERAS, eraById } from './eras.js';
import type { ApiEra, ApiSelection, EraId, PrototypeCheck } from './types.js';

/**
 * Pure: the era whose required prototypes all hold in this kernel. When none does, the closest
 * one (most required prototypes holding) is named so the reasons can say what differs from it.
 */
export function selectEra(checks: PrototypeCheck[], eras: readonly ApiEra[] = ERAS): ApiSelection {
  const score = (era: ApiEra): { held: number; failed: PrototypeCheck[] } => {
    const required = era.functions.filter((f) => f.required).map((f) => f.fn);
    const mine = checks.filter((c) => c.era === era.id && required.includes(c.fn));
    const failed = required.map((fn) => mine.find((c) => c.fn === fn) ?? missingCheck(era.id, fn)).filter((c) => c.result !== 'match');
    return { held: required.length - failed.length, failed };
  };
  const scored = eras.map((era) => ({ era, ...score(era) }));
  const holding = scored.find((s) => s.failed.length === 0);
  if (holding) {
    const names = holding.era.functions.filter((f) => f.required).map((f) => f.fn);
    return { era: holding.era.id, reason: `the ${holding.era.title} prototypes hold: ${names.join(', ')}`, checks };
  }
  const best = scored.reduce((a, b) => (b.held > a.held ? b : a));
  return {
    closest: best.era.id,
    reason: `no known zswap API era matches this kernel; closest is ${best.era.title}, but ${best.failed.map((c) => c.detail).join('; ')}`,
    checks,
  };
}

function missingCheck(era: EraId, fn: string): PrototypeCheck {
  return { era, fn, expected: '?', result: 'unchecked', detail: `${fn} was not checked` };
}

/** The checks of one era, by function name. */
export function checksOf(selection: ApiSelection, era: EraId): Map<string, PrototypeCheck> {
  return new Map(selection.checks.filter((c) => c.era === era).map((c) => [c.fn, c]));
}

/** The era the probes follow: the selected one, else the closest (whose mismatches are not probed). */
export function probedEra(selection: ApiSelection): ApiEra | undefined {
  const id = selection.era ?? selection.closest;
  return id ? eraById(id) : undefined;
}
