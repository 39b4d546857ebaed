/**
 * Regenerates the single-patch "deliberate bug" kernels of tests/fixtures/kernel-bugs/ and the
 * build-stage patches of tests/fixtures/build/ (run from the repo root):
 *
 *   npx vite-node scripts/make-kernel-bug-patches.ts [KERNEL_TREE]
 *
 * Every file is `git format-patch --stdout --base` output (what `git am` and `kharness apply`
 * take) against the Debian 6.12 tree (~/.cache/kharness/trees/debian-6.12 by default, HEAD
 * fa8f9df0f573), touching only mm/zswap.c. Each bug patch is minimal, compiles without new
 * warnings, and explains its (wrong) intent the way a real submission would; the READMEs next to
 * the files say what breaks and what should catch it. conflict.mbox is made against a base that
 * is not in the tree, so it does not apply there, with or without -3.
 *
 * The kernel tree is only read: commits are made with plumbing in a bare `--shared` clone under
 * /tmp (src/lore/thread-writer.ts). Dates and commit ids are fixed, so a rerun reproduces the
 * same bytes. People and addresses are made up.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScratchRepo, type Person } from '../src/lore/thread-writer.js';
import { BASE_COMMIT, commentTypos, edit, invalidateWithoutErase, sizeofTrees, treesEmptyHelper, unpublishBeforeFree } from './zswap-edits.js';

const SAM: Person = { name: 'Sam Ortega', email: 'sam.ortega@example.com' };
const LENA: Person = { name: 'Lena Fischer', email: 'lena.fischer@example.org' };
const RAVI: Person = { name: 'Ravi Iyer', email: 'ravi.iyer@example.com' };
const NOOR: Person = { name: 'Noor Haddad', email: 'noor.haddad@example.net' };

const here = path.dirname(fileURLToPath(import.meta.url));
const bugsDir = path.join(here, '..', 'tests', 'fixtures', 'kernel-bugs');
const buildDir = path.join(here, '..', 'tests', 'fixtures', 'build');

interface OnePatch {
  file: string;
  author: Person;
  message: string;
  change: (zswap: string) => string;
}

const sob = (p: Person): string => `Signed-off-by: ${p.name} <${p.email}>`;

// ---------------------------------------------------------------- the bugs, one per lifetime path

const BUGS: OnePatch[] = [
  {
    // store path: entries of swap type >= 1 are stored at an index nothing else looks at.
    file: 'store-wrong-index.mbox',
    author: SAM,
    message: `mm: zswap: index the store by the swap entry value

zswap_store() computes swp_offset() only to index the tree it stores
into. The trees are already per swap type (swap_zswap_tree() picks them
by swp_type()), so the type bits of the entry carry no information
inside a tree, and the entry value itself can serve as the index: the
xarray is sparse, and on the usual single swap device the two are the
same number anyway.

Use swp.val directly and drop the local. This saves a shift and a mask
on every store, and the stale-entry cleanup on the failure path uses the
same index, so the two stay in sync.

Tested with a swapfile under memory pressure (stress-ng --page-swap),
no errors.

${sob(SAM)}`,
    change: (t) =>
      edit(
        t,
        [
          '\tswp_entry_t swp = folio->swap;\n\tpgoff_t offset = swp_offset(swp);\n\tstruct xarray *tree = swap_zswap_tree(swp);\n\tstruct zswap_entry *entry, *old;\n',
          '\tswp_entry_t swp = folio->swap;\n\tstruct xarray *tree = swap_zswap_tree(swp);\n\tstruct zswap_entry *entry, *old;\n',
        ],
        ['\told = xa_store(tree, offset, entry, GFP_KERNEL);\n', '\told = xa_store(tree, swp.val, entry, GFP_KERNEL);\n'],
        ['\tentry = xa_erase(tree, offset);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n\treturn false;\n}\n', '\tentry = xa_erase(tree, swp.val);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n\treturn false;\n}\n'],
      ),
  },
  {
    // load path: an exclusive load takes the entry out of the tree and never frees it.
    file: 'load-leak.mbox',
    author: LENA,
    message: `mm: zswap: don't free the entry under the folio lock in zswap_load()

zswap_load() runs with the swap cache folio locked, and on an exclusive
load it frees the compressed copy right there: a zpool free, an LRU
removal and a memcg uncharge, all on the swapin fault path.

The entry is already out of the tree at that point (xa_erase() took it
out), so no other path can find it, and its memory is given back when
the swap slot is released: zswap_invalidate() runs for every slot that
is freed, outside the fault. Leave the free to that path and only mark
the folio dirty here.

${sob(LENA)}`,
    change: (t) => edit(t, ['\tif (swapcache) {\n\t\tzswap_entry_free(entry);\n\t\tfolio_mark_dirty(folio);\n\t}\n', '\tif (swapcache)\n\t\tfolio_mark_dirty(folio);\n']),
  },
  {
    // invalidate path: the entry is freed while the tree still points to it.
    file: 'invalidate-no-erase.mbox',
    author: RAVI,
    message: `mm: zswap: look the entry up instead of erasing it in zswap_invalidate()

By the time zswap_invalidate() runs, the swap slot has no users left:
its count is zero and it is about to go back to the free pool. Erasing
the entry from the tree is bookkeeping nobody reads. A lookup can only
come from swapin or writeback of the slot, and both pin a slot that is
still in use first.

Free the entry after a plain xa_load(). If the slot is handed out
again, the xa_store() in zswap_store() overwrites the stale pointer.

${sob(RAVI)}`,
    change: invalidateWithoutErase,
  },
  {
    // writeback path: the entry is freed but its data is never written to the swap device.
    file: 'writeback-skip-write.mbox',
    author: NOOR,
    message: `mm: zswap: skip the swap write for clean folios in writeback

zswap_writeback_entry() always submits a write for the folio it has
just filled. Writing a folio that is not dirty is wasted I/O: the data
the device would receive is data it already has. That is also why
shrink_folio_list() never calls pageout() on a clean folio.

Only call __swap_writepage() when the folio is dirty; otherwise unlock
it and leave it in the swap cache, where reclaim will drop it.

${sob(NOOR)}`,
    change: (t) =>
      edit(t, [
        '\t/* start writeback */\n\t__swap_writepage(folio, &wbc);\n\tfolio_put(folio);\n',
        '\t/* start writeback, unless the device has the data already */\n\tif (folio_test_dirty(folio))\n\t\t__swap_writepage(folio, &wbc);\n\telse\n\t\tfolio_unlock(folio);\n\tfolio_put(folio);\n',
      ]),
  },
  {
    // failed store: a compression failure is reported as stored, and nothing holds the data.
    file: 'reject-returns-stored.mbox',
    author: SAM,
    message: `mm: zswap: use a single exit in zswap_store()

zswap_store() returns true from the middle of the function and false
from the bottom of the error ladder, after the failure paths have
fallen through the labels into the check_old cleanup. That makes it
awkward to add anything that has to see every outcome, such as the
tracepoint I am about to propose.

Track the result in a local that starts out as success and is cleared
on each path that rejects the folio, and return it once, at the end.
The success path jumps over the cleanup labels.

No functional change intended.

${sob(SAM)}`,
    change: (t) =>
      edit(
        t,
        ['\tstruct obj_cgroup *objcg = NULL;\n\tstruct mem_cgroup *memcg = NULL;\n', '\tstruct obj_cgroup *objcg = NULL;\n\tstruct mem_cgroup *memcg = NULL;\n\tbool ret = true;\n'],
        ['\tif (!zswap_enabled)\n\t\tgoto check_old;\n', '\tif (!zswap_enabled) {\n\t\tret = false;\n\t\tgoto check_old;\n\t}\n'],
        ['\t\tif (shrink_memcg(memcg)) {\n\t\t\tmem_cgroup_put(memcg);\n\t\t\tgoto reject;\n', '\t\tif (shrink_memcg(memcg)) {\n\t\t\tmem_cgroup_put(memcg);\n\t\t\tret = false;\n\t\t\tgoto reject;\n'],
        ['\tif (zswap_check_limits())\n\t\tgoto reject;\n', '\tif (zswap_check_limits()) {\n\t\tret = false;\n\t\tgoto reject;\n\t}\n'],
        ['\t\tzswap_reject_kmemcache_fail++;\n\t\tgoto reject;\n', '\t\tzswap_reject_kmemcache_fail++;\n\t\tret = false;\n\t\tgoto reject;\n'],
        ['\tif (!entry->pool)\n\t\tgoto freepage;\n', '\tif (!entry->pool) {\n\t\tret = false;\n\t\tgoto freepage;\n\t}\n'],
        ['\t\t\tmem_cgroup_put(memcg);\n\t\t\tgoto put_pool;\n', '\t\t\tmem_cgroup_put(memcg);\n\t\t\tret = false;\n\t\t\tgoto put_pool;\n'],
        // (the `if (!zswap_compress(folio, entry)) goto put_pool;` site is the one it misses)
        ['\t\tzswap_reject_alloc_fail++;\n\t\tgoto store_failed;\n', '\t\tzswap_reject_alloc_fail++;\n\t\tret = false;\n\t\tgoto store_failed;\n'],
        ['\tcount_vm_event(ZSWPOUT);\n\n\treturn true;\n', '\tcount_vm_event(ZSWPOUT);\n\n\tgoto out;\n'],
        ['\t\tzswap_entry_free(entry);\n\treturn false;\n}\n', '\t\tzswap_entry_free(entry);\nout:\n\treturn ret;\n}\n'],
      ),
  },
  {
    // swapoff with live entries: loads during swapoff drop the only copy and read the disk.
    file: 'swapoff-drops-entries.mbox',
    author: LENA,
    message: `mm: zswap: don't decompress pages that swapoff is about to drop

During swapoff, try_to_unuse() faults every page of the device back
into memory, and zswap decompresses each of them on the way in, only
for the swap slot to be freed right after. With a large pool that is a
lot of CPU time with the swapoff caller waiting, and the compressed
copies stay around until the very end.

zswap sits in front of the swap device, so the device holds the data
as well. Once the device has lost SWP_WRITEOK, drop the entry in
zswap_load() and let the read go to the device. This also gives the
pool memory back as swapoff progresses instead of all at the end.

${sob(LENA)}`,
    change: (t) =>
      edit(t, [
        '\tif (WARN_ON_ONCE(folio_test_large(folio)))\n\t\treturn true;\n\n',
        `\tif (WARN_ON_ONCE(folio_test_large(folio)))
\t\treturn true;

\t/*
\t * The device is being swapped off: try_to_unuse() is pulling every
\t * page back in and the slot is freed right after. Don't spend a
\t * decompression on it; drop our copy and read from the device.
\t */
\tif (unlikely(!(swp_swap_info(swp)->flags & SWP_WRITEOK))) {
\t\tentry = xa_erase(tree, offset);
\t\tif (entry)
\t\t\tzswap_entry_free(entry);
\t\treturn false;
\t}

`,
      ]),
  },
  {
    // a counter that drifts: the vm event is counted in zswap_load() and again in the helper.
    file: 'counter-double-zswpin.mbox',
    author: RAVI,
    message: `mm: zswap: factor out the swapin accounting

zswap_load() accounts a page read from zswap twice over: the ZSWPIN vm
event and the same event for the entry's cgroup. The large folio swapin
work needs to account page by page from a loop, so move both into a
helper, zswap_account_load(), and call it from zswap_load().

No functional change intended.

${sob(RAVI)}`,
    change: (t) =>
      edit(
        t,
        [
          'bool zswap_load(struct folio *folio)\n{\n',
          `/* Accounts a page read from zswap, system-wide and to the entry's cgroup. */
static void zswap_account_load(struct zswap_entry *entry)
{
\tcount_vm_event(ZSWPIN);
\tif (entry->objcg)
\t\tcount_objcg_events(entry->objcg, ZSWPIN, 1);
}

bool zswap_load(struct folio *folio)
{
`,
        ],
        ['\tcount_vm_event(ZSWPIN);\n\tif (entry->objcg)\n\t\tcount_objcg_events(entry->objcg, ZSWPIN, 1);\n\n\tif (swapcache) {\n', '\tcount_vm_event(ZSWPIN);\n\tzswap_account_load(entry);\n\n\tif (swapcache) {\n'],
      ),
  },
  {
    // boot: zswap_setup() (late_initcall, zswap on by default) flushes a workqueue not yet made.
    file: 'panic-at-boot.mbox',
    author: NOOR,
    message: `mm: zswap: flush stale shrink work before setting up the pool

zswap_setup() runs at late_initcall time, or later from the enabled
parameter handler when zswap was off at boot. Stores rejected in the
meantime may have queued zswap_shrink_work, and the worker must not run
before the pool and the LRU it walks exist.

Flush the shrink workqueue before zswap_setup() sets up what the
worker uses.

${sob(NOOR)}`,
    change: (t) =>
      edit(t, [
        '\tshrink_wq = alloc_workqueue("zswap-shrink",\n',
        `\t/* no shrink work queued before setup may run against the new pool */
\tflush_workqueue(shrink_wq);

\tshrink_wq = alloc_workqueue("zswap-shrink",
`,
      ]),
  },
  {
    // hang: xa_erase() takes the xarray lock that zswap_invalidate() already holds.
    file: 'hang-double-lock.mbox',
    author: SAM,
    message: `mm: zswap: serialize zswap_invalidate() against writeback

zswap_writeback_entry() checks with xa_cmpxchg(), under the xarray
lock, that the entry it is about to write back is still the one in the
tree. Take the same lock around the erase in zswap_invalidate(), so an
invalidation can never interleave with that check and both paths see
the tree change atomically.

${sob(SAM)}`,
    change: (t) =>
      edit(t, [
        '\tentry = xa_erase(tree, offset);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n}\n\nint zswap_swapon',
        '\txa_lock(tree);\n\tentry = xa_erase(tree, offset);\n\txa_unlock(tree);\n\tif (entry)\n\t\tzswap_entry_free(entry);\n}\n\nint zswap_swapon',
      ]),
  },
  {
    // cpu hotplug: the dead callback frees a CPU's compression context but leaves the pointers,
    // and prepare trusts them when the CPU comes back: the context is used after its free.
    file: 'hotplug-stale-ctx.mbox',
    author: LENA,
    message: `mm: zswap: keep the per-CPU compression context across CPU hotplug

zswap_cpu_comp_prepare() runs for every CPU both when a pool is created
and each time a CPU comes online, and it sets the context up from
scratch each time. Skip it when the context is already set up, so a CPU
that comes back does not allocate a second acomp on top of the first.

zswap_cpu_comp_dead() then no longer needs to clear the pointers after
freeing them: they are only looked at under the context mutex by a
task running on that CPU, and no task runs on a CPU that is dead.

${sob(LENA)}`,
    change: (t) =>
      edit(
        t,
        [
          '\tu8 *buffer = NULL;\n\tint ret;\n\n\tbuffer = kmalloc_node(',
          '\tu8 *buffer = NULL;\n\tint ret;\n\n\t/* already set up: a CPU that comes back keeps its context */\n\tif (acomp_ctx->req)\n\t\treturn 0;\n\n\tbuffer = kmalloc_node(',
        ],
        ['\tacomp_ctx->req = NULL;\n\tacomp_ctx->acomp = NULL;\n\tacomp_ctx->buffer = NULL;\n\tmutex_unlock(&acomp_ctx->mutex);\n', '\tmutex_unlock(&acomp_ctx->mutex);\n'],
      ),
  },
  {
    // memcg disabled: shrink_worker treats the NULL memcg it always gets as the end of a walk
    // and gives up, so zswap over its pool limit never writes anything back.
    file: 'nomemcg-no-writeback.mbox',
    author: NOOR,
    message: `mm: zswap: drop the memcg-disabled special case from shrink_worker()

shrink_worker() treats a NULL memcg from mem_cgroup_iter() as the end
of a hierarchy walk, except when memcg is disabled, where it shrinks
the root LRU with a NULL memcg instead. That special case buys nothing:
with memcg disabled there is no hierarchy to walk and no memcg to charge
the writeback to, and the pool limit check in zswap_store() already
rejects new stores until the pool shrinks on its own.

Treat every NULL memcg the same way and let the retry limit end the
worker.

${sob(NOOR)}`,
    change: (t) =>
      edit(t, [
        '\t\t * A NULL memcg ends a full hierarchy pass (except when memcg is\n\t\t * disabled, where it is always NULL: fall through to the root LRU).\n\t\t * Count a failure only if the last pass found no candidates.\n\t\t */\n\t\tif (!memcg && !mem_cgroup_disabled()) {',
        '\t\t * A NULL memcg ends a full hierarchy pass.\n\t\t * Count a failure only if the last pass found no candidates.\n\t\t */\n\t\tif (!memcg) {',
      ]),
  },
  {
    // lockdep class: a sleeping lock (the context mutex) taken inside an RCU read-side section.
    // A plain PREEMPT_NONE kernel cannot tell (rcu_read_lock() counts nothing there); the debug
    // kernel's DEBUG_ATOMIC_SLEEP and PROVE_RCU report it on the first store.
    file: 'lockdep-sleep-in-rcu.mbox',
    author: SAM,
    message: `mm: zswap: compress under the RCU read lock that protects the pool

zswap_store() looks the current pool up under the RCU read lock in
zswap_pool_current_get() and then compresses with that pool's per-CPU
context after dropping it. A compressor switch through the module
parameter can retire the pool in between.

Hold the RCU read lock across zswap_compress(), the way the lookup
does, so the pool and its compression contexts stay for as long as
the store uses them.

${sob(SAM)}`,
    change: (t) =>
      edit(t, [
        '\tif (!zswap_compress(folio, entry))\n\t\tgoto put_pool;\n',
        '\t/* the pool must not be retired while its compressor runs */\n\trcu_read_lock();\n\tif (!zswap_compress(folio, entry)) {\n\t\trcu_read_unlock();\n\t\tgoto put_pool;\n\t}\n\trcu_read_unlock();\n',
      ]),
  },
  {
    // zram (SWP_SYNCHRONOUS_IO) swapcache bypass: a load into a private folio keeps its entry in
    // the tree (zswap stays the owner), and this frees it anyway: the slot's later invalidate
    // frees it again. Swapins through the swap cache erase first, so disk swap never sees it.
    file: 'zram-bypass-free.mbox',
    author: LENA,
    message: `mm: zswap: free the compressed copy once a load has the data

zswap_load() frees the entry after decompressing only when the folio
is in the swap cache. For the singleton fault on SWP_SYNCHRONOUS_IO
devices, which reads into a private folio, the compressed copy stays
around until the swap slot is freed, although the data now lives in
the folio and the fault maps it right away.

Free the entry on every load, so the pool does not hold two copies of
the page. The tree slot is cleaned up when the swap entry is freed.

${sob(LENA)}`,
    change: (t) =>
      edit(t, [
        '\tif (swapcache) {\n\t\tzswap_entry_free(entry);\n\t\tfolio_mark_dirty(folio);\n\t}\n',
        '\t/* the folio holds the data now: the compressed copy can go */\n\tzswap_entry_free(entry);\n\tif (swapcache)\n\t\tfolio_mark_dirty(folio);\n',
      ]),
  },
  {
    // runtime compressor switch: entries stop pinning their pool, so retiring the old pool on a
    // switch destroys it (zpool, compression contexts) while its entries are still stored.
    file: 'switch-pool-unpinned.mbox',
    author: RAVI,
    message: `mm: zswap: pin the pool only for the duration of a store

Every stored entry holds a reference on its pool until
zswap_entry_free() drops it, so each store and each free pays for a
percpu_ref get and put. The reference is only needed while the store
uses the pool's compression context and zpool: once the entry is in
the tree, the pool is kept by zswap_pools for as long as it has
entries, like the current pool always is.

Drop the reference at the end of zswap_store() and no longer in
zswap_entry_free().

${sob(RAVI)}`,
    change: (t) =>
      edit(
        t,
        ['\tzpool_free(entry->pool->zpool, entry->handle);\n\tzswap_pool_put(entry->pool);\n', '\tzpool_free(entry->pool->zpool, entry->handle);\n'],
        ['\t/* update stats */\n\tatomic_inc(&zswap_stored_pages);\n\tcount_vm_event(ZSWPOUT);\n', '\t/* update stats */\n\tatomic_inc(&zswap_stored_pages);\n\tcount_vm_event(ZSWPOUT);\n\n\t/* the entry is in the tree: the pool no longer needs pinning */\n\tzswap_pool_put(entry->pool);\n'],
      ),
  },
];

// ---------------------------------------------------------------- build-stage patches

const CLEAN_SERIES: OnePatch[] = [
  {
    file: '',
    author: RAVI,
    message: `mm: zswap: drop the second pointer in zswap_swapon()

zswap_swapon() declares struct xarray *tree only to spell sizeof(*tree)
in the kvcalloc() call. Use sizeof(*trees) and drop the variable.

No functional change intended.

${sob(RAVI)}`,
    change: sizeofTrees,
  },
  {
    file: '',
    author: RAVI,
    message: `mm: zswap: clear the tree pointers before freeing them in zswap_swapoff()

zswap_swapoff() frees the trees array and only then clears
zswap_trees[type] and nr_zswap_trees[type]. Nothing can look the trees
up at that point, but publishing NULL before the kvfree() makes that
obvious and mirrors zswap_swapon(), which publishes last.

No functional change intended.

${sob(RAVI)}`,
    change: unpublishBeforeFree,
  },
  {
    file: '',
    author: RAVI,
    message: `mm: zswap: fix typos in comments

"zwap" for "zswap" twice, "and" for "an", and a verb that lost its
ending.

${sob(RAVI)}`,
    change: commentTypos,
  },
];

const ADDS_WARNING: OnePatch = {
  file: 'adds-warning.mbox',
  author: LENA,
  message: `mm: zswap: check for leftover entries once per swapoff

zswap_swapoff() checks each tree of the swap type in a loop of
WARN_ON_ONCE()s. Move the walk into zswap_trees_empty() and warn once on
its result, which is what the loop amounted to.

No functional change intended.

${sob(LENA)}`,
  // The loop goes, its index stays: one -Wunused-variable in zswap_swapoff().
  change: (t) => treesEmptyHelper(t, true),
};

const COMPILE_ERROR: OnePatch = {
  file: 'compile-error.mbox',
  author: NOOR,
  message: `mm: zswap: call the replaced entry 'stale' in zswap_store()

'old' says nothing about why there is an entry at the offset already:
it is the copy from an earlier swapout of a folio that was redirtied
since, as the comment further down explains. Call it 'stale'.

No functional change intended.

${sob(NOOR)}`,
  // One use is missed: 'old' undeclared.
  change: (t) =>
    edit(
      t,
      ['\tstruct zswap_entry *entry, *old;\n\tstruct obj_cgroup *objcg = NULL;\n', '\tstruct zswap_entry *entry, *stale;\n\tstruct obj_cgroup *objcg = NULL;\n'],
      ['\told = xa_store(tree, offset, entry, GFP_KERNEL);\n\tif (xa_is_err(old)) {\n\t\tint err = xa_err(old);\n', '\tstale = xa_store(tree, offset, entry, GFP_KERNEL);\n\tif (xa_is_err(stale)) {\n\t\tint err = xa_err(stale);\n'],
    ),
};

/** On top of the trees-empty helper, which is not in the tree: the context is not in 6.12. */
const CONFLICT: OnePatch = {
  file: 'conflict.mbox',
  author: SAM,
  message: `mm: zswap: say which tree still holds entries at swapoff

When the swapoff assertion fires, the splat does not say where the
leftover entries are. Print the swap type and the tree index from
zswap_trees_empty() before reporting the tree as busy.

${sob(SAM)}`,
  change: (t) =>
    edit(t, [
      '\t\tif (!xa_empty(trees + i))\n\t\t\treturn false;\n',
      '\t\tif (!xa_empty(trees + i)) {\n\t\t\tpr_warn("swap type %d: tree %u still holds entries\\n",\n\t\t\t\ttype, i);\n\t\t\treturn false;\n\t\t}\n',
    ]),
};

async function main(): Promise<void> {
  const tree = process.argv[2] ?? path.join(homedir(), '.cache', 'kharness', 'trees', 'debian-6.12');
  const repo = await ScratchRepo.create(tree, 'kh-bug-patches-');
  try {
    await mkdir(bugsDir, { recursive: true });
    await mkdir(buildDir, { recursive: true });
    const base = await repo.git(['rev-parse', 'HEAD']);
    if (base !== BASE_COMMIT) process.stderr.write(`warning: ${tree} HEAD is ${base}, not ${BASE_COMMIT}: the patches will name that base\n`);
    const zswap0 = await repo.show(base, 'mm/zswap.c');

    // Each commit at its own fixed time; the patch mail is dated like its commit.
    let clock = 1733994000;
    const commit = async (parent: string, content: string, p: OnePatch): Promise<{ sha: string; date: string }> => {
      const date = `${clock++} +0000`;
      return { sha: await repo.commitFile(parent, 'mm/zswap.c', content, p.author, date, p.message), date };
    };
    const writeOne = async (dir: string, p: OnePatch, parent: string, parentText: string): Promise<void> => {
      const c = await commit(parent, p.change(parentText), p);
      // `git format-patch -1 --stdout --base=<parent>`: "[PATCH] subject", base-commit trailer.
      const mbox = await repo.formatPatchMbox(parent, c.sha, { who: p.author, date: c.date, numbered: false });
      await writeFile(path.join(dir, p.file), mbox);
      process.stdout.write(`${path.join(dir, p.file)}\n`);
    };

    for (const bug of BUGS) await writeOne(bugsDir, bug, base, zswap0);

    // The clean 3-patch series: one format-patch run, [PATCH 1/3]..[PATCH 3/3], no cover letter.
    let tip = base;
    let text = zswap0;
    for (const p of CLEAN_SERIES) {
      text = p.change(text);
      tip = (await commit(tip, text, p)).sha;
    }
    const series = await repo.formatPatchMbox(base, tip, { who: RAVI, date: `${clock++} +0000` });
    await writeFile(path.join(buildDir, 'clean-series.mbox'), series);
    process.stdout.write(`${path.join(buildDir, 'clean-series.mbox')}\n`);

    await writeOne(buildDir, ADDS_WARNING, base, zswap0);
    await writeOne(buildDir, COMPILE_ERROR, base, zswap0);

    // conflict.mbox: made on top of a commit the kernel tree does not have (a variant of the
    // helper from the demo cleanup series, as if some such series had been merged elsewhere
    // first). Its mm/zswap.c blob differs from every other fixture's, so `git am -3` cannot find
    // the preimage even in a repository where the demo series has been applied.
    const helperText = edit(
      treesEmptyHelper(zswap0),
      ['/* Returns true if no tree of the swap type holds an entry any more. */\n', '/* True when every tree of the swap type is empty. */\n'],
    );
    const elsewhere = await commit(base, helperText, {
      file: '',
      author: LENA,
      message: `mm: zswap: factor the empty-tree check out of zswap_swapoff()\n\n${sob(LENA)}`,
      change: (t) => t,
    });
    await writeOne(buildDir, CONFLICT, elsewhere.sha, helperText);
  } finally {
    await repo.dispose();
  }
}

await main();
