import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CompileCounter,
  buildProgressLine,
  countCompiled,
  estimateRemainingMs,
  every,
  firstBuildEstimateMs,
  firstBuildNotice,
  fullBuildRecordPath,
  readFullBuildRecord,
  spokenDuration,
  writeFullBuildRecord,
} from '../../../src/build/progress.js';
import { GuestTestClock } from '../../../src/run/progress.js';

// make -j2 O=... output as kbuild prints it.
const MAKE_OUTPUT = `make[1]: Entering directory '/build'
  SYNC    include/config/auto.conf
  HOSTCC  scripts/basic/fixdep
  CC      scripts/mod/empty.o
  UPD     include/generated/utsversion.h
  CC      init/main.o
  AS      arch/x86/entry/entry_64.o
  CC [M]  fs/fuse/dev.o
  AR      init/built-in.a
  LD      vmlinux.o
mm/zswap.c:1519:3: warning: unused variable 'x' [-Wunused-variable]
  CC      mm/zswap.o
`;

describe('build progress (issue 16: a non-TTY first build looked hung)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts compiled objects from make output: CC lines only, not HOSTCC, AS, LD or diagnostics', () => {
    expect(countCompiled(MAKE_OUTPUT)).toBe(4);
    const counter = new CompileCounter();
    // make's output arrives in chunks that split lines anywhere.
    for (let i = 0; i < MAKE_OUTPUT.length; i += 7) counter.feed(MAKE_OUTPUT.slice(i, i + 7));
    expect(counter.compiled).toBe(4);
  });

  it("estimates what is left from the previous full build's object count and the rate so far", () => {
    const previous = { objects: 4000, durationMs: 16 * 60_000 };
    expect(estimateRemainingMs(1000, 240_000, previous)).toBe(720_000);
    expect(estimateRemainingMs(0, 5000, previous)).toBeUndefined();
    expect(estimateRemainingMs(1000, 240_000)).toBeUndefined();
    expect(estimateRemainingMs(4100, 1_000_000, previous)).toBe(0);
  });

  it('says objects, elapsed time and the ETA when a previous build is known', () => {
    expect(buildProgressLine(1000, 240_000, { objects: 4000, durationMs: 1 })).toBe('build: 1000 objects compiled (of ~4000 last time), 4 min 00 s elapsed, about 12 min 00 s left');
    expect(buildProgressLine(12, 31_000)).toBe('build: 12 objects compiled, 31 s elapsed');
    expect(buildProgressLine(4001, 900_000, { objects: 4000, durationMs: 1 })).toMatch(/past the last build's count/);
    expect(spokenDuration(65_400)).toBe('1 min 05 s');
  });

  it('keeps the full build record per config, and ignores a broken one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kh-progress-'));
    try {
      const file = fullBuildRecordPath(dir, 'zswap-0123abcd');
      expect(await readFullBuildRecord(file)).toBeUndefined();
      await writeFullBuildRecord(file, { objects: 3987, durationMs: 1_000_000 });
      expect(await readFullBuildRecord(file)).toEqual({ objects: 3987, durationMs: 1_000_000 });
      await writeFile(file, '{"objects":-1}');
      expect(await readFullBuildRecord(file)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ticks every interval until stopped', () => {
    vi.useFakeTimers();
    const lines: number[] = [];
    const stop = every(30_000, () => lines.push(Date.now()));
    vi.advanceTimersByTime(95_000);
    expect(lines).toHaveLength(3);
    stop();
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(3);
  });

  it('names the running guest test and how long it has run, nothing between tests', () => {
    const clock = new GuestTestClock();
    expect(clock.line(0)).toBeUndefined();
    clock.mark('writeback', 'start', 10_000);
    expect(clock.line(75_000)).toBe('test writeback: running for 1 min 05 s');
    clock.mark('swap-cycle', 'pass', 76_000);
    expect(clock.line(76_000)).toBe('test writeback: running for 1 min 06 s');
    clock.mark('writeback', 'fail', 80_000);
    expect(clock.line(90_000)).toBeUndefined();
  });

  it('says up front how long a first build will take: the last full build, else the measured figure over the CPUs', () => {
    expect(firstBuildEstimateMs(2)).toBe(1_000_000);
    expect(firstBuildEstimateMs(8)).toBe(250_000);
    expect(firstBuildEstimateMs(8, { objects: 3900, durationMs: 400_000 })).toBe(400_000);
    expect(firstBuildNotice('zswap', 2)).toBe(
      'first build of config zswap in this tree (no build dir yet): expect about 16 min 40 s (measured: about 33 min 20 s of CPU time, over 2 CPU(s) here); later steps build incrementally',
    );
    expect(firstBuildNotice('zswap-debug', 4, { objects: 4100, durationMs: 1_500_000 })).toMatch(/expect about 25 min 00 s \(the last full build of it took 25 min 00 s\)/);
  });
});
