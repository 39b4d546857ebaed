import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTraceFile } from '../../../src/model/trace-file.js';
import { replayTrace } from '../../../src/model/replay.js';

describe('model replay input', () => {
  it('takes the tracefs text a guest run leaves behind, not only JSON lines', async () => {
    const calls = await readTraceFile(path.join(__dirname, '..', '..', 'fixtures', 'trace', 'swap-cycle-head.trace'));
    expect(calls).toHaveLength(30);
    expect(calls[0]).toMatchObject({ kind: 'store', slot: { type: 0, offset: 1 }, ok: true });
    const r = replayTrace(calls);
    expect(r.violations).toEqual([]);
    // every 8th page of swap-cycle is incompressible: zswap rejects it
    expect([r.stats.store, r.stats.storeFailed]).toEqual([27, 3]);
  });

  it('forgets slots only across the stretch tracefs says it lost', async () => {
    const line = (ts: number, cpu: number, event: string, rest: string): string => `    zswap-stress-113     [00${cpu}] .....   ${String(ts).padStart(10)}: ${event}: ${rest}`;
    // Slot 5: stored, then events lost on CPU 0 (its invalidate and free, say), then a load that
    // misses: not the kernel's fault. Slot 6, after the loss: a load that misses its live entry.
    const text = [
      line(1, 0, 'store', '(zswap_store+0x4/0x4e1) swp=0x5'),
      line(2, 0, 'store_ret', '(x <- zswap_store) ret=1'),
      line(3, 1, 'store', '(zswap_store+0x4/0x4e1) swp=0x7'),
      line(4, 1, 'store_ret', '(x <- zswap_store) ret=1'),
      'CPU:0 [LOST 2 EVENTS]',
      line(20, 0, 'load', '(zswap_load+0x4/0xb5) swp=0x5'),
      line(21, 0, 'load_ret', '(x <- zswap_load) ret=0'),
      line(30, 1, 'store', '(zswap_store+0x4/0x4e1) swp=0x6'),
      line(31, 1, 'store_ret', '(x <- zswap_store) ret=1'),
      line(32, 1, 'load', '(zswap_load+0x4/0xb5) swp=0x6'),
      line(33, 1, 'load_ret', '(x <- zswap_load) ret=0'),
    ].join('\n');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'kh-lost-')), 'lost.trace');
    await writeFile(file, text);
    const calls = await readTraceFile(file);
    expect(calls.filter((c) => c.kind === 'lost')).toEqual([expect.objectContaining({ start: 2, end: 20, count: 2 })]);
    const r = replayTrace(calls);
    expect(r.violations.map((v) => [v.rule, v.slot?.offset])).toEqual([['lost-entry', 6]]);
  });
});
