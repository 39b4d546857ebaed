/**
 * The tracefs decoding as it was before issue 16's fast path (src/guest/trace-capture.ts at
 * 61dded1): the reference the fast decoder is compared against. Not used outside tests.
 */
import { eraById, returnDecoding, type EraId, type ReturnDecoding } from '../../../../src/api/index.js';
import { UNKNOWN_TYPE, type Slot, type TraceCall } from '../../../../src/model/trace-types.js';

// ---- decoding the captured trace ---------------------------------------------------------

/** x86_64: swp_entry_t keeps the type in the top bits (SWP_TYPE_SHIFT = 64 - 1 - 5 = 58). */
export function decodeSlot(value: bigint): Slot {
  return { type: Number(value >> 58n), offset: Number(value & ((1n << 58n) - 1n)) };
}

export interface RawEvent {
  line: number;
  comm: string;
  pid: number;
  cpu: number;
  ts: number;
  event: string;
  args: Record<string, string>;
}

/** One event from the named groups of a trace line (pipe or oops-dump format). */
function rawEvent(g: Record<string, string | undefined>, line: number): RawEvent {
  const args: Record<string, string> = {};
  for (const a of (g.args ?? '').trim().split(/\s+/)) {
    const eq = a.indexOf('=');
    if (eq > 0) args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  // The counter clock prints an integer; the global clock seconds.microseconds.
  const tsText = g.ts!;
  const ts = tsText.includes('.') ? Math.round(Number(tsText) * 1e9) : Number(tsText);
  return { line, comm: g.comm!.trim(), pid: Number(g.pid), cpu: Number(g.cpu), ts, event: g.event!, args };
}

const LINE = /^\s*(?<comm>.+?)-(?<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?<cpu>\d+)\]\s+(?:(?<flags>[\w.]{4,6})\s+)?(?<ts>\d+(?:\.\d+)?): (?<event>\w+): \((?<loc>[^)]*)\)(?<args>.*)$/;

/** Where tracefs said events were lost: "CPU:n [LOST k EVENTS]" before the event at `index`. */
export interface TraceLoss {
  cpu?: number;
  count: number;
  /** how many parsed events came before the notice */
  index: number;
}

/** A stretch of time the trace did not record: the model forgets every slot across it. */
export interface TraceGap {
  after: number;
  before: number;
  cpu?: number;
  count?: number;
}

/** Parses trace_pipe text. Lines that are not events are counted; "LOST n EVENTS" notices kept. */
export function parseTraceText(text: string): { events: RawEvent[]; lost: number; losses: TraceLoss[]; unparsed: number } {
  const events: RawEvent[] = [];
  const losses: TraceLoss[] = [];
  let lost = 0;
  let unparsed = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.startsWith('#')) return;
    const lostMatch = /(?:CPU:(\d+) )?\[?LOST (\d+) EVENTS/.exec(line);
    if (lostMatch) {
      lost += Number(lostMatch[2]);
      losses.push({ cpu: lostMatch[1] === undefined ? undefined : Number(lostMatch[1]), count: Number(lostMatch[2]), index: events.length });
      return;
    }
    const m = LINE.exec(line);
    if (!m) {
      unparsed++;
      return;
    }
    events.push(rawEvent(m.groups!, i + 1));
  });
  return { events, lost, losses, unparsed };
}

/**
 * The time span each loss notice covers: the lost events of a CPU fell between that CPU's last
 * event before the notice and its first one after it (the trace's ends when there is none).
 */
export function lossGaps(events: RawEvent[], losses: TraceLoss[]): TraceGap[] {
  const first = events[0]?.ts ?? 0;
  const last = events.at(-1)?.ts ?? first;
  const onCpu = (cpu: number | undefined) => (e: RawEvent): boolean => cpu === undefined || e.cpu === cpu;
  return losses.map((l) => ({
    after: events.slice(0, l.index).filter(onCpu(l.cpu)).at(-1)?.ts ?? first,
    before: events.slice(l.index).find(onCpu(l.cpu))?.ts ?? last,
    cpu: l.cpu,
    count: l.count,
  }));
}

/** Adds a `lost` call for each gap, in time order, so the replay forgets slots across it. */
export function withGaps(calls: TraceCall[], gaps: TraceGap[]): TraceCall[] {
  if (gaps.length === 0) return calls;
  // seq after every call: a gap that starts with a call's timestamp comes after that call.
  const all: TraceCall[] = [...calls, ...gaps.map((g, i): TraceCall => ({ kind: 'lost', seq: calls.length + i, cpu: g.cpu ?? 0, pid: 0, start: g.after, end: g.before, count: g.count }))];
  all.sort((a, b) => a.start - b.start || a.seq - b.seq);
  all.forEach((c, i) => (c.seq = i));
  return all;
}

/**
 * The ftrace buffer the kernel printed on an oops (`ftrace_dump_on_oops`): the events the trace
 * pipe had not yet carried out of the guest. Latency format: `comm-pid  CPUflags TS: event: ...`.
 */
export function parseFtraceDump(consoleText: string): RawEvent[] {
  const events: RawEvent[] = [];
  const lines = consoleText.split('\n').map((l) => l.replace(/\r$/, '').replace(/^\s*\[\s*\d+\.\d+\]\s?/, ''));
  const DUMP = /^\s*(?<comm>.+?)-(?<pid>\d+)\s+(?<cpu>\d+)(?<flags>[\w.]{5,6})\s+(?<ts>\d+(?:\.\d+)?)(?:us)?\s*: (?<event>\w+): \((?<loc>[^)]*)\)(?<args>.*)$/;
  let inDump = false;
  lines.forEach((line, i) => {
    if (line.startsWith('Dumping ftrace buffer:')) {
      inDump = true;
      return;
    }
    if (!inDump) return;
    const m = DUMP.exec(line);
    if (!m) {
      if (/^-+$/.test(line.trim()) || line.trim() === '') return;
      if (events.length > 0) inDump = false;
      return;
    }
    events.push(rawEvent(m.groups!, i + 1));
  });
  return events;
}

/**
 * The trace file and the oops dump together. Under the counter clock each event takes the next
 * number (a ring-buffer page switch takes one too), so a jump of more than two between the
 * file's last event and the dump's first means events were lost in between.
 */
export function mergeWithDump(fileEvents: RawEvent[], dumpEvents: RawEvent[]): { events: RawEvent[]; gap?: TraceGap } {
  const last = fileEvents.length ? Math.max(...fileEvents.slice(-64).map((e) => e.ts)) : -Infinity;
  const extra = dumpEvents.filter((e) => e.ts > last).sort((a, b) => a.ts - b.ts);
  if (extra.length === 0) return { events: fileEvents };
  const gap = Number.isFinite(last) && extra[0]!.ts > last + 2 ? { after: last, before: extra[0]!.ts } : undefined;
  return { events: [...fileEvents, ...extra], gap };
}

const num = (s: string | undefined): bigint => (s === undefined ? 0n : BigInt(s.startsWith('0x') || s.startsWith('-') ? s : `0x${s}`));
const signed = (s: string | undefined): number => (s === undefined ? 0 : s.startsWith('0x') ? Number(BigInt.asIntN(64, BigInt(s))) : Number(s));

const ENOENT = 2;

/**
 * A trace made without a plan at hand names its own decoding: `err=` for int returns, read as
 * frontswap's (-1 = a load miss) when its events name (type, offset) as 6.1's hooks do.
 */
function inferredDecoding(e: RawEvent, frontswap: boolean): ReturnDecoding {
  if (e.args.err === undefined) return 'bool';
  return frontswap ? 'frontswap' : 'errno';
}

/** The function of an era behind the store/load events (zswap_store, or 6.1's zswap_frontswap_store). */
function hookOf(era: EraId, kind: 'store' | 'load'): string {
  const fns = eraById(era).functions.map((f) => f.fn);
  return fns.find((fn) => fn === `zswap_frontswap_${kind}`) ?? `zswap_${kind}`;
}

/** A store/load/invalidate event's slot: a swp_entry_t (6.12 and newer), or 6.1's (type, offset). */
function eventSlot(e: RawEvent): Slot {
  if (e.args.swp !== undefined || e.args.type === undefined) return decodeSlot(num(e.args.swp));
  return { type: signed(e.args.type), offset: Number(num(e.args.off)) };
}

/**
 * What a store/load return means: bool nonzero = success; errno 0 = success, -ENOENT = a load
 * miss, a negative store = rejected. Any other value (or a fetch of the other era's shape) is an
 * outcome the model cannot place: undefined, the call stays undecided instead of guessed.
 */
export function returnOutcome(e: RawEvent, decoding: ReturnDecoding, isLoad: boolean): boolean | undefined {
  if (decoding === 'bool') return e.args.ret === undefined ? undefined : num(e.args.ret) !== 0n;
  if ((decoding !== 'errno' && decoding !== 'frontswap') || e.args.err === undefined) return undefined;
  const v = signed(e.args.err);
  if (v === 0) return true;
  if (!isLoad) return v < 0 ? false : undefined;
  return v === (decoding === 'frontswap' ? -1 : -ENOENT) ? false : undefined;
}

/**
 * Pairs entry and return probes per task into calls, in trace order. Calls of one task nest
 * (a free inside a store), so returns pop a per-task, per-function stack. Store and load returns
 * are read per the era (ProbePlan.api.era); without one, per the fetch the trace names.
 * `undecided` counts returns the model cannot place (an error, or another era's shape).
 */
export function decodeTrace(events: RawEvent[], era?: EraId): { calls: TraceCall[]; unmatchedReturns: number; undecided: number } {
  const calls: TraceCall[] = [];
  const open = new Map<string, (TraceCall & { end?: number })[]>();
  const sysSwapoff = new Map<number, { start: number; cpu: number; type?: number }>();
  const frontswap = events.some((e) => e.event === 'put') || events.some((e) => e.event === 'store' && e.args.off !== undefined);
  const nesting = new Nesting();
  let unmatchedReturns = 0;
  let undecided = 0;
  const outcome = (e: RawEvent, kind: 'store' | 'load'): boolean | undefined => {
    const r = returnOutcome(e, era ? returnDecoding(era, hookOf(era, kind)) : inferredDecoding(e, frontswap), kind === 'load');
    if (r === undefined) undecided++;
    return r;
  };
  const push = (key: string, c: TraceCall): void => {
    const list = open.get(key) ?? [];
    list.push(c);
    open.set(key, list);
    calls.push(c);
    nesting.enter(c);
  };
  const pop = (key: string): TraceCall | undefined => {
    const c = open.get(key)?.pop();
    if (!c) unmatchedReturns++;
    else nesting.leave(c);
    return c;
  };
  const point = (c: TraceCall): void => {
    calls.push(c);
    nesting.point(c);
  };
  for (const e of events) {
    const base = { seq: calls.length, cpu: e.cpu, pid: e.pid, start: e.ts };
    switch (e.event) {
      case 'store':
        push(`${e.pid}/store`, { ...base, kind: 'store', slot: eventSlot(e) });
        break;
      case 'store_ret': {
        const c = pop(`${e.pid}/store`);
        if (c && c.kind === 'store') Object.assign(c, { end: e.ts, ok: outcome(e, 'store') });
        break;
      }
      case 'load':
        push(`${e.pid}/load`, { ...base, kind: 'load', slot: eventSlot(e) });
        break;
      case 'load_ret': {
        const c = pop(`${e.pid}/load`);
        if (c && c.kind === 'load') Object.assign(c, { end: e.ts, hit: outcome(e, 'load') });
        break;
      }
      case 'invalidate':
        push(`${e.pid}/invalidate`, { ...base, kind: 'invalidate', slot: eventSlot(e) });
        break;
      case 'invalidate_ret': {
        const c = pop(`${e.pid}/invalidate`);
        if (c) c.end = e.ts;
        break;
      }
      case 'wb':
        push(`${e.pid}/wb`, { ...base, kind: 'writeback', slot: e.args.swp === undefined ? { type: UNKNOWN_TYPE, offset: 0 } : decodeSlot(num(e.args.swp)), entry: hex(e.args.entry) });
        break;
      case 'wb_ret': {
        const c = pop(`${e.pid}/wb`);
        if (c && c.kind === 'writeback') Object.assign(c, { end: e.ts, ret: signed(e.args.ret) });
        break;
      }
      case 'free':
        if (e.args.swp !== undefined) point({ ...base, kind: 'free', slot: decodeSlot(num(e.args.swp)), entry: hex(e.args.entry) });
        else point({ ...base, kind: 'free', slot: { type: UNKNOWN_TYPE, offset: Number(num(e.args.off)) }, entry: hex(e.args.entry), refcount: signed(e.args.ref) });
        break;
      case 'put':
        point({ ...base, kind: 'put', slot: { type: UNKNOWN_TYPE, offset: Number(num(e.args.off)) }, entry: hex(e.args.entry), tree: hex(e.args.tree), refcount: signed(e.args.ref) });
        break;
      case 'swapon':
        push(`${e.pid}/swapon`, { ...base, kind: 'swapon', type: signed(e.args.type), pages: Number(num(e.args.pages)) });
        break;
      case 'swapon_ret': {
        const c = pop(`${e.pid}/swapon`);
        if (c && c.kind === 'swapon') Object.assign(c, { end: e.ts, ret: signed(e.args.ret) });
        break;
      }
      case 'swapoff': {
        const type = signed(e.args.type);
        push(`${e.pid}/swapoff`, { ...base, kind: 'swapoff', type });
        const sys = sysSwapoff.get(e.pid);
        if (sys) sys.type = type;
        break;
      }
      case 'swapoff_ret': {
        const c = pop(`${e.pid}/swapoff`);
        if (c) c.end = e.ts;
        break;
      }
      case 'sys_swapoff':
        sysSwapoff.set(e.pid, { start: e.ts, cpu: e.cpu });
        break;
      case 'sys_swapoff_ret': {
        const sys = sysSwapoff.get(e.pid);
        sysSwapoff.delete(e.pid);
        // Only a swapoff that reached zswap_swapoff tells which type it was.
        if (sys?.type !== undefined) {
          calls.push({ kind: 'marker', name: 'swapoff-begin', type: sys.type, seq: calls.length, cpu: sys.cpu, pid: e.pid, start: sys.start });
          calls.push({ kind: 'marker', name: 'swapoff-end', type: sys.type, seq: calls.length, cpu: e.cpu, pid: e.pid, start: e.ts });
        }
        break;
      }
      default:
        break;
    }
  }
  if (frontswap) nesting.resolveTypes();
  // Markers were appended at the syscall's return: order everything by time, then renumber.
  calls.sort((a, b) => a.start - b.start || a.seq - b.seq);
  calls.forEach((c, i) => (c.seq = i));
  return { calls, unmatchedReturns, undecided };
}

type PointCall = Extract<TraceCall, { kind: 'put' | 'free' }>;

/**
 * Which call each 6.1 put and free ran in (the innermost open call of its task), to give them the
 * type their entry does not record: the call's type, or for a writeback (which names no slot) the
 * type of the tree its put names, as puts in other calls of the same tree show.
 */
class Nesting {
  private readonly stacks = new Map<number, TraceCall[]>();
  private readonly parents = new Map<PointCall, TraceCall | undefined>();
  private readonly previous = new Map<number, TraceCall>();

  enter(c: TraceCall): void {
    const stack = this.stacks.get(c.pid) ?? [];
    stack.push(c);
    this.stacks.set(c.pid, stack);
  }

  leave(c: TraceCall): void {
    const stack = this.stacks.get(c.pid);
    const i = stack?.lastIndexOf(c) ?? -1;
    if (i >= 0) stack!.splice(i, 1);
  }

  point(c: TraceCall): void {
    if (c.kind === 'put' || c.kind === 'free') this.parents.set(c, this.stacks.get(c.pid)?.at(-1));
    // A free right after its task's put of the same entry is that put's (the last reference).
    const prev = this.previous.get(c.pid);
    if (c.kind === 'free' && prev?.kind === 'put' && prev.entry === c.entry) this.parents.set(c, prev);
    this.previous.set(c.pid, c);
  }

  resolveTypes(): void {
    const treeType = new Map<string, number>();
    const typeOf = (c: PointCall): number => {
      const parent = this.parents.get(c);
      if (!parent) return UNKNOWN_TYPE;
      if (parent.kind === 'put' || parent.kind === 'free') return typeOf(parent);
      if (parent.kind === 'store' || parent.kind === 'load' || parent.kind === 'invalidate') return parent.slot.type;
      if (parent.kind === 'swapoff') return parent.type;
      return UNKNOWN_TYPE;
    };
    for (const c of this.parents.keys()) {
      c.slot.type = typeOf(c);
      if (c.kind === 'put' && c.slot.type !== UNKNOWN_TYPE) treeType.set(c.tree, c.slot.type);
    }
    for (const [c, parent] of this.parents) {
      if (c.slot.type !== UNKNOWN_TYPE) continue;
      const tree = c.kind === 'put' ? c.tree : parent?.kind === 'put' ? parent.tree : undefined;
      c.slot.type = tree === undefined ? UNKNOWN_TYPE : (treeType.get(tree) ?? UNKNOWN_TYPE);
      // A writeback takes the slot and entry of its first put.
      if (parent?.kind === 'writeback' && parent.slot.type === UNKNOWN_TYPE && parent.entry === '0x0') Object.assign(parent, { slot: { ...c.slot }, entry: c.entry });
    }
  }
}

function hex(s: string | undefined): string {
  if (!s) return '0x0';
  return `0x${num(s).toString(16)}`;
}
