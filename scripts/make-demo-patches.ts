/**
 * Regenerates the bundled demo series in patches/ (run from the repo root):
 *
 *   npx vite-node scripts/make-demo-patches.ts [KERNEL_TREE]
 *
 * Two lore-format thread mboxes (mboxrd, one thread per file, as `kharness serve-lore patches`
 * serves them), each patch real `git format-patch --base` output against the Debian 6.12 tree
 * (~/.cache/kharness/trees/debian-6.12 by default, HEAD fa8f9df0f573) touching only mm/zswap.c:
 *
 * - zswap-swapoff-cleanup.mbox: a clean 2-patch series (no functional change), with reviews;
 * - zswap-lifetime-demo.mbox: a 3-patch series whose 2/3 frees the entry in zswap_invalidate()
 *   but leaves it in the xarray (xa_load instead of xa_erase), acked by a reviewer who missed it.
 *
 * The kernel tree is only read: commits are made with plumbing in a bare `--shared` clone under
 * /tmp (src/lore/thread-writer.ts). Dates, Message-IDs and commit ids are fixed, so a rerun
 * reproduces the same bytes. People and addresses are made up.
 */
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScratchRepo, Thread, addr, fillCover, onWrote, quotedPatch, type Mail, type Person } from '../src/lore/thread-writer.js';
import { BASE_COMMIT, entryPointComments, invalidateWithoutErase, sizeofTrees, treesEmptyHelper } from './zswap-edits.js';

const PRIYA: Person = { name: 'Priya Raman', email: 'priya.raman@example.com' };
const TOMASZ: Person = { name: 'Tomasz Wielgus', email: 'tomasz.wielgus@example.org' };
const HANNAH: Person = { name: 'Hannah Voss', email: 'hvoss@example.org' };
const MARCO: Person = { name: 'Marco Bianchi', email: 'marco.bianchi@example.com' };
const KENJI: Person = { name: 'Kenji Sato', email: 'kenji.sato@example.org' };

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, '..', 'patches');

const sob = (p: Person): string => `Signed-off-by: ${p.name} <${p.email}>`;
const who = (p: Person): string => `${p.name} <${p.email}>`;

/** "Mon, Nov 18, 2024 at 09:30:12AM +0000", as mutt writes the attribution. */
function attribution(epoch: number, minutes: number): string {
  const d = new Date(epoch + minutes * 60_000);
  // toUTCString(): "Mon, 18 Nov 2024 09:30:12 GMT"
  const [wd, , mon, year] = d.toUTCString().split(' ');
  const h = d.getUTCHours();
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${wd} ${mon} ${d.getUTCDate()}, ${year} at ${pad(h % 12 === 0 ? 12 : h % 12)}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${h < 12 ? 'AM' : 'PM'} +0000`;
}

async function main(): Promise<void> {
  const tree = process.argv[2] ?? path.join(homedir(), '.cache', 'kharness', 'trees', 'debian-6.12');
  const repo = await ScratchRepo.create(tree, 'kh-demo-patches-');
  try {
    await mkdir(outDir, { recursive: true });
    const base = await repo.git(['rev-parse', 'HEAD']);
    if (base !== BASE_COMMIT) process.stderr.write(`warning: ${tree} HEAD is ${base}, not ${BASE_COMMIT}: the patches will name that base\n`);
    const zswap0 = await repo.show(base, 'mm/zswap.c');
    const commit = (parent: string, content: string, author: Person, date: string, message: string): Promise<string> =>
      repo.commitFile(parent, 'mm/zswap.c', content, author, date, message);

    // ------------------------------------------------ zswap-swapoff-cleanup: clean, 2 patches
    {
      const helperText = treesEmptyHelper(zswap0);
      const p1 = await commit(
        base,
        helperText,
        PRIYA,
        '1731922200 +0000',
        `mm: zswap: factor the empty-tree check out of zswap_swapoff()

zswap_swapoff() open-codes a loop over the trees of the swap type that
warns if any of them still holds an entry. try_to_unuse() has already
invalidated every entry by the time we get here, so the loop is only an
assertion, but it makes the teardown read as more than it is.

Move the check into a small helper, zswap_trees_empty(), and warn on
its result. The warning still fires at most once, as before.

No functional change intended.

${sob(PRIYA)}`,
      );
      const p2 = await commit(
        p1,
        sizeofTrees(helperText),
        PRIYA,
        '1731922201 +0000',
        `mm: zswap: size the trees array by its own element in zswap_swapon()

zswap_swapon() declares a second struct xarray pointer only to spell
sizeof(*tree) in the kvcalloc() call. Use sizeof(*trees), which ties the
size to the array being allocated, and drop the extra variable.

No functional change intended.

${sob(PRIYA)}`,
      );

      const epoch = Date.UTC(2024, 10, 18, 9, 30, 12);
      const t = new Thread('zswap-swapoff-cleanup', 'cleanup', { epoch });
      const s = await repo.formatPatch(base, p2, { cover: true, who: PRIYA, date: '1731922212 +0000' });
      const cc = [who(TOMASZ), who(HANNAH)];
      const cover = fillCover(
        s[0] as Mail,
        'mm: zswap: two small swapon/swapoff cleanups',
        `Two cleanups that fell out of reading the swapoff path while following
the zswap tree lifetime discussion on this list. Neither changes
behaviour:

- patch 1 moves the "no entries left" assertion of zswap_swapoff() into
  a helper;
- patch 2 sizes the trees array in zswap_swapon() by its own element.

Tested with swapon/swapoff loops on two swap devices under memory
pressure, with zswap and its shrinker enabled: no warnings, and the
zswap selftests pass.`,
      );
      const id = (n: number): string => `20241118093012.118204-${n}-priya.raman@example.com`;
      const c = t.add({ ...cover, cc }, { minutes: 0, id: id(1) });
      const m1 = t.add({ ...(s[1] as Mail), cc }, { minutes: 0, parent: c, id: id(2) });
      const m2 = t.add({ ...(s[2] as Mail), cc }, { minutes: 0, parent: c, id: id(3) });
      t.add(
        {
          from: addr(TOMASZ),
          subject: `Re: ${(s[1] as Mail).subject}`,
          body: `${onWrote(attribution(epoch, 0), PRIYA)}
${quotedPatch((s[1] as Mail).body, 30)}

The helper reads better, and WARN_ON_ONCE() on the result keeps the
once-only behaviour of the loop.

Reviewed-by: ${who(TOMASZ)}
`,
        },
        { minutes: 140, parent: m1, id: 'Zzt7kQ1tw-cleanup-1@example.org' },
      );
      t.add(
        {
          from: addr(TOMASZ),
          subject: `Re: ${(s[2] as Mail).subject}`,
          body: `${onWrote(attribution(epoch, 0), PRIYA)}
${quotedPatch((s[2] as Mail).body, 12)}

Reviewed-by: ${who(TOMASZ)}
`,
        },
        { minutes: 146, parent: m2, id: 'Zzt7kQ1tw-cleanup-2@example.org' },
      );
      t.add(
        {
          from: addr(HANNAH),
          subject: `Re: ${cover.subject}`,
          body: `${onWrote(attribution(epoch, 0), PRIYA)}
> Two cleanups that fell out of reading the swapoff path while following
> the zswap tree lifetime discussion on this list. Neither changes
> behaviour:

For the series:

Acked-by: ${who(HANNAH)}
`,
        },
        { minutes: 1310, parent: c, id: '87h6zq1x2f.fsf@hvoss.example.org' },
      );
      process.stdout.write(`${await t.write(outDir)}\n`);
    }

    // ------------------------------------------------ zswap-lifetime-demo: 3 patches, 2/3 is the bug
    {
      const helperText = treesEmptyHelper(zswap0);
      const buggy = invalidateWithoutErase(helperText);
      const p1 = await commit(
        base,
        helperText,
        MARCO,
        '1733148300 +0000',
        `mm: zswap: move the swapoff emptiness check into a helper

zswap_swapoff() walks the trees of the swap type and warns if one of
them still holds an entry, in a loop whose only purpose is that
assertion. Move the walk into zswap_trees_empty() so the teardown
reads as what it is: check, free, unpublish.

No functional change intended.

${sob(MARCO)}`,
      );
      const p2 = await commit(
        p1,
        buggy,
        MARCO,
        '1733148301 +0000',
        `mm: zswap: avoid the xarray erase in zswap_invalidate()

zswap_invalidate() runs for every swap slot that is freed, often with
the swap device lock held, and it always does an xa_erase(): a locked
walk of the tree that also has to shrink the xarray nodes it empties.

None of that is needed. The slot is about to be freed, so nothing can
look the entry up through it any more: swapin and writeback both pin
the slot first, and a free slot is not handed out again until it has
gone back to the allocator. When it is reused, the next zswap_store()
at this offset replaces the stale pointer anyway, with the xa_store()
it does unconditionally.

So find the entry with xa_load(), which only needs the RCU read lock,
and free it. This takes the xarray lock off the swap-free path; in a
kernel build in a 1G memcg the time spent in zswap_invalidate() drops
by about a third.

${sob(MARCO)}`,
      );
      const p3 = await commit(
        p2,
        entryPointComments(buggy),
        MARCO,
        '1733148302 +0000',
        `mm: zswap: document the swap entry points

zswap_store(), zswap_load() and zswap_invalidate() are called from the
swap core with different guarantees, and what their return values mean
for the caller is only visible from reading mm/page_io.c. Add a short
comment to each.

No code change.

${sob(MARCO)}`,
      );

      const epoch = Date.UTC(2024, 11, 2, 14, 5, 33);
      const t = new Thread('zswap-lifetime-demo', 'lifetime', { epoch });
      const s = await repo.formatPatch(base, p3, { cover: true, who: MARCO, date: '1733148333 +0000' });
      const cc = [who(KENJI), who(HANNAH), who(TOMASZ)];
      const cover = fillCover(
        s[0] as Mail,
        'mm: zswap: trim the swap-free path',
        `zswap_invalidate() runs for every swap slot that is freed, usually with
the swap device lock held, and shows up in profiles of swap-heavy
workloads. This series:

- 1/3 moves the "no entries left" assertion of zswap_swapoff() into a
  helper (no functional change);
- 2/3 replaces the xa_erase() in zswap_invalidate() with a lookup;
- 3/3 documents what the entry points expect from their callers.

Tested with kernel builds in a 1G memcg with zswap and the shrinker
enabled: about 3% less system time, no errors.`,
      );
      const id = (n: number): string => `20241202140533.77310-${n}-marco.bianchi@example.com`;
      const c = t.add({ ...cover, cc }, { minutes: 0, id: id(1) });
      const m1 = t.add({ ...(s[1] as Mail), cc }, { minutes: 0, parent: c, id: id(2) });
      const m2 = t.add({ ...(s[2] as Mail), cc }, { minutes: 0, parent: c, id: id(3) });
      const m3 = t.add({ ...(s[3] as Mail), cc }, { minutes: 0, parent: c, id: id(4) });
      t.add(
        {
          from: addr(HANNAH),
          subject: `Re: ${(s[1] as Mail).subject}`,
          body: `${onWrote(attribution(epoch, 0), MARCO)}
${quotedPatch((s[1] as Mail).body, 24)}

Reviewed-by: ${who(HANNAH)}
`,
        },
        { minutes: 95, parent: m1, id: '87zf3x0q1c.fsf@hvoss.example.org' },
      );
      t.add(
        {
          from: addr(KENJI),
          subject: `Re: ${(s[2] as Mail).subject}`,
          body: `${onWrote(attribution(epoch, 0), MARCO)}
${quotedPatch((s[2] as Mail).body, 9)}

Nice. xa_erase() is visible in my swap-free profiles as well, and the
stale pointer is indeed dealt with by the store path: xa_store() hands
back whatever was at the offset and zswap_store() frees it.

Acked-by: ${who(KENJI)}
`,
        },
        { minutes: 260, parent: m2, id: 'CAKs4t0-kenji-lifetime-2@mail.example.org' },
      );
      t.add(
        {
          from: addr(TOMASZ),
          subject: `Re: ${(s[3] as Mail).subject}`,
          body: `${onWrote(attribution(epoch, 0), MARCO)}
${quotedPatch((s[3] as Mail).body, 16)}

Reviewed-by: ${who(TOMASZ)}
`,
        },
        { minutes: 1450, parent: m3, id: 'Z03mP7tw-lifetime-3@example.org' },
      );
      process.stdout.write(`${await t.write(outDir)}\n`);
    }
  } finally {
    await repo.dispose();
  }
}

await main();
