import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../../src/report/index.js';
import type { CounterSample, RunReport } from '../../../src/report/types.js';
import { clone, fixture } from './helpers.js';

/**
 * Issue 16, item 7: the counter plots as a real browser draws index.html (Debian's chromium,
 * installed by scripts/setup.sh): page counts and bytes each visible and not flat, the failing
 * patch's plot beside its base's. Before, pool_total_size (bytes) and swap_ra (since boot)
 * flattened every page counter onto the x axis.
 */
const CHROMIUM = '/usr/bin/chromium';
const WIDTH = 1400;
const HEIGHT = 2600;

/** A test's samples as a real run has them: page counters, swap_ra since boot, pool_total_size in bytes. */
function samples(scale: number): CounterSample[] {
  return Array.from({ length: 30 }, (_, i) => {
    const stored = Math.round(scale * (200 + 40 * i - (i > 20 ? 60 * (i - 20) : 0)));
    return {
      t: i,
      values: {
        stored_pages: stored,
        zswpout: Math.round(scale * 60 * i),
        zswpin: Math.round(scale * 20 * i),
        zswpwb: Math.round(scale * 5 * i),
        written_back_pages: Math.round(scale * 5 * i),
        swap_ra: 250_000 + Math.round(scale * 9 * i),
        pool_total_size: stored * 1700,
      },
    };
  });
}

/** regression.json with samples only in the base's and the failing 2/4's swap-cycle test. */
function reportWithPlots(): RunReport {
  const r = clone(fixture('regression'));
  for (const p of r.patches) for (const t of p.tests) t.samples = [];
  r.patches.find((p) => p.index === 0)!.tests[0]!.samples = samples(1);
  r.patches.find((p) => p.index === 2)!.tests[0]!.samples = samples(1.4);
  return r;
}

/** The series' colours, as the page draws them. */
function strokeOf(html: string, counter: string): string {
  const m = new RegExp(`<polyline fill="none" stroke="(#[0-9a-f]{6})"[^>]*><title>${counter}</title>`).exec(html);
  if (!m) throw new Error(`no polyline for ${counter}`);
  return m[1]!;
}

/** Pixels close to `hex`, split at the page's middle: the base's plot (left) and the patch's (right). */
function pixelsOf(png: PNG, hex: string): { left: number[]; right: number[]; leftYs: number[]; rightYs: number[] } {
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const out = { left: [] as number[], right: [] as number[], leftYs: [] as number[], rightYs: [] as number[] };
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const o = (y * png.width + x) * 4;
      if (Math.abs(png.data[o]! - want[0]!) + Math.abs(png.data[o + 1]! - want[1]!) + Math.abs(png.data[o + 2]! - want[2]!) > 30) continue;
      if (x < png.width / 2) (out.left.push(x), out.leftYs.push(y));
      else (out.right.push(x), out.rightYs.push(y));
    }
  }
  return out;
}

const extent = (ys: number[]): number => (ys.length ? Math.max(...ys) - Math.min(...ys) : 0);

describe('index.html counter plots in headless Chromium', () => {
  it('draws pages and bytes on their own axes, visible and not flat, the failing patch beside its base', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`).toBe(true);
    const html = renderHtml(reportWithPlots());
    const dir = await mkdtemp(path.join(tmpdir(), 'kh-html-browser-'));
    try {
      await writeFile(path.join(dir, 'index.html'), html);
      const shot = path.join(dir, 'shot.png');
      await promisify(execFile)(
        CHROMIUM,
        ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${path.join(dir, 'profile')}`, `--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${shot}`, `file://${path.join(dir, 'index.html')}`],
        { timeout: 60_000 },
      );
      const png = PNG.sync.read(readFileSync(shot));
      expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);
      // swap_ra is a page count (drawn as its change since the test began), pool_total_size bytes:
      // colours the rest of the page does not use.
      for (const counter of ['swap_ra', 'pool_total_size']) {
        const colour = strokeOf(html, counter);
        expect(html.split(colour).length - 1, `${colour} only in the plots`).toBe(4);
        const px = pixelsOf(png, colour);
        // Both plots drawn, side by side: the base's on the left, 2/4's on the right.
        expect(px.left.length, `${counter} in the base's plot`).toBeGreaterThan(40);
        expect(px.right.length, `${counter} in 2/4's plot`).toBeGreaterThan(40);
        // Not flat: each line climbs most of its 120 px panel (flattened, it spanned a pixel or two).
        expect(extent(px.leftYs), `${counter} rises in the base's plot`).toBeGreaterThan(60);
        expect(extent(px.rightYs), `${counter} rises in 2/4's plot`).toBeGreaterThan(60);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
