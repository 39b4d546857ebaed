import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { venvBin } from '../../../src/common/paths.js';
import { splitMbox } from '../../../src/lore/mbox.js';
import { parseMessage } from '../../../src/lore/message.js';
import { ownTrailers } from '../../../src/lore/trailers.js';

/** One patch as `b4 am` wrote it: its Subject and the trailer lines of its commit message. */
export interface B4Patch {
  subject: string;
  trailers: string[];
  /** The body as b4 wrote it, for what git am will see. */
  body: string;
}

/**
 * Runs b4 0.16 (installed by scripts/setup.sh into .venv) offline on an mbox, the way a
 * maintainer would: `b4 am -m <mbox> [-v N] <msgid>`, with a HOME of its own so no user
 * config or cache changes what it collects. Throws when b4 is missing: a comparison with b4
 * that silently did not run would prove nothing.
 */
export async function b4am(mbox: string, msgid: string, opts: { version?: number; dir: string }): Promise<B4Patch[]> {
  const b4 = venvBin('b4');
  if (!existsSync(b4)) throw new Error(`${b4} is missing: run bash scripts/setup.sh`);
  const outDir = path.join(opts.dir, `b4-out-${Math.random().toString(36).slice(2)}`);
  const home = path.join(opts.dir, 'b4-home');
  await mkdir(home, { recursive: true });
  const args = ['--offline-mode', 'am', '-C', '-m', mbox, '-o', outDir, '-n', 'series', ...(opts.version ? ['-v', String(opts.version)] : []), msgid];
  const result = await execa(b4, args, {
    reject: false,
    env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' },
  });
  if (result.exitCode !== 0) throw new Error(`b4 am failed (exit ${result.exitCode}): ${result.stderr}`);
  const mbx = (await readdir(outDir).catch(() => [])).find((f) => f.endsWith('.mbx'));
  if (!mbx) return [];
  const parsed = await Promise.all(splitMbox(await readFile(path.join(outDir, mbx))).map((raw, i) => parseMessage(raw, i)));
  return parsed.map((m) => ({ subject: m.subject.full, trailers: ownTrailers(m.body).map((t) => `${t.name}: ${t.value}`), body: m.body }));
}
