import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { countObjectCalls } from '../../../src/build/call-sites.js';
import { PROBED_FUNCTIONS, decodeSlot, sourceCallSites, decodeTrace, deriveOffsets, findSymbols, mergeWithDump, parseFtraceDump, parseTraceText, probeLines } from '../../../src/guest/trace-capture.js';
import { replayTrace } from '../../../src/model/replay.js';
import { NEWER, V6_12, selectEra, type ApiEra, type PrototypeCheck } from '../../../src/api/index.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const fixture = (name: string): string => readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'trace', name), 'utf8');

/** A trace in the exact format tracefs prints (counter clock), written for one scenario. */
function trace(lines: [number, number, string, string][]): string {
  return lines.map(([ts, cpu, event, rest]) => `    zswap-stress-113     [00${cpu}] .....   ${String(ts).padStart(10)}: ${event}: ${rest}`).join('\n');
}

/** The verdict of prototype checks on a kernel whose functions all have `era`'s prototypes. */
function apiOf(era: ApiEra, over: Partial<Record<string, PrototypeCheck['result']>> = {}) {
  return selectEra(era.functions.map((f) => ({ era: era.id, fn: f.fn, expected: '', result: over[f.fn] ?? (f.prototype ? 'match' : 'unchecked'), detail: `${f.fn}: checked` })));
}
const OFFSETS = { 'folio.swap': 40, 'zswap_entry.swpentry': 0 };

describe('probe plan', () => {
  const map = ['ffffffff81156791 t zswap_entry_free', 'ffffffff811569b2 t zswap_writeback_entry', 'ffffffff81156e7d T zswap_store', 'ffffffff8115735e T zswap_load', 'ffffffff81157413 T zswap_invalidate', 'ffffffff81157442 T zswap_swapon', 'ffffffff811574ba T zswap_swapoff', 'ffffffff81100000 T __x64_sys_swapoff'].join('\n');

  it('does not probe a function gcc inlined at some of its call sites: the probe would miss them', () => {
    const calls = {
      object: { functions: ['zswap_store', 'zswap_load', 'zswap_invalidate', 'shrink_memcg_cb'], calls: { zswap_entry_free: { zswap_store: 1, zswap_invalidate: 1 }, zswap_writeback_entry: { shrink_memcg_cb: 1 } } },
      // zswap_store's two calls merged into one call instruction is not inlining; zswap_load's none is.
      source: { zswap_entry_free: { zswap_store: 2, zswap_load: 1, zswap_invalidate: 1 }, zswap_writeback_entry: { shrink_memcg_cb: 1 } },
    };
    const plan = probeLines(findSymbols(map), { offsets: OFFSETS, api: apiOf(V6_12), calls });
    expect(plan.missing).toEqual([{ fn: 'zswap_entry_free', reason: 'gcc inlined it into zswap_load (mm/zswap.o has no call to it there): a probe would miss those calls' }]);
    expect(plan.lines.some((l) => l.includes('zswap_writeback_entry'))).toBe(true);
  });

  it('probes every zswap function with argument locations from the build', () => {
    const plan = probeLines(findSymbols(map), { offsets: OFFSETS, api: apiOf(V6_12) });
    expect(plan.missing).toEqual([]);
    expect(plan.lines).toContain('p:kharness/store zswap_store swp=+40(%di):x64');
    expect(plan.lines).toContain('p:kharness/free zswap_entry_free entry=%di:x64 swp=+0(%di):x64');
    expect(plan.lines.some((l) => /^r\d+:kharness\/store_ret zswap_store ret=\$retval:u8$/.test(l))).toBe(true);
  });

  it('does not probe a function gcc inlined away or cloned, and says why', () => {
    const cloned = map.replace('t zswap_entry_free', 't zswap_entry_free.isra.0').replace(/.*zswap_writeback_entry\n/, '');
    const plan = probeLines(findSymbols(cloned), { offsets: OFFSETS, api: apiOf(V6_12) });
    expect(plan.missing).toEqual([
      { fn: 'zswap_writeback_entry', reason: 'no such symbol in this build (renamed, removed, or inlined)' },
      { fn: 'zswap_entry_free', reason: "gcc cloned it as zswap_entry_free.isra.0: its argument registers are not the C signature's" },
    ]);
  });

  it('does not guess struct offsets it could not derive', () => {
    const plan = probeLines(findSymbols(map), { api: apiOf(V6_12), offsetsError: 'no preprocessed mm/zswap.c' });
    expect(plan.missing.map((m) => m.fn)).toEqual(['zswap_store', 'zswap_load', 'zswap_entry_free']);
    expect(plan.missing[0]!.reason).toBe('struct offsets unknown: no preprocessed mm/zswap.c');
  });

  it('probes nothing it could not check the prototype of', () => {
    const plan = probeLines(findSymbols(map), { offsets: OFFSETS, apiError: 'gcc cannot compile the preprocessed mm/zswap.c itself' });
    expect(plan.lines).toEqual([]);
    expect(plan.missing).toHaveLength(PROBED_FUNCTIONS.length);
    expect(plan.missing.every((m) => m.reason === 'prototypes not checked: gcc cannot compile the preprocessed mm/zswap.c itself')).toBe(true);
  });

  it('reads an int zswap_load as an errno, and leaves out a function whose prototype differs', () => {
    const plan = probeLines(findSymbols(map), { offsets: OFFSETS, api: apiOf(NEWER, { zswap_writeback_entry: 'mismatch' }) });
    expect(plan.api?.era).toBe('newer');
    expect(plan.lines.some((l) => /^r\d+:kharness\/load_ret zswap_load err=\$retval:s32$/.test(l))).toBe(true);
    expect(plan.lines.some((l) => /^r\d+:kharness\/store_ret zswap_store ret=\$retval:u8$/.test(l))).toBe(true);
    expect(plan.missing).toEqual([{ fn: 'zswap_writeback_entry', reason: 'zswap_writeback_entry: checked' }]);
  });

  it('derives offsets by compiling the preprocessed source with gcc', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kh-off-'));
    const src = path.join(dir, 'zswap.i');
    await writeFile(src, 'typedef struct { unsigned long val; } swp_entry_t;\nstruct folio { unsigned long flags; void *lru[2]; void *mapping; unsigned long index; swp_entry_t swap; };\nstruct zswap_entry { unsigned int length; swp_entry_t swpentry; };\n');
    expect(await deriveOffsets(src)).toEqual({ 'folio.swap': 40, 'zswap_entry.swpentry': 8 });
  });
});

describe('decoding the captured trace', () => {
  it('decodes swap entries as x86_64 does', () => {
    expect(decodeSlot(0x1n)).toEqual({ type: 0, offset: 1 });
    expect(decodeSlot((1n << 58n) | 0x201n)).toEqual({ type: 1, offset: 0x201 });
  });

  it('reads a real trace and pairs entries with returns', () => {
    const { events, lost, unparsed } = parseTraceText(fixture('swap-cycle-head.trace'));
    expect(events).toHaveLength(60);
    expect(lost + unparsed).toBe(0);
    const { calls, unmatchedReturns } = decodeTrace(events);
    expect(unmatchedReturns).toBe(0);
    expect(calls).toHaveLength(30);
    expect(calls.every((c) => c.kind === 'store' && c.end !== undefined && c.ok !== undefined)).toBe(true);
  });

  it('nests frees in their call and turns the swapoff syscall into a window for the model', () => {
    const text = trace([
      [1, 0, 'store', '(zswap_store+0x4/0x4e1) swp=0x5'],
      [2, 0, 'store_ret', '(swap_writepage+0x194/0x1cc <- zswap_store) ret=1'],
      [3, 1, 'sys_swapoff', '(__x64_sys_swapoff+0x4/0xba7)'],
      [4, 1, 'load', '(zswap_load+0x4/0xb5) swp=0x5'],
      [5, 1, 'free', '(zswap_entry_free+0x0/0x77) entry=0xff11000003e1e700 swp=0x5'],
      [6, 1, 'load_ret', '(swap_read_folio+0xa9/0x34d <- zswap_load) ret=1'],
      [7, 1, 'swapoff', '(zswap_swapoff+0x4/0x52) type=0'],
      [8, 1, 'swapoff_ret', '(__x64_sys_swapoff+0x5f0/0xba7 <- zswap_swapoff)'],
      [9, 1, 'sys_swapoff_ret', '(do_syscall_64+0x4e/0xa4 <- __x64_sys_swapoff) ret=0x0'],
    ]);
    const { calls } = decodeTrace(parseTraceText(text).events);
    expect(calls.map((c) => (c.kind === 'marker' ? c.name : c.kind))).toEqual(['store', 'swapoff-begin', 'load', 'free', 'swapoff', 'swapoff-end']);
    const replay = replayTrace(calls);
    expect(replay.violations).toEqual([]);
    expect(replay.stats.swapoffUnuse).toBe(1);
    expect(replay.stats.loadHit).toBe(1);
  });

  it('lets the model catch a load that misses a live entry', () => {
    const text = trace([
      [1, 0, 'store', '(zswap_store+0x4/0x4e1) swp=0x5'],
      [2, 0, 'store_ret', '(x <- zswap_store) ret=1'],
      [3, 0, 'load', '(zswap_load+0x4/0xb5) swp=0x5'],
      [4, 0, 'load_ret', '(x <- zswap_load) ret=0'],
    ]);
    const replay = replayTrace(decodeTrace(parseTraceText(text).events).calls);
    expect(replay.violations.map((v) => v.rule)).toEqual(['lost-entry']);
  });

  it('merges the oops dump after the streamed trace, and marks a hole between them', () => {
    const dump = parseFtraceDump(fixture('oops-dump.log'));
    expect(dump.length).toBeGreaterThan(5);
    expect(dump[0]).toMatchObject({ comm: 'zswap-st', pid: 105, cpu: 0, ts: 6857, event: 'invalidate', args: { swp: '0x3fa' } });
    const file = parseTraceText(trace([[6855, 0, 'store', '(zswap_store+0x4/0x4e1) swp=0x1']])).events;
    expect(mergeWithDump(file, dump).gap).toBeUndefined();
    const early = parseTraceText(trace([[6800, 0, 'store', '(zswap_store+0x4/0x4e1) swp=0x1']])).events;
    const merged = mergeWithDump(early, dump);
    expect(merged.gap).toEqual({ after: 6800, before: 6857 });
    expect(merged.events).toHaveLength(1 + dump.length);
  });
});

describe('decoding a 6.1 trace', () => {
  const l = (ts: number, pid: number, event: string, rest: string): string => `    zswap-stress-${pid}     [000] .....   ${String(ts).padStart(10)}: ${event}: (${event}+0x4/0x10)${rest}`;
  const text = [
    l(1, 100, 'store', ' type=1 off=0x7'),
    l(2, 100, 'store_ret', ' err=0'),
    l(3, 101, 'load', ' type=1 off=0x7'),
    l(4, 101, 'put', ' tree=0xffff888003c00000 entry=0xffff888004a1b000 off=0x7 ref=2'),
    l(5, 101, 'load_ret', ' err=0'),
    // A writeback names no slot: its put's tree is type 1's (as the load's put showed).
    l(6, 7, 'wb', ''),
    l(7, 7, 'put', ' tree=0xffff888003c00000 entry=0xffff888004a1b000 off=0x7 ref=2'),
    l(8, 7, 'put', ' tree=0xffff888003c00000 entry=0xffff888004a1b000 off=0x7 ref=1'),
    l(9, 7, 'free', ' entry=0xffff888004a1b000 off=0x7 ref=0'),
    l(10, 7, 'wb_ret', ' ret=0'),
  ].join('\n');

  it('gives puts and frees the type of the call they ran in, or of their tree', () => {
    const { calls } = decodeTrace(parseTraceText(text).events, 'v6.1');
    const byKind = (k: string) => calls.filter((c) => c.kind === k);
    expect(byKind('put').map((c) => (c.kind === 'put' ? [c.slot, c.refcount] : null))).toEqual([
      [{ type: 1, offset: 7 }, 2],
      [{ type: 1, offset: 7 }, 2],
      [{ type: 1, offset: 7 }, 1],
    ]);
    expect(byKind('free')).toMatchObject([{ slot: { type: 1, offset: 7 }, entry: '0xffff888004a1b000', refcount: 0 }]);
    expect(byKind('writeback')).toMatchObject([{ slot: { type: 1, offset: 7 }, entry: '0xffff888004a1b000', ret: 0 }]);
    expect(byKind('load')).toMatchObject([{ slot: { type: 1, offset: 7 }, hit: true }]);
  });

  it('leaves the type unknown when nothing in the trace says it', () => {
    const alone = [l(6, 7, 'wb', ''), l(7, 7, 'put', ' tree=0xffff888003d00000 entry=0xffff888004a1b000 off=0x7 ref=2'), l(8, 7, 'wb_ret', ' ret=-17')].join('\n');
    const { calls } = decodeTrace(parseTraceText(alone).events, 'v6.1');
    expect(calls.find((c) => c.kind === 'writeback')).toMatchObject({ slot: { type: -1, offset: 7 }, ret: -17 });
  });
});

describe('call sites, for the inlining check', () => {
  it('counts calls in preprocessed C, not the definition, declarations or address-of', () => {
    const c = [
      'static void zswap_entry_put(struct zswap_tree *tree, struct zswap_entry *entry);',
      'static void zswap_entry_put(struct zswap_tree *tree,',
      '   struct zswap_entry *entry)',
      '{ }',
      'static void f(void) {',
      ' zswap_entry_put(tree, e);',
      ' if (x)',
      '  zswap_entry_put (tree, e);',
      ' else zswap_entry_put(tree, e);',
      ' g(zswap_entry_put);',
      ' my_zswap_entry_put(tree, e);',
      '}',
      'static struct zswap_entry *zswap_entry_find_get(struct rb_root *root, unsigned long offset) { return 0; }',
      'static int h(void) { return zswap_entry_find_get(0, 1) != 0; }',
    ].join('\n');
    expect(sourceCallSites(c, 'zswap_entry_put')).toEqual({ f: 3 });
    expect(sourceCallSites(c, 'zswap_entry_find_get')).toEqual({ h: 1 });
    // A brace in a string is not code.
    expect(sourceCallSites('static void f(void) { g("}"); zswap_x(1); }', 'zswap_x')).toEqual({ f: 1 });
  });

  it('counts direct calls and tail calls in objdump output', () => {
    const dump = [
      '0000000000000010 <zswap_frontswap_load>:',
      '  1d: call   1a0 <zswap_entry_put>',
      '  3f: jmp    1a0 <zswap_entry_put>',
      '  50: call   0 <__fentry__>',
      '  61: jmp    70 <zswap_frontswap_load+0x40>',
      '0000000000000080 <zswap_writeback_entry.cold>:',
      '  92: call   2b0 <zswap_free_entry>',
      '  99: call   10 <zswap_rb_search.isra.0>',
    ].join('\n');
    expect(countObjectCalls(dump)).toEqual({
      functions: ['zswap_frontswap_load', 'zswap_writeback_entry'],
      calls: { zswap_entry_put: { zswap_frontswap_load: 2 }, zswap_free_entry: { zswap_writeback_entry: 1 }, zswap_rb_search: { zswap_writeback_entry: 1 } },
    });
  });
});
