import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InputError, errorMessage } from '../common/errors.js';
import { attestMessage, type Attestation, type AttestOptions, type TxtResolver } from './attest.js';
import type { MailMessage } from './message.js';
import type { AttestationRecord, Series } from './schema.js';

/**
 * Attestation of an assembled series: every patch mail checked as it was fetched, before anything
 * of it runs. Where keys come from (patatt's usual places and --keyring) and where DNS answers
 * come from (the system's resolver, or a file for tests) is decided here.
 */

/** TEST FACILITY: a JSON file of DKIM TXT records ({"sel._domainkey.example.com": "v=DKIM1; ..."}) instead of DNS. */
export const DNS_FILE_ENV = 'KHARNESS_DKIM_DNS_FILE';
export const KEYRING_HELP = 'a patatt keyring folder (DIR/ed25519/<domain>/<local>/<selector>) to check patch signatures against, before patatt\'s own; repeatable';
export const REQUIRE_ATTESTATION_HELP = 'refuse (exit 2), before anything is built, a series with a patch that has no good DKIM or patatt signature';

/** commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Patch mails checked at once: each patatt check runs one git mailinfo. */
const CONCURRENCY = 4;

// the lore schema mirrors attest.ts; this fails to compile when they drift apart
const mirrors = (a: Attestation): AttestationRecord => a;
void mirrors;

/** A resolver answering from a JSON file; a name it lacks does not exist (ENOTFOUND), as offline. */
export async function fileTxtResolver(file: string): Promise<TxtResolver> {
  let records: Record<string, unknown>;
  try {
    records = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`${DNS_FILE_ENV}=${file} is not a readable JSON file: ${errorMessage(err)}`);
  }
  return async (name) => {
    const record = Object.hasOwn(records, name) ? records[name] : undefined;
    if (typeof record === 'string') return [[record]];
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
}

/** patatt's own keyring folders: git config patatt.keyringsrc (plain folders; refs are not read) and its data dir's public/. */
export async function patattKeyrings(): Promise<string[]> {
  const dirs: string[] = [];
  const r = await execa('git', ['config', '--get-all', 'patatt.keyringsrc'], { reject: false, timeout: 10_000 });
  if (r.exitCode === 0) {
    for (const src of r.stdout.split('\n').map((s) => s.trim())) {
      if (src === '' || src.startsWith('ref:')) continue;
      dirs.push(src.startsWith('~/') ? path.join(homedir(), src.slice(2)) : path.resolve(src));
    }
  }
  const dataHome = process.env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  dirs.push(path.join(dataHome, 'patatt', 'public'));
  return dirs.filter((d) => existsSync(d) && statSync(d).isDirectory());
}

export interface SeriesAttestOptions {
  /** Extra keyring folders (--keyring), searched before patatt's own. */
  keyrings?: string[];
}

/** The keyrings and resolver a run uses: --keyring first, then patatt's; DNS from the system or $KHARNESS_DKIM_DNS_FILE. */
export async function attestOptions(opts: SeriesAttestOptions = {}): Promise<AttestOptions> {
  for (const dir of opts.keyrings ?? []) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--keyring ${dir} is not a folder`, 'a keyring is laid out as patatt does: DIR/ed25519/<domain>/<local>/<selector>');
  }
  const dnsFile = process.env[DNS_FILE_ENV];
  return {
    keyrings: [...(opts.keyrings ?? []).map((d) => path.resolve(d)), ...(await patattKeyrings())],
    resolver: dnsFile ? await fileTxtResolver(dnsFile) : undefined,
  };
}

/**
 * Attests every patch of `series` from the raw mail it was assembled from (`raws[m.order]`); a
 * Message-ID archived twice is the first copy, as assembly keeps it.
 */
export async function attestSeries(series: Series, messages: readonly MailMessage[], raws: readonly Buffer[], opts: AttestOptions): Promise<Series> {
  const rawOf = new Map<string, Buffer>();
  for (const m of messages) if (!rawOf.has(m.messageId) && raws[m.order]) rawOf.set(m.messageId, raws[m.order] as Buffer);
  const results: Attestation[] = new Array<Attestation>(series.patches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < series.patches.length; i = next++) {
      const raw = rawOf.get((series.patches[i] as Series['patches'][number]).messageId);
      results[i] = raw ? await attestMessage(raw, opts) : { status: 'unknown', signatures: [], summary: 'not verified: the patch mail was not found in the thread' };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, series.patches.length) }, worker));
  return { ...series, patches: series.patches.map((p, i) => ({ ...p, attestation: results[i] })) };
}

/** Why a patch does not pass --require-attestation, or undefined when it does. */
function unattested(p: Series['patches'][number]): string | undefined {
  const a = p.attestation;
  if (!a) return 'no attestation recorded (series.json from before attestation: fetch it again)';
  return a.status === 'signed' ? undefined : a.summary;
}

/** --require-attestation: refuses (exit 2) a series with any patch not signed, naming each and why. */
export function requireAttestation(series: Series): void {
  const refused = series.patches.flatMap((p) => {
    const why = unattested(p);
    return why === undefined ? [] : [`  ${p.index}/${p.total} ${p.subject}: ${why}`];
  });
  if (refused.length === 0) return;
  throw new InputError(
    `--require-attestation: ${refused.length} of ${series.patches.length} patch(es) not signed by a good signature:\n${refused.join('\n')}`,
    'add the signer’s patatt key with --keyring DIR, or drop --require-attestation to test the series anyway',
  );
}
