import { InputError } from '../common/errors.js';
import type { GuestTestName } from './profiles.js';

/**
 * A variant is one way to boot and run the kernel under test: the kernel command line and the
 * runtime switches the guest suite applies while its tests run. Each variant is its own boot, so
 * a kernel that breaks only with memcg disabled (or only while the compressor changes under it)
 * fails in that variant's rows and nowhere else. Tests keep their names in the variant's guest
 * run; the merged result names them `test@variant` (the default variant's keep their plain name).
 */
export interface Variant {
  name: string;
  /** what it changes, for --help and the report */
  describe: string;
  /** kernel command line additions */
  append: string[];
  /** plan.env additions the guest suite reads (suite.sh) */
  env: Record<string, string>;
  /** the tests it runs (of those asked for); undefined: all of them */
  tests?: readonly GuestTestName[];
  /** swap on zram in the guest instead of the virtio disks */
  swap?: 'zram';
}

export const VARIANTS: Record<string, Variant> = {
  default: { name: 'default', describe: 'the default boot, no runtime switches', append: [], env: {} },
  nomemcg: {
    name: 'nomemcg',
    describe: 'memcg disabled at boot (cgroup_disable=memory): writeback through the global pool limit, the shrinker without a memcg',
    append: ['cgroup_disable=memory'],
    env: { VARIANT: 'nomemcg' },
    // test_zswap needs memcg: it skips itself, and says so.
    tests: ['swap-cycle', 'writeback', 'selftest-zswap'],
  },
  switches: {
    name: 'switches',
    describe: 'zswap reconfigured during traffic: compressor and zpool switched with live entries, zswap and its shrinker toggled, pool limits changed',
    append: [],
    env: { VARIANT: 'switches', SWITCH_INTERVAL_MS: '250' },
    // The race runs long enough for every kind of switch to meet live entries; swap-cycle here was
    // over before most kinds had one (gaps) and cost a tenth of the per-patch suite.
    tests: ['swapoff-race'],
  },
  zram: {
    name: 'zram',
    describe: 'swap on zram (SWP_SYNCHRONOUS_IO): single-mapped swapins bypass the swap cache, and zswap loads are not exclusive',
    append: [],
    env: { VARIANT: 'zram' },
    swap: 'zram',
    tests: ['swap-cycle', 'fault-race'],
  },
};

/** What `kharness run` and `kharness test` use when no --variants is given. */
export const DEFAULT_VARIANTS = ['default', 'nomemcg', 'switches', 'zram'] as const;

export function resolveVariants(list?: string | string[]): Variant[] {
  const names = !list || (Array.isArray(list) && list.length === 0) ? [...DEFAULT_VARIANTS] : (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !VARIANTS[n]);
  if (unknown.length) throw new InputError(`unknown variant "${unknown[0]}"`, `variants: ${Object.keys(VARIANTS).join(', ')}`);
  return [...new Set(names)].map((n) => VARIANTS[n]!);
}

/** The tests a variant runs of those asked for (possibly none: then the variant is not booted). */
export function variantTests(v: Variant, asked: readonly GuestTestName[]): GuestTestName[] {
  return v.tests ? asked.filter((t) => v.tests!.includes(t)) : [...asked];
}

/** A test's name in merged results and reports: `swap-cycle@nomemcg`; the default variant's stay plain. */
export function variantTestName(test: string, variant: string): string {
  return variant === 'default' ? test : `${test}@${variant}`;
}

/** The plain test name and variant of a merged result's test name. */
export function splitVariantTestName(name: string): { test: string; variant: string } {
  const at = name.indexOf('@');
  return at < 0 ? { test: name, variant: 'default' } : { test: name.slice(0, at), variant: name.slice(at + 1) };
}

/** The variants' names, refusing a combination in which no variant runs any test asked for. */
export function variantsFor(list: string | string[] | undefined, tests: readonly GuestTestName[]): string[] {
  const variants = resolveVariants(list);
  if (!variants.some((v) => variantTests(v, tests).length > 0)) {
    throw new InputError(`no variant of ${variants.map((v) => v.name).join(',')} runs any of the tests asked for (${tests.join(', ')})`, variants.map((v) => `${v.name} runs: ${(v.tests ?? ['every test']).join(', ')}`).join('; '));
  }
  return variants.map((v) => v.name);
}
