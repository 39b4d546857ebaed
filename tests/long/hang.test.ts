import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuiteResult } from '../../src/guest/index.js';
import { buildBugKernel, fixtures, kharness, requireEnvironment } from '../e2e/helpers.js';

// `kharness test` on a kernel that deadlocks in zswap_invalidate(): the watchdog's side of a
// hang (status, console tail, no QEMU left). CI keeps the pipeline's side (tests/e2e/faults.test.ts
// row 7); this one waits out a 240 s budget, which CI's time has not got.
let out: string;
beforeAll(async () => {
  requireEnvironment();
  out = await mkdtemp(path.join(tmpdir(), 'kharness-hang-'));
});
afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('a kernel that never gets through the suite', () => {
  it('reports a guest that hangs as a hang, with the console tail, within its budget', async () => {
    const { build } = await buildBugKernel(path.join(fixtures, 'kernel-bugs', 'hang-double-lock.mbox'));
    const r = await kharness(['test', build.artifacts!.dir, '--out', path.join(out, 'hang'), '--json', '--variants', 'default', '--timeout', '240', '--silence', '40']);
    const result = r.json<SuiteResult>();
    expect(r.exitCode, `${result.summary}; boot ${result.boot.status}: ${result.boot.reason}`).toBe(1);
    expect(result.boot.status).toBe('hang');
    expect(result.boot.reason).toMatch(/printed nothing for 40s|heartbeat stopped for 40s|outlived its 240s budget/);
    expect(result.boot.durationMs).toBeLessThan(260_000);
    expect(result.boot.consoleTail.length).toBeGreaterThan(0);
    expect(result.tests.find((t) => t.name === 'swap-cycle')?.verdict).toBe('fail');
    // No QEMU is left behind by the watchdog's kill.
    const qemu = await execa('pgrep', ['-f', 'qemu-system-x86_64'], { reject: false });
    expect(qemu.stdout.trim()).toBe('');
  });
});
