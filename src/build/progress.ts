import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * Live build progress for runs without a TTY (issue 16: a first build printed nothing for 16
 * minutes): objects compiled so far from make's output, the time elapsed and, when a previous
 * build of the same config from an empty build dir is on record, an ETA from its object count.
 */

/** make's kbuild line for one compiled object (`  CC      mm/zswap.o`): what the build counts as an object. */
export function isCompileLine(line: string): boolean {
  return /^\s+CC\s/.test(line);
}

/** Compiled objects in make's output. */
export function countCompiled(log: string): number {
  let n = 0;
  for (const line of log.split('\n')) if (isCompileLine(line)) n++;
  return n;
}

/** `75 s`, `3 min 05 s`: a duration as a progress line says it. */
export function spokenDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** A finished build from an empty build dir: how many objects it compiled and how long it took. */
export interface FullBuildRecord {
  objects: number;
  durationMs: number;
}

/**
 * Roughly how long is left: the rate so far applied to what the previous full build compiled.
 * Undefined before the first object (no rate yet) or without a previous build.
 */
export function estimateRemainingMs(compiled: number, elapsedMs: number, previous?: FullBuildRecord): number | undefined {
  if (!previous || previous.objects <= 0 || compiled <= 0) return undefined;
  return Math.max(0, ((previous.objects - compiled) * elapsedMs) / compiled);
}

/** One progress line: `build: 1234 objects compiled (of ~4321 last time), 3 min 05 s elapsed, about 5 min 10 s left`. */
export function buildProgressLine(compiled: number, elapsedMs: number, previous?: FullBuildRecord): string {
  const of = previous ? ` (of ~${previous.objects} last time)` : '';
  const left = estimateRemainingMs(compiled, elapsedMs, previous);
  const eta = left === undefined ? '' : compiled >= previous!.objects ? ', past the last build\'s count: linking soon' : `, about ${spokenDuration(left)} left`;
  return `build: ${compiled} objects compiled${of}, ${spokenDuration(elapsedMs)} elapsed${eta}`;
}

/** Counts compile lines as make prints them (in chunks that may split a line). */
export class CompileCounter {
  compiled = 0;
  private partial = '';

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (isCompileLine(line)) this.compiled++;
  }
}

/** Calls `tick` every `intervalMs` until the returned stop is called. */
export function every(intervalMs: number, tick: () => void): () => void {
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

// The record of the last full build per config, kept beside the build dirs.
const RecordSchema = z.object({ objects: z.number().int().positive(), durationMs: z.number().nonnegative() });

export function fullBuildRecordPath(buildsRoot: string, config: string): string {
  return path.join(buildsRoot, `.last-full-build-${config.replace(/[^\w.-]/g, '_')}.json`);
}

export async function readFullBuildRecord(file: string): Promise<FullBuildRecord | undefined> {
  try {
    const r = RecordSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeFullBuildRecord(file: string, record: FullBuildRecord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(record));
}

/**
 * CPU-minutes a first build of the zswap config takes from an empty build dir: issue 16 measured
 * 16 min 40 s on a fresh 2-core machine.
 */
const FIRST_BUILD_CPU_MS = 2 * (16 * 60_000 + 40_000);

/** Roughly how long a first build will take: the last full build of the config when known, else the measured figure scaled to the CPUs. */
export function firstBuildEstimateMs(cpus: number, previous?: FullBuildRecord): number {
  return previous?.durationMs ?? FIRST_BUILD_CPU_MS / Math.max(1, cpus);
}

/** The up-front notice for a config with no build dir yet: the wait that follows is no hang. */
export function firstBuildNotice(config: string, cpus: number, previous?: FullBuildRecord): string {
  const how = previous ? `the last full build of it took ${spokenDuration(previous.durationMs)}` : `measured: about ${spokenDuration(FIRST_BUILD_CPU_MS)} of CPU time, over ${cpus} CPU(s) here`;
  return `first build of config ${config} in this tree (no build dir yet): expect about ${spokenDuration(firstBuildEstimateMs(cpus, previous))} (${how}); later steps build incrementally`;
}
