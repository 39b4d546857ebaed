import type { TraceCall } from './trace-types.js';

/**
 * Synthetic kernel traces that a correct 6.12 zswap could produce: each call takes effect at an
 * instant, its recorded [start, end] is smeared around that instant, calls of different tasks
 * overlap, entry addresses are reused LIFO like a slab, and swapoff/swapon cycles come with the
 * try_to_unuse invalidations before them. For the bench and for randomized tests.
 */

export interface SynthOptions {
  calls: number;
  slots?: number;
  cpus?: number;
  /** PRNG seed */
  seed?: number;
  /** how far (ns) a call's start/end may lie from its effect instant; the gap between instants is 100 */
  smear?: number;
  /** insert a swapoff/swapon cycle about every this many calls (0: never) */
  swapoffEvery?: number;
}

/** mulberry32: a small seeded PRNG, so a synthesized trace is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0 || 1;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function synthesizeTrace(opts: SynthOptions): TraceCall[] {
  const rand = prng(opts.seed ?? 1);
  const slots = opts.slots ?? 64;
  const cpus = opts.cpus ?? 2;
  const smear = opts.smear ?? 150;
  const swapoffEvery = opts.swapoffEvery ?? 0;
  const pick = (n: number): number => Math.floor(rand() * n);
  const out: TraceCall[] = [];
  const live: Array<string | null> = Array.from({ length: slots }, () => null);
  const freedAddrs: string[] = [];
  const slab: string[] = [];
  let nextAddr = 0x1000;
  let seq = 0;
  let now = 1000;
  // Calls are object literals, never spreads: V8 gives each spread object a shape of its own, and
  // every read of a call's field then takes the slow path (replay ran 20x slower on such traces).
  // Each task runs one call at a time; tasks are spread over the CPUs.
  const tasks = Array.from({ length: cpus * 2 }, (_, k) => ({ pid: 100 + k, cpu: k % cpus, busyUntil: 0 }));
  const alloc = (): string => slab.pop() ?? `ffff8880${(nextAddr++).toString(16).padStart(8, '0')}`;
  const release = (addr: string): void => {
    slab.push(addr);
    freedAddrs.push(addr);
    if (freedAddrs.length > 32) freedAddrs.shift();
  };
  const slotOf = (offset: number) => ({ type: 0, offset });

  /** Emits a call taking effect at `now`, plus a nested free of `freed` just after the effect. */
  // swapoff(8) is a process of its own: try_to_unuse() and zswap_swapoff() run in its context.
  const swapoffTask = { pid: 99, cpu: 0, busyUntil: 0 };
  const emit = (
    make: (base: { seq: number; cpu: number; pid: number; start: number; end: number }) => TraceCall,
    freed: { slot: number; addr: string } | null,
    only?: typeof swapoffTask,
  ): void => {
    const start = now - 1 - pick(smear);
    const end = now + 2 + pick(smear);
    const free = tasks.filter((t) => t.busyUntil < start);
    const task = only ?? (free.length > 0 ? free[pick(free.length)]! : tasks.reduce((a, b) => (a.busyUntil < b.busyUntil ? a : b)));
    const realStart = Math.max(start, task.busyUntil + 1);
    const realEnd = Math.max(end, realStart + 2);
    if (realStart > now) now = realStart + 1;
    const call = make({ seq: seq++, cpu: task.cpu, pid: task.pid, start: realStart, end: realEnd });
    out.push(call);
    if (freed) {
      const at = Math.min(realEnd, now + 1);
      out.push({ kind: 'free', seq: seq++, cpu: task.cpu, pid: task.pid, start: at, slot: slotOf(freed.slot), entry: freed.addr });
    }
    task.busyUntil = realEnd;
    now += 100;
  };

  let sinceSwapoff = 0;
  while (out.length < opts.calls) {
    if (swapoffEvery > 0 && ++sinceSwapoff >= swapoffEvery) {
      sinceSwapoff = 0;
      // try_to_unuse(): every live entry is swapped in (exclusive load) before zswap_swapoff().
      for (let s = 0; s < slots; s++) {
        const addr = live[s];
        if (!addr) continue;
        live[s] = null;
        release(addr);
        emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'load', slot: slotOf(s), hit: true }), { slot: s, addr }, swapoffTask);
      }
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'swapoff', type: 0 }), null, swapoffTask);
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'swapon', type: 0, pages: slots, ret: 0 }), null);
      continue;
    }
    const s = pick(slots);
    const old = live[s] ?? null;
    const r = rand();
    if (r < 0.35) {
      const ok = rand() < 0.9;
      if (old) release(old);
      live[s] = ok ? alloc() : null;
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'store', slot: slotOf(s), ok }), old ? { slot: s, addr: old } : null);
    } else if (r < 0.6) {
      const exclusive = rand() < 0.9;
      if (old && exclusive) {
        live[s] = null;
        release(old);
      }
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'load', slot: slotOf(s), hit: old !== null }), old && exclusive ? { slot: s, addr: old } : null);
    } else if (r < 0.8) {
      live[s] = null;
      if (old) release(old);
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'invalidate', slot: slotOf(s) }), old ? { slot: s, addr: old } : null);
    } else if (old && rand() < 0.7) {
      live[s] = null;
      release(old);
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'writeback', slot: slotOf(s), entry: old, ret: 0 }), { slot: s, addr: old });
    } else {
      // A writeback that lost a race: a stale pointer, nothing freed.
      const stale = freedAddrs.length > 0 ? freedAddrs[pick(freedAddrs.length)]! : (old ?? 'ffff888000000bad');
      emit((b) => ({ seq: b.seq, cpu: b.cpu, pid: b.pid, start: b.start, end: b.end, kind: 'writeback', slot: slotOf(s), entry: stale, ret: -17 }), null);
    }
  }
  return out;
}
