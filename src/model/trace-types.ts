/**
 * The kernel trace as the model sees it: one record per zswap call, captured in the guest with
 * tracefs kprobes/kretprobes (see src/guest/trace-capture.ts) and decoded on the host.
 *
 * Timestamps come from the trace's global clock (ordered across CPUs). A call has `start` (kprobe)
 * and, when a kretprobe returned, `end`; `free` is a point event (start only). Calls on the same
 * CPU and task nest: the `free` of an entry happens inside the store/load/invalidate/writeback call
 * that released it.
 *
 * Slots: a swp_entry_t value decodes to (type, offset) as on x86_64 (type in the top bits,
 * SWP_TYPE_SHIFT = 58). `entry` is the kernel address of a struct zswap_entry, as hex text.
 * On 6.1 (frontswap) calls name (type, offset) directly, and an entry records only its offset:
 * the type then comes from the call a put or free is nested in, or from its tree; `type` is -1
 * when nothing in the trace says (UNKNOWN_TYPE).
 */
export interface Slot {
  type: number;
  offset: number;
}

/** A slot's type the trace cannot tell (a 6.1 writeback that found no entry). */
export const UNKNOWN_TYPE = -1;

interface CallBase {
  /** position in the captured trace (0-based), for naming the events around a violation */
  seq: number;
  cpu: number;
  pid: number;
  /** ns, global trace clock */
  start: number;
  /** ns; undefined when the return was not captured (trace ended, or no kretprobe) */
  end?: number;
}

export type TraceCall =
  /** zswap_store(folio): ok = returned true */
  | (CallBase & { kind: 'store'; slot: Slot; ok?: boolean })
  /** zswap_load(folio): hit = returned true */
  | (CallBase & { kind: 'load'; slot: Slot; hit?: boolean })
  /** zswap_invalidate(swp) */
  | (CallBase & { kind: 'invalidate'; slot: Slot })
  /**
   * zswap_writeback_entry(entry, swpentry): ret 0 = written back and freed. On 6.1 it gets a zpool
   * handle: the slot and entry are those of its first put (type -1 and entry 0x0 when it found none).
   */
  | (CallBase & { kind: 'writeback'; slot: Slot; entry: string; ret?: number })
  /**
   * zswap_entry_free(entry): slot read from entry->swpentry. On 6.1 zswap_free_entry(entry), with
   * `refcount` = entry->refcount when it is freed (0 when its last reference went).
   */
  | (CallBase & { kind: 'free'; slot: Slot; entry: string; refcount?: number })
  /**
   * zswap_entry_put(tree, entry) (6.1): drops one reference; frees the entry when it was the last.
   * `refcount` is entry->refcount before the decrement, read under the tree lock its caller holds
   * (so puts and frees of one tree are in lock order); `tree` is the zswap_tree's address.
   */
  | (CallBase & { kind: 'put'; slot: Slot; entry: string; tree: string; refcount: number })
  /** zswap_swapon(type, nr_pages) */
  | (CallBase & { kind: 'swapon'; type: number; pages: number; ret?: number })
  /** zswap_swapoff(type) */
  | (CallBase & { kind: 'swapoff'; type: number })
  /**
   * A point the guest writes to trace_marker around the swapoff(2) syscall, which the zswap kprobes
   * cannot see: `swapoff-begin` before the syscall (try_to_unuse() runs after it), `swapoff-end`
   * when it returned. Lets the replay count the entries try_to_unuse() frees before zswap_swapoff().
   */
  | (CallBase & { kind: 'marker'; name: SwapoffMarkerName; type: number })
  /**
   * The ring buffer of `cpu` overflowed: `count` events (when ftrace says) were dropped between
   * `start` (the last event kept before the gap) and `end` (the first one after it). The replay
   * forgets what it knew about every slot across the gap rather than blame the kernel for it.
   */
  | (CallBase & { kind: 'lost'; count?: number });

export type SwapoffMarkerName = 'swapoff-begin' | 'swapoff-end';

export type TraceCallKind = TraceCall['kind'];

/** Counters read in the guest before and after a workload (debugfs zswap + /proc/vmstat). */
export interface CounterSnapshot {
  stored_pages: number;
  written_back_pages: number;
  zswpout: number;
  zswpin: number;
  zswpwb: number;
  /** every other debugfs counter (reject_*, pool_limit_hit, ...) by name */
  [name: string]: number;
}

/**
 * The workload's own log of versioned page data, for the data oracle: each page of the test
 * mapping is written with (page, version) stamped into every word, then read back.
 */
export type DataEvent =
  | { kind: 'write'; seq: number; region: string; page: number; version: number }
  | { kind: 'read'; seq: number; region: string; page: number; seenVersion: number | null; seenPage: number | null; corrupt: boolean }
  /** the page's mapping was dropped (munmap, MADV_DONTNEED, process exit): later reads see zero */
  | { kind: 'discard'; seq: number; region: string; page: number };
