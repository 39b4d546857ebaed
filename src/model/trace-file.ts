import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputError, errorMessage } from '../common/errors.js';
import type { TraceCall } from './trace-types.js';
import { decodeTrace, lossGaps, parseTraceText, withGaps } from '../guest/trace-capture.js';

/** The on-disk trace: JSON lines, one TraceCall each (blank lines and `#` comments skipped). */

const count = z.number().int().nonnegative();
const time = z.number().finite();
const slot = z.object({ type: z.number().int().min(-1), offset: count });
const base = { seq: count, cpu: count, pid: count, start: time, end: time.optional() };

const traceCallSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('store'), slot, ok: z.boolean().optional() }),
  z.object({ ...base, kind: z.literal('load'), slot, hit: z.boolean().optional() }),
  z.object({ ...base, kind: z.literal('invalidate'), slot }),
  z.object({ ...base, kind: z.literal('writeback'), slot, entry: z.string().min(1), ret: z.number().int().optional() }),
  z.object({ ...base, kind: z.literal('free'), slot, entry: z.string().min(1), refcount: z.number().int().optional() }),
  z.object({ ...base, kind: z.literal('put'), slot, entry: z.string().min(1), tree: z.string().min(1), refcount: z.number().int() }),
  z.object({ ...base, kind: z.literal('swapon'), type: count, pages: count, ret: z.number().int().optional() }),
  z.object({ ...base, kind: z.literal('swapoff'), type: count }),
  z.object({ ...base, kind: z.literal('marker'), name: z.enum(['swapoff-begin', 'swapoff-end']), type: count }),
  z.object({ ...base, kind: z.literal('lost'), count: count.optional() }),
]);

/** Parses JSON-lines text; `source` names it in errors. */
export function parseTrace(text: string, source = 'trace'): TraceCall[] {
  const calls: TraceCall[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${source}:${i + 1}: not JSON: ${errorMessage(err)}`);
    }
    const parsed = traceCallSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
      throw new InputError(`${source}:${i + 1}: not a trace call${where}: ${issue?.message ?? 'invalid'}`);
    }
    calls.push(parsed.data as TraceCall);
  }
  return calls;
}

export async function readTraceFile(file: string): Promise<TraceCall[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read trace ${file}: ${errorMessage(err)}`);
  }
  // A trace as tracefs prints it (what `kharness test` leaves in its run directory) is decoded
  // the way the guest stage does; JSON lines are taken as TraceCalls.
  const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first !== undefined && !first.trim().startsWith('{')) {
    const parsed = parseTraceText(text);
    if (parsed.events.length === 0) throw new InputError(`${file}: neither JSON lines of trace calls nor a tracefs trace of kharness probes`);
    // Each loss where tracefs reported it, so the model forgets across that stretch only.
    return withGaps(decodeTrace(parsed.events).calls, lossGaps(parsed.events, parsed.losses));
  }
  return parseTrace(text, file);
}
