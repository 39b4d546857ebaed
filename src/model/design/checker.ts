import { InputError } from '../../common/errors.js';
import type { RuleId } from '../rules.js';
import { DESIGNS } from './designs.js';
import {
  O_DONE,
  O_IDLE,
  SHRINK_BEGIN,
  W_IDLE,
  entryName,
  shrinkerId,
  swapoffId,
  swapoffSteps,
  threadName,
  workerSteps,
  type Layout,
  type Step,
  type ZswapDesign,
} from './programs.js';
import {
  DEV_ON,
  FOLIO_UNLOCKED,
  NO_FOLIO,
  PAGE_CACHED,
  PAGE_SWAPPED,
  canonicalKey,
  cloneState,
  normalize,
  permutations,
  versionName,
  type Broken,
  type DState,
} from './state.js';

/**
 * Exhaustive exploration of a design's step programs: breadth-first over states, deduplicated by
 * a canonical key (up to renaming the identical workers), so the first rule broken is broken by a
 * shortest interleaving.
 */

export interface DesignBounds {
  /** worker threads, each owning one page it swaps out and in */
  threads: number;
  /** swap slots of the one swap type */
  slots: number;
  /** operations each worker may start (swapout, swapin, unmap, drop from swap cache) */
  opsPerThread: number;
  /** writeback attempts of the shrinker thread */
  writebacks: number;
  /** swapoff + swapon cycles of the swapoff thread */
  swapoffCycles: number;
  /** stop (incomplete) after this many distinct states */
  maxStates: number;
}

export const DEFAULT_BOUNDS: DesignBounds = {
  threads: 2,
  slots: 3,
  opsPerThread: 3,
  writebacks: 2,
  swapoffCycles: 1,
  maxStates: 5_000_000,
};

export interface CounterexampleStep {
  /** 1-based position in the interleaving */
  index: number;
  thread: string;
  action: string;
  /** what the step changed, as `thing: before → after` */
  changes: string[];
}

export interface DesignViolation {
  rule: RuleId;
  message: string;
  /** other rules the same step broke */
  alsoBroken: Array<{ rule: RuleId; message: string }>;
  steps: CounterexampleStep[];
}

export interface DesignCheckResult {
  design: string;
  bounds: DesignBounds;
  /** the shortest interleaving that breaks a rule, or null when none exists within the bounds */
  violation: DesignViolation | null;
  /** false when maxStates cut the search short (then "no violation" proves nothing) */
  complete: boolean;
  statesExplored: number;
  transitions: number;
  /** length of the longest interleaving explored */
  depth: number;
  elapsedMs: number;
  /**
   * With `coverage`: how often each kind of step ran (names and numbers masked as #), to show
   * which races the exploration actually reached.
   */
  coverage?: Record<string, number>;
}

export interface CheckOptions {
  coverage?: boolean;
}

export interface DesignInfo {
  name: string;
  summary: string;
}

export function listDesigns(): DesignInfo[] {
  return DESIGNS.map((d) => ({ name: d.name, summary: d.summary }));
}

function findDesign(name: string): ZswapDesign {
  const d = DESIGNS.find((x) => x.name === name);
  if (!d) throw new InputError(`unknown design "${name}"`, `known designs: ${DESIGNS.map((x) => x.name).join(', ')}`);
  return d;
}

function validateBounds(b: DesignBounds): void {
  const check = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new InputError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  };
  check('threads', b.threads, 1, 4);
  check('slots', b.slots, 1, 8);
  check('ops per thread', b.opsPerThread, 1, 6);
  check('writebacks', b.writebacks, 0, 4);
  check('swapoff cycles', b.swapoffCycles, 0, 2);
  check('max states', b.maxStates, 1, 100_000_000);
}

function initialState(b: DesignBounds): DState {
  const threads = [];
  for (let t = 0; t < b.threads + 2; t++) threads.push({ pc: 0, ret: 0, slot: -1, entry: -1, tree: -1, data: 0, left: 0 });
  threads[b.threads]!.pc = SHRINK_BEGIN;
  threads[b.threads]!.left = b.writebacks;
  threads[b.threads + 1]!.pc = b.swapoffCycles > 0 ? O_IDLE : O_DONE;
  threads[b.threads + 1]!.left = b.swapoffCycles;
  return {
    dev: DEV_ON,
    tree: 0,
    freedTrees: 0,
    nextTree: 1,
    entries: [],
    nextEntryId: 1,
    slots: Array.from({ length: b.slots }, () => ({ count: 0, cache: NO_FOLIO, cacheVer: 0, disk: 0, owner: 0, tree: -1 })),
    pages: Array.from({ length: b.threads }, () => ({ where: 0, slot: -1, ver: 0, ops: b.opsPerThread })),
    threads,
    stored: 0,
  };
}

function stepsOf(d: ZswapDesign, l: Layout, s: DState, t: number): Step[] {
  if (t < l.workers) return workerSteps(d, s, t);
  if (t === shrinkerId(l)) return d.shrinker(s, t);
  return swapoffSteps(d, s, t);
}

/** Every thread idle: entries must all be in the tree, and stored_pages must count them. */
function quiescentChecks(l: Layout, s: DState): Broken[] {
  const idle = s.threads.every((th, t) => {
    if (t < l.workers) return th.pc === W_IDLE;
    if (t === shrinkerId(l)) return th.pc === SHRINK_BEGIN;
    return th.pc === O_IDLE || th.pc === O_DONE;
  });
  if (!idle) return [];
  const out: Broken[] = [];
  const live = s.entries.filter((e) => !e.freed);
  s.entries.forEach((e, i) => {
    if (!e.freed && s.slots[e.slot]?.tree !== i) {
      out.push({ rule: 'entry-leak', message: `every thread is idle, yet entry e${e.id} (slot ${e.slot}) is neither in the tree nor freed` });
    }
  });
  if (s.stored !== live.length) {
    out.push({ rule: 'counter-mismatch', message: `stored_pages is ${s.stored} but ${live.length} entries are live` });
  }
  return out;
}

type Facts = Map<string, string>;

const DEV_NAMES = ['on', 'swapoff in progress', 'off'];
const PAGE_NAMES = ['resident', 'swapped out', 'resident + in swap cache'];

function facts(l: Layout, s: DState): Facts {
  const f: Facts = new Map();
  f.set('device', DEV_NAMES[s.dev] ?? String(s.dev));
  f.set('tree', s.tree >= 0 ? `t${s.tree}` : 'none');
  for (let id = 0; id < s.nextTree; id++) if (s.freedTrees & (1 << id)) f.set(`tree t${id}`, 'freed');
  f.set('stored_pages', String(s.stored));
  s.slots.forEach((sl, k) => {
    const cache = sl.cache === NO_FOLIO ? '' : sl.cache === FOLIO_UNLOCKED ? `, folio (${versionName(sl.cacheVer)})` : `, folio locked by ${threadName(l, sl.cache)}`;
    const parts = [
      sl.owner ? `owner ${versionName(sl.owner)}` : 'free',
      sl.count ? 'mapped' : '',
      cache.slice(2),
      sl.disk ? `disk ${versionName(sl.disk)}` : '',
      sl.tree >= 0 ? `zswap ${entryName(s, sl.tree)}` : '',
    ].filter(Boolean);
    f.set(`slot ${k}`, parts.join(', '));
  });
  for (const e of s.entries) {
    f.set(`e${e.id}`, e.freed ? 'freed' : `slot ${e.slot}, ${versionName(e.ver)}${e.ref ? `, ref ${e.ref}` : ''}${e.lru ? ', on LRU' : ''}`);
  }
  s.pages.forEach((p, k) => {
    f.set(`page p${k}`, `${PAGE_NAMES[p.where]}${p.where === PAGE_SWAPPED || p.where === PAGE_CACHED ? ` (slot ${p.slot})` : ''}, ${versionName(p.ver)}`);
  });
  return f;
}

function diff(before: Facts, after: Facts): string[] {
  const out: string[] = [];
  for (const [k, v] of after) {
    const old = before.get(k);
    if (old !== v) out.push(old === undefined ? `${k}: ${v}` : `${k}: ${old} → ${v}`);
  }
  // A freed entry nobody points to any more just drops out of the state: not a change worth showing.
  for (const [k, v] of before) if (!after.has(k) && v !== 'freed') out.push(`${k}: ${v} → gone`);
  return out;
}

/** Replays the recorded choices from the initial state to name each step and what it changed. */
function rebuild(d: ZswapDesign, l: Layout, b: DesignBounds, choices: Array<[number, number]>): { steps: CounterexampleStep[]; broken: Broken[] } {
  let s = initialState(b);
  const steps: CounterexampleStep[] = [];
  let broken: Broken[] = [];
  choices.forEach(([t, k], n) => {
    const step = stepsOf(d, l, s, t)[k]!;
    const next = cloneState(s);
    const out: Broken[] = [];
    const action = step(next, out);
    normalize(next);
    const before = facts(l, s);
    if (out.length === 0) out.push(...quiescentChecks(l, next));
    steps.push({ index: n + 1, thread: threadName(l, t), action, changes: diff(before, facts(l, next)) });
    broken = out;
    s = next;
  });
  return { steps, broken };
}

/** Explores every interleaving of design `name` within `bounds`; see DesignCheckResult. */
export function checkDesign(name: string, bounds: Partial<DesignBounds> = {}, options: CheckOptions = {}): DesignCheckResult {
  const d = findDesign(name);
  const b: DesignBounds = { ...DEFAULT_BOUNDS, ...bounds };
  validateBounds(b);
  const l: Layout = { workers: b.threads };
  const started = performance.now();
  const init = initialState(b);
  normalize(init);
  const perms = permutations(b.threads);
  const seen = new Set<string>([canonicalKey(init, b.threads, perms)]);
  // Per discovered state: its parent and the (thread, step) that led to it, for the counterexample.
  const parent: number[] = [-1];
  const via: number[] = [-1];
  let frontier: Array<{ s: DState; id: number }> = [{ s: init, id: 0 }];
  let transitions = 0;
  let depth = 0;
  let complete = true;
  const threadCount = init.threads.length;
  const coverage = options.coverage ? new Map<string, number>() : null;
  const role = (t: number): string => (t < l.workers ? 'worker' : threadName(l, t));
  const path = (id: number): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let n = id; n > 0; n = parent[n]!) out.push([via[n]! % threadCount, Math.floor(via[n]! / threadCount)]);
    return out.reverse();
  };
  search: while (frontier.length > 0) {
    const next: Array<{ s: DState; id: number }> = [];
    for (const { s, id } of frontier) {
      for (let t = 0; t < threadCount; t++) {
        const steps = stepsOf(d, l, s, t);
        for (let k = 0; k < steps.length; k++) {
          const s2 = cloneState(s);
          const out: Broken[] = [];
          const action = steps[k]!(s2, out);
          transitions++;
          if (coverage) {
            const kind = `${role(t)}: ${action.replace(/\d+/g, '#')}`;
            coverage.set(kind, (coverage.get(kind) ?? 0) + 1);
          }
          normalize(s2);
          if (out.length === 0) out.push(...quiescentChecks(l, s2));
          if (out.length > 0) {
            const choices = [...path(id), [t, k] as [number, number]];
            const { steps: trace, broken } = rebuild(d, l, b, choices);
            const [first, ...rest] = broken.length > 0 ? broken : out;
            return {
              design: d.name,
              bounds: b,
              violation: { rule: first!.rule, message: first!.message, alsoBroken: rest, steps: trace },
              complete: true,
              statesExplored: seen.size,
              transitions,
              depth: choices.length,
              elapsedMs: performance.now() - started,
              ...(coverage ? { coverage: Object.fromEntries(coverage) } : {}),
            };
          }
          const key = canonicalKey(s2, b.threads, perms);
          if (seen.has(key)) continue;
          if (seen.size >= b.maxStates) {
            complete = false;
            break search;
          }
          seen.add(key);
          parent.push(id);
          via.push(k * threadCount + t);
          next.push({ s: s2, id: parent.length - 1 });
        }
      }
    }
    if (next.length > 0) depth++;
    frontier = next;
  }
  return {
    design: d.name,
    bounds: b,
    violation: null,
    complete,
    statesExplored: seen.size,
    transitions,
    depth,
    elapsedMs: performance.now() - started,
    ...(coverage ? { coverage: Object.fromEntries(coverage) } : {}),
  };
}
