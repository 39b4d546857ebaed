import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomicLib from 'write-file-atomic';

/**
 * Files other processes may read while we write them (reports, caches shared by concurrent runs)
 * are written to a unique temporary name in the same folder and renamed into place: a reader sees
 * the old file or the new one, never half of one, and two writers never interleave.
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomicLib(file, data);
}

/** The synchronous form, for code paths that are synchronous already (the accelerator cache). */
export function writeFileAtomicSync(file: string, data: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicLib.sync(file, data);
}

/**
 * A temporary name beside `finalPath` that no other process or call uses: for files another
 * program creates (a compiler's `-o`) before publishFileAtomic moves them into place.
 */
export function uniqueTmpPath(finalPath: string): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Moves a finished file into place in one step. Across filesystems rename cannot be atomic, so
 * the file is first copied to a temporary name in the destination folder, then renamed.
 */
export async function publishFileAtomic(tmpPath: string, finalPath: string): Promise<void> {
  try {
    await rename(tmpPath, finalPath);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') {
      await rm(tmpPath, { force: true });
      throw err;
    }
  }
  const beside = uniqueTmpPath(finalPath);
  try {
    await copyFile(tmpPath, beside);
    await rename(beside, finalPath);
  } finally {
    await rm(beside, { force: true });
    await rm(tmpPath, { force: true });
  }
}
