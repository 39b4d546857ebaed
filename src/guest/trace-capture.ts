import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { CALLS_FILE, objectCalls, type ObjectCalls } from '../build/call-sites.js';
import { ERAS, checksOf, detectApi, eraById, probedEra, returnDecoding, type ApiSelection, type EraId, type ReturnDecoding } from '../api/index.js';
import { UNKNOWN_TYPE, type Slot, type TraceCall } from '../model/trace-types.js';

// Swapoff windows come from kprobes on the swapoff(2) syscall itself (no guest cooperation
// needed): `marker` calls with the type zswap_swapoff() named inside the window.

/**
 * Non-invasive tracing of zswap entry lifetimes: tracefs kprobes/kretprobes on the zswap
 * functions of the kernel under test. Nothing in the series is patched; struct offsets come from
 * the preprocessed mm/zswap.c of the very build being tested.
 */

/** The functions kharness knows how to probe (the 6.12 and newer eras share the first eight). */
export const PROBED_FUNCTIONS = [
  'zswap_store',
  'zswap_load',
  'zswap_invalidate',
  'zswap_writeback_entry',
  'zswap_entry_free',
  'zswap_swapon',
  'zswap_swapoff',
  '__x64_sys_swapoff',
  'zswap_frontswap_store',
  'zswap_frontswap_load',
  'zswap_frontswap_invalidate_page',
  'zswap_frontswap_invalidate_area',
  'zswap_frontswap_init',
  'zswap_free_entry',
  'zswap_entry_put',
] as const;
export type ProbedFunction = (typeof PROBED_FUNCTIONS)[number];

/**
 * The model cannot judge a history without these: without them the replay is skipped. Every
 * era's required functions are listed, so a 6.1 kernel's missing frontswap probes skip it too.
 */
export const REQUIRED_FUNCTIONS: readonly string[] = [...new Set(ERAS.flatMap((e) => e.functions.filter((f) => f.required && f.probed).map((f) => f.fn)))];

/** Every function some era names: System.map is searched for all of them. */
const KNOWN_FUNCTIONS = new Set<string>([...PROBED_FUNCTIONS, ...ERAS.flatMap((e) => e.functions.map((f) => f.fn))]);

/**
 * Return probes track each running instance; past `maxactive` concurrent instances a return is
 * missed. zswap_store can sleep in reclaim with many tasks inside it, so allow plenty.
 */
const MAXACTIVE = 256;

/** Struct members a probe reads, as `struct.member`, with the C type they belong to. */
const MEMBERS = {
  'folio.swap': ['struct folio', 'swap'],
  'zswap_entry.swpentry': ['struct zswap_entry', 'swpentry'],
  'zswap_entry.offset': ['struct zswap_entry', 'offset'],
  'zswap_entry.refcount': ['struct zswap_entry', 'refcount'],
} as const;
export type OffsetKey = keyof typeof MEMBERS;

/** The 6.12 and newer eras' members: what deriveOffsets computes unless told otherwise. */
const XARRAY_ERA_MEMBERS: OffsetKey[] = ['folio.swap', 'zswap_entry.swpentry'];

export type StructOffsets = Partial<Record<OffsetKey, number>>;

export interface ProbePlan {
  /** lines for tracefs kprobe_events */
  lines: string[];
  /** functions that could not be probed, with the reason */
  missing: { fn: string; reason: string }[];
  offsets?: StructOffsets;
  /**
   * The zswap API era the prototype checks chose (or why none), with every check: the probes
   * and the decoding of return values follow it. Undefined: the checks could not run.
   */
  api?: ApiSelection;
}

/**
 * Reads each probed function's symbol from System.map. A function gcc inlined away has no
 * symbol; one it cloned (.isra/.constprop) has a changed calling convention, so its argument
 * registers cannot be trusted either.
 */
export function findSymbols(systemMap: string): Map<string, { name: string; clone: boolean }> {
  const found = new Map<string, { name: string; clone: boolean }>();
  for (const line of systemMap.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3 || !/^[tT]$/.test(parts[1]!)) continue;
    const name = parts[2]!;
    const base = name.replace(/\.(?:isra|constprop|part|cold)\.\d+.*$/, '');
    if (!KNOWN_FUNCTIONS.has(base)) continue;
    const clone = base !== name;
    const prev = found.get(base);
    if (!prev || (prev.clone && !clone)) found.set(base, { name, clone });
  }
  return found;
}

/**
 * Struct member offsets from the kernel as built: compiles the build's own preprocessed
 * mm/zswap.c with an asm-offsets style function appended (the technique kbuild uses for
 * asm-offsets.h), so a series that reorders struct zswap_entry is traced correctly.
 */
export async function deriveOffsets(zswapPreprocessed: string, keys: readonly OffsetKey[] = XARRAY_ERA_MEMBERS): Promise<StructOffsets> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-offsets-'));
  try {
    const src = path.join(dir, 'offsets.c');
    const members = keys.map((key) => [key, ...MEMBERS[key]] as const);
    const probe = members
      .map(([key, type, member]) => `\tasm volatile("\\n.ascii \\"->kharness ${key} %0\\"" :: "i"(__builtin_offsetof(${type}, ${member})));`)
      .join('\n');
    const text = `${await readFile(zswapPreprocessed, 'utf8')}\nvoid kharness_offsets(void);\nvoid kharness_offsets(void)\n{\n${probe}\n}\n`;
    await writeFile(src, text);
    const r = await execa('gcc', ['-S', '-w', '-O2', '-o', '-', src], { reject: false, maxBuffer: 64 * 1024 * 1024 });
    if (r.exitCode !== 0) throw new Error(`cannot compile the offsets probe: ${String(r.stderr).split('\n').slice(0, 5).join(' ')}`);
    const offsets: Partial<StructOffsets> = {};
    for (const m of String(r.stdout).matchAll(/->kharness (\S+) \$?(\d+)/g)) offsets[m[1] as keyof StructOffsets] = Number(m[2]);
    for (const [key] of members) if (offsets[key] === undefined) throw new Error(`offset of ${key} not found`);
    return offsets as StructOffsets;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How a return probe fetches $retval: the argument's name tells the decoder how to read it. */
function retFetch(decoding: ReturnDecoding): string {
  // A bool comes back in %al only (the rest of %rax is whatever it was): read one byte.
  if (decoding === 'bool') return ' ret=$retval:u8';
  if (decoding === 'errno' || decoding === 'frontswap') return ' err=$retval:s32';
  return decoding === 'int' ? ' ret=$retval:s32' : '';
}

interface ProbeSpec {
  fn: ProbedFunction;
  /** the eras this probe reads the function's arguments for (all when absent) */
  eras?: EraId[];
  offsets: OffsetKey[];
  lines: (sym: string, ret: string, o: StructOffsets) => string[];
}

const XARRAY_ERAS: EraId[] = ['v6.12', 'newer'];
const call = (event: string, s: string, args: string, ret = ''): string[] => [`p:kharness/${event} ${s}${args}`, `r${MAXACTIVE}:kharness/${event}_ret ${s}${ret}`];
/** 6.1's frontswap hooks take (unsigned type, pgoff_t offset) in %di, %si. */
const SLOT_ARGS = ' type=%di:s32 off=%si:x64';

/**
 * x86_64 SysV: arguments in %di, %si; swp_entry_t is a one-word struct passed by value. Event
 * names are shared by the eras (one era's probes are placed); the arguments say which shape it is.
 */
const PROBES: ProbeSpec[] = [
  { fn: 'zswap_store', offsets: ['folio.swap'], lines: (s, ret, o) => call('store', s, ` swp=+${o['folio.swap']}(%di):x64`, ret) },
  { fn: 'zswap_load', offsets: ['folio.swap'], lines: (s, ret, o) => call('load', s, ` swp=+${o['folio.swap']}(%di):x64`, ret) },
  { fn: 'zswap_invalidate', offsets: [], lines: (s) => call('invalidate', s, ' swp=%di:x64') },
  { fn: 'zswap_writeback_entry', eras: XARRAY_ERAS, offsets: [], lines: (s, ret) => call('wb', s, ' entry=%di:x64 swp=%si:x64', ret) },
  { fn: 'zswap_entry_free', offsets: ['zswap_entry.swpentry'], lines: (s, _r, o) => [`p:kharness/free ${s} entry=%di:x64 swp=+${o['zswap_entry.swpentry']}(%di):x64`] },
  { fn: 'zswap_swapon', offsets: [], lines: (s, ret) => call('swapon', s, ' type=%di:s32 pages=%si:u64', ret) },
  { fn: 'zswap_swapoff', offsets: [], lines: (s) => call('swapoff', s, ' type=%di:s32') },
  { fn: '__x64_sys_swapoff', offsets: [], lines: (s) => [`p:kharness/sys_swapoff ${s}`, `r${MAXACTIVE}:kharness/sys_swapoff_ret ${s} ret=$retval:s64`] },
  { fn: 'zswap_frontswap_store', offsets: [], lines: (s, ret) => call('store', s, SLOT_ARGS, ret) },
  { fn: 'zswap_frontswap_load', offsets: [], lines: (s, ret) => call('load', s, SLOT_ARGS, ret) },
  { fn: 'zswap_frontswap_invalidate_page', offsets: [], lines: (s) => call('invalidate', s, SLOT_ARGS) },
  // invalidate_area frees the type's tree as zswap_swapoff does; init allocates it as zswap_swapon.
  { fn: 'zswap_frontswap_invalidate_area', offsets: [], lines: (s) => call('swapoff', s, ' type=%di:s32') },
  { fn: 'zswap_frontswap_init', offsets: [], lines: (s) => call('swapon', s, ' type=%di:s32') },
  // The handle says nothing the trace can read (zbud's is an address, z3fold's is not): the slot
  // and entry come from the puts nested in the call.
  { fn: 'zswap_writeback_entry', eras: ['v6.1'], offsets: [], lines: (s, ret) => call('wb', s, '', ret) },
  {
    fn: 'zswap_free_entry',
    offsets: ['zswap_entry.offset', 'zswap_entry.refcount'],
    lines: (s, _r, o) => [`p:kharness/free ${s} entry=%di:x64 off=+${o['zswap_entry.offset']}(%di):x64 ref=+${o['zswap_entry.refcount']}(%di):s32`],
  },
  {
    fn: 'zswap_entry_put',
    offsets: ['zswap_entry.offset', 'zswap_entry.refcount'],
    lines: (s, _r, o) => [`p:kharness/put ${s} tree=%di:x64 entry=%si:x64 off=+${o['zswap_entry.offset']}(%si):x64 ref=+${o['zswap_entry.refcount']}(%si):s32`],
  },
];

function probeFor(fn: string, era: EraId): ProbeSpec | undefined {
  return PROBES.find((p) => p.fn === fn && (!p.eras || p.eras.includes(era)));
}

/** The struct members the probes of an era read. */
export function offsetKeysFor(era: EraId): OffsetKey[] {
  const fns = eraById(era).functions.filter((f) => f.probed).map((f) => f.fn);
  return [...new Set(fns.flatMap((fn) => probeFor(fn, era)?.offsets ?? []))];
}

export interface ProbeInputs {
  /**
   * Calls of each function in the compiled mm/zswap.o (call-sites.ts) and in its preprocessed
   * source: fewer in the object means gcc inlined some, and a probe would miss them.
   */
  calls?: { object: ObjectCalls; source: Record<string, Record<string, number>> };
  offsets?: StructOffsets;
  offsetsError?: string;
  /** the prototype checks' verdict on this kernel's API */
  api?: ApiSelection;
  apiError?: string;
}

/**
 * The kprobe_events lines for a kernel. Pure given its symbols, offsets and API checks. Only a
 * function whose prototype holds in the era followed is probed: a mismatch goes to `missing`
 * with the reason, so it is never decoded with the wrong meaning.
 */
export function probeLines(symbols: Map<string, { name: string; clone: boolean }>, inputs: ProbeInputs): ProbePlan {
  const { offsets, api } = inputs;
  const era = api ? probedEra(api) : undefined;
  const allMissing = (fns: string[], reason: string): ProbePlan => ({ lines: [], missing: fns.map((fn) => ({ fn, reason })), offsets, api });
  if (!api || !era) return allMissing([...PROBED_FUNCTIONS], `prototypes not checked: ${inputs.apiError ?? 'no preprocessed mm/zswap.c'}`);
  // kprobe_events in one fixed order, whatever order an era lists its functions in.
  const order = (fn: string): number => PROBED_FUNCTIONS.indexOf(fn as ProbedFunction);
  const probed = era.functions.filter((f) => f.probed).sort((a, b) => order(a.fn) - order(b.fn));
  if (era.notImplemented) return allMissing(probed.map((f) => f.fn), api.era ? `${era.notImplemented} (${api.reason})` : api.reason);
  const checks = checksOf(api, era.id);
  const lines: string[] = [];
  const missing: ProbePlan['missing'] = [];
  for (const spec of probed) {
    const probe = probeFor(spec.fn, era.id);
    const check = checks.get(spec.fn);
    const symbol = symbols.get(spec.fn);
    let reason: string | undefined;
    if (!probe) reason = `kharness has no probe for ${spec.fn}`;
    else if (spec.prototype && check?.result !== 'match') reason = check?.detail ?? `${spec.fn}: prototype not checked`;
    else if (!symbol) reason = 'no such symbol in this build (renamed, removed, or inlined)';
    else if (symbol.clone) reason = `gcc cloned it as ${symbol.name}: its argument registers are not the C signature's`;
    else if (inlinedAt(inputs.calls, spec.fn)) reason = inlinedAt(inputs.calls, spec.fn);
    else if (probe.offsets.some((k) => offsets?.[k] === undefined)) reason = `struct offsets unknown: ${inputs.offsetsError ?? 'no preprocessed mm/zswap.c'}`;
    if (reason === undefined && probe && symbol) lines.push(...probe.lines(symbol.name, retFetch(spec.returns), offsets ?? {}));
    else missing.push({ fn: spec.fn, reason: reason ?? `${spec.fn} cannot be probed` });
  }
  return { lines, missing, offsets, api };
}

/**
 * Why a function's probe would miss calls: a function of mm/zswap.c that calls it in the source
 * has no call to it in mm/zswap.o, so gcc inlined it there. (Fewer calls in the object than in
 * the source alone proves nothing: gcc merges identical call sequences of one function.)
 */
function inlinedAt(calls: ProbeInputs['calls'], fn: string): string | undefined {
  if (!calls) return undefined;
  const inObject = calls.object.calls[fn] ?? {};
  const into = Object.entries(calls.source[fn] ?? {})
    .filter(([caller, n]) => n > 0 && calls.object.functions.includes(caller) && !inObject[caller])
    .map(([caller]) => caller);
  return into.length ? `gcc inlined it into ${into.join(', ')} (mm/zswap.o has no call to it there): a probe would miss those calls` : undefined;
}

/**
 * Call sites of `fn` in preprocessed C, by the function they are in: an occurrence `fn(` whose
 * previous token is not a type (a definition or declaration has `void fn(`, `int fn(`, `*fn(`),
 * inside the body of a top-level definition. Pure; for the inlining check.
 */
export function sourceCallSites(text: string, fn: string): Record<string, number> {
  const sites: Record<string, number> = {};
  const KEYWORDS = new Set(['return', 'else', 'do', 'case']);
  const bodies = functionBodies(text);
  for (const m of text.matchAll(new RegExp(`(?<![\\w])${fn}\\s*\\(`, 'g'))) {
    const before = text.slice(Math.max(0, m.index - 64), m.index).trimEnd();
    const word = /([A-Za-z_]\w*)$/.exec(before)?.[1];
    if (before.endsWith('*') || (word !== undefined && !KEYWORDS.has(word))) continue;
    const body = bodies.find((b) => b.from <= m.index && m.index < b.to);
    if (body) sites[body.name] = (sites[body.name] ?? 0) + 1;
  }
  return sites;
}

/** The top-level function bodies of preprocessed C: name and character span, by brace depth. */
function functionBodies(text: string): { name: string; from: number; to: number }[] {
  const out: { name: string; from: number; to: number }[] = [];
  let depth = 0;
  let head = 0;
  let open = { name: '', from: 0 };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'") {
      // Skip a string or character literal (braces inside it are not code).
      for (i++; i < text.length && text[i] !== ch; i++) if (text[i] === '\\') i++;
    } else if (ch === '{') {
      if (depth++ === 0) open = { name: /([A-Za-z_]\w*)\s*\([^;{}]*\)[^;{}()]*$/.exec(text.slice(head, i))?.[1] ?? '', from: i };
    } else if (ch === '}') {
      if (--depth === 0) {
        if (open.name) out.push({ name: open.name, from: open.from, to: i });
        head = i + 1;
      }
    } else if (ch === ';' && depth === 0) head = i + 1;
  }
  return out;
}

/**
 * `a, b: why; c: other reason`: probes not placed, grouped by reason (an era kharness cannot
 * judge leaves every probe out for the one same reason, said once).
 */
export function describeMissingProbes(missing: ProbePlan['missing']): string {
  const byReason = new Map<string, string[]>();
  for (const m of missing) byReason.set(m.reason, [...(byReason.get(m.reason) ?? []), m.fn]);
  return [...byReason].map(([reason, fns]) => `${fns.join(', ')}: ${reason}`).join('; ');
}

/** The build's zswap.calls.json next to zswap.i, else mm/zswap.o next to it (a kbuild O= folder). */
async function objectCallsNear(zswapPreprocessed: string): Promise<ObjectCalls | undefined> {
  const dir = path.dirname(zswapPreprocessed);
  try {
    const schema = z.object({ functions: z.array(z.string()), calls: z.record(z.record(z.number().int().nonnegative())) });
    const parsed = schema.safeParse(JSON.parse(await readFile(path.join(dir, CALLS_FILE), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return existsSync(path.join(dir, 'zswap.o')) ? objectCalls(path.join(dir, 'zswap.o')) : undefined;
  }
}

/** The object's call counts and the source's; undefined when the object's are not known. */
async function callCounts(zswapPreprocessed: string, fns: string[]): Promise<ProbeInputs['calls']> {
  const object = await objectCallsNear(zswapPreprocessed);
  if (!object) return undefined;
  const text = await readFile(zswapPreprocessed, 'utf8');
  return { object, source: Object.fromEntries(fns.map((fn) => [fn, sourceCallSites(text, fn)])) };
}

/** Builds the probe plan for a built kernel (System.map + preprocessed zswap.c). */
export async function planProbes(systemMap: string, zswapPreprocessed?: string, gcc = 'gcc'): Promise<ProbePlan> {
  const symbols = findSymbols(await readFile(systemMap, 'utf8'));
  if (!zswapPreprocessed) return probeLines(symbols, {});
  let api: ApiSelection;
  try {
    api = await detectApi(zswapPreprocessed, gcc);
  } catch (err) {
    return probeLines(symbols, { apiError: (err as Error).message });
  }
  // The members to find depend on the era: 6.1's entry has an offset and a refcount, no swpentry.
  const era = probedEra(api);
  const [offsets] = await Promise.allSettled([deriveOffsets(zswapPreprocessed, era ? offsetKeysFor(era.id) : XARRAY_ERA_MEMBERS)]);
  return probeLines(symbols, {
    api,
    calls: await callCounts(zswapPreprocessed, era?.functions.map((f) => f.fn) ?? []),
    offsets: offsets.status === 'fulfilled' ? offsets.value : undefined,
    offsetsError: offsets.status === 'rejected' ? (offsets.reason as Error).message : undefined,
  });
}

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

/** A probe's `name=value` arguments, split on whitespace. */
function parseArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const a of text.trim().split(/\s+/)) {
    const eq = a.indexOf('=');
    if (eq > 0) args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return args;
}

/** The counter clock prints an integer; the global clock seconds.microseconds. */
function traceTime(text: string): number {
  return text.includes('.') ? Math.round(Number(text) * 1e9) : Number(text);
}

/** One event from the named groups of a trace line (oops-dump format). */
function rawEvent(g: Record<string, string | undefined>, line: number): RawEvent {
  return { line, comm: g.comm!.trim(), pid: Number(g.pid), cpu: Number(g.cpu), ts: traceTime(g.ts!), event: g.event!, args: parseArgs(g.args ?? '') };
}

// Positional groups (comm, pid, cpu, flags, ts, event, loc, args): named ones cost an object per line.
const LINE = /^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:([\w.]{4,6})\s+)?(\d+(?:\.\d+)?): (\w+): \(([^)]*)\)(.*)$/;
const LOST = /(?:CPU:(\d+) )?\[?LOST (\d+) EVENTS/;

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
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#') || !line.trim()) continue;
    const lostMatch = line.includes('LOST') ? LOST.exec(line) : null;
    if (lostMatch) {
      lost += Number(lostMatch[2]);
      losses.push({ cpu: lostMatch[1] === undefined ? undefined : Number(lostMatch[1]), count: Number(lostMatch[2]), index: events.length });
      continue;
    }
    const m = LINE.exec(line);
    if (!m) {
      unparsed++;
      continue;
    }
    events.push({ line: i + 1, comm: m[1]!.trim(), pid: Number(m[2]), cpu: Number(m[3]), ts: traceTime(m[5]!), event: m[6]!, args: parseArgs(m[8]!) });
  }
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
  if (e.args.swp !== undefined || e.args.type === undefined) return swpSlot(e.args.swp);
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
  // Calls are object literals, not spreads of `base`: V8 gives each spread object a shape of its
  // own, which made every later read of a call's field slow (the model's replay, issue 16).
  for (const e of events) {
    const base = { seq: calls.length, cpu: e.cpu, pid: e.pid, start: e.ts };
    switch (e.event) {
      case 'store':
        push(`${e.pid}/store`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'store', slot: eventSlot(e) });
        break;
      case 'store_ret': {
        const c = pop(`${e.pid}/store`);
        if (c && c.kind === 'store') Object.assign(c, { end: e.ts, ok: outcome(e, 'store') });
        break;
      }
      case 'load':
        push(`${e.pid}/load`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'load', slot: eventSlot(e) });
        break;
      case 'load_ret': {
        const c = pop(`${e.pid}/load`);
        if (c && c.kind === 'load') Object.assign(c, { end: e.ts, hit: outcome(e, 'load') });
        break;
      }
      case 'invalidate':
        push(`${e.pid}/invalidate`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'invalidate', slot: eventSlot(e) });
        break;
      case 'invalidate_ret': {
        const c = pop(`${e.pid}/invalidate`);
        if (c) c.end = e.ts;
        break;
      }
      case 'wb':
        push(`${e.pid}/wb`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'writeback', slot: e.args.swp === undefined ? { type: UNKNOWN_TYPE, offset: 0 } : swpSlot(e.args.swp), entry: hex(e.args.entry) });
        break;
      case 'wb_ret': {
        const c = pop(`${e.pid}/wb`);
        if (c && c.kind === 'writeback') Object.assign(c, { end: e.ts, ret: signed(e.args.ret) });
        break;
      }
      case 'free':
        if (e.args.swp !== undefined) point({ seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'free', slot: swpSlot(e.args.swp), entry: hex(e.args.entry) });
        else point({ seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'free', slot: { type: UNKNOWN_TYPE, offset: Number(num(e.args.off)) }, entry: hex(e.args.entry), refcount: signed(e.args.ref) });
        break;
      case 'put':
        point({ seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'put', slot: { type: UNKNOWN_TYPE, offset: Number(num(e.args.off)) }, entry: hex(e.args.entry), tree: hex(e.args.tree), refcount: signed(e.args.ref) });
        break;
      case 'swapon':
        push(`${e.pid}/swapon`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'swapon', type: signed(e.args.type), pages: Number(num(e.args.pages)) });
        break;
      case 'swapon_ret': {
        const c = pop(`${e.pid}/swapon`);
        if (c && c.kind === 'swapon') Object.assign(c, { end: e.ts, ret: signed(e.args.ret) });
        break;
      }
      case 'swapoff': {
        const type = signed(e.args.type);
        push(`${e.pid}/swapoff`, { seq: base.seq, cpu: base.cpu, pid: base.pid, start: base.start, kind: 'swapoff', type });
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

/** A swp_entry_t as the probes print it (hex); short values (type 0) without BigInt, which costs most of a decode. */
function swpSlot(text: string | undefined): Slot {
  if (text !== undefined && SHORT_HEX.test(text)) return { type: 0, offset: Number.parseInt(text, 16) };
  return decodeSlot(num(text));
}

/** Hex that fits a double exactly and leaves the type bits (58 and up) zero: 13 digits at most. */
const SHORT_HEX = /^(?:0x)?[0-9a-fA-F]{1,13}$/;
/** Hex already in the form hex() gives (lower case, no leading zero). */
const CANONICAL_HEX = /^0x[1-9a-f][0-9a-f]*$/;
const BARE_CANONICAL_HEX = /^[1-9a-f][0-9a-f]*$/;

function hex(s: string | undefined): string {
  if (!s) return '0x0';
  if (CANONICAL_HEX.test(s)) return s;
  if (BARE_CANONICAL_HEX.test(s)) return `0x${s}`;
  return `0x${num(s).toString(16)}`;
}

// ---- rendering calls as tracefs text (for the bench and tests) ----------------------------

const SWP_TYPE_SHIFT = 58n;

function swpText(slot: Slot): string {
  return `0x${((BigInt(slot.type) << SWP_TYPE_SHIFT) | BigInt(slot.offset)).toString(16)}`;
}

/** The probe lines a 6.12-era call makes: [ts, order at that ts (entry 0, point 1, return 2), event, args]. */
function probeEventsOf(c: TraceCall): Array<[number, number, string, string]> {
  const ret = (event: string, args: string): Array<[number, number, string, string]> => (c.end === undefined ? [] : [[c.end, 2, event, args]]);
  switch (c.kind) {
    case 'store':
      return [[c.start, 0, 'store', `swp=${swpText(c.slot)}`], ...ret('store_ret', `ret=${c.ok ? 1 : 0}`)];
    case 'load':
      return [[c.start, 0, 'load', `swp=${swpText(c.slot)}`], ...ret('load_ret', `ret=${c.hit ? 1 : 0}`)];
    case 'invalidate':
      return [[c.start, 0, 'invalidate', `swp=${swpText(c.slot)}`], ...ret('invalidate_ret', '')];
    case 'writeback':
      return [[c.start, 0, 'wb', `entry=0x${c.entry.replace(/^0x/, '')} swp=${swpText(c.slot)}`], ...ret('wb_ret', `ret=${c.ret ?? 0}`)];
    case 'free':
      return [[c.start, 1, 'free', `entry=0x${c.entry.replace(/^0x/, '')} swp=${swpText(c.slot)}`]];
    case 'swapon':
      return [[c.start, 0, 'swapon', `type=${c.type} pages=0x${c.pages.toString(16)}`], ...ret('swapon_ret', `ret=${c.ret ?? 0}`)];
    case 'swapoff':
      return [[c.start, 0, 'swapoff', `type=${c.type}`], ...ret('swapoff_ret', '')];
    default:
      return [];
  }
}

/**
 * A 6.12-era trace as trace_pipe prints it (counter clock), from calls such as the synthesized
 * ones: what the decoder above reads back into the same calls. Puts, markers and gaps are not
 * rendered. For the bench and for tests of the decoder at scale.
 */
export function traceTextOf(calls: readonly TraceCall[]): string {
  const lines: Array<{ ts: number; order: number; seq: number; text: string }> = [];
  for (const c of calls) {
    for (const [ts, order, event, args] of probeEventsOf(c)) {
      const loc = order === 2 ? `x <- ${event.replace(/_ret$/, '')}` : `${event}+0x4/0x100`;
      const text = `          stress-${c.pid}     [${String(c.cpu).padStart(3, '0')}] .....   ${String(ts).padStart(10)}: ${event}: (${loc})${args ? ` ${args}` : ''}`;
      lines.push({ ts, order, seq: c.seq, text });
    }
  }
  lines.sort((a, b) => a.ts - b.ts || a.order - b.order || a.seq - b.seq);
  return `${lines.map((l) => l.text).join('\n')}\n`;
}
