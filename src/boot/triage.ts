import { createHash } from 'node:crypto';

/**
 * Console log triage with the signatures kernel CI systems use (syzbot, KernelCI, 0-day).
 * Pure: tests feed it real splats.
 */
export type FindingKind =
  | 'KASAN'
  | 'UBSAN'
  | 'KFENCE'
  | 'DEBUG_VM'
  | 'BUG'
  | 'kernel BUG'
  | 'WARNING'
  | 'Oops'
  | 'general protection fault'
  | 'lockdep'
  | 'RCU stall'
  | 'hung task'
  | 'soft lockup'
  | 'hard lockup'
  | 'Kernel panic'
  | 'list corruption';

export interface Finding {
  kind: FindingKind;
  /** the line that opened the report, as the kernel printed it (timestamp stripped) */
  title: string;
  /** the function the report blames, when it names one (WARNING at, RIP:, BUG: KASAN ... in) */
  function?: string;
  /** the call trace, function names with offsets stripped */
  callTrace: string[];
  /** stable across runs and builds: kind + blamed function + top frames, no addresses */
  signature: string;
  /** line number in the console log where the report starts (1-based) */
  line: number;
  /** the report's text as printed, up to its end marker or a bounded length */
  excerpt: string;
  /** how many more times the same report (same signature) was printed after this one */
  repeats?: number;
}

interface Pattern {
  kind: FindingKind;
  re: RegExp;
  fn?: (m: RegExpExecArray) => string | undefined;
}

const PATTERNS: Pattern[] = [
  { kind: 'KASAN', re: /BUG: KASAN: ([\w-]+) in ([\w.]+)/, fn: (m) => m[2] },
  // CONFIG_DEBUG_VM: VM_BUG_ON_FOLIO/VM_WARN_ON_FOLIO dump the page, then BUG or WARN: one report.
  { kind: 'DEBUG_VM', re: /page dumped because: (VM_(?:BUG|WARN)_ON\w*)\(/, fn: () => undefined },
  { kind: 'KFENCE', re: /BUG: KFENCE: ([\w-]+ ?[\w-]*) in ([\w.]+)/, fn: (m) => m[2] },
  { kind: 'UBSAN', re: /UBSAN: ([\w-]+) in (\S+)/ },
  { kind: 'list corruption', re: /(list_add corruption|list_del corruption|list_add_valid_or_report|slab corruption|Slab corruption|kernel BUG at lib\/list_debug\.c)/ },
  { kind: 'lockdep', re: /(WARNING: possible circular locking dependency detected|WARNING: inconsistent lock state|WARNING: possible recursive locking detected|WARNING: suspicious RCU usage|BUG: sleeping function called from invalid context|WARNING: bad unlock balance detected|BUG: held lock freed)/ },
  { kind: 'RCU stall', re: /rcu: INFO: \w+ (?:self-)?detected stalls? on CPUs?\/tasks|rcu: INFO: rcu_\w+ detected stalls|INFO: rcu_\w+ (?:self-)?detected stall/ },
  { kind: 'hung task', re: /INFO: task ([^:]+):\d+ blocked for more than \d+ seconds/ },
  { kind: 'soft lockup', re: /watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s!/ },
  { kind: 'hard lockup', re: /(?:watchdog: )?(?:Watchdog detected hard LOCKUP on cpu \d+|NMI watchdog: Watchdog detected hard LOCKUP)/ },
  { kind: 'kernel BUG', re: /kernel BUG at ([^!]+)!/, fn: () => undefined },
  { kind: 'general protection fault', re: /general protection fault(?:, probably for non-canonical address [0-9a-fx]+)?:/ },
  { kind: 'WARNING', re: /WARNING: CPU: \d+ PID: \d+ at (\S+) ([\w.]+)\+0x/, fn: (m) => m[2] },
  { kind: 'BUG', re: /BUG: (kernel NULL pointer dereference[^\n]*|unable to handle (?:page fault|kernel NULL pointer dereference|kernel paging request)[^\n]*|Bad page (?:state|map)[^\n]*|scheduling while atomic[^\n]*|Bad rss-counter state[^\n]*|workqueue lockup[^\n]*|[\w-]+ (?:use-after-free|double-free)[^\n]*)/ },
  { kind: 'Oops', re: /Oops: (?:\d+|[a-z ]+)(?: \[#\d+\])?/ },
  { kind: 'Kernel panic', re: /Kernel panic - not syncing: (.*)/ },
];

const TIMESTAMP = /^\s*\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?\s?/;
const FRAME = /^\s*(?:\? )?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const RIP = /^RIP: [0-9a-f]{4}:([A-Za-z_][\w.]*)\+0x/;
const END = /---\[ end (?:trace|Kernel panic)|^==================================================================$/;

function stripTs(line: string): string {
  return line.replace(TIMESTAMP, '').replace(/\r$/, '');
}

/** Frames the signature ignores: generic entry/exception/report helpers that every trace has. */
const NOISE = /^(dump_stack|dump_stack_lvl|print_report|kasan_report|__warn|warn_slowpath_fmt|report_bug|handle_bug|exc_invalid_op|asm_exc_\w+|exc_page_fault|do_user_addr_fault|__die_body|die_addr|do_error_trap|entry_SYSCALL_64\w*|do_syscall_64|x64_sys_call|ret_from_fork\w*|kthread|worker_thread|process_one_work|panic|show_stack|__kasan_\w+|kasan_\w+|__asan_\w+|ubsan_\w+|__ubsan_\w+|__list_\w+_valid_or_report|__schedule|schedule|schedule_timeout|rcu_\w+|irq_exit_rcu|sysvec_\w+|asm_sysvec_\w+|__do_softirq|handle_softirqs|__sysvec_\w+|lock_acquire|lock_release|lockdep_rcu_suspicious|__might_resched|__might_sleep|__might_fault|might_fault|__cant_sleep|__mutex_lock\w*|mutex_lock\w*|down_\w+|_raw_spin_\w+|do_raw_spin_\w+|print_circular_bug\w*|check_noncircular|check_prev_add|validate_chain|__lock_acquire\w*|print_usage_bug\w*|mark_lock\w*)$/;

export function triageConsole(log: string): Finding[] {
  const lines = log.split('\n').map(stripTs);
  const findings: Finding[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    for (const p of PATTERNS) {
      const m = p.re.exec(line);
      if (!m) continue;
      // One report prints several signature lines (KASAN's "BUG:" then its Oops): keep the first.
      if (taken.has(i)) break;
      const { trace, end, rip } = collectTrace(lines, i, p.kind === 'DEBUG_VM' ? /kernel BUG at|WARNING: CPU: \d+/ : undefined);
      for (let k = i; k <= end; k++) taken.add(k);
      const fn = p.fn?.(m) ?? rip ?? trace.find((f) => !NOISE.test(f));
      const title = line.trim();
      const top = trace.filter((f) => !NOISE.test(f)).slice(0, 3);
      findings.push({
        kind: p.kind,
        title,
        function: fn,
        callTrace: trace,
        signature: signatureOf(p.kind, title, fn, top),
        line: i + 1,
        excerpt: lines.slice(i, Math.min(end + 1, i + 80)).join('\n'),
      });
      break;
    }
  }
  return findings;
}

/** The report's call trace and last line; FOLLOWS: lines of the same report that would open another (DEBUG_VM's BUG). */
function collectTrace(lines: string[], start: number, follows?: RegExp): { trace: string[]; end: number; rip?: string } {
  const trace: string[] = [];
  // Frames marked "?" are the unwinder's guesses; used only when it gave no reliable frame.
  const guessed: string[] = [];
  let rip: string | undefined;
  let end = start;
  let inTrace = false;
  for (let j = start + 1; j < Math.min(lines.length, start + 120); j++) {
    const l = lines[j]!;
    if (j > start + 1 && PATTERNS.some((p) => p.kind !== 'Oops' && p.kind !== 'Kernel panic' && p.re.test(l)) && !/Oops|Kernel panic/.test(l) && !follows?.test(l)) break;
    end = j;
    const r = RIP.exec(l.trim());
    if (r && !rip) rip = r[1];
    if (/Call Trace:|<TASK>|<IRQ>/.test(l)) inTrace = true;
    if (inTrace) {
      const f = FRAME.exec(l);
      if (f) {
        const fn = f[1]!.replace(/\.(?:isra|constprop|part|cold)\.\d+$/, '');
        if (/^\s*\?/.test(l)) guessed.push(fn);
        else trace.push(fn);
      }
    }
    if (END.test(l)) break;
  }
  return { trace: trace.length ? trace : guessed, end, rip: rip?.replace(/\.(?:isra|constprop|part|cold)\.\d+$/, '') };
}

/**
 * One finding per signature, the first, counting the reports that repeat it: a splat on a hot
 * path (a sleeping lock taken in an RCU section, on every store) prints once a second or more.
 */
export function foldRepeats<F extends Finding>(findings: readonly F[]): F[] {
  const out: F[] = [];
  for (const f of findings) {
    const first = out.find((x) => x.signature === f.signature);
    if (first) first.repeats = (first.repeats ?? 0) + 1 + (f.repeats ?? 0);
    else out.push({ ...f });
  }
  return out;
}

/** Addresses, numbers and PIDs removed so the same bug in two runs gives the same signature. */
export function signatureOf(kind: FindingKind, title: string, fn: string | undefined, top: string[]): string {
  const normTitle = title
    .replace(/0x[0-9a-f]+/gi, 'ADDR')
    .replace(/\b[0-9a-f]{8,}\b/gi, 'ADDR')
    .replace(/CPU: ?\d+/g, 'CPU')
    .replace(/PID: ?\d+/g, 'PID')
    .replace(/#\d+/g, '#N')
    .replace(/\d+/g, 'N');
  const basis = `${kind}|${fn ?? ''}|${kind === 'WARNING' || kind === 'KASAN' ? '' : normTitle}|${top.join(',')}`;
  const short = createHash('sha1').update(basis).digest('hex').slice(0, 10);
  return `${kind}${fn ? ` in ${fn}` : ''} [${short}]`;
}
