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
});
