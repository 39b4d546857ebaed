import { prng } from './synth.js';
import type { Slot, TraceCall } from './trace-types.js';

/**
 * Synthetic traces a correct 6.1 zswap could produce: frontswap stores, loads, invalidates and
 * zbud-evict writebacks of several tasks interleaved step by step, every tree-lock section one
 * atomic step (as the tree spinlock makes it), each put traced with the refcount it found and
 * frees at the last reference, entry addresses reused LIFO like a slab, and an occasional swapoff
 * (invalidate everything, then invalidate_area) and init. For the bench and randomized tests.
 */

export interface RefcountSynthOptions {
  calls: number;
  slots?: number;
  /** tasks running at once */
  tasks?: number;
  seed?: number;
  /** a swapoff/init cycle about every this many calls (0: never) */
  swapoffEvery?: number;
}

interface Entry {
  addr: string;
  slot: Slot;
  ref: number;
}

type Draft = TraceCall extends infer C ? (C extends TraceCall ? Omit<C, 'seq'> : never) : never;

/** One task's program: each call of next() runs one atomic step; false when it is done. */
type Program = () => boolean;

const TREE = '0xffff888003c00000';

class Kernel {
  readonly out: Draft[] = [];
  readonly tree = new Map<number, Entry>();
  private readonly freeAddrs: string[] = [];
  private nextAddr = 0;
  now = 0;

  constructor(readonly type: number) {}

  emit(d: Draft): void {
    this.out.push(d);
  }

  alloc(slot: Slot): Entry {
    const addr = this.freeAddrs.pop() ?? `0x${(0xffff888004000000n + BigInt(this.nextAddr++) * 0x40n).toString(16)}`;
    return { addr, slot, ref: 1 };
  }

  /** zswap_entry_put under the tree lock: traced with the refcount it found; frees at zero. */
  put(e: Entry, pid: number): void {
    this.emit({ kind: 'put', cpu: pid % 2, pid, start: this.now, slot: { ...e.slot }, entry: e.addr, tree: TREE, refcount: e.ref });
    e.ref--;
    if (e.ref === 0) {
      if (this.tree.get(e.slot.offset) === e) this.tree.delete(e.slot.offset);
      this.free(e, pid);
    }
  }

  free(e: Entry, pid: number): void {
    this.emit({ kind: 'free', cpu: pid % 2, pid, start: this.now, slot: { ...e.slot }, entry: e.addr, refcount: e.ref });
    this.freeAddrs.push(e.addr);
  }
}

/** A program of atomic steps; a step returning false ends it early. */
function steps(...list: (() => boolean | void)[]): Program {
  let i = 0;
  return () => {
    if (i >= list.length) return false;
    if (list[i++]!() === false) i = list.length;
    return i < list.length;
  };
}

function store(k: Kernel, pid: number, offset: number): Program {
  const slot = { type: k.type, offset };
  let start = 0;
  return steps(
    () => void (start = k.now),
    () => {
      const dup = k.tree.get(offset);
      if (dup) {
        k.tree.delete(offset);
        k.put(dup, pid);
      }
      k.tree.set(offset, k.alloc(slot));
    },
    () => k.emit({ kind: 'store', cpu: pid % 2, pid, start, end: k.now, slot, ok: true }),
  );
}

function load(k: Kernel, pid: number, offset: number): Program {
  const slot = { type: k.type, offset };
  let start = 0;
  let held: Entry | undefined;
  return steps(
    () => void (start = k.now),
    () => {
      held = k.tree.get(offset);
      if (held) held.ref++;
      else {
        k.emit({ kind: 'load', cpu: pid % 2, pid, start, end: k.now, slot, hit: false });
        return false;
      }
    },
    () => k.put(held!, pid),
    () => k.emit({ kind: 'load', cpu: pid % 2, pid, start, end: k.now, slot, hit: true }),
  );
}

function invalidate(k: Kernel, pid: number, offset: number): Program {
  const slot = { type: k.type, offset };
  let start = 0;
  return steps(
    () => void (start = k.now),
    () => {
      const e = k.tree.get(offset);
      if (!e) return;
      k.tree.delete(offset);
      k.put(e, pid);
    },
    () => k.emit({ kind: 'invalidate', cpu: pid % 2, pid, start, end: k.now, slot }),
  );
}

function writeback(k: Kernel, pid: number, offset: number): Program {
  let start = 0;
  let held: Entry | undefined;
  const end = (ret: number): void => k.emit({ kind: 'writeback', cpu: pid % 2, pid, start, end: k.now, slot: held ? { ...held.slot } : { type: -1, offset: 0 }, entry: held?.addr ?? '0x0', ret });
  return steps(
    () => void (start = k.now),
    () => {
      held = k.tree.get(offset);
      if (!held) {
        end(0);
        return false;
      }
      held.ref++;
    },
    () => k.put(held!, pid),
    () => {
      if (k.tree.get(offset) === held) {
        k.tree.delete(offset);
        k.put(held!, pid);
      }
    },
    () => end(0),
  );
}

/** Every slot invalidated (try_to_unuse), then invalidate_area frees what is left, then init. */
function swapoff(k: Kernel, pid: number): Program {
  let start = 0;
  return steps(
    () => void (start = k.now),
    () => {
      for (const e of [...k.tree.values()]) k.free(e, pid);
      k.tree.clear();
    },
    () => k.emit({ kind: 'swapoff', cpu: pid % 2, pid, start, end: k.now, type: k.type }),
    () => k.emit({ kind: 'swapon', cpu: pid % 2, pid, start: k.now, end: k.now, type: k.type, pages: 0 }),
  );
}

export function synthesizeRefcountTrace(opts: RefcountSynthOptions): TraceCall[] {
  const rand = prng(opts.seed ?? 1);
  const slots = opts.slots ?? 32;
  const k = new Kernel(0);
  const running = new Map<number, Program>();
  const tasks = opts.tasks ?? 3;
  let started = 0;
  const pick = (n: number): number => Math.floor(rand() * n);
  const startCall = (pid: number): Program => {
    started++;
    const offset = pick(slots);
    const r = rand();
    // frontswap stores only to a slot it has invalidated (or never stored): as __frontswap_store does.
    if (r < 0.35) return k.tree.has(offset) ? invalidate(k, pid, offset) : store(k, pid, offset);
    if (r < 0.7) return load(k, pid, offset);
    if (r < 0.85) return invalidate(k, pid, offset);
    return writeback(k, pid, offset);
  };
  // A swapoff runs alone: try_to_unuse has swapped everything in and no writeback holds an entry.
  let swapoffDue = false;
  let exclusive = false;
  while (started < opts.calls || running.size > 0) {
    if (opts.swapoffEvery && !swapoffDue && !exclusive && started > 0 && started % opts.swapoffEvery === 0) swapoffDue = true;
    if (swapoffDue && running.size === 0) {
      swapoffDue = false;
      exclusive = true;
      started++;
      running.set(99, swapoff(k, 99));
    }
    const pids = [...running.keys()];
    const pid = exclusive || swapoffDue || started >= opts.calls ? pids[pick(pids.length)] : 100 + pick(tasks);
    if (pid === undefined) break;
    let prog = running.get(pid);
    if (!prog) running.set(pid, (prog = startCall(pid)));
    k.now += 10;
    if (!prog()) {
      running.delete(pid);
      if (pid === 99) exclusive = false;
    }
  }
  return k.out.sort((a, b) => a.start - b.start).map((d, seq) => ({ ...d, seq }) as TraceCall);
}
