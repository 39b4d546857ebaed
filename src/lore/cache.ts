import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import { cacheDir } from '../common/paths.js';

/** How long a fetched thread is reused: fetch, then run, then bisect ask once; new replies show up soon after. */
export const THREAD_CACHE_TTL_MS = 10 * 60_000;

const loreCacheDir = (): string => path.join(cacheDir(), 'lore');

/** Where the body fetched from `url` is kept: $KHARNESS_CACHE/lore/<sha256 of the URL>.body. */
export function threadCachePath(url: string): string {
  return path.join(loreCacheDir(), `${createHash('sha256').update(url).digest('hex')}.body`);
}

// An mtime ahead of the clock (a skewed NFS server) counts as fresh only within a TTL of it.
const isFresh = (mtimeMs: number, now: number): boolean => Math.abs(now - mtimeMs) < THREAD_CACHE_TTL_MS;

/** The body fetched from `url` in the last THREAD_CACHE_TTL_MS, as it was sent; undefined otherwise. */
export async function readCachedThread(url: string, now = Date.now()): Promise<Buffer | undefined> {
  const file = threadCachePath(url);
  try {
    if (!isFresh((await stat(file)).mtimeMs, now)) return undefined;
    return await readFile(file);
  } catch {
    return undefined; // no entry, or one we cannot read: the server is asked
  }
}

/** Keeps a fetched body for the next THREAD_CACHE_TTL_MS, and drops entries past theirs. */
export async function cacheThread(url: string, body: Buffer): Promise<void> {
  try {
    await writeFileAtomic(threadCachePath(url), body);
    await dropExpired(Date.now());
  } catch {
    // A cache that cannot be written costs one more fetch next time; it is no reason to fail this one.
  }
}

async function dropExpired(now: number): Promise<void> {
  const dir = loreCacheDir();
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.body')) continue;
    const file = path.join(dir, name);
    const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: now }));
    if (!isFresh(mtimeMs, now)) await rm(file, { force: true });
  }
}

/** `--no-cache`'s help, for every command that fetches a thread. */
export const NO_CACHE_HELP = 'ask the lore server even for a thread fetched in the last 10 minutes (or KHARNESS_LORE_NO_CACHE=1)';
