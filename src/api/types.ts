import type { RuleId } from '../model/rules.js';
import type { ReplayModel } from '../model/replay-model.js';

/**
 * A zswap API era: which functions the kernel has, with which C prototypes, and how the trace of
 * each is read. Eras are data; the one that applies to a build is chosen by compiling prototype
 * checks against that build's own preprocessed mm/zswap.c (see prototypes.ts), never by version.
 */
export type EraId = 'v6.1' | 'v6.12' | 'newer';

/** A C function type, as written in an assertion: `ret (params)`. */
export interface Prototype {
  ret: string;
  params: string[];
}

/**
 * How a kretprobe's $retval means something to the model:
 * - `bool`: nonzero = success (store accepted / load hit);
 * - `errno`: 0 = success, -ENOENT = not there (load miss), any other value = an error the model
 *   cannot place (the call is left undecided, never guessed);
 * - `int`: the value itself (writeback, swapon: 0 = done);
 * - `frontswap`: 6.1's load: 0 = loaded, -1 = not in zswap, anything else = undecided;
 * - `void`: nothing to read.
 */
export type ReturnDecoding = 'bool' | 'errno' | 'frontswap' | 'int' | 'void';

export interface FunctionSpec {
  fn: string;
  /** undefined: defined outside mm/zswap.c (a syscall wrapper), so zswap.i cannot check it */
  prototype?: Prototype;
  returns: ReturnDecoding;
  /** the era is not recognised unless this prototype holds */
  required: boolean;
  /** probed (true) or only checked, to tell what the kernel has (large-folio helpers) */
  probed: boolean;
}

export interface ApiEra {
  id: EraId;
  title: string;
  functions: FunctionSpec[];
  /** the reference model's rules that apply to this era's traces; empty when not implemented */
  modelRules: readonly RuleId[];
  /** which replay judges its traces: the xarray era's interleaving search, or 6.1's refcount replay */
  model: ReplayModel;
  /**
   * What makes this kernel write entries back: `memcg` (a cgroup over memory.zswap.max, or its
   * shrinker, writes back; 6.8+ behaviour, and the 6.12 tree's), or `pool` (only the global pool
   * limit, max_pool_percent, does; over memory.zswap.max a 6.1 store is just rejected).
   */
  writebackLimit: 'memcg' | 'pool';
  /** set when kharness recognises the era but cannot judge its traces yet */
  notImplemented?: string;
}

/** One function's prototype, checked by compiling against the kernel's zswap.i. */
export interface PrototypeCheck {
  era: EraId;
  fn: string;
  /** `bool (struct folio *)`, or a note when it cannot be checked */
  expected: string;
  /** match: holds; mismatch: declared with another type; absent: no such function; unchecked */
  result: 'match' | 'mismatch' | 'absent' | 'unchecked';
  /** the type gcc says the function has here, when it has one */
  actual?: string;
  detail: string;
}

/** What the prototype checks decided about the kernel under test. */
export interface ApiSelection {
  /** the era whose required prototypes all hold; undefined: none does */
  era?: EraId;
  /** the era the kernel is closest to, when none holds (used only to say what differs) */
  closest?: EraId;
  reason: string;
  checks: PrototypeCheck[];
}
