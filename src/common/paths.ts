import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kharness checkout (the folder holding package.json). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** kharness's version, from package.json: one place for --version and the lore User-Agent. */
export const KHARNESS_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

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

/** A managed tree's name: `debian-` and the Debian kernel source's version (`debian-6.1`). */
const MANAGED_TREE_NAME = /^debian-\d+\.\d+$/;

/** Where scripts/setup.sh puts the managed trees. */
const treesDir = (): string => path.join(cacheDir(), 'trees');

/** `--tree`'s help text, the same for every command that takes it. */
export const TREE_OPTION_HELP = 'a managed tree (debian-6.12, debian-6.1) or any kernel git tree DIR (default: debian-6.12)';

/** The trees scripts/setup.sh manages (`debian-6.12`, `debian-6.1`): a name each, by path. */
export function managedTrees(): { name: string; path: string; ready: boolean }[] {
  const dir = treesDir();
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => MANAGED_TREE_NAME.test(n)) : [];
  return names.sort().map((name) => ({ name, path: path.join(dir, name), ready: treeIsReady(path.join(dir, name)) }));
}

/** Whether scripts/setup.sh finished unpacking the managed tree at REPO (its marker file). */
export function treeIsReady(repo: string): boolean {
  return existsSync(path.join(repo, '.git', 'kharness-ready'));
}

/**
 * What `--tree` names: a managed tree by name (`debian-6.1`), any other value a directory; no
 * value, the default tree. A directory of that name in the current folder wins over the name.
 */
export function treeArgPath(arg: string | undefined): string {
  if (arg === undefined) return defaultTreePath();
  if (MANAGED_TREE_NAME.test(arg) && !existsSync(arg)) return path.join(treesDir(), arg);
  return arg;
}

/** `debian-6.1` when REPO is that managed tree, else undefined. */
export function managedTreeName(repo: string): string | undefined {
  const rel = path.relative(treesDir(), repo);
  return MANAGED_TREE_NAME.test(rel) ? rel : undefined;
}
