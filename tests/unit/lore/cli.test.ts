import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerLoreCommands } from '../../../src/lore/cli.js';
import { startLoreServer, type LoreServer } from '../../../src/lore/server.js';
import { SWAPOFF, THREADS, closedPort, fixture, tempDir, useTempCache } from './helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const viteNode = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
const entry = path.join(repoRoot, 'tests', 'unit', 'lore', 'cli-entry.ts');

/** Runs a lore subcommand in-process, the way src/cli.ts wires it; returns exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('kharness').version('0.1.0').exitOverride();
  registerLoreCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'kharness', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}

useTempCache();
let lore: LoreServer;
beforeAll(async () => {
  lore = await startLoreServer(THREADS, 0);
});
afterAll(async () => {
  await lore.close();
});
afterEach(() => {
  process.exitCode = undefined;
});

describe('kharness fetch', () => {
  it('lists a fix-up under the patch it fixes, saying it is applied right after it (the real global-lru thread)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const mbox = path.join(repoRoot, 'tests', 'fixtures', 'lore', 'real', 'zswap-global-lru.mbox');
      const r = await cli(['fetch', mbox, '-o', dir]);
      expect(r.code).toBe(0);
      const listed = r.stderr.split('\n').filter((l) => /^ {2}\S/.test(l));
      expect(listed).toEqual([
        '  1/2 mm/zswap: global lru and shrinker shared by all zswap_pools',
        '  1/2 fix-up mm/zswap: global lru and shrinker shared by all zswap_pools fix (fix-up of 1/2, applied right after it)',
        '  2/2 mm/zswap: change zswap_pool kref to percpu_ref',
      ]);
      const json = JSON.parse(await readFile(path.join(dir, 'series.json'), 'utf8')) as { patches: Array<{ fixupOf?: { index: number } }> };
      expect(json.patches.map((p) => p.fixupOf?.index)).toEqual([undefined, 1, undefined]);

      const squashed = await cli(['fetch', mbox, '-o', path.join(dir, 'squashed'), '--squash-fixups']);
      expect(squashed.code).toBe(0);
      expect(squashed.stderr.split('\n').filter((l) => /^ {2}\S/.test(l))).toEqual([
        '  1/2 mm/zswap: global lru and shrinker shared by all zswap_pools + fix-up "mm/zswap: global lru and shrinker shared by all zswap_pools fix" squashed in',
        '  2/2 mm/zswap: change zswap_pool kref to percpu_ref',
      ]);
      const squashedMbox = await readFile(path.join(dir, 'squashed', 'series.mbox'), 'utf8');
      expect((squashedMbox.match(/^Subject: /gm) ?? []).length).toBe(2);
    } finally {
      await cleanup();
    }
  });

  it('writes series.mbox and series.json to -o and reports on stderr', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const out = path.join(dir, 'out');
      const r = await cli(['fetch', SWAPOFF.v2cover, '--lore', lore.url, '-o', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('v2 of "mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()": 2 patch(es) + cover letter');
      expect(r.stderr).toContain('warning: v2 2/2: did not apply "Reviewed-by: Bob Okafor');
      expect((await readdir(out)).sort()).toEqual(['series.json', 'series.mbox']);
      expect(JSON.parse(await readFile(path.join(out, 'series.json'), 'utf8')).version).toBe(2);
    } finally {
      await cleanup();
    }
  });

  it('prints series.json on stdout with --json, and takes -v', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await cli(['fetch', fixture('zswap-swapoff'), '-v', '1', '-o', dir, '--json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const json = JSON.parse(r.stdout);
      expect(json).toMatchObject({ version: 1, dir, mboxPath: path.join(dir, 'series.mbox') });
      expect(json.patches.map((p: { messageId: string }) => p.messageId)).toEqual([SWAPOFF.v1p1, SWAPOFF.v1p2]);
    } finally {
      await cleanup();
    }
  });

  it('exits 2 on a missing patch and writes nothing', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const out = path.join(dir, 'out');
      const r = await cli(['fetch', fixture('missing-patch'), '-o', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^kharness: v1 is missing patch 2\/3/);
      expect(existsSync(out)).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('exits 3 on a refused connection and writes nothing', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const out = path.join(dir, 'out');
      const r = await cli(['fetch', 'a@b', '--lore', `http://127.0.0.1:${await closedPort()}`, '-o', out]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/connection refused/);
      expect(existsSync(out)).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('answers a repeated fetch from the cache, and asks the server again with --no-cache', async () => {
    const counted = await startLoreServer(THREADS, 0);
    const { dir, cleanup } = await tempDir();
    try {
      const fetchTo = (out: string, ...extra: string[]) => cli(['fetch', SWAPOFF.v2cover, '--lore', counted.url, '-o', path.join(dir, out), '--json', ...extra]);
      const first = await fetchTo('first');
      const cached = await fetchTo('cached');
      expect([first.code, cached.code, counted.requests]).toEqual([0, 0, 1]);
      const fresh = await fetchTo('fresh', '--no-cache');
      expect([fresh.code, counted.requests]).toEqual([0, 2]);
      // The cache changes where the bytes came from, nothing the series says.
      const series = async (out: string) => readFile(path.join(dir, out, 'series.json'), 'utf8');
      expect(await series('cached')).toBe(await series('first'));
      expect(await series('fresh')).toBe(await series('first'));
    } finally {
      await counted.close();
      await cleanup();
    }
  });

  it('exits 3 saying the server is rate limiting when its 429s persist', async () => {
    const limited = await startLoreServer(THREADS, 0, { sequence: [{ kind: 'status', status: 429, times: 100, retryAfter: 0 }] });
    const saved = process.env.KHARNESS_LORE_RETRY_BASE_MS;
    process.env.KHARNESS_LORE_RETRY_BASE_MS = '5';
    try {
      const r = await cli(['fetch', SWAPOFF.v2cover, '--lore', limited.url, '--no-cache']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^kharness: .* answered 429 Too Many Requests 4 times: the server is rate limiting us \(Retry-After: 0 s\)\n/);
      expect(limited.requests).toBe(4);
    } finally {
      if (saved === undefined) delete process.env.KHARNESS_LORE_RETRY_BASE_MS;
      else process.env.KHARNESS_LORE_RETRY_BASE_MS = saved;
      await limited.close();
    }
  });

  it('takes --use-version as the long form of -v (not the root --version)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await cli(['fetch', fixture('zswap-swapoff'), '--use-version', '1', '-o', dir, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).version).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('exits 2 on a bad -v', async () => {
    const r = await cli(['fetch', fixture('zswap-swapoff'), '-v', 'two']).catch((e: { exitCode?: number }) => ({ code: e.exitCode ?? -1, stdout: '', stderr: '' }));
    expect(r.code).toBe(2);
  });
});

describe('kharness serve-lore', () => {
  it('exits 2 on --test-faults it cannot read', async () => {
    const r = await cli(['serve-lore', THREADS, '--test-faults', '429:often']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kharness: --test-faults: "429:often" needs a count/);
  });
});

describe('as a process', () => {
  it('serve-lore prints its URL first, and fetch defaults to ./<slug> (retrying --test-faults 503:1)', async () => {
    const { dir, cleanup } = await tempDir();
    const server = execa(viteNode, ['--root', repoRoot, entry, 'serve-lore', THREADS, '--port', '0', '--test-faults', '503:1'], { cwd: repoRoot, reject: false });
    try {
      const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
      const url = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        void server.then(() => reject(new Error('serve-lore exited before printing its URL')));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const fetched = await execa(viteNode, ['--root', repoRoot, entry, 'fetch', SWAPOFF.v2cover], { cwd: dir, env: { KHARNESS_LORE: url, KHARNESS_LORE_RETRY_BASE_MS: '10' }, reject: false });
      expect(fetched.exitCode, fetched.stderr).toBe(0);
      const slugDir = path.join(dir, 'v2-mm-zswap-remove-unnecessary-tree-cleanups-in-zswap-swapoff');
      expect((await readdir(slugDir)).sort()).toEqual(['series.json', 'series.mbox']);
    } finally {
      server.kill('SIGTERM');
      await cleanup();
    }
    // It must stop when told to (under vite-node, vite's own SIGTERM handler may pick the code).
    const stopped = await server;
    expect(stopped.exitCode === 0 || stopped.exitCode === 143 || stopped.signal === 'SIGTERM').toBe(true);
    expect(stopped.stderr).toContain('TEST FAULTS ON (503:1)');
  });
});
