import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../common/errors.js';

export interface KernelFiles {
  image: string;
  systemMap?: string;
  zswapPreprocessed?: string;
  selftest?: string;
  /** why the artifact folder has no test_zswap, as its build said (result.json) */
  selftestAbsent?: string;
}

/** The build's own account of a selftest it did not produce, from the artifact folder's result.json. */
function selftestAbsence(dir: string): string | undefined {
  try {
    const r = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) as { selftestBuild?: { verdict?: unknown; summary?: unknown } };
    const b = r.selftestBuild;
    return b && b.verdict !== 'pass' && typeof b.summary === 'string' ? b.summary.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds a bootable kernel from what the user named: a bzImage, a kbuild O= directory, or an
 * artifact folder kharness keeps per built commit. System.map and the preprocessed zswap.c
 * next to it (when present) let the tracer derive probe arguments.
 */
export function resolveKernel(target: string): KernelFiles {
  if (!existsSync(target)) throw new InputError(`${target} does not exist`);
  const abs = path.resolve(target);
  const find = (dir: string, names: string[]): string | undefined => names.map((n) => path.join(dir, n)).find((p) => existsSync(p));
  if (statSync(abs).isDirectory()) {
    const image = find(abs, ['bzImage', 'arch/x86/boot/bzImage']);
    if (!image) throw new InputError(`${target} holds no kernel image (looked for bzImage and arch/x86/boot/bzImage)`, 'build it first with `kharness build`');
    const selftest = find(abs, ['test_zswap']);
    return {
      image,
      systemMap: find(abs, ['System.map']),
      zswapPreprocessed: find(abs, ['zswap.i', 'mm/zswap.i']),
      selftest,
      selftestAbsent: selftest ? undefined : selftestAbsence(abs),
    };
  }
  const dir = path.dirname(abs);
  const buildRoot = path.basename(dir) === 'boot' ? path.resolve(dir, '../../..') : dir;
  return {
    image: abs,
    systemMap: find(dir, ['System.map']) ?? find(buildRoot, ['System.map']),
    zswapPreprocessed: find(dir, ['zswap.i']) ?? find(buildRoot, ['mm/zswap.i']),
    selftest: find(dir, ['test_zswap']),
  };
}
