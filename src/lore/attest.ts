import { defaultTxtResolver, dkimSignatures } from './attest-dkim.js';
import { patattSignatures } from './attest-patatt.js';

/**
 * Attestation of one patch mail, as b4 does it: the developer's own patatt signature
 * (X-Developer-Signature, checked against local keyrings) and the sending domain's DKIM.
 *
 * Mail is untrusted input: nothing here throws on it, and at most 10 signatures of each kind
 * are checked. A signature header that claims something but cannot be read is reported as
 * 'bad' with the reason; one with no `tag=value` at all is still reported (bad: no algorithm).
 */

export type AttestationStatus = 'signed' | 'bad' | 'unknown' | 'unsigned';

export interface Signature {
  method: 'dkim' | 'patatt';
  status: 'good' | 'bad' | 'unknown';
  /** DKIM: the d= domain, with ` (i=...)` when the signature has one; patatt: the i= identity. */
  identity: string;
  /** The a= of the signature (ed25519-sha256, rsa-sha256, ...). */
  algorithm?: string;
  /** One line: why bad or unknown, or what verified. */
  detail: string;
}

export interface Attestation {
  /**
   * 'signed': at least one good signature and no bad one; 'bad': some signature verified bad;
   * 'unknown': signatures exist but none could be checked (no key, DNS unavailable);
   * 'unsigned': none.
   */
  status: AttestationStatus;
  signatures: Signature[];
  /** e.g. "signed by patatt ed25519 jane@example.com; DKIM kernel.org", or "not signed". */
  summary: string;
}

/** Like dns.promises.resolveTxt. */
export type TxtResolver = (name: string) => Promise<string[][]>;

export interface AttestOptions {
  /**
   * DNS TXT lookups for DKIM keys; default node:dns with short timeouts. A failure (ENOTFOUND,
   * ETIMEOUT, ECONNREFUSED, offline) makes that DKIM signature 'unknown', never 'bad'.
   */
  resolver?: TxtResolver;
  /** Folders laid out as patatt's keyring: <dir>/<algo>/<domain>/<local>/<selector> (or by-hash/). */
  keyrings?: string[];
}

/** Checks every patatt and DKIM signature of a raw mail (a string is taken as UTF-8). */
export async function attestMessage(raw: Buffer | string, opts: AttestOptions = {}): Promise<Attestation> {
  const mail = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const [patatt, dkim] = await Promise.all([
    guarded('patatt', () => patattSignatures(mail, opts.keyrings ?? [])),
    guarded('dkim', () => dkimSignatures(mail, opts.resolver ?? defaultTxtResolver())),
  ]);
  const signatures = [...patatt, ...dkim];
  return { status: overallStatus(signatures), signatures, summary: summarize(signatures) };
}

/** The checkers do not throw on mail; should one still fail, it says so instead of throwing. */
async function guarded(method: Signature['method'], check: () => Promise<Signature[]>): Promise<Signature[]> {
  try {
    return await check();
  } catch (err) {
    return [{ method, status: 'unknown', identity: '', detail: `could not check: ${err instanceof Error ? err.message : String(err)}` }];
  }
}

export function overallStatus(signatures: Signature[]): AttestationStatus {
  if (signatures.some((s) => s.status === 'bad')) return 'bad';
  if (signatures.some((s) => s.status === 'good')) return 'signed';
  return signatures.length > 0 ? 'unknown' : 'unsigned';
}

/** "patatt ed25519 jane@example.com", "DKIM kernel.org". */
function label(s: Signature): string {
  if (s.method === 'dkim') return `DKIM ${s.identity || '(no domain)'}`;
  const algo = (s.algorithm ?? '').replace(/-sha256$/, '');
  return ['patatt', algo, s.identity || '(no identity)'].filter((p) => p !== '').join(' ');
}

function summarize(signatures: Signature[]): string {
  const of = (status: Signature['status']) => signatures.filter((s) => s.status === status);
  const explained = (list: Signature[]) => list.map((s) => `${label(s)}: ${s.detail}`).join('; ');
  const bad = of('bad');
  const good = of('good');
  const unknown = of('unknown');
  if (bad.length > 0) return `bad signature: ${explained(bad)}`;
  if (good.length > 0) {
    const unchecked = unknown.length > 0 ? ` (not checked: ${unknown.map(label).join('; ')})` : '';
    return `signed by ${good.map(label).join('; ')}${unchecked}`;
  }
  if (unknown.length > 0) return `not verified: ${explained(unknown)}`;
  return 'not signed';
}
