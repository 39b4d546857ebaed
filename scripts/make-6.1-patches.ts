/**
 * Regenerates the bundled 6.1 series (run from the repo root):
 *
 *   npx vite-node scripts/make-6.1-patches.ts [KERNEL_TREE]
 *
 * patches/zswap-6.1-load-demo.mbox: the bundled demo's idea on 6.1 LTS (frontswap, rbtree,
 * refcounted entries), `git format-patch --stdout --base` output against the Debian 6.1 tree
 * (~/.cache/kharness/trees/debian-6.1 by default, HEAD 0db2b05eec83), touching only mm/zswap.c:
 *
 * - 1/2 is clean: it says in a comment why zswap_frontswap_load() can find no entry.
 * - 2/2 breaks the seed thread's first refcount rule (a reference is taken only by a lookup under
 *   the tree lock): zswap_frontswap_load() looks the entry up with zswap_rb_search(), without
 *   taking a reference, but still drops one when it is done. The first load of every entry puts
 *   its refcount to 0, so zswap_entry_put() erases and frees it: the next swapin of that page
 *   misses zswap and reads a swap slot that was never written (frontswap took the page instead of
 *   the disk). The workload's data oracle sees the wrong data.
 *
 * The kernel tree is only read (a bare `--shared` clone under /tmp). Dates are fixed, so a rerun
 * reproduces the same bytes. People and addresses are made up.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScratchRepo, type Person } from '../src/lore/thread-writer.js';
import { edit } from './zswap-edits.js';

/** Debian's 6.1 tree as scripts/setup.sh makes it. */
export const BASE_COMMIT_6_1 = '0db2b05eec83cbfcc9ea0f7d43658f298a9b9140';

const ANIKA: Person = { name: 'Anika Berg', email: 'anika.berg@example.org' };
const sob = (p: Person): string => `Signed-off-by: ${p.name} <${p.email}>`;

const LOAD_LOOKUP = '\t/* find */\n\tspin_lock(&tree->lock);\n\tentry = zswap_entry_find_get(&tree->rbroot, offset);\n\tif (!entry) {\n\t\t/* entry was written back */\n';

const COMMENT = {
  message: `mm: zswap: say why zswap_frontswap_load() can find no entry

The comment on the lookup miss in zswap_frontswap_load() says only that
the entry was written back. It can also be missing because the store
was rejected (a full pool, an incompressible page) and the page went to
the swap device instead. Say both, so the -1 return reads as "not in
zswap" rather than as an error.

No functional change.

${sob(ANIKA)}`,
  change: (t: string): string =>
    edit(t, [LOAD_LOOKUP, LOAD_LOOKUP.replace('/* entry was written back */', '/* written back, or never stored: read from the swap device */')]),
};

const NO_REFERENCE = {
  message: `mm: zswap: look the entry up without a reference in zswap_frontswap_load()

zswap_frontswap_load() takes a reference on the entry under the tree
lock and drops it again at the end. The page being read is locked in
the swap cache for the whole load, so nothing can invalidate this
offset under us: the reference only costs a second round trip through
the tree lock on every swapin.

Look the entry up with zswap_rb_search() instead of
zswap_entry_find_get().

Tested with a swapfile under memory pressure, no errors.

${sob(ANIKA)}`,
  change: (t: string): string =>
    edit(t, [
      '\tentry = zswap_entry_find_get(&tree->rbroot, offset);\n\tif (!entry) {\n\t\t/* written back, or never stored',
      '\tentry = zswap_rb_search(&tree->rbroot, offset);\n\tif (!entry) {\n\t\t/* written back, or never stored',
    ]),
};

/**
 * Deliberate bugs of our own against the seed thread's refcount rules, one patch each on the 6.1
 * base, for the end-to-end tests (tests/fixtures/kernel-bugs-6.1/). 2/2 of the demo series is the
 * one against "a reference is taken only by a lookup under the tree lock".
 */
const BUGS: { file: string; message: string; change: (t: string) => string }[] = [
  {
    // "an entry is freed only when its last reference goes": a load's put frees an entry the tree still holds.
    file: 'put-frees-early.mbox',
    message: `mm: zswap: free an entry once only its lookup references it

After zswap_frontswap_load() has decompressed a page, the page lives in
the swap cache and the compressed copy is dead weight until
invalidate_page() drops the tree's reference, which can take a long
time for a page that stays mapped.

Free the entry in zswap_entry_put() once the count drops to one, that
is, when the reference being dropped leaves only the one its lookup
took, so the pool space comes back at swapin.

${sob(ANIKA)}`,
    change: (t) => edit(t, ['\tBUG_ON(refcount < 0);\n\tif (refcount == 0) {', '\tBUG_ON(refcount < 0);\n\tif (refcount <= 1) {']),
  },
];

async function writeBugs(repo: ScratchRepo, base: string, here: string): Promise<void> {
  const dir = path.join(here, '..', 'tests', 'fixtures', 'kernel-bugs-6.1');
  await mkdir(dir, { recursive: true });
  let clock = 1736251200;
  for (const bug of BUGS) {
    const tip = await repo.commitFile(base, 'mm/zswap.c', bug.change(await repo.show(base, 'mm/zswap.c')), ANIKA, `${clock++} +0000`, bug.message);
    const file = path.join(dir, bug.file);
    await writeFile(file, await repo.formatPatchMbox(base, tip, { who: ANIKA, date: `${clock++} +0000` }));
    process.stdout.write(`${file}\n`);
  }
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const outDir = path.join(here, '..', 'patches');
  const tree = process.argv[2] ?? path.join(homedir(), '.cache', 'kharness', 'trees', 'debian-6.1');
  const repo = await ScratchRepo.create(tree, 'kh-6.1-patches-');
  try {
    await mkdir(outDir, { recursive: true });
    const base = await repo.git(['rev-parse', 'HEAD']);
    if (base !== BASE_COMMIT_6_1) process.stderr.write(`warning: ${tree} HEAD is ${base}, not ${BASE_COMMIT_6_1}: the patches will name that base\n`);
    let text = await repo.show(base, 'mm/zswap.c');
    let tip = base;
    let clock = 1736164800;
    for (const p of [COMMENT, NO_REFERENCE]) {
      text = p.change(text);
      tip = await repo.commitFile(tip, 'mm/zswap.c', text, ANIKA, `${clock++} +0000`, p.message);
    }
    const mbox = await repo.formatPatchMbox(base, tip, { who: ANIKA, date: `${clock} +0000` });
    const file = path.join(outDir, 'zswap-6.1-load-demo.mbox');
    await writeFile(file, mbox);
    process.stdout.write(`${file}\n`);
    await writeBugs(repo, base, here);
  } finally {
    await repo.dispose();
  }
}

await main();
