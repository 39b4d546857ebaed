import type { TraceCall } from './trace-types.js';

/**
 * The replays' working copy of a trace: every call as an object of one and the same shape.
 *
 * Decoded calls come in a dozen shapes (one per kind, spread from a common base, with the return
 * fields assigned later), so every `call.start` the replay reads hits a megamorphic property load;
 * profiling showed that alone costing more than half of a replay. A copy of one shape makes them
 * monomorphic. Fields a kind does not have are undefined, as they read on the original; the copy
 * never leaves the replay: violations name the original calls (`originalOf`).
 */
interface CanonicalFields {
  seq: number;
  cpu: number;
  pid: number;
  start: number;
  end: number | undefined;
  kind: TraceCall['kind'];
  slot: unknown;
  ok: boolean | undefined;
  hit: boolean | undefined;
  entry: string | undefined;
  ret: number | undefined;
  refcount: number | undefined;
  tree: string | undefined;
  type: number | undefined;
  pages: number | undefined;
  name: string | undefined;
  count: number | undefined;
  original: TraceCall;
}

type AnyFields = Partial<Record<keyof CanonicalFields, unknown>>;

function blank(c: TraceCall): CanonicalFields {
  return {
    seq: c.seq,
    cpu: c.cpu,
    pid: c.pid,
    start: c.start,
    end: c.end,
    kind: c.kind,
    slot: undefined,
    ok: undefined,
    hit: undefined,
    entry: undefined,
    ret: undefined,
    refcount: undefined,
    tree: undefined,
    type: undefined,
    pages: undefined,
    name: undefined,
    count: undefined,
    original: c,
  };
}

/** A one-shape copy; each kind's own fields are read by kind (reading a field a shape lacks is the slow lookup). */
function canonicalCall(c: TraceCall): TraceCall {
  const copy = blank(c);
  switch (c.kind) {
    case 'store':
      copy.slot = c.slot;
      copy.ok = c.ok;
      break;
    case 'load':
      copy.slot = c.slot;
      copy.hit = c.hit;
      break;
    case 'invalidate':
      copy.slot = c.slot;
      break;
    case 'writeback':
      copy.slot = c.slot;
      copy.entry = c.entry;
      copy.ret = c.ret;
      break;
    case 'free':
      copy.slot = c.slot;
      copy.entry = c.entry;
      copy.refcount = c.refcount;
      break;
    case 'put':
      copy.slot = c.slot;
      copy.entry = c.entry;
      copy.tree = c.tree;
      copy.refcount = c.refcount;
      break;
    case 'swapon':
      copy.type = c.type;
      copy.pages = c.pages;
      copy.ret = c.ret;
      break;
    case 'swapoff':
      copy.type = c.type;
      break;
    case 'marker':
      copy.type = c.type;
      copy.name = c.name;
      break;
    case 'lost':
      copy.count = c.count;
      break;
  }
  // Every field the kind has, with its original value: the union's narrowing holds for the copy.
  return copy as unknown as TraceCall;
}

/** The calls as one-shape copies, in the same order. */
export function canonicalCalls(calls: readonly TraceCall[]): TraceCall[] {
  const out = new Array<TraceCall>(calls.length);
  for (let i = 0; i < calls.length; i++) out[i] = canonicalCall(calls[i]!);
  return out;
}

/** The call `canonicalCalls` copied (the call itself when it is not a copy). */
export function originalOf<T extends TraceCall>(c: T): T {
  return ((c as unknown as AnyFields).original as T | undefined) ?? c;
}
