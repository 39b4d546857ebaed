import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Signature } from './attest.js';

/*
 * The validation half of patatt 0.8.0 (X-Developer-Signature), ported from its __init__.py:
 * PatattMessage.load_from_bytes / get_sigs / git_canonicalize / validate, DevsigHeader.from_bytes /
 * set_headers / set_body / validate, get_public_key and validate_message.
 *
 * patatt works on bytes. Here a "byte string" is a latin1 string, one character per byte, so
 * slicing, hashing (via latin1 Buffers) and regexes act on bytes. Only ASCII classes are used, as
 * Python's bytes regexes do: JS `\s` would also match 0xA0, and toLowerCase would fold Latin-1.
 */

const MAX_SIGNATURES = 10;
/** More names than this in h= is not something patatt writes (it signs three): refuse the work. */
const MAX_SIGNED_HEADERS = 100;
const MAX_KEY_FILE = 64 * 1024;
const DEVSIG = 'x-developer-signature';
const REQUIRED_HEADERS = ['from', 'subject'];
/** git mailinfo runs without system/global config, so the user's config cannot change the canon. */
const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
const asciiStrip = (s: string): string => s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const utf8 = (s: string): string => bytes(s).toString('utf8');

/** A verdict reached before the end of a check: thrown, caught per signature. */
class Verdict extends Error {
  constructor(
    readonly status: 'bad' | 'unknown',
    message: string,
  ) {
    super(message);
  }
}
const bad = (why: string): Verdict => new Verdict('bad', why);

/** The mail as PatattMessage holds it: header lines as sent (folds attached), blank line, body. */
interface PatattMail {
  headers: string[];
  lf: string;
  body: string;
  /** Set where patatt would refuse the whole message. */
  invalid?: string;
}

/** One X-Developer-Signature: its canonical value (hval) and its tags, whitespace removed. */
interface Devsig {
  hval: string;
  fields: Map<string, string>;
  /** Set when the header value itself could not be canonicalized. */
  error?: Verdict;
}

/** What git mailinfo makes of the mail: From/Subject replaced, body = message + patch, CRLF. */
interface Canon {
  headers: string[];
  body: string;
}

/** PatattMessage.load_from_bytes, except that a leading folded line is kept (and flagged). */
function loadMail(raw: string): PatattMail {
  const mail: PatattMail = { headers: [], lf: '\n', body: '' };
  let at = 0;
  while (at < raw.length) {
    const nl = raw.indexOf('\n', at);
    const end = nl < 0 ? raw.length : nl + 1;
    const line = raw.slice(at, end);
    at = end;
    if (asciiStrip(line) === '') {
      mail.lf = line;
      mail.body = raw.slice(at);
      break;
    }
    const last = mail.headers.length - 1;
    if ((line[0] === ' ' || line[0] === '\t') && last >= 0) {
      mail.headers[last] += line;
      continue;
    }
    if (last < 0 && (line[0] === ' ' || line[0] === '\t')) mail.invalid = 'not a valid RFC 2822 message (starts with a folded line)';
    mail.headers.push(line);
  }
  if (mail.headers.length === 0 || mail.body === '') mail.invalid ??= 'not a valid RFC 2822 message (no headers or no body)';
  return mail;
}

const ENCODED_WORD = /=\?[^?]*?\?[qQbB]\?[^\n]*?\?=/;

/**
 * DevsigHeader._dkim_canonicalize_header: DKIM "relaxed" for one value, CRLF-terminated. patatt
 * first drops non-ASCII bytes of a value containing `?q?` and decodes its RFC 2047 words with
 * Python's email.header; the dropping is ported, the decoding is not (such a value is reported
 * 'unknown'). Only Message-ID can carry one: From and Subject come decoded from git mailinfo.
 */
function canonHeaderValue(value: string): string {
  let v = value;
  if (v.includes('?q?')) {
    v = v.replace(/[\x80-\xff]/g, '');
    if (ENCODED_WORD.test(v)) throw new Verdict('unknown', 'a signed header has RFC 2047 encoded words, which this port does not canonicalize');
  }
  return `${asciiStrip(v.replace(/[\r\n]/g, '').replace(/[ \t\n\r\v\f]+/g, ' '))}\r\n`;
}

/** DevsigHeader.from_bytes: `k=v` tags split at `;`, every whitespace removed; the last of a tag wins. */
function parseDevsig(value: string): Devsig {
  let hval: string;
  try {
    hval = canonHeaderValue(value);
  } catch (err) {
    return { hval: '', fields: new Map(), error: err instanceof Verdict ? err : bad(String(err)) };
  }
  const fields = new Map<string, string>();
  for (const chunk of hval.replace(/[ \t\n\r\v\f]+/g, '').split(';')) {
    const eq = chunk.indexOf('=');
    if (eq >= 0) fields.set(chunk.slice(0, eq), chunk.slice(eq + 1));
  }
  return { hval, fields };
}

/** email.utils.parseaddr, reduced to what get_sigs needs: the address of a From value. */
function addressOf(value: string): string {
  const angle = [...value.matchAll(/<([^<>]*)>/g)].pop();
  if (angle) return (angle[1] ?? '').trim();
  return value.replace(/\([^()]*\)/g, '').trim().split(/\s+/)[0] ?? '';
}

/** PatattMessage.get_sigs: the signature headers (at most MAX_SIGNATURES), i= defaulting to From. */
function signaturesOf(mail: PatattMail): Devsig[] {
  const sigs: Devsig[] = [];
  let fromId = '';
  for (const header of mail.headers) {
    const colon = header.indexOf(':');
    // patatt gives up on the whole message here; a line that is no header carries no signature
    if (colon < 0) continue;
    const name = asciiLower(asciiStrip(header.slice(0, colon)));
    if (name === DEVSIG && sigs.length < MAX_SIGNATURES) sigs.push(parseDevsig(header.slice(colon + 1)));
    else if (name === 'from') fromId = addressOf(utf8(header.slice(colon + 1)).trim());
  }
  if (fromId) for (const sig of sigs) if (!sig.fields.has('i')) sig.fields.set('i', Buffer.from(fromId, 'utf8').toString('latin1'));
  return sigs;
}

/** PatattMessage._get_git_mailinfo: the real `git mailinfo`, mail on stdin, argv only. */
async function gitMailinfo(payload: Buffer): Promise<{ msg: string; patch: string; info: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kh-mailinfo-'));
  try {
    const msgFile = path.join(dir, 'm');
    const patchFile = path.join(dir, 'p');
    const r = await execa('git', ['mailinfo', '--encoding=utf-8', '--no-scissors', msgFile, patchFile], {
      input: payload,
      encoding: 'buffer',
      stripFinalNewline: false,
      reject: false,
      cwd: dir,
      env: GIT_ENV,
      timeout: 60_000,
    });
    // could not run at all (no git, timeout): the mail is not at fault
    if (r.exitCode === undefined) throw new Verdict('unknown', `could not run git mailinfo: ${r.shortMessage}`);
    if (r.exitCode !== 0) throw bad(`git mailinfo rejected the mail: ${Buffer.from(r.stderr).toString('utf8').trim()}`);
    const [msg, patch] = await Promise.all([readFile(msgFile, 'latin1'), readFile(patchFile, 'latin1')]);
    return { msg, patch, info: Buffer.from(r.stdout).toString('latin1') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** PatattMessage.git_canonicalize. */
async function gitCanonicalize(mail: PatattMail): Promise<Canon> {
  const payload = bytes((mail.headers.join('') + mail.lf + mail.body).replace(/\r\n/g, '\n'));
  const { msg, patch, info } = await gitMailinfo(payload);
  // "simple" DKIM body: trailing blank lines trimmed, every line CRLF-terminated
  const lines = (msg + patch).replace(/[\r\n]+$/, '').split('\n');
  const body = lines.map((l) => `${l.replace(/\r+$/, '')}\r\n`).join('');

  const idata = new Map<string, string>();
  for (const line of info.replace(/[\r\n]+$/, '').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) throw bad('git mailinfo found no author or subject in the mail');
    idata.set(asciiLower(line.slice(0, colon)), asciiStrip(line.slice(colon + 1)));
  }
  const headers = mail.headers.map((header) => {
    const colon = header.indexOf(':');
    if (colon < 0) return header;
    const left = header.slice(0, colon);
    const name = asciiLower(left);
    if (name === 'from') return `${left}: ${idata.get('author') ?? ''} <${idata.get('email') ?? ''}>`;
    if (name === 'subject') return `${left}: ${idata.get('subject') ?? ''}`;
    return header;
  });
  return { headers, body };
}

/** DevsigHeader.set_headers(mode='validate'): the h= headers, bottom-most first, canonicalized. */
function signedHeaderValues(headers: string[], h: string | undefined): string[] {
  if (h === undefined) throw bad('missing "h=" field in signature header');
  const signlist = h.split(':').map(asciiStrip);
  if (signlist.length > MAX_SIGNED_HEADERS) throw bad(`h= names ${signlist.length} headers, more than the ${MAX_SIGNED_HEADERS} checked`);
  const missing = REQUIRED_HEADERS.filter((r) => !signlist.includes(r));
  if (missing.length > 0) throw bad(`required headers not signed: ${missing.join(', ')}`);
  // DKIM takes a repeated header from the bottom up
  const parsed: Array<[string, string]> = [];
  for (const header of [...headers].reverse()) {
    const colon = header.indexOf(':');
    if (colon >= 0) parsed.push([asciiLower(asciiStrip(header.slice(0, colon))), header.slice(colon + 1)]);
  }
  const values: string[] = [];
  for (const name of signlist) {
    const at = parsed.findIndex(([n]) => n === name);
    if (at < 0) continue;
    values.push(`${name}:${canonHeaderValue((parsed[at] as [string, string])[1])}`);
    parsed.splice(at, 1);
  }
  if (values.length === 0) throw bad('none of the signed headers is in the mail');
  return values;
}

/** base64.b64decode as patatt calls it: characters outside the alphabet dropped, padding required. */
function pyBase64(text: string): Buffer | undefined {
  const clean = text.replace(/[^A-Za-z0-9+/=]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return undefined;
  return Buffer.from(clean, 'base64');
}

/** DevsigHeader.validate + _validate_ed25519: b= holds base64(signature || sha256 digest). */
function checkEd25519(sig: Devsig, canon: Canon, key: KeyObject, keyFile: string): void {
  const headerValues = signedHeaderValues(canon.headers, sig.fields.get('h'));
  const bodyHash = createHash('sha256').update(bytes(canon.body)).digest('base64');
  if (sig.fields.get('bh') !== bodyHash) throw bad('body content validation failed: the mail body changed after signing');
  if (!sig.fields.get('b')) throw bad('missing "b=" value');
  // the digest covers the signature header itself up to and including its last "b="
  const cut = sig.hval.lastIndexOf('b=');
  const digest = createHash('sha256')
    .update(bytes(`${headerValues.join('')}${DEVSIG}:${sig.hval.slice(0, cut + 2)}`))
    .digest();
  const signed = pyBase64(sig.hval.slice(cut + 2));
  if (!signed || signed.length < 64) throw bad('b= is not a base64 ed25519 signed digest');
  const message = signed.subarray(64);
  if (!verify(null, message, key, signed.subarray(0, 64))) throw bad(`failed to validate using ${keyFile}`);
  if (!sig.fields.get('t')) throw bad('t= field is required for ed25519 sigs');
  if (!message.equals(digest)) throw bad('header validation failed: a signed header changed after signing');
}

/** urllib.parse.quote_plus: UTF-8 percent-encoding, only A-Za-z0-9 and `_.-~` kept, space as `+`. */
function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** make_pkey_path and make_byhash_path: where a key lives inside a keyring folder. */
function keyPaths(algo: string, identity: string, selector: string): string[] {
  const at = identity.indexOf('@');
  if (at < 0) throw bad(`identity ${identity} must include both local and domain parts`);
  const parts = [algo, identity.slice(at + 1).toLowerCase(), identity.slice(0, at).toLowerCase(), selector.toLowerCase()].map(quotePlus);
  // pathlib drops empty and "." parts; ".." (which quote_plus keeps) would leave the keyring
  const kept = parts.filter((p) => p !== '' && p !== '.');
  if (kept.includes('..')) return [];
  const rel = kept.join('/');
  const hash = createHash('sha256').update(rel, 'utf8').digest('hex');
  return [rel, `by-hash/${hash.slice(0, 2)}/${hash.slice(2)}`];
}

/** get_public_key for plain folders: the first keyring with the key (standard path, then by-hash). */
async function findKey(keyrings: string[], algo: string, identity: string, selector: string): Promise<{ text: string; file: string } | undefined> {
  const rels = keyPaths(algo, identity, selector);
  for (const dir of keyrings) {
    for (const rel of rels) {
      const file = path.join(dir, ...rel.split('/'));
      try {
        const st = await stat(file);
        if (st.isFile() && st.size <= MAX_KEY_FILE) return { text: await readFile(file, 'latin1'), file };
      } catch {
        // not in this keyring
      }
    }
  }
  return undefined;
}

/** A keyring file: base64 of the raw 32-byte key, as `patatt genkey` writes it. */
function ed25519Key(text: string, file: string): KeyObject {
  const raw = pyBase64(text);
  if (!raw || raw.length !== 32) throw new Verdict('unknown', `${file} does not hold a base64 ed25519 public key`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

interface Context {
  mail: PatattMail;
  keyrings: string[];
  canon: () => Promise<Canon>;
}

/** validate_message for one signature, each checked on its own (patatt re-checks the first per i=). */
async function checkSignature(sig: Devsig, ctx: Context): Promise<Signature> {
  const a = sig.fields.get('a');
  const identity = utf8(sig.fields.get('i') ?? '');
  const selector = utf8(sig.fields.get('s') || 'default');
  const result = (status: Signature['status'], detail: string): Signature => ({ method: 'patatt', status, identity, algorithm: a || undefined, detail });
  try {
    if (ctx.mail.invalid) throw bad(ctx.mail.invalid);
    if (sig.error) throw sig.error;
    if (!a) throw bad('no algorithm specified in signature');
    if (!identity) throw bad('no identity specified in signature');
    const algo = ['ed25519', 'openpgp', 'openssh'].find((p) => a.startsWith(p));
    if (algo === undefined) return result('unknown', `unknown algorithm ${a}`);
    if (algo !== 'ed25519') return result('unknown', `${algo} signatures are not checked`);
    const found = await findKey(ctx.keyrings, algo, identity, selector);
    // the mail's own X-Developer-Key is no trust: only a keyring key counts
    if (!found) return result('unknown', `no public key for ${identity} (selector ${selector}) in the keyring`);
    const key = ed25519Key(found.text, found.file);
    checkEd25519(sig, await ctx.canon(), key, found.file);
    return result('good', `${a} signature of ${identity} verified with ${found.file}`);
  } catch (err) {
    if (err instanceof Verdict) return result(err.status, err.message);
    return result('unknown', `could not check: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Every X-Developer-Signature of a mail (at most 10), verified against keys in `keyrings` only.
 * A header that has no `k=v` tag at all is still reported (as bad): it claims a signature.
 */
export async function patattSignatures(raw: Buffer, keyrings: string[]): Promise<Signature[]> {
  const mail = loadMail(raw.toString('latin1'));
  const sigs = signaturesOf(mail);
  if (sigs.length === 0) return [];
  let canon: Promise<Canon> | undefined;
  const ctx: Context = { mail, keyrings, canon: () => (canon ??= gitCanonicalize(mail)) };
  const out: Signature[] = [];
  // one after the other: they share one git mailinfo run
  for (const sig of sigs) out.push(await checkSignature(sig, ctx));
  return out;
}
