import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/common/paths.js';
import { startLocalRedis, type LocalRedis } from '../../../src/fleet/local-redis.js';
import { startLoreServer, type LoreServer } from '../../../src/lore/server.js';
import { LIST, writeList } from '../robot/fixtures.js';
import { startWorkerProcess } from './stub.js';

let redis: LocalRedis;
let server: LoreServer;
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'kharness-fleet-watch-'));
  await mkdir(path.join(scratch, 'lore'));
  await writeList(path.join(scratch, 'lore'));
  server = await startLoreServer(path.join(scratch, 'lore'), 0);
  redis = await startLocalRedis();
});
afterAll(async () => {
  await server.close();
  await redis.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('kharness watch --queue', () => {
  it('enqueues the new series version over HTTP, a worker runs it, and the report lands in --out/<slug>', async () => {
    const w = startWorkerProcess(redis.url, {});
    try {
      await w.waitFor(/ready on/);
      const out = path.join(scratch, 'reports');
      const watch = await execa('node', [path.join(projectRoot, 'bin', 'kharness.js'), 'watch', `${server.url}/linux-mm/`, '--once', '--query', 'dfn:mm/zswap.c', '--queue', redis.url, '--out', out, '--tests', 'swap-cycle', '--variants', 'default'], {
        reject: false,
        env: { KHARNESS_CACHE: path.join(scratch, 'cache') },
      });
      expect(watch.exitCode, watch.stderr).toBe(0);
      const line = watch.stdout.split('\n').find((l) => l.startsWith(`${LIST.v2}\tv2\t`));
      expect(line, watch.stdout).toBeDefined();
      const [, , verdict, dir] = line!.split('\t');
      expect(verdict).toBe('fail');
      expect(existsSync(path.join(dir!, 'report.md'))).toBe(true);
      expect(JSON.parse(await readFile(path.join(dir!, 'report.json'), 'utf8')).verdict).toBe('fail');
      expect(w.lines.some((l) => /completed config cfg-\w+ \[zswap\] v2 /.test(l))).toBe(true);
    } finally {
      w.proc.kill('SIGTERM');
      await w.proc;
    }
  });
});
