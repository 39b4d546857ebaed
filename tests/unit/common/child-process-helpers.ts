import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

/**
 * The real module, bundled for plain `node` children: the tests contend and kill real
 * processes, and Node 20 cannot load our TypeScript by itself.
 */
export async function bundleForChild(srcRel: string, dir: string): Promise<string> {
  const outfile = path.join(dir, `${path.basename(srcRel, '.ts')}.cjs`);
  await build({ entryPoints: [path.join(root, srcRel)], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, logLevel: 'error' });
  return outfile;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `kharness-${prefix}-`));
}

/** Writes a child script (CommonJS, so it can require the bundle) and returns its path. */
export async function childScript(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, body);
  return file;
}

const started = new Set<ChildProcess>();

/** Kills every child a test started and left (a failed assertion skips the test's own kill). */
export function killStarted(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  started.clear();
}

/** A node child whose stdout lines are collected; `line(re)` waits for one to match. */
export function startNode(script: string, args: string[]): { child: ChildProcess; lines: string[]; line: (re: RegExp, timeoutMs?: number) => Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (const w of waiters.filter((w) => w.re.test(l))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = (re: RegExp, timeoutMs = 15_000): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs}ms; got: ${lines.join(' | ')}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  };
  return { child, lines, line, exited };
}

/** Gone: no such process, or a zombie nobody reaped yet (it runs nothing any more). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
