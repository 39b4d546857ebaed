import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';

/** Calls of zswap functions in a compiled object, per callee then per calling function. */
export interface ObjectCalls {
  /** every function the object defines (base names: `.isra.0`, `.part.0`, `.cold` folded in) */
  functions: string[];
  /** callee → caller → direct `call`s and tail-call `jmp`s to the callee's entry */
  calls: Record<string, Record<string, number>>;
}

const baseName = (name: string): string => name.replace(/\.(?:isra|constprop|part|cold)(?:\.\d+)?.*$/, '');

/**
 * How the compiled mm/zswap.o calls each zswap function, by calling function. Beside the call
 * sites in the source, it tells whether gcc inlined a function into a caller: a kprobe on the
 * function would then miss those calls, and the trace would look like a kernel that never made
 * them. Pure given objdump's text.
 */
export function countObjectCalls(objdump: string): ObjectCalls {
  const functions = new Set<string>();
  const calls: Record<string, Record<string, number>> = {};
  let caller = '';
  for (const line of objdump.split('\n')) {
    const head = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (head) {
      caller = baseName(head[1]!);
      functions.add(caller);
      continue;
    }
    const m = /\b(?:call|jmp)\s+[0-9a-f]+ <([A-Za-z_][\w.]*)>/.exec(line);
    if (!m || !m[1]!.includes('zswap')) continue;
    const callee = baseName(m[1]!);
    if (callee === caller) continue;
    const byCaller = (calls[callee] ??= {});
    byCaller[caller] = (byCaller[caller] ?? 0) + 1;
  }
  return { functions: [...functions], calls };
}

/** The artifact file next to zswap.i that records the object's call counts. */
export const CALLS_FILE = 'zswap.calls.json';

/** Disassembles a built mm/zswap.o: its call counts, undefined when objdump cannot. */
export async function objectCalls(object: string): Promise<ObjectCalls | undefined> {
  const r = await execa('objdump', ['-d', '--no-show-raw-insn', object], { reject: false, maxBuffer: 256 * 1024 * 1024 });
  return r.exitCode === 0 ? countObjectCalls(String(r.stdout)) : undefined;
}

/** Writes the call counts of a built mm/zswap.o for its artifact folder; false when objdump cannot. */
export async function writeObjectCalls(object: string, file: string): Promise<boolean> {
  const counts = await objectCalls(object);
  if (!counts) return false;
  await writeFile(file, `${JSON.stringify(counts)}\n`);
  return true;
}
