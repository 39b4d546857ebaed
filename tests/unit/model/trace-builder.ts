import type { Slot, TraceCall } from '../../../src/model/trace-types.js';

/**
 * Builds hand-written traces: each call gets the next seq; `frees` become point events nested in
 * the call (same cpu and pid), one ns before the call ends unless `freeAt` says otherwise.
 */
export class TraceBuilder {
  readonly calls: TraceCall[] = [];
  private seq = 0;

  private push(call: TraceCall): TraceCall {
    this.calls.push(call);
    return call;
  }

  private frees(slot: Slot, cpu: number, pid: number, at: number, entries: readonly string[]): void {
    for (const entry of entries) this.push({ kind: 'free', seq: this.seq++, cpu, pid, start: at, slot, entry });
  }

  swapon(start: number, end: number, opts: { type?: number; cpu?: number; pid?: number; ret?: number } = {}): this {
    this.push({ kind: 'swapon', seq: this.seq++, cpu: opts.cpu ?? 0, pid: opts.pid ?? 1, start, end, type: opts.type ?? 0, pages: 4096, ret: opts.ret ?? 0 });
    return this;
  }

  swapoff(start: number, end: number | undefined, opts: { type?: number; cpu?: number; pid?: number; frees?: Array<{ offset: number; entry: string }> } = {}): this {
    const cpu = opts.cpu ?? 0;
    const pid = opts.pid ?? 1;
    this.push({ kind: 'swapoff', seq: this.seq++, cpu, pid, start, end, type: opts.type ?? 0 });
    for (const f of opts.frees ?? []) this.push({ kind: 'free', seq: this.seq++, cpu, pid, start: start + 1, slot: { type: opts.type ?? 0, offset: f.offset }, entry: f.entry });
    return this;
  }

  marker(at: number, name: 'swapoff-begin' | 'swapoff-end', opts: { type?: number; pid?: number } = {}): this {
    this.push({ kind: 'marker', seq: this.seq++, cpu: 0, pid: opts.pid ?? 1, start: at, name, type: opts.type ?? 0 });
    return this;
  }

  store(offset: number, start: number, end: number | undefined, opts: { ok?: boolean; frees?: string[]; freeAt?: number; cpu?: number; pid?: number; type?: number } = {}): this {
    const slot = { type: opts.type ?? 0, offset };
    const cpu = opts.cpu ?? 0;
    const pid = opts.pid ?? 10 + cpu;
    const ok = end === undefined && opts.ok === undefined ? undefined : (opts.ok ?? true);
    this.push({ kind: 'store', seq: this.seq++, cpu, pid, start, end, slot, ...(ok === undefined ? {} : { ok }) });
    this.frees(slot, cpu, pid, opts.freeAt ?? (end ?? start + 2) - 1, opts.frees ?? []);
    return this;
  }

  load(offset: number, start: number, end: number | undefined, opts: { hit?: boolean; frees?: string[]; freeAt?: number; cpu?: number; pid?: number; type?: number } = {}): this {
    const slot = { type: opts.type ?? 0, offset };
    const cpu = opts.cpu ?? 0;
    const pid = opts.pid ?? 10 + cpu;
    const hit = end === undefined && opts.hit === undefined ? undefined : (opts.hit ?? true);
    this.push({ kind: 'load', seq: this.seq++, cpu, pid, start, end, slot, ...(hit === undefined ? {} : { hit }) });
    this.frees(slot, cpu, pid, opts.freeAt ?? (end ?? start + 2) - 1, opts.frees ?? []);
    return this;
  }

  invalidate(offset: number, start: number, end: number | undefined, opts: { frees?: string[]; freeAt?: number; cpu?: number; pid?: number; type?: number } = {}): this {
    const slot = { type: opts.type ?? 0, offset };
    const cpu = opts.cpu ?? 0;
    const pid = opts.pid ?? 10 + cpu;
    this.push({ kind: 'invalidate', seq: this.seq++, cpu, pid, start, end, slot });
    this.frees(slot, cpu, pid, opts.freeAt ?? (end ?? start + 2) - 1, opts.frees ?? []);
    return this;
  }

  writeback(offset: number, entry: string, start: number, end: number | undefined, opts: { ret?: number; frees?: string[]; freeAt?: number; cpu?: number; pid?: number; type?: number } = {}): this {
    const slot = { type: opts.type ?? 0, offset };
    const cpu = opts.cpu ?? 1;
    const pid = opts.pid ?? 50 + cpu;
    const ret = end === undefined && opts.ret === undefined ? undefined : (opts.ret ?? 0);
    this.push({ kind: 'writeback', seq: this.seq++, cpu, pid, start, end, slot, entry, ...(ret === undefined ? {} : { ret }) });
    this.frees(slot, cpu, pid, opts.freeAt ?? (end ?? start + 2) - 1, opts.frees ?? []);
    return this;
  }

  /** a free with no enclosing call */
  free(offset: number, entry: string, at: number, opts: { cpu?: number; pid?: number; type?: number } = {}): this {
    this.push({ kind: 'free', seq: this.seq++, cpu: opts.cpu ?? 3, pid: opts.pid ?? 99, start: at, slot: { type: opts.type ?? 0, offset }, entry });
    return this;
  }
}

export const trace = (): TraceBuilder => new TraceBuilder();
