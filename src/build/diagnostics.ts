/**
 * Compiler and linker diagnostics from a kbuild log. Pure functions: tests feed them real gcc
 * output.
 */
export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  line?: number;
  column?: number;
  message: string;
  /** the -W flag gcc names, when it names one */
  flag?: string;
  /** the object kbuild was building when gcc said this (from the preceding `CC` line) */
  object?: string;
}

const GCC = /^(?<file>[^\s:][^:]*):(?<line>\d+):(?:(?<col>\d+):)? (?<sev>warning|error|fatal error): (?<msg>.*?)(?: \[(?<flag>-W[^\]]+)\])?$/;
const LD_UNDEF = /^(?:ld|.*-ld): (?<obj>[^:]+): in function `[^']*':\s*$/;
const LD_MSG = /^(?:ld|.*-ld)(?:\.bfd)?: (?<msg>.*)$/;
const KBUILD_STEP = /^\s+(?:CC|AS|LD|AR|CPP|HOSTCC)\s+(?:\[M\]\s+)?(?<target>\S+)$/;
const MODPOST = /^(?<sev>ERROR|WARNING): modpost: (?<msg>.*)$/;

/** Strips the build-dir or source-dir prefix so the same warning compares equal across trees. */
export function normalizePath(file: string, roots: string[]): string {
  let f = file;
  for (const r of roots) {
    const prefix = r.endsWith('/') ? r : `${r}/`;
    if (f.startsWith(prefix)) f = f.slice(prefix.length);
  }
  return f.replace(/^\.\.\//, '').replace(/^\.\//, '');
}

export function parseDiagnostics(log: string, roots: string[] = []): Diagnostic[] {
  const out: Diagnostic[] = [];
  let object: string | undefined;
  let ldObject: string | undefined;
  for (const raw of log.split('\n')) {
    // gcc quotes with ‘’ in a UTF-8 locale and '' in C: one form, so warnings compare equal.
    const line = raw.replace(/\r$/, '').replace(/[‘’]/g, "'");
    const step = KBUILD_STEP.exec(line);
    if (step) {
      object = step.groups!.target;
      continue;
    }
    const g = GCC.exec(line);
    if (g) {
      const sev = g.groups!.sev === 'warning' ? 'warning' : 'error';
      out.push({
        severity: sev,
        file: normalizePath(g.groups!.file!, roots),
        line: Number(g.groups!.line),
        column: g.groups!.col ? Number(g.groups!.col) : undefined,
        message: g.groups!.msg!.trim(),
        flag: g.groups!.flag,
        object,
      });
      continue;
    }
    const u = LD_UNDEF.exec(line);
    if (u) {
      ldObject = u.groups!.obj;
      continue;
    }
    const m = MODPOST.exec(line);
    if (m) {
      out.push({ severity: m.groups!.sev === 'ERROR' ? 'error' : 'warning', file: 'modpost', message: m.groups!.msg!.trim() });
      continue;
    }
    const ld = LD_MSG.exec(line);
    if (ld) {
      const msg = ld.groups!.msg!.trim();
      const isWarning = /^warning:/.test(msg);
      // "ld: mm/zswap.o:(.text+0x12): undefined reference to `foo'" and its two-line form.
      const located = /^(?<obj>[^:\s]+\.o):(?:\([^)]*\))?:?\s*(?<rest>.*)$/.exec(msg);
      out.push({
        severity: isWarning ? 'warning' : 'error',
        file: normalizePath(located?.groups!.obj ?? ldObject ?? 'vmlinux', roots),
        message: (located?.groups!.rest ?? msg).replace(/^warning:\s*/, ''),
        object: 'vmlinux',
      });
    }
  }
  return dedupe(out);
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = `${d.severity}|${d.file}|${d.line}|${d.column}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The kbuild targets a log shows being (re)built: which objects this build compiled. */
export function builtObjects(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    const m = KBUILD_STEP.exec(line.replace(/\r$/, ''));
    if (m) out.push(m.groups!.target!);
  }
  return out;
}

/**
 * Warnings of a whole tree, kept per object across incremental builds: an object that was not
 * recompiled keeps the warnings it had, one that was recompiled gets the new ones. This is
 * what makes a per-patch delta honest when make only rebuilds what a patch touched.
 */
export type WarningDb = Record<string, Diagnostic[]>;

export function updateWarningDb(db: WarningDb, log: string, roots: string[]): WarningDb {
  const next: WarningDb = { ...db };
  for (const obj of builtObjects(log)) next[obj] = [];
  for (const d of parseDiagnostics(log, roots)) {
    if (d.severity !== 'warning') continue;
    const key = d.object ?? 'unknown';
    (next[key] ??= []).push(d);
  }
  return next;
}

/** Identity of a warning across patches: line numbers move when a patch edits the file. */
export function warningKey(d: Diagnostic): string {
  return `${d.file}|${d.flag ?? ''}|${d.message}`;
}

/** The same warning reported by several objects (a header) counts once. */
export function allWarnings(db: WarningDb): Diagnostic[] {
  const seen = new Map<string, Diagnostic>();
  for (const list of Object.values(db)) for (const d of list) {
    const k = `${warningKey(d)}|${d.line}`;
    if (!seen.has(k)) seen.set(k, d);
  }
  return [...seen.values()];
}

/**
 * The warnings a patch introduced: those whose key occurs more often after than before
 * (NIPA-style, counts per key so a second copy of an existing warning is new too).
 */
export function newWarnings(before: Diagnostic[], after: Diagnostic[]): Diagnostic[] {
  const count = new Map<string, number>();
  for (const d of before) count.set(warningKey(d), (count.get(warningKey(d)) ?? 0) + 1);
  const fresh: Diagnostic[] = [];
  for (const d of after) {
    const k = warningKey(d);
    const left = count.get(k) ?? 0;
    if (left > 0) count.set(k, left - 1);
    else fresh.push(d);
  }
  return fresh;
}

export function formatDiagnostic(d: Diagnostic): string {
  const loc = d.line !== undefined ? `${d.file}:${d.line}${d.column !== undefined ? `:${d.column}` : ''}` : d.file;
  return `${loc}: ${d.severity}: ${d.message}${d.flag ? ` [${d.flag}]` : ''}`;
}
