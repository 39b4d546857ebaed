import { REFCOUNT_RULE_IDS, RULE_IDS } from '../model/rules.js';
import type { ApiEra, EraId, FunctionSpec, Prototype } from './types.js';

const proto = (ret: string, ...params: string[]): Prototype => ({ ret, params });
const fn = (name: string, prototype: Prototype | undefined, returns: FunctionSpec['returns'], required: boolean, probed = true): FunctionSpec => ({ fn: name, prototype, returns, required, probed });

/** Outside mm/zswap.c: only its entry and return are traced, its arguments are not read. */
const SYS_SWAPOFF = fn('__x64_sys_swapoff', undefined, 'int', false);

/**
 * 6.12 (Debian 6.12, read from its mm/zswap.c): one xarray per swap type, exclusive loads, and
 * writeback that owns an entry by erasing it from the tree. zswap_store rejects large folios.
 */
export const V6_12: ApiEra = {
  id: 'v6.12',
  title: '6.12 (xarray, bool zswap_load)',
  functions: [
    fn('zswap_store', proto('bool', 'struct folio *'), 'bool', true),
    fn('zswap_load', proto('bool', 'struct folio *'), 'bool', true),
    fn('zswap_invalidate', proto('void', 'swp_entry_t'), 'void', true),
    fn('zswap_entry_free', proto('void', 'struct zswap_entry *'), 'void', true),
    fn('zswap_writeback_entry', proto('int', 'struct zswap_entry *', 'swp_entry_t'), 'int', false),
    fn('zswap_swapon', proto('int', 'int', 'unsigned long'), 'int', false),
    fn('zswap_swapoff', proto('void', 'int'), 'void', false),
    SYS_SWAPOFF,
  ],
  modelRules: RULE_IDS,
  model: 'xarray',
  writebackLimit: 'memcg',
};

/**
 * Upstream after 6.12: zswap_load returns int (0 = loaded, -ENOENT = not in zswap, -EIO or
 * -EINVAL = found but not loaded), large folios are stored page by page (zswap_store_page, later
 * zswap_store_pages). The rest of the API the model uses is as in 6.12.
 */
export const NEWER: ApiEra = {
  id: 'newer',
  title: 'newer than 6.12 (int zswap_load, large-folio stores)',
  functions: [
    fn('zswap_store', proto('bool', 'struct folio *'), 'bool', true),
    fn('zswap_load', proto('int', 'struct folio *'), 'errno', true),
    fn('zswap_invalidate', proto('void', 'swp_entry_t'), 'void', true),
    fn('zswap_entry_free', proto('void', 'struct zswap_entry *'), 'void', true),
    fn('zswap_writeback_entry', proto('int', 'struct zswap_entry *', 'swp_entry_t'), 'int', false),
    fn('zswap_swapon', proto('int', 'int', 'unsigned long'), 'int', false),
    fn('zswap_swapoff', proto('void', 'int'), 'void', false),
    // Checked only, to report whether this kernel splits large folios into per-page stores.
    fn('zswap_store_page', proto('bool', 'struct page *', 'struct obj_cgroup *', 'struct zswap_pool *'), 'bool', false, false),
    SYS_SWAPOFF,
  ],
  modelRules: RULE_IDS,
  model: 'xarray',
  writebackLimit: 'memcg',
};

/**
 * 6.1: frontswap backend, rbtree per type, refcounted entries; int returns (0 = success, and a
 * load miss is -1). Every refcount change and every free is under the tree lock, so the puts and
 * frees of one tree are traced in lock order; zswap_entry_put is where references are dropped.
 * pgoff_t is spelled `unsigned long`: include/linux/types.h #defines it, so zswap.i has no such name.
 */
export const V6_1: ApiEra = {
  id: 'v6.1',
  title: '6.1 (frontswap, rbtree, refcounted entries)',
  functions: [
    fn('zswap_frontswap_store', proto('int', 'unsigned', 'unsigned long', 'struct page *'), 'errno', true),
    fn('zswap_frontswap_load', proto('int', 'unsigned', 'unsigned long', 'struct page *'), 'frontswap', true),
    fn('zswap_frontswap_invalidate_page', proto('void', 'unsigned', 'unsigned long'), 'void', true),
    fn('zswap_frontswap_invalidate_area', proto('void', 'unsigned'), 'void', true),
    fn('zswap_free_entry', proto('void', 'struct zswap_entry *'), 'void', true),
    fn('zswap_entry_put', proto('void', 'struct zswap_tree *', 'struct zswap_entry *'), 'void', true),
    fn('zswap_writeback_entry', proto('int', 'struct zpool *', 'unsigned long'), 'int', false),
    fn('zswap_frontswap_init', proto('void', 'unsigned'), 'void', false),
    SYS_SWAPOFF,
  ],
  modelRules: REFCOUNT_RULE_IDS,
  model: 'refcount',
  writebackLimit: 'pool',
};

/** In the order a selection prefers them; their required prototypes exclude each other. */
export const ERAS: readonly ApiEra[] = [NEWER, V6_12, V6_1];

export function eraById(id: EraId): ApiEra {
  const era = ERAS.find((e) => e.id === id);
  if (!era) throw new Error(`unknown zswap API era ${id}`);
  return era;
}

/** `bool (struct folio *)`: a prototype as C writes its type. */
export function formatPrototype(p: Prototype): string {
  return `${p.ret} (${p.params.length ? p.params.join(', ') : 'void'})`;
}

/** How `fn`'s return value reads in `era` ('void' when the era does not have it). */
export function returnDecoding(era: EraId, name: string): FunctionSpec['returns'] {
  return eraById(era).functions.find((f) => f.fn === name)?.returns ?? 'void';
}
