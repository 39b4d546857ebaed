import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { venvBin } from '../../../src/common/paths.js';

// `b4 am` (0.16, from PyPI, installed by scripts/setup.sh into .venv), run offline on an mbox
// the way a maintainer would, and its output read without kharness code, so a comparison with
// b4 cannot agree with us by sharing our parser.

/** One patch: its full subject (`[PATCH v2 1/3] ...`) and the trailer lines of its commit message. */
export interface Patch {
  subject: string;
  trailers: string[];
}

export interface B4Result {
  patches: Patch[];
  /** b4 said "Thread incomplete" and wrote only the patches it had. */
  incomplete: boolean;
  /** The revision b4 reported it assembled ("Assuming new revision" / the [PATCH vN] prefix). */
  log: string;
}

/** The trailers b4 wrote: the lines of the commit message's last paragraph that look like `Name: value`. */
function commitTrailers(body: string): string[] {
  // where git am ends the message: the `---` line, or a diff made without git (`--- a/…`, `diff -`)
  const cut = body.search(/^(?:---$|--- \S|diff -)/m);
  const message = (cut === -1 ? body : body.slice(0, cut)).replace(/\s+$/, '');
  const paragraphs = message.split(/\n[ \t]*\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  return last.split('\n').filter((l) => /^[A-Za-z0-9-]+: /.test(l));
}

/**
 * Reads b4's .mbx on its own terms (no kharness parsing in the loop): messages split at b4's
 * `From git@z` lines, folded Subject unfolded. b4 writes 7bit/8bit text, so no decoding is needed;
 * anything else fails here rather than being compared wrongly.
 */
function parseB4Mbx(text: string): Patch[] {
  const parts = text.split(/^From git@z Thu Jan {2}1 00:00:00 1970\n/m).slice(1);
  return parts.map((part) => {
    const sep = part.indexOf('\n\n');
    const header = part.slice(0, sep).replace(/\n[ \t]+/g, ' ');
    const body = part.slice(sep + 2);
    const cte = /^Content-Transfer-Encoding: *(\S+)/im.exec(header)?.[1]?.toLowerCase();
    if (cte && cte !== '7bit' && cte !== '8bit') throw new Error(`b4 wrote a ${cte} body; parseB4Mbx cannot read it`);
    const subject = /^Subject: (.*)$/m.exec(header)?.[1];
    if (subject === undefined) throw new Error(`b4 wrote a message without Subject: ${header.slice(0, 200)}`);
    return { subject, trailers: commitTrailers(body) };
  });
}

/**
 * `b4 --offline-mode am -C -m <mbox> -o <dir> [-v N] <msgid>` with a HOME, cache and config of
 * its own. b4 missing is a failure, not a skip: scripts/setup.sh installs it into .venv.
 */
export async function b4am(mbox: string, msgid: string, opts: { version?: number; dir: string }): Promise<B4Result> {
  const { version } = opts;
  const b4 = venvBin('b4');
  if (!existsSync(b4)) throw new Error(`${b4} is missing: run bash scripts/setup.sh (this comparison must not be skipped)`);
  const run = await mkdtemp(path.join(opts.dir, 'b4-'));
  const home = path.join(run, 'home');
  const outDir = path.join(run, 'out');
  await mkdir(home);
  const args = ['--offline-mode', 'am', '-C', '-m', mbox, '-o', outDir, ...(version === undefined ? [] : ['-v', String(version)]), msgid];
  const result = await execa(b4, args, {
    cwd: run,
    reject: false,
    env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' },
  });
  const log = `${String(result.stdout)}\n${String(result.stderr)}`;
  if (result.exitCode !== 0) throw new Error(`b4 am failed (exit ${result.exitCode}): ${log}`);
  const mbx = (await readdir(outDir)).filter((f) => f.endsWith('.mbx'));
  if (mbx.length !== 1) throw new Error(`b4 am wrote ${mbx.length} .mbx files: ${log}`);
  const patches = parseB4Mbx(await readFile(path.join(outDir, mbx[0]!), 'utf8'));
  return { patches, incomplete: /Thread incomplete/.test(log), log };
}
