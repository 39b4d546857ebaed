import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli.js';
import type { VersionRecord } from '../../../src/robot/decide.js';
import { readState, statePath } from '../../../src/robot/state.js';
import { feedUrl, parseListUrl, versionsInThread, watch, type WatchOptions } from '../../../src/robot/watch.js';
import { coverBody, mails, patchBody, useTempCache } from '../lore/helpers.js';
import { LIST, useServedList } from './fixtures.js';

useTempCache();
const server = useServedList('kh-robot-list-');

interface Recorded {
  lines: string[];
  ran: VersionRecord[];
}

async function runWatch(over: Partial<WatchOptions>): Promise<Recorded> {
  const rec: Recorded = { lines: [], ran: [] };
  await watch({
    list: `${server().url}/linux-mm/`,
    query: 'dfn:mm/zswap.c',
    once: true,
    dryRun: false,
    intervalS: 1,
    run: async (v) => {
      rec.ran.push(v);
      return { reportDir: `/reports/${v.slug}`, verdict: 'pass' };
    },
    print: (l) => rec.lines.push(l),
    note: () => undefined,
    ...over,
  });
  return rec;
}

describe('kharness watch over serve-lore', () => {
  it('--dry-run --once lists exactly the v2 (not v1, the review, or the RESEND), and writes no state', async () => {
    const { lines, ran } = await runWatch({ dryRun: true });
    expect(lines).toEqual([`${LIST.v2}\tv2\t[PATCH v2 0/2] mm: zswap: tidy the store path`]);
    expect(ran).toEqual([]);
    await expect(readFile(statePath(`${server().url}/linux-mm`))).rejects.toThrow(/ENOENT/);
  });

  it('tests the v2 once, reuses its result for the RESEND, and a restarted watch tests nothing new', async () => {
    const first = await runWatch({});
    expect(first.ran.map((v) => v.key)).toEqual([LIST.v2]);
    expect(first.lines).toContain(`${LIST.resend}\tv2\tpass\t/reports/v2-mm-zswap-tidy-the-store-path (reused)`);
    const state = await readState(`${server().url}/linux-mm`);
    expect(state.versions[LIST.v1]?.status).toBe('superseded');
    expect(state.versions[LIST.v2]?.status).toBe('tested');
    expect(state.versions[LIST.resend]?.reusedFrom).toBe(LIST.v2);

    const requestsBefore = server().requests;
    const second = await runWatch({});
    expect(second.ran).toEqual([]);
    expect(second.lines).toEqual([]);
    // Only the feed was asked: every thread was read already.
    expect(server().requests - requestsBefore).toBe(1);
    const dry = await runWatch({ dryRun: true });
    expect(dry.lines).toEqual([]);
  });

  it('without a query, polls new.atom and finds the unrelated series too', async () => {
    const { lines } = await runWatch({ dryRun: true, query: undefined, list: `${server().url}/other-list` });
    expect(lines.map((l) => l.split('\t')[0])).toEqual([LIST.v2, LIST.other]);
  });

  it('the CLI: kharness watch URL --dry-run --once --query prints the same one line on stdout, exit 0', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.exitCode = undefined;
      await main(['node', 'kharness', 'watch', `${server().url}/fresh-list/`, '--dry-run', '--once', '--query', 'dfn:mm/zswap.c', '--since', '20240101']);
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    expect(process.exitCode).toBe(0);
    expect(out.join('')).toBe(`${LIST.v2}\tv2\t[PATCH v2 0/2] mm: zswap: tidy the store path\n`);
  });

  it('a version with a missing patch is not decided yet (the rest may still be on its way)', async () => {
    const notes: string[] = [];
    const thread = await mails([
      { id: 'c@x', subject: '[PATCH 0/2] mm: zswap: half sent', body: coverBody() },
      { id: 'p1@x', subject: '[PATCH 1/2] mm: zswap: one', body: patchBody(1), parent: 'c@x' },
    ]);
    expect(versionsInThread(thread, 'http://l/linux-mm', (l) => notes.push(l))).toEqual([]);
    expect(notes.join('\n')).toMatch(/skipped v1 of a thread for now: v1 is missing patch 2\/2/);
  });

  it('polls new.atom, or the search with --query and --since (as a d: range)', () => {
    const now = new Date('2024-12-06T12:00:00Z');
    const { listUrl } = parseListUrl('https://lore.kernel.org/linux-mm/');
    expect(listUrl).toBe('https://lore.kernel.org/linux-mm');
    expect(feedUrl(listUrl, undefined, undefined, now)).toBe('https://lore.kernel.org/linux-mm/new.atom');
    expect(feedUrl(listUrl, 'dfn:mm/zswap.c', '2.weeks.ago', now)).toBe('https://lore.kernel.org/linux-mm/?q=dfn%3Amm%2Fzswap.c+d%3A20241122..&x=A');
    expect(() => parseListUrl('https://lore.kernel.org/')).toThrow(/names no list/);
  });

  it('a run that breaks leaves its version queued for the next round, and the watch goes on', async () => {
    const list = `${server().url}/flaky-machine/`;
    const notes: string[] = [];
    const broken = await runWatch({ list, note: (l) => notes.push(l), run: () => Promise.reject(new Error('no space left on device')) });
    expect(broken.lines.filter((l) => !l.endsWith('(reused)'))).toEqual([]);
    expect(notes.join('\n')).toContain(`${LIST.v2}: the run broke (no space left on device); it stays queued`);
    expect((await readState(`${server().url}/flaky-machine`)).versions[LIST.v2]?.status).toBe('queued');
    const retried = await runWatch({ list });
    expect(retried.ran.map((v) => v.key)).toEqual([LIST.v2]);
  });

  it('a damaged state file stops the watch (exit 3) instead of testing every series again', async () => {
    const list = `${server().url}/damaged`;
    await mkdir(path.dirname(statePath(list)), { recursive: true });
    await writeFile(statePath(list), '{"schemaVersion": 1, "list": ');
    await expect(runWatch({ list })).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/is not valid JSON/) });
    await writeFile(statePath(list), JSON.stringify({ schemaVersion: 1, list, versions: { x: { key: 'x' } }, seen: [] }));
    await expect(readState(list)).rejects.toThrow(/is not a kharness robot state/);
  });
});
