import { DEFAULT_BOUNDS, checkDesign, type DesignBounds } from './design/checker.js';
import { describeBounds } from './format.js';
import { replayTrace } from './replay.js';
import { replayRefcounted } from './refcount-replay.js';
import { synthesizeTrace } from './synth.js';
import { synthesizeRefcountTrace } from './synth-refcount.js';

/**
 * The model's bench: how fast the design checker explores states, how long it takes to find the
 * v6.7 swapoff use-after-free, how long it takes to exhaust v6.12 (2 workers + shrinker +
 * swapoff over 3 slots), and how fast trace replay runs on a synthetic concurrent trace.
 */

const TARGET_V67_MS = 2_000;
const TARGET_V612_MS = 30_000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function verdict(ms: number, target: number): string {
  return ms <= target ? `ok (target < ${seconds(target)})` : `SLOW (target < ${seconds(target)})`;
}

export async function runModelBench(): Promise<void> {
  const write = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const bounds: DesignBounds = { ...DEFAULT_BOUNDS, threads: 2, slots: 3 };

  const v67 = checkDesign('v6.7', bounds);
  write(`v6.7: ${v67.violation ? `${v67.violation.rule} in ${v67.violation.steps.length} steps` : 'NO COUNTEREXAMPLE'} after ${seconds(v67.elapsedMs)}, ${v67.statesExplored} states — ${verdict(v67.elapsedMs, TARGET_V67_MS)}`);

  const v612 = checkDesign('v6.12', bounds);
  const rate = v612.statesExplored / (v612.elapsedMs / 1000);
  write(
    `v6.12: ${v612.violation ? `UNEXPECTED ${v612.violation.rule}` : v612.complete ? 'exhausted, no violation' : 'state limit hit'} in ${seconds(v612.elapsedMs)} — ${verdict(v612.elapsedMs, TARGET_V612_MS)}`,
  );
  write(`       ${describeBounds(v612)}: ${v612.statesExplored} states, ${v612.transitions} transitions, ${Math.round(rate)} states/s`);

  const seed = checkDesign('seed-proposal', bounds);
  write(`seed-proposal: ${seed.violation ? `UNEXPECTED ${seed.violation.rule}` : 'exhausted, no violation'} in ${seconds(seed.elapsedMs)}, ${seed.statesExplored} states`);

  const noCmp = checkDesign('v6.12-no-cmpxchg', bounds);
  write(`v6.12-no-cmpxchg: ${noCmp.violation ? `${noCmp.violation.rule} in ${noCmp.violation.steps.length} steps` : 'NO COUNTEREXAMPLE'} after ${seconds(noCmp.elapsedMs)}`);

  const calls = synthesizeTrace({ calls: 200_000, slots: 256, cpus: 2, seed: 7, swapoffEvery: 20_000 });
  const started = performance.now();
  const replay = replayTrace(calls);
  const ms = performance.now() - started;
  write(
    `replay: ${calls.length} calls (2 CPUs, overlapping) in ${seconds(ms)}, ${Math.round(calls.length / (ms / 1000))} calls/s, ${replay.violations.length} violations, ${replay.inconclusive.length} inconclusive slots`,
  );

  const v61 = checkDesign('v6.1', bounds);
  write(`v6.1: ${v61.violation ? `${v61.violation.rule} in ${v61.violation.steps.length} steps` : 'no violation'} after ${seconds(v61.elapsedMs)}, ${v61.statesExplored} states`);
  const events = synthesizeRefcountTrace({ calls: 200_000, slots: 256, tasks: 4, seed: 7, swapoffEvery: 20_000 });
  const t61 = performance.now();
  const refcount = replayRefcounted(events);
  const ms61 = performance.now() - t61;
  write(
    `replay (6.1 refcount model): ${events.length} events (4 tasks, puts and frees in lock order) in ${seconds(ms61)}, ${Math.round(events.length / (ms61 / 1000))} events/s, ${refcount.violations.length} violations`,
  );
}
