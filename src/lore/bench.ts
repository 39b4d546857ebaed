import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { venvBin } from '../common/paths.js';
import { fetchSeries } from './fetch.js';
import { synthThread } from './synth.js';

const SHAPE = { patches: 30, versions: 3, replies: 100 };
const OUR_RUNS = 5;
const B4_RUNS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

/**
 * Times series assembly on a generated large thread (30 patches × 3 versions, 100 reviews):
 * kharness reading the mbox file, and `b4 am` on the same file when the project venv has b4.
 * Prints one line per figure.
 */
export async function runLoreBench(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kh-lore-bench-'));
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    const thread = synthThread(SHAPE);
    const mboxPath = path.join(dir, 'thread.mbox');
    await writeFile(mboxPath, thread.mbox);
    out(`lore bench: ${SHAPE.patches} patches x ${SHAPE.versions} versions + ${SHAPE.replies} replies = ${thread.messages} messages, ${(thread.mbox.length / 1024).toFixed(0)} KiB`);

    await fetchSeries(mboxPath); // warm-up: module loading and JIT are not what we measure
    const ours: number[] = [];
    let summary = '';
    for (let i = 0; i < OUR_RUNS; i++) {
      const t0 = performance.now();
      const { series } = await fetchSeries(mboxPath);
      ours.push(performance.now() - t0);
      const added = series.patches.reduce((n, p) => n + p.trailers.filter((t) => t.from !== undefined).length, 0);
      summary = `v${series.version}, ${series.patches.length} patches, ${added} trailers added, ${series.warnings.length} warnings`;
    }
    const ourMedian = median(ours);
    out(`kharness assemble: ${ms(ourMedian)} (median of ${OUR_RUNS}; ${summary})`);

    const b4 = venvBin('b4');
    if (!existsSync(b4)) {
      out(`b4 am: skipped (${b4} not installed; run npm run setup)`);
      return;
    }
    const times: number[] = [];
    let b4Summary = '';
    for (let i = 0; i < B4_RUNS; i++) {
      const outDir = path.join(dir, `b4-${i}`);
      const home = path.join(dir, `b4-home-${i}`);
      const t0 = performance.now();
      // Offline, no cache, its own HOME: b4 does the same local work we do and nothing more.
      const result = await execa(b4, ['--offline-mode', 'am', '-C', '-m', mboxPath, '-o', outDir, '-n', 'bench', thread.newestCover], {
        cwd: dir,
        reject: false,
        env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' },
      });
      times.push(performance.now() - t0);
      if (result.exitCode !== 0) {
        out(`b4 am: failed (exit ${result.exitCode}): ${String(result.stderr).split('\n').slice(-3).join(' | ')}`);
        return;
      }
      const mbx = (await readdir(outDir)).find((f) => f.endsWith('.mbx'));
      const text = mbx ? await readFile(path.join(outDir, mbx), 'utf8') : '';
      b4Summary = `${(text.match(/^Subject: /gm) ?? []).length} patches`;
    }
    const b4Median = median(times);
    out(`b4 am (offline): ${ms(b4Median)} (median of ${B4_RUNS}; ${b4Summary})`);
    out(`ratio: b4 / kharness = ${(b4Median / ourMedian).toFixed(1)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
