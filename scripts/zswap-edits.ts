/**
 * Source edits of the Debian 6.12 mm/zswap.c shared by scripts/make-demo-patches.ts and
 * scripts/make-kernel-bug-patches.ts. Each takes the whole file and returns it changed; every
 * anchor must occur exactly once (replaceOnce throws otherwise), so a different base fails loudly
 * instead of producing a patch against the wrong lines.
 */
import { replaceOnce } from '../src/lore/thread-writer.js';

/** The base every patch is made against: Debian's 6.12 tree, as set up by scripts/setup.sh. */
export const BASE_COMMIT = 'fa8f9df0f573dab7a516b19235a49f0f00e30ed2';

/** Applies [from, to] pairs in order, each exactly once. */
export function edit(text: string, ...pairs: [string, string][]): string {
  return pairs.reduce((t, [from, to]) => replaceOnce(t, from, to), text);
}

const SWAPOFF_LOOP = `void zswap_swapoff(int type)
{
\tstruct xarray *trees = zswap_trees[type];
\tunsigned int i;

\tif (!trees)
\t\treturn;

\t/* try_to_unuse() invalidated all the entries already */
\tfor (i = 0; i < nr_zswap_trees[type]; i++)
\t\tWARN_ON_ONCE(!xa_empty(trees + i));
`;

const TREES_EMPTY_HELPER = `/* Returns true if no tree of the swap type holds an entry any more. */
static bool zswap_trees_empty(int type)
{
\tstruct xarray *trees = zswap_trees[type];
\tunsigned int i;

\tfor (i = 0; i < nr_zswap_trees[type]; i++)
\t\tif (!xa_empty(trees + i))
\t\t\treturn false;
\treturn true;
}

`;

/**
 * No functional change: zswap_swapoff()'s "no entries left" loop becomes zswap_trees_empty().
 * With `keepIndex`, the loop variable is left behind in zswap_swapoff(): one -Wunused-variable.
 */
export function treesEmptyHelper(text: string, keepIndex = false): string {
  return edit(text, [
    SWAPOFF_LOOP,
    `${TREES_EMPTY_HELPER}void zswap_swapoff(int type)
{
\tstruct xarray *trees = zswap_trees[type];
${keepIndex ? '\tunsigned int i;\n' : ''}
\tif (!trees)
\t\treturn;

\t/* try_to_unuse() invalidated all the entries already */
\tWARN_ON_ONCE(!zswap_trees_empty(type));
`,
  ]);
}

/** No functional change: zswap_swapon() sizes kvcalloc() by sizeof(*trees), not a second pointer. */
export function sizeofTrees(text: string): string {
  return edit(
    text,
    ['\tstruct xarray *trees, *tree;\n\tunsigned int nr, i;\n', '\tstruct xarray *trees;\n\tunsigned int nr, i;\n'],
    ['\ttrees = kvcalloc(nr, sizeof(*tree), GFP_KERNEL);\n', '\ttrees = kvcalloc(nr, sizeof(*trees), GFP_KERNEL);\n'],
  );
}

/** No functional change: zswap_swapoff() unpublishes the trees before freeing them. */
export function unpublishBeforeFree(text: string): string {
  return edit(text, [
    '\tkvfree(trees);\n\tnr_zswap_trees[type] = 0;\n\tzswap_trees[type] = NULL;\n}\n',
    '\tnr_zswap_trees[type] = 0;\n\tzswap_trees[type] = NULL;\n\tkvfree(trees);\n}\n',
  ]);
}

/** Comments only: the "zwap" and "and entry's" typos, and a verb. */
export function commentTypos(text: string): string {
  return edit(
    text,
    [' * Carries out the common pattern of freeing and entry\'s zpool allocation,', ' * Carries out the common pattern of freeing an entry\'s zpool allocation,'],
    ['\t * in one thread doing zwap.\n', '\t * in one thread doing zswap.\n'],
    [' *    is consumed and subtract from the number of eligible objects on the LRU', ' *    is consumed and subtracted from the number of eligible objects on the LRU'],
    ['\t *    then validate the zwap entry against that swap entry\'s', '\t *    then validate the zswap entry against that swap entry\'s'],
  );
}

/** Comments only: what the three swap entry points expect and promise. */
export function entryPointComments(text: string): string {
  return edit(
    text,
    [
      'bool zswap_store(struct folio *folio)\n{\n',
      `/*
 * zswap_store() - try to keep a swap cache folio in zswap instead of on disk.
 * Called from swap_writepage() with the folio locked in the swap cache.
 * Returns true if zswap now holds the data, false if the caller must write
 * the folio to the swap device. Either way, no older copy of the slot is
 * left behind in zswap.
 */
bool zswap_store(struct folio *folio)
{
`,
    ],
    [
      'bool zswap_load(struct folio *folio)\n{\n',
      `/*
 * zswap_load() - fill a locked folio from zswap, if zswap holds its slot.
 * Returns true if the folio was filled (or must fail with an I/O error),
 * false if the caller must read it from the swap device.
 */
bool zswap_load(struct folio *folio)
{
`,
    ],
    [
      'void zswap_invalidate(swp_entry_t swp)\n{\n',
      `/*
 * zswap_invalidate() - drop zswap's copy of a swap slot that is being freed.
 */
void zswap_invalidate(swp_entry_t swp)
{
`,
    ],
  );
}

/** THE BUG of the lifetime demo: zswap_invalidate() frees the entry but leaves it in the tree. */
export function invalidateWithoutErase(text: string): string {
  return edit(text, [
    '\tentry = xa_erase(tree, offset);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n}\n\nint zswap_swapon',
    '\tentry = xa_load(tree, offset);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n}\n\nint zswap_swapon',
  ]);
}
