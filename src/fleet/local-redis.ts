import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { InfraError } from '../common/errors.js';

/**
 * A private redis-server for the fleet's tests and bench: 127.0.0.1, a free port, nothing saved,
 * in a temp dir; no system service is used.
 */
export interface LocalRedis {
  url: string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startLocalRedis(): Promise<LocalRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kharness-redis-'));
  const port = await freePort();
  const proc: ResultPromise = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { reject: false });
  let exited: { stderr?: unknown; message?: string } | undefined;
  void proc.then((r) => (exited = r));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // not up yet: asked again below
    const up = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
    probe.disconnect();
    if (up) break;
    if (exited || Date.now() > deadline) {
      proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new InfraError(`redis-server did not start on ${url}: ${String(exited?.stderr || exited?.message || 'no answer in 10 s')}`, "install Debian's redis-server (bash scripts/setup.sh does)");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      proc.kill('SIGTERM');
      await proc;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
