import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kharness checkout (the folder holding package.json). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function cacheDir(): string {
  return process.env.KHARNESS_CACHE ?? path.join(homedir(), '.cache', 'kharness');
}

/** The default kernel tree made by scripts/setup.sh (Debian's 6.12 source as a git repository). */
export function defaultTreePath(): string {
  const marker = path.join(cacheDir(), 'default-tree');
  if (existsSync(marker)) return readFileSync(marker, 'utf8').trim();
  return path.join(cacheDir(), 'trees', 'debian-6.12');
}

export const kernelConfigsDir = path.join(projectRoot, 'kernel-configs');
export const patchesDir = path.join(projectRoot, 'patches');
export const guestDir = path.join(projectRoot, 'guest');
export const venvBin = (name: string): string => path.join(projectRoot, '.venv', 'bin', name);
