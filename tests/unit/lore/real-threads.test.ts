import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSeries } from '../../../src/lore/fetch.js';
import type { Series } from '../../../src/lore/schema.js';
import { b4am, type Patch } from './b4.js';

// Real zswap threads from the public linux-kernel / linux-mm archives (tests/fixtures/lore/real,
// see its README.md), every version of each series in one mbox. For every fixture and version
// this runs `b4 am` (0.16, offline) on the same mbox, asserts what b4 collects, and checks that
// fetchSeries() gives the same patches and trailers, except where a case lists a difference:
// then it says why we are right and asserts our side of it, so the difference cannot drift.

const REAL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/lore/real');
const fixturePath = (name: string): string => path.join(REAL, `${name}.mbox`);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'kh-real-threads-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Our side in the same shape: subjects as series.mbox has them, every trailer as a line. */
function ours(series: Series, mbox: string): Patch[] {
  const subjects = [...mbox.matchAll(/^Subject: (.*)$/gm)].map((m) => m[1] as string);
  expect(subjects).toHaveLength(series.patches.length);
  return series.patches.map((p, i) => ({
    subject: subjects[i] as string,
    trailers: p.trailers.map((t) => `${t.name}: ${t.value}`),
  }));
}

// People, as their trailers spell them.
const HANNES = 'Johannes Weiner <hannes@cmpxchg.org>';
const NHAT = 'Nhat Pham <nphamcs@gmail.com>';
const YOSRY = 'Yosry Ahmed <yosryahmed@google.com>';
const CHRIS = 'Chris Li <chrisl@kernel.org>';
const CHENGMING = 'Chengming Zhou <zhouchengming@bytedance.com>';
const sob = (who: string): string => `Signed-off-by: ${who}`;
const acked = (who: string): string => `Acked-by: ${who}`;
const reviewed = (who: string): string => `Reviewed-by: ${who}`;

/** A deliberate difference: what we give instead, and why that is right. */
interface Difference {
  why: string;
  /** Our series: its version and patches; or the error we refuse with. */
  ours: { version: number; patches: Patch[] } | { error: RegExp };
}

interface Case {
  fixture: string;
  /** `-v N` for b4 and `{ version }` for us; absent: both pick the default (the newest). */
  version?: number;
  /** What b4 is pointed at: the cover of that version, or its first patch. */
  msgid: string;
  b4: { patches: Patch[]; incomplete?: boolean };
  /** Absent: ours equals b4's exactly. */
  differs?: Difference;
}

// ---- zswap-writeback-race: Chengming Zhou, "mm/zswap: fix race between lru writeback and swapoff"
const WBR_V1 = '20240126083015.3557006-1-chengming.zhou@linux.dev';
const WBR_V2 = '20240126-zswap-writeback-race-v2-0-b10479847099@bytedance.com';
const WBR_FIXES = 'Fixes: b5ba474f3f51 ("zswap: shrink zswap pool based on memory pressure")';
const WBR_V2_PATCHES: Patch[] = [
  {
    subject: "[PATCH v2 1/3] mm/zswap: don't return LRU_SKIP if we have dropped lru lock",
    trailers: [WBR_FIXES, acked(HANNES), reviewed(NHAT), sob(CHENGMING), acked(YOSRY)],
  },
  { subject: '[PATCH v2 2/3] mm/zswap: fix race between lru writeback and swapoff', trailers: [acked(HANNES), acked(NHAT), sob(CHENGMING)] },
  { subject: '[PATCH v2 3/3] mm/list_lru: remove list_lru_putback()', trailers: [sob(CHENGMING), acked(HANNES), acked(YOSRY)] },
];

// ---- zswap-global-lru: Chengming Zhou, "mm/zswap: optimize for dynamic zswap_pools"
const GLRU_V1 = '20240210-zswap-global-lru-v1-0-853473d7b0da@bytedance.com';
const GLRU_V2 = '20240210-zswap-global-lru-v2-0-fbee3b11a62e@bytedance.com';
const GLRU_V3 = '20240210-zswap-global-lru-v3-0-200495333595@bytedance.com';
const GLRU_V3_PATCHES: Patch[] = [
  { subject: '[PATCH v3 1/2] mm/zswap: global lru and shrinker shared by all zswap_pools', trailers: [acked(YOSRY), sob(CHENGMING)] },
  { subject: '[PATCH v3 2/2] mm/zswap: change zswap_pool kref to percpu_ref', trailers: [sob(CHENGMING), reviewed(NHAT)] },
];
// The "[PATCH mm-unstable] ... fix" reply to v3 1/2 is a fix-up with trailers of its own (its
// Fixes:, Closes:, and Johannes Weiner's ack of the fix-up): none of them is v3 1/2's, as b4 has it.
// We apply it right after v3 1/2 (where Andrew's tree put it); b4 leaves it out of v3.
const GLRU_FIX_TRAILERS = [
  'Fixes: bf9b7df23cb3 ("mm/zswap: global lru and shrinker shared by all zswap_pools")',
  'Reported-by: kernel test robot <oliver.sang@intel.com>',
  'Closes: https://lore.kernel.org/oe-lkp/202403051008.a8cf8a94-lkp@intel.com',
  'Signed-off-by: Chengming Zhou <chengming.zhou@linux.dev>',
  acked(HANNES),
];
const GLRU_V3_WITH_FIXUP: Patch[] = [
  GLRU_V3_PATCHES[0] as Patch,
  { subject: '[PATCH v3 1/2 fixup] mm/zswap: global lru and shrinker shared by all zswap_pools fix', trailers: GLRU_FIX_TRAILERS },
  GLRU_V3_PATCHES[1] as Patch,
];
const GLRU_FIXUP_WHY = 'the "... fix" patch sent in reply to v3 1/2 is a fix-up of it: applied right after 1/2, with its own trailers; b4 -v 3 leaves it out';

// ---- zswap-invalidate-old-entry: Chengming Zhou, "mm/zswap: invalidate old entry when store fail or !zswap_enabled"
const INV_V1 = '20240204083411.3762683-1-chengming.zhou@linux.dev';
const INV_V2 = '20240207025827.3819141-1-chengming.zhou@linux.dev';
const INV_V3 = '20240207033857.3820921-1-chengming.zhou@linux.dev';
const INV_V4 = '20240207115406.3865746-1-chengming.zhou@linux.dev';
const INV_SUBJECT = 'mm/zswap: invalidate old entry when store fail or !zswap_enabled';
const INV_FIXES = 'Fixes: 42c06a0e8ebe ("mm: kill frontswap")';
const B4_STABLE = 'Cc: stable@vger.kernel.org';
const OUR_STABLE = 'Cc: <stable@vger.kernel.org>';
const CC_WHY = "the author wrote 'Cc: <stable@vger.kernel.org>': we keep the author's own trailer verbatim, b4 rewrites it";
const INV_V4_B4 = [INV_FIXES, B4_STABLE, acked(HANNES), acked(YOSRY), acked(CHRIS), sob(CHENGMING), acked(NHAT)];
const INV_V4_OURS = [INV_FIXES, OUR_STABLE, acked(HANNES), acked(YOSRY), acked(CHRIS), sob(CHENGMING), acked(NHAT)];

// ---- zswap-lock-optimize: Chengming Zhou, "mm/zswap: optimize the scalability of zswap rb-tree"
const LOCK_V1 = '20240117-b4-zswap-lock-optimize-v1-0-23f6effe5775@bytedance.com';
const LOCK_V2 = '20240117-b4-zswap-lock-optimize-v2-0-b5cc55479090@bytedance.com';
const LOCK_V2_PATCHES: Patch[] = [
  {
    subject: '[PATCH v2 1/2] mm/zswap: make sure each swapfile always have zswap rb-tree',
    trailers: [acked(NHAT), acked(HANNES), acked(YOSRY), sob(CHENGMING)],
  },
  { subject: '[PATCH v2 2/2] mm/zswap: split zswap rb-tree', trailers: [acked(HANNES), acked(NHAT), sob(CHENGMING), acked(YOSRY)] },
];

// ---- zswap-swapoff: Yosry Ahmed, "mm: zswap: simplify zswap_swapoff()"
const SWAPOFF_V1 = '20240120024007.2850671-1-yosryahmed@google.com';
const SWAPOFF_V2 = '20240124045113.415378-1-yosryahmed@google.com';
const SWAPOFF_V2_PATCHES: Patch[] = [
  {
    subject: '[PATCH v2 1/2] mm: swap: enforce updating inuse_pages at the end of swap_range_free()',
    trailers: [sob(YOSRY), reviewed('"Huang, Ying" <ying.huang@intel.com>')],
  },
  {
    subject: '[PATCH v2 2/2] mm: zswap: remove unnecessary trees cleanups in zswap_swapoff()',
    trailers: [sob(YOSRY), reviewed(CHENGMING)],
  },
];

const CASES: Case[] = [
  {
    fixture: 'zswap-writeback-race',
    version: 1,
    msgid: WBR_V1,
    b4: {
      patches: [
        {
          subject: "[PATCH 1/2] mm/zswap: don't return LRU_SKIP if we have dropped lru lock",
          trailers: [WBR_FIXES, sob(CHENGMING), acked(HANNES), reviewed(NHAT)],
        },
        { subject: '[PATCH 2/2] mm/zswap: fix race between lru writeback and swapoff', trailers: [sob(CHENGMING), acked(HANNES), acked(NHAT)] },
      ],
    },
  },
  { fixture: 'zswap-writeback-race', version: 2, msgid: WBR_V2, b4: { patches: WBR_V2_PATCHES } },
  { fixture: 'zswap-writeback-race', msgid: WBR_V2, b4: { patches: WBR_V2_PATCHES } },

  {
    fixture: 'zswap-global-lru',
    version: 1,
    msgid: GLRU_V1,
    b4: {
      patches: [
        { subject: '[PATCH 1/2] mm/zswap: global lru and shrinker shared by all zswap_pools', trailers: [sob(CHENGMING)] },
        { subject: '[PATCH 2/2] mm/zswap: change zswap_pool kref to percpu_ref', trailers: [sob(CHENGMING)] },
      ],
    },
  },
  {
    fixture: 'zswap-global-lru',
    version: 2,
    msgid: GLRU_V2,
    b4: { incomplete: true, patches: [{ subject: '[PATCH v2 2/2] mm/zswap: change zswap_pool kref to percpu_ref', trailers: [sob(CHENGMING)] }] },
    differs: {
      why: 'v2 1/2 is not in the archive: a series without its first patch does not apply, so we refuse where b4 warns and writes 2/2 alone',
      ours: { error: /v2 is missing patch 1\/2/ },
    },
  },
  { fixture: 'zswap-global-lru', version: 3, msgid: GLRU_V3, b4: { patches: GLRU_V3_PATCHES }, differs: { why: GLRU_FIXUP_WHY, ours: { version: 3, patches: GLRU_V3_WITH_FIXUP } } },
  {
    fixture: 'zswap-global-lru',
    msgid: GLRU_V3,
    b4: {
      patches: [
        {
          subject: '[PATCH] mm/zswap: global lru and shrinker shared by all zswap_pools fix',
          trailers: GLRU_FIX_TRAILERS,
        },
      ],
    },
    differs: {
      why: `b4 takes the "[PATCH mm-unstable] ... fix" reply to v3 1/2 as a newer revision of the series; the newest series is v3, and ${GLRU_FIXUP_WHY}`,
      ours: { version: 3, patches: GLRU_V3_WITH_FIXUP },
    },
  },

  {
    fixture: 'zswap-invalidate-old-entry',
    version: 1,
    msgid: INV_V1,
    b4: { patches: [{ subject: `[PATCH] ${INV_SUBJECT}`, trailers: [sob(CHENGMING)] }] },
    differs: {
      why: "the archive lost the replies between v1 and Johannes Weiner's ack; its References name v1 as the patch acked, so we keep the ack b4 drops",
      ours: { version: 1, patches: [{ subject: `[PATCH] ${INV_SUBJECT}`, trailers: [sob(CHENGMING), acked(HANNES)] }] },
    },
  },
  {
    fixture: 'zswap-invalidate-old-entry',
    version: 2,
    msgid: INV_V2,
    b4: { patches: [{ subject: `[PATCH v2] ${INV_SUBJECT}`, trailers: [INV_FIXES, B4_STABLE, acked(HANNES), sob(CHENGMING), acked(YOSRY)] }] },
    differs: {
      why: CC_WHY,
      ours: { version: 2, patches: [{ subject: `[PATCH v2] ${INV_SUBJECT}`, trailers: [INV_FIXES, OUR_STABLE, acked(HANNES), sob(CHENGMING), acked(YOSRY)] }] },
    },
  },
  {
    fixture: 'zswap-invalidate-old-entry',
    version: 3,
    msgid: INV_V3,
    b4: { patches: [{ subject: `[PATCH v3] ${INV_SUBJECT}`, trailers: [INV_FIXES, B4_STABLE, acked(HANNES), acked(YOSRY), sob(CHENGMING)] }] },
    differs: {
      why: `${CC_WHY}; and Chris Li's ack lost its parent in the archive, but its References name v3, so we keep the ack b4 drops`,
      ours: {
        version: 3,
        patches: [{ subject: `[PATCH v3] ${INV_SUBJECT}`, trailers: [INV_FIXES, OUR_STABLE, acked(HANNES), acked(YOSRY), sob(CHENGMING), acked(CHRIS)] }],
      },
    },
  },
  {
    fixture: 'zswap-invalidate-old-entry',
    version: 4,
    msgid: INV_V4,
    b4: { patches: [{ subject: `[PATCH v4] ${INV_SUBJECT}`, trailers: INV_V4_B4 }] },
    differs: { why: CC_WHY, ours: { version: 4, patches: [{ subject: `[PATCH v4] ${INV_SUBJECT}`, trailers: INV_V4_OURS }] } },
  },
  {
    fixture: 'zswap-invalidate-old-entry',
    msgid: INV_V4,
    b4: {
      patches: [
        {
          subject: '[PATCH] mm/zswap: optimize and cleanup the invalidation of duplicate entry',
          trailers: [acked(HANNES), acked(YOSRY), acked(CHRIS), acked(NHAT), sob(CHENGMING)],
        },
      ],
    },
    differs: {
      why: 'b4 takes the "[PATCH mm-unstable] ... optimize and cleanup" follow-up sent in reply to v4 as a newer revision; it is a separate patch on top, the newest version of the series is v4',
      ours: { version: 4, patches: [{ subject: `[PATCH v4] ${INV_SUBJECT}`, trailers: INV_V4_OURS }] },
    },
  },

  {
    fixture: 'zswap-lock-optimize',
    version: 1,
    msgid: LOCK_V1,
    b4: {
      incomplete: true,
      patches: [{ subject: '[PATCH 1/2] mm/zswap: make sure each swapfile always have zswap rb-tree', trailers: [sob(CHENGMING), acked(HANNES)] }],
    },
    differs: {
      why: 'v1 2/2 is not in the archive: we refuse an incomplete series where b4 warns and writes 1/2 alone',
      ours: { error: /v1 is missing patch 2\/2/ },
    },
  },
  { fixture: 'zswap-lock-optimize', version: 2, msgid: LOCK_V2, b4: { patches: LOCK_V2_PATCHES } },
  { fixture: 'zswap-lock-optimize', msgid: LOCK_V2, b4: { patches: LOCK_V2_PATCHES } },

  {
    fixture: 'zswap-swapoff',
    version: 1,
    msgid: SWAPOFF_V1,
    b4: {
      patches: [
        { subject: '[PATCH 1/2] mm: swap: update inuse_pages after all cleanups are done', trailers: [sob(YOSRY)] },
        { subject: '[PATCH 2/2] mm: zswap: remove unnecessary tree cleanups in zswap_swapoff()', trailers: [sob(YOSRY), acked(CHRIS)] },
      ],
    },
    // Chris Li's "Acked-by: Chris Li <chrisl@kernel.org> (Google)": the affiliation after the
    // address is not part of the ack; b4 and we both drop it.
  },
  { fixture: 'zswap-swapoff', version: 2, msgid: SWAPOFF_V2, b4: { patches: SWAPOFF_V2_PATCHES } },
  { fixture: 'zswap-swapoff', msgid: SWAPOFF_V2, b4: { patches: SWAPOFF_V2_PATCHES } },
];

/** Messages per fixture, as README.md lists them. */
const MESSAGES: Record<string, number> = {
  'zswap-writeback-race': 14,
  'zswap-global-lru': 15,
  'zswap-invalidate-old-entry': 13,
  'zswap-lock-optimize': 8,
  'zswap-swapoff': 9,
};

const label = (c: Case): string => `${c.fixture} ${c.version === undefined ? 'default (newest)' : `-v ${c.version}`}`;

describe('real zswap threads: kharness vs b4 am', () => {
  it('has a case for every fixture file and every version in it', async () => {
    const files = (await readdir(REAL)).filter((f) => f.endsWith('.mbox')).map((f) => f.replace(/\.mbox$/, ''));
    expect(files.sort()).toEqual(Object.keys(MESSAGES).sort());
    for (const name of files) {
      const raw = await readFile(fixturePath(name), 'latin1');
      expect(raw.startsWith('From mboxrd@z Thu Jan  1 00:00:00 1970\n'), name).toBe(true);
      expect((raw.match(/^From mboxrd@z Thu Jan {2}1 00:00:00 1970$/gm) ?? []).length, name).toBe(MESSAGES[name]);
      const { series } = await fetchSeries(fixturePath(name), { cache: false });
      const covered = CASES.filter((c) => c.fixture === name);
      expect(
        covered.filter((c) => c.version !== undefined).map((c) => c.version),
        `${name}: versions with a case`,
      ).toEqual(series.versions);
      expect(covered.some((c) => c.version === undefined), `${name}: default case`).toBe(true);
    }
  });

  for (const c of CASES) {
    it(`${label(c)}: b4 collects what we expect, and we match it${c.differs ? ' except where listed' : ''}`, async () => {
      const mbox = fixturePath(c.fixture);
      const b4 = await b4am(mbox, c.msgid, { version: c.version, dir: scratch });
      expect(b4.patches, 'b4 am output').toEqual(c.b4.patches);
      expect(b4.incomplete, 'b4 "Thread incomplete"').toBe(c.b4.incomplete ?? false);

      const run = fetchSeries(mbox, { version: c.version, cache: false });
      const expected = c.differs?.ours;
      if (expected && 'error' in expected) {
        await expect(run).rejects.toThrow(expected.error);
        return;
      }
      const { series, mbox: ourMbox } = await run;
      const got = ours(series, ourMbox);
      if (expected) {
        expect(got, `ours (differs from b4: ${c.differs!.why})`).toEqual(expected.patches);
        expect(series.version).toBe(expected.version);
        // The difference itself: if we ever agree with b4 here, the listed reason is stale.
        expect(got).not.toEqual(c.b4.patches);
      } else {
        expect(got, 'ours == b4').toEqual(c.b4.patches);
        if (c.version !== undefined) expect(series.version).toBe(c.version);
      }
    });
  }
});
