import type { DesignCheckResult } from './design/checker.js';
import { LIFETIME_PATHS, type LifetimePath, type ReplayResult } from './replay.js';
import { describeCall, slotName, type Violation } from './rules.js';

/** Human-readable renderings of the model's results (the CLI prints these; --json prints the objects). */

export function formatViolation(v: Violation): string {
  const where = [v.slot ? `slot ${slotName(v.slot)}` : '', v.entry ? `entry ${v.entry}` : ''].filter(Boolean).join(', ');
  const lines = [`${v.rule}${where ? ` (${where})` : ''}: ${v.message}`];
  for (const e of v.events) lines.push(`    ${describeCall(e)}`);
  return lines.join('\n');
}

export function formatReplay(r: ReplayResult, calls: number): string {
  const lines: string[] = [];
  const verdict = r.violations.length === 0 ? 'no violation' : `${r.violations.length} violation${r.violations.length === 1 ? '' : 's'}`;
  lines.push(`replayed ${calls} call${calls === 1 ? '' : 's'} over ${r.slotsChecked} slot${r.slotsChecked === 1 ? '' : 's'}: ${verdict}`);
  lines.push('lifetime paths:');
  const width = Math.max(...Object.values(LIFETIME_PATHS).map((d) => d.length));
  for (const [key, label] of Object.entries(LIFETIME_PATHS) as Array<[LifetimePath, string]>) {
    const n = r.stats[key];
    lines.push(`  ${label.padEnd(width)}  ${String(n).padStart(8)}${n === 0 ? '  (never ran)' : ''}`);
  }
  const p = r.stats.pending;
  const pending = p.store + p.load + p.invalidate + p.writeback + p.swapoff + p.swapon;
  if (pending > 0) {
    lines.push(`  calls without a captured return: ${pending} (store ${p.store}, load ${p.load}, invalidate ${p.invalidate}, writeback ${p.writeback}, swapoff ${p.swapoff}, swapon ${p.swapon})`);
  }
  if (r.stats.lost.gaps > 0) {
    lines.push(`  the trace lost ${r.stats.lost.events ?? 'an unknown number of'} events in ${r.stats.lost.gaps} gap${r.stats.lost.gaps === 1 ? '' : 's'}: slots were re-learned after each`);
  }
  for (const v of r.violations) lines.push('', formatViolation(v));
  for (const s of r.inconclusive) lines.push('', `not checked: slot ${slotName(s.slot)}: ${s.reason}`);
  return lines.join('\n');
}

export function describeBounds(r: DesignCheckResult): string {
  const b = r.bounds;
  return `${b.threads} worker${b.threads === 1 ? '' : 's'} (${b.opsPerThread} ops each) + shrinker (${b.writebacks} writeback${b.writebacks === 1 ? '' : 's'}) + swapoff/swapon (${b.swapoffCycles} cycle${b.swapoffCycles === 1 ? '' : 's'}), ${b.slots} slot${b.slots === 1 ? '' : 's'}`;
}

export function formatDesignCheck(r: DesignCheckResult): string {
  const stats = `${r.statesExplored} states, ${r.transitions} transitions, ${(r.elapsedMs / 1000).toFixed(2)} s`;
  if (!r.violation) {
    const what = r.complete ? 'no violation within the bounds' : 'no violation found, but the state limit stopped the search';
    return `design ${r.design}: ${what}\n  bounds: ${describeBounds(r)}\n  explored ${stats}, longest interleaving ${r.depth} steps`;
  }
  const v = r.violation;
  const lines = [`design ${r.design}: ${v.rule} after ${v.steps.length} steps (a shortest interleaving)`, `  bounds: ${describeBounds(r)}; explored ${stats}`];
  for (const s of v.steps) {
    lines.push(`  ${String(s.index).padStart(2)}. ${s.thread}: ${s.action}`);
    if (s.changes.length === 0) lines.push('        (only the thread\'s own progress)');
    for (const c of s.changes) lines.push(`        ${c}`);
  }
  lines.push(`  => ${v.rule}: ${v.message}`);
  for (const a of v.alsoBroken) lines.push(`     also ${a.rule}: ${a.message}`);
  return lines.join('\n');
}

export function formatCoverage(coverage: Record<string, number>): string {
  const rows = Object.entries(coverage).sort((a, b) => a[0].localeCompare(b[0]));
  return ['steps run (names and numbers masked as #):', ...rows.map(([k, n]) => `  ${String(n).padStart(8)}  ${k}`)].join('\n');
}
