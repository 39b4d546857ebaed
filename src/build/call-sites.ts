import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';

/**
 * How many times the compiled mm/zswap.o calls each zswap function (direct `call` and tail-call
 * `jmp` to its entry). Beside the call sites in the source, it tells whether gcc inlined a
 * function at some of them: a kprobe on the function would then miss those calls, and the trace
 * would look like a kernel that never made them. Pure given objdump's text.
 */
export function countObjectCalls(objdump: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of objdump.matchAll(/\b(?:call|jmp)\s+[0-9a-f]+ <([A-Za-z_][\w.]*)>/g)) {
    const name = m[1]!;
    if (!name.includes('zswap')) continue;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** The artifact file next to zswap.i that records the object's call counts. */
export const CALLS_FILE = 'zswap.calls.json';

/** Disassembles a built mm/zswap.o: its call counts, undefined when objdump cannot. */
export async function objectCalls(object: string): Promise<Record<string, number> | undefined> {
  const r = await execa('objdump', ['-d', '--no-show-raw-insn', object], { reject: false, maxBuffer: 256 * 1024 * 1024 });
  return r.exitCode === 0 ? countObjectCalls(String(r.stdout)) : undefined;
}

/** Writes the call counts of a built mm/zswap.o for its artifact folder; false when objdump cannot. */
export async function writeObjectCalls(object: string, file: string): Promise<boolean> {
  const counts = await objectCalls(object);
  if (!counts) return false;
  await writeFile(file, `${JSON.stringify({ objectCalls: counts }, null, 1)}\n`);
  return true;
}
