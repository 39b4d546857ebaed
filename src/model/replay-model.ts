import { replayRefcounted } from './refcount-replay.js';
import { replayTrace, type ReplayOptions, type ReplayResult } from './replay.js';
import type { TraceCall } from './trace-types.js';

/**
 * Which replay judges a trace: `xarray` (6.12 and newer: exclusive loads, writeback that owns an
 * entry by erasing it; an interleaving search per slot) or `refcount` (6.1: refcounted entries
 * under the tree lock, replayed in lock order).
 */
export type ReplayModel = 'xarray' | 'refcount';

/** The replay for `model`; without one, the trace's own shape says (only 6.1 traces have puts). */
export function replayHistory(calls: readonly TraceCall[], options: ReplayOptions = {}, model?: ReplayModel): ReplayResult {
  const which = model ?? (calls.some((c) => c.kind === 'put') ? 'refcount' : 'xarray');
  return which === 'refcount' ? replayRefcounted(calls, options) : replayTrace(calls, options);
}
