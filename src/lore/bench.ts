import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { projectRoot, venvBin } from '../common/paths.js';
import { fetchSeries } from './fetch.js';
import type { Series } from './schema.js';
import { synthThread } from './synth.js';

const SHAPE = { patches: 30, versions: 3, replies: 100 };
const OUR_RUNS = 5;
const B4_RUNS = 3;
const WARM_UPS = 3;

/** The real list threads (mboxrd, as archived) the lore tests check against b4. */
export const REAL_THREADS_DIR = path.join(projectRoot, 'tests', 'fixtures', 'lore', 'real');

export interface ThreadFile {
  name: string;
  path: string;
  messages: number;
  bytes: number;
}

/** The real threads, largest (most messages) first. */
export async function realThreads(dir = REAL_THREADS_DIR): Promise<ThreadFile[]> {
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.mbox'));
  const threads = await Promise.all(
    files.map(async (f) => {
      const text = await readFile(path.join(dir, f), 'latin1');
      return { name: f, path: path.join(dir, f), messages: (text.match(/^From mboxrd@z /gm) ?? []).length, bytes: text.length };
    }),
  );
  return threads.sort((a, b) => b.messages - a.messages || b.bytes - a.bytes);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

/** What kharness assembled, in a few words. */
function describeSeries(series: Series): string {
  const fixups = series.patches.filter((p) => p.fixupOf).length;
  const added = series.patches.reduce((n, p) => n + p.trailers.filter((t) => t.from !== undefined).length, 0);
  return `v${series.version}, ${series.patches.length} patches${fixups ? ` (${fixups} fix-up)` : ''}, ${added} trailers added, ${series.warnings.length} warnings`;
}

/** kharness reading the mbox file: the median of OUR_RUNS after warm-ups (module loading and JIT are not what we measure). */
async function timeOurs(mboxPath: string): Promise<{ median: number; series: Series }> {
  let { series } = await fetchSeries(mboxPath, { cache: false });
  for (let i = 1; i < WARM_UPS; i++) await fetchSeries(mboxPath, { cache: false });
  const times: number[] = [];
  for (let i = 0; i < OUR_RUNS; i++) {
    const t0 = performance.now();
    ({ series } = await fetchSeries(mboxPath, { cache: false }));
    times.push(performance.now() - t0);
  }
  return { median: median(times), series };
}

/** `b4 am` on the same file, offline, asked for the same version: its median, or why it did not run. */
async function timeB4(mboxPath: string, msgid: string, version: number, dir: string): Promise<{ median: number; patches: number } | string> {
  const b4 = venvBin('b4');
  if (!existsSync(b4)) return `skipped (${b4} not installed; run npm run setup)`;
  const times: number[] = [];
  let patches = 0;
  for (let i = 0; i < B4_RUNS; i++) {
    const outDir = await mkdtemp(path.join(dir, 'b4-'));
    const home = path.join(outDir, 'home');
    const t0 = performance.now();
    // Offline, no cache, its own HOME: b4 does the same local work we do and nothing more.
    const result = await execa(b4, ['--offline-mode', 'am', '-C', '-m', mboxPath, '-v', String(version), '-o', outDir, '-n', 'bench', msgid], {
      cwd: dir,
      reject: false,
      env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' },
    });
    times.push(performance.now() - t0);
    if (result.exitCode !== 0) return `failed (exit ${result.exitCode}): ${String(result.stderr).split('\n').slice(-3).join(' | ')}`;
    const mbx = (await readdir(outDir)).find((f) => f.endsWith('.mbx'));
    patches = ((mbx ? await readFile(path.join(outDir, mbx), 'utf8') : '').match(/^Subject: /gm) ?? []).length;
  }
  return { median: median(times), patches };
}

/** One line per thread: kharness beside b4 on the same file and version. */
async function benchOne(what: string, mboxPath: string, dir: string, pointAt?: string): Promise<string> {
  const ours = await timeOurs(mboxPath);
  const msgid = pointAt ?? ours.series.cover?.messageId ?? (ours.series.patches[0]?.messageId as string);
  const b4 = await timeB4(mboxPath, msgid, ours.series.version, dir);
  const b4Text = typeof b4 === 'string' ? `b4 am: ${b4}` : `b4 am -v ${ours.series.version} (offline) ${ms(b4.median)} (median of ${B4_RUNS}; ${b4.patches} patches); b4 / kharness = ${(b4.median / ours.median).toFixed(1)}x`;
  return `${what}\n  kharness ${ms(ours.median)} (median of ${OUR_RUNS}; ${describeSeries(ours.series)})\n  ${b4Text}`;
}

/**
 * Times series assembly, kharness beside `b4 am` (when the project venv has it): on every real
 * thread of the fixtures, largest first, and on a generated 30-patch x 3-version thread with 100
 * reviews (no real thread that large is stored).
 */
export async function runLoreBench(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kh-lore-bench-'));
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    const real = await realThreads();
    if (real.length === 0) out(`lore bench: no real threads in ${REAL_THREADS_DIR}`);
    for (const [i, t] of real.entries()) {
      const tag = i === 0 ? 'largest real thread' : 'real thread';
      out(await benchOne(`lore bench, ${tag} ${t.name}: ${t.messages} messages, ${(t.bytes / 1024).toFixed(0)} KiB`, t.path, dir));
    }
    const thread = synthThread(SHAPE);
    const mboxPath = path.join(dir, 'generated.mbox');
    await writeFile(mboxPath, thread.mbox);
    const what = `lore bench, generated (not real) thread: ${SHAPE.patches} patches x ${SHAPE.versions} versions + ${SHAPE.replies} replies = ${thread.messages} messages, ${(thread.mbox.length / 1024).toFixed(0)} KiB`;
    out(await benchOne(what, mboxPath, dir, thread.newestCover));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
