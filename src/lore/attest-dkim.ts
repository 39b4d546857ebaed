import { promises as dns } from 'node:dns';
import type { DKIMResult, DNSResolver } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { Signature, TxtResolver } from './attest.js';

const MAX_SIGNATURES = 10;
const BODY_CHANGED = 'body hash did not verify';

/** dns.promises.resolveTxt with short timeouts, so an offline machine answers "unknown" quickly. */
export function defaultTxtResolver(): TxtResolver {
  const resolver = new dns.Resolver({ timeout: 3000, tries: 2 });
  return (name) => resolver.resolveTxt(name);
}

/** The header fields of a mail (latin1, one char per byte), each with its folds and line ends. */
function headerFields(raw: string): { fields: string[]; bodyStart: number } {
  const fields: string[] = [];
  let at = 0;
  while (at < raw.length) {
    const nl = raw.indexOf('\n', at);
    const end = nl < 0 ? raw.length : nl + 1;
    const line = raw.slice(at, end);
    if (line === '\n' || line === '\r\n') return { fields, bodyStart: at };
    at = end;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return { fields, bodyStart: raw.length };
}

const isDkimField = (field: string): boolean => /^dkim-signature[ \t]*:/i.test(field);

/** Tags of a DKIM-Signature (RFC 6376 tag-list), b= without whitespace: to find i= by b=. */
function dkimTags(field: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of field.slice(field.indexOf(':') + 1).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).replace(/[\r\n]+/g, '');
    tags.set(name, name === 'b' ? value.replace(/[ \t]+/g, '') : value.trim());
  }
  return tags;
}

/**
 * Bounds the work: mailauth checks every DKIM-Signature, so only the first (newest) ten are left
 * in the copy it reads. A mail with ten or fewer is passed as it is.
 */
function keepFirstSignatures(raw: Buffer): { input: Buffer; identities: Map<string, string> } {
  const text = raw.toString('latin1');
  const { fields, bodyStart } = headerFields(text);
  const identities = new Map<string, string>();
  let seen = 0;
  const kept = fields.filter((field) => {
    if (!isDkimField(field)) return true;
    seen += 1;
    const tags = dkimTags(field);
    const i = tags.get('i');
    if (i) identities.set(tags.get('b') ?? '', Buffer.from(i, 'latin1').toString('utf8'));
    return seen <= MAX_SIGNATURES;
  });
  if (seen <= MAX_SIGNATURES) return { input: raw, identities };
  return { input: Buffer.from(kept.join('') + text.slice(bodyStart), 'latin1'), identities };
}

/** The injected TXT resolver in mailauth's shape; whatever it throws becomes an Error with a code. */
function asMailauthResolver(txt: TxtResolver): DNSResolver {
  return async (name, rrtype) => {
    if (rrtype !== 'TXT') throw Object.assign(new Error(`no ${rrtype} lookups here`), { code: 'ENOTIMP' });
    try {
      return await txt(name);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const message = err instanceof Error ? err.message : String(err);
      throw Object.assign(new Error(message), { code: typeof code === 'string' ? code : message || 'ESERVFAIL' });
    }
  };
}

/** mailauth's verdict on one signature, mapped: only pass, a bad signature or a changed body decide. */
function toSignature(r: DKIMResult, identities: Map<string, string>): Signature {
  const domain = r.signingDomain ?? '';
  const i = identities.get(r.signature ?? '');
  // dkimpy and others write i=@d, which says nothing more than d=
  const identity = i && i !== `@${domain}` ? `${domain} (i=${i})` : domain;
  const key = `${r.selector ?? '?'}._domainkey.${domain}`;
  const comment = r.status.comment ?? '';
  const sig = (status: Signature['status'], detail: string): Signature => ({ method: 'dkim', status, identity, algorithm: r.algo, detail });
  switch (r.status.result) {
    case 'pass':
      // l= left part of the body unsigned: what follows could be anything, a hunk included
      if (r.status.underSized) return sig('unknown', `pass, but ${r.status.underSized} bytes after the signed length (l=) are not covered`);
      return sig('good', `pass with the key at ${key}`);
    case 'fail':
      return sig('bad', `fail: ${comment || 'bad signature'}`);
    case 'neutral':
      if (comment === BODY_CHANGED) return sig('bad', `${BODY_CHANGED}: the body changed after signing (a mailing-list footer does this)`);
      return sig('unknown', `not checked: ${comment || 'neutral'} (${key})`);
    case 'policy': {
      const rule = (r.status.policy as Record<string, unknown> | undefined)?.['dkim-rules'];
      return sig('unknown', `not accepted by policy: ${typeof rule === 'string' ? rule : comment || 'policy'}`);
    }
    default:
      return sig('unknown', `${r.status.result}: ${comment || 'no verdict'} (${key})`);
  }
}

/** Every DKIM-Signature of the mail (at most 10), checked by mailauth with `txt` for DNS. */
export async function dkimSignatures(raw: Buffer, txt: TxtResolver): Promise<Signature[]> {
  const { input, identities } = keepFirstSignatures(raw);
  try {
    const result = await dkimVerify(input, { resolver: asMailauthResolver(txt) });
    return result.results.filter((r) => r.status.result !== 'none').map((r) => toSignature(r, identities));
  } catch (err) {
    // mailauth itself gave up: a signature that is there was not checked
    if (!headerFields(raw.toString('latin1')).fields.some(isDkimField)) return [];
    const why = err instanceof Error ? err.message : String(err);
    return [{ method: 'dkim', status: 'unknown', identity: '', detail: `not checked: ${why}` }];
  }
}
