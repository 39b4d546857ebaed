import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { venvBin } from '../../../src/common/paths.js';
import { attestMessage, type TxtResolver } from '../../../src/lore/attest.js';

/**
 * Attestation against the real tools, offline: mails signed by the real patatt (0.8, from b4's
 * requirements in .venv) and by dkimpy, and patatt's own `validate` asked for its verdict on the
 * same bytes, so the port is checked against the tool and not against itself. The tools missing
 * is a failure, not a skip: scripts/setup.sh installs them.
 */

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/attest/patch.eml');
const PYTHON = venvBin('python3');
const PATATT = venvBin('patatt');

/** patatt validate's exit codes (RES_* in patatt/__init__.py). */
const PASS = 0;
const NOSIG = 4;
const NOKEY = 8;
const BADSIG = 32;

let scratch = '';
let fixture: Buffer;

beforeAll(async () => {
  for (const tool of [PYTHON, PATATT]) if (!existsSync(tool)) throw new Error(`${tool} is missing: run bash scripts/setup.sh`);
  scratch = await mkdtemp(path.join(tmpdir(), 'kh-attest-'));
  fixture = await readFile(FIXTURE);
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Replaces the one occurrence of `from`, failing if it is not there (so no test passes by a no-op). */
function edit(mail: Buffer, from: string, to: string): Buffer {
  const text = mail.toString('latin1');
  const at = text.indexOf(from);
  if (at < 0) throw new Error(`"${from}" is not in the mail`);
  return Buffer.from(text.slice(0, at) + to + text.slice(at + from.length), 'latin1');
}

/** The mail without the mbox `From <sha> ...` line that git format-patch writes first. */
const withoutMboxLine = (mail: Buffer): Buffer => (mail.subarray(0, 5).toString() === 'From ' ? mail.subarray(mail.indexOf('\n') + 1) : mail);

async function python(script: string, input: Buffer, args: string[] = []): Promise<Buffer> {
  const r = await execa(PYTHON, ['-c', script, ...args], { input, encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(r.stdout);
}

// --- patatt ----------------------------------------------------------------------------------

/** An environment of its own for patatt: HOME, data dir and git config (user, signing key). */
async function patattEnv(name: string, gitconfig: string): Promise<{ env: Record<string, string>; cwd: string; data: string }> {
  const root = path.join(scratch, name);
  const data = path.join(root, 'data');
  await mkdir(path.join(root, 'home'), { recursive: true });
  await mkdir(data, { recursive: true });
  await writeFile(path.join(root, 'gitconfig'), gitconfig);
  const env = { HOME: path.join(root, 'home'), XDG_DATA_HOME: data, XDG_CONFIG_HOME: path.join(root, 'config'), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(root, 'gitconfig') };
  return { env, cwd: root, data };
}

const SIGNER_CONFIG = '[user]\n\tname = Jane Developpeur\n\temail = jane@example.com\n[patatt]\n\tsigningkey = ed25519:test\n\tselector = test\n';

let signer: Awaited<ReturnType<typeof patattEnv>>;
let publicKey = '';
/** A keyring holding the signer's key at ed25519/example.com/jane/test, as patatt lays it out. */
let keyring = '';
/** The fixture as `patatt sign` wrote it. */
let signed: Buffer;

async function patattSign(mail: Buffer): Promise<Buffer> {
  const r = await execa(PATATT, ['sign'], { input: mail, encoding: 'buffer', env: signer.env, cwd: signer.cwd, stripFinalNewline: false });
  return Buffer.from(r.stdout);
}

async function keyringWith(name: string, rel: string, key: string): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await writeFile(path.join(dir, rel), key);
  return dir;
}

/** `patatt validate` on stdin with `dir` as its only keyring (its own data dir is empty). */
async function patattValidate(mail: Buffer, dir: string): Promise<number> {
  const v = await patattEnv(`validate-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}`, `[patatt]\n\tkeyringsrc = ${dir}\n`);
  const r = await execa(PATATT, ['validate'], { input: mail, env: v.env, cwd: v.cwd, reject: false });
  return r.exitCode ?? -1;
}

describe('patatt', () => {
  beforeAll(async () => {
    signer = await patattEnv('signer', SIGNER_CONFIG);
    await execa(PATATT, ['genkey', '-n', 'test'], { env: signer.env, cwd: signer.cwd });
    publicKey = await readFile(path.join(signer.data, 'patatt', 'public', 'test.pub'), 'utf8');
    keyring = await keyringWith('keyring', 'ed25519/example.com/jane/test', publicKey);
    signed = await patattSign(fixture);
  });

  it('a mail signed by patatt is signed, by the identity of i=, and patatt agrees', async () => {
    expect(signed.toString()).toMatch(/^X-Developer-Signature: v=1; a=ed25519-sha256;/m);
    const result = await attestMessage(signed, { keyrings: [keyring] });
    expect(result.status).toBe('signed');
    expect(result.signatures).toEqual([expect.objectContaining({ method: 'patatt', status: 'good', identity: 'jane@example.com', algorithm: 'ed25519-sha256' })]);
    expect(result.summary).toBe('signed by patatt ed25519 jane@example.com');
    expect(await patattValidate(signed, keyring)).toBe(PASS);
  });

  it('one byte of the diff changed is bad (body), and patatt says BADSIG', async () => {
    const tampered = edit(signed, 'return -ENODEV;', 'return -ENODEW;');
    const result = await attestMessage(tampered, { keyrings: [keyring] });
    expect(result.status).toBe('bad');
    expect(result.signatures[0]?.detail).toMatch(/body content validation failed/);
    expect(await patattValidate(tampered, keyring)).toBe(BADSIG);
  });

  it('a line added after the signed body is bad too: l= is not honoured, as patatt by default', async () => {
    const appended = Buffer.concat([signed, Buffer.from('+\tevil();\n')]);
    expect((await attestMessage(appended, { keyrings: [keyring] })).status).toBe('bad');
    expect(await patattValidate(appended, keyring)).toBe(BADSIG);
  });

  it('a signed header changed (Subject) is bad by the header digest, and patatt agrees', async () => {
    const tampered = edit(signed, 'refuse setup when', 'refuse setup if');
    const result = await attestMessage(tampered, { keyrings: [keyring] });
    expect(result.status).toBe('bad');
    expect(result.signatures[0]?.detail).toMatch(/header validation failed/);
    expect(await patattValidate(tampered, keyring)).toBe(BADSIG);
  });

  it('no key in the keyring is unknown, even though the mail carries its X-Developer-Key', async () => {
    expect(signed.toString()).toMatch(/^X-Developer-Key: i=jane@example.com; a=ed25519;\n pk=/m);
    const empty = path.join(scratch, 'empty-keyring');
    await mkdir(empty, { recursive: true });
    for (const keyrings of [[empty], []]) {
      const result = await attestMessage(signed, { keyrings });
      expect(result.status).toBe('unknown');
      expect(result.signatures[0]?.detail).toBe('no public key for jane@example.com (selector test) in the keyring');
    }
    expect(await patattValidate(signed, empty)).toBe(NOKEY);
  });

  it('another key at the signer’s place in the keyring is bad, and patatt agrees', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x ?? '';
    const wrong = await keyringWith('wrong-keyring', 'ed25519/example.com/jane/test', Buffer.from(other, 'base64url').toString('base64'));
    const result = await attestMessage(signed, { keyrings: [wrong] });
    expect(result.status).toBe('bad');
    expect(result.signatures[0]?.detail).toMatch(/failed to validate using .*wrong-keyring/);
    expect(await patattValidate(signed, wrong)).toBe(BADSIG);
  });

  it('finds a key by-hash, as get_public_key falls back to, and patatt agrees', async () => {
    const hash = createHash('sha256').update('ed25519/example.com/jane/test').digest('hex');
    const byHash = await keyringWith('hash-keyring', `by-hash/${hash.slice(0, 2)}/${hash.slice(2)}`, publicKey);
    expect((await attestMessage(signed, { keyrings: [path.join(scratch, 'nowhere'), byHash] })).status).toBe('signed');
    expect(await patattValidate(signed, byHash)).toBe(PASS);
  });

  it('survives transport changes git mailinfo undoes: CRLF line ends, quoted-printable body', async () => {
    const crlf = Buffer.from(signed.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    const qp = await python(
      'import sys, quopri\nh, b = sys.stdin.buffer.read().split(b"\\n\\n", 1)\n' +
        'h = h.replace(b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: quoted-printable")\n' +
        'sys.stdout.buffer.write(h + b"\\n\\n" + quopri.encodestring(b))',
      signed,
    );
    expect(qp.toString()).toContain('Caf=C3=A9-grade');
    for (const mail of [crlf, qp]) {
      expect((await attestMessage(mail, { keyrings: [keyring] })).status).toBe('signed');
      expect(await patattValidate(mail, keyring)).toBe(PASS);
    }
  });

  it('an unsigned mail is unsigned, and patatt says NOSIG', async () => {
    const result = await attestMessage(fixture, { keyrings: [keyring], resolver: offline('ENOTFOUND') });
    expect(result).toEqual({ status: 'unsigned', signatures: [], summary: 'not signed' });
    expect(await patattValidate(fixture, keyring)).toBe(NOSIG);
  });

  it('openpgp and unknown algorithms are unknown, not checked', async () => {
    const pgp = await attestMessage(edit(signed, 'a=ed25519-sha256', 'a=openpgp-sha256'), { keyrings: [keyring] });
    expect(pgp.status).toBe('unknown');
    expect(pgp.signatures[0]?.detail).toBe('openpgp signatures are not checked');
    const odd = await attestMessage(edit(signed, 'a=ed25519-sha256', 'a=rot13-sha256'), { keyrings: [keyring] });
    expect(odd.signatures[0]).toMatchObject({ status: 'unknown', detail: 'unknown algorithm rot13-sha256' });
  });
});

describe('patatt: malformed mail', () => {
  const withHeaders = (...headers: string[]): Buffer => edit(fixture, 'To: linux-mm@kvack.org\n', `To: linux-mm@kvack.org\n${headers.join('\n')}\n`);

  it('a signature header without tags is bad with the reason', async () => {
    const result = await attestMessage(withHeaders('X-Developer-Signature: garbage'), { resolver: offline('ENOTFOUND') });
    expect(result.status).toBe('bad');
    expect(result.signatures).toEqual([expect.objectContaining({ method: 'patatt', status: 'bad', detail: 'no algorithm specified in signature' })]);
  });

  it('checks no more than 10 signatures', async () => {
    const header = 'X-Developer-Signature: v=1; a=ed25519-sha256; t=1; i=jane@example.com; s=nokey; h=from:subject; bh=x; b=y';
    const result = await attestMessage(withHeaders(...Array<string>(12).fill(header)), { keyrings: [keyring] });
    expect(result.signatures).toHaveLength(10);
    expect(result.signatures.every((s) => s.status === 'unknown')).toBe(true);
  });

  it('an identity that would climb out of the keyring finds no key; one without @ is bad', async () => {
    // where patatt's unguarded path (ed25519/../../default) would read from
    await writeFile(path.join(keyring, 'ed25519', '..', '..', 'default'), publicKey);
    const climb = await attestMessage(withHeaders('X-Developer-Signature: v=1; a=ed25519-sha256; t=1; i=..@..; s=default; h=from:subject; bh=x; b=y'), { keyrings: [keyring] });
    expect(climb.signatures[0]).toMatchObject({ status: 'unknown', detail: 'no public key for ..@.. (selector default) in the keyring' });
    const local = await attestMessage(withHeaders('X-Developer-Signature: v=1; a=ed25519-sha256; t=1; i=jane; h=from:subject; bh=x; b=y'), { keyrings: [keyring] });
    expect(local.signatures[0]).toMatchObject({ status: 'bad', detail: 'identity jane must include both local and domain parts' });
  });

  it('never throws on junk', async () => {
    const junk = [Buffer.alloc(0), Buffer.from('no header here'), Buffer.from(' folded first\nX-Developer-Signature: a=ed25519\n\nbody\n'), Buffer.from([0xff, 0x00, 0x3a, 0x0a, 0x0a, 0x80])];
    const results = await Promise.all(junk.map((mail) => attestMessage(mail, { keyrings: [keyring], resolver: offline('ENOTFOUND') })));
    expect(results.map((r) => r.status)).toEqual(['unsigned', 'unsigned', 'bad', 'unsigned']);
    expect(results[2]?.signatures[0]?.detail).toMatch(/not a valid RFC 2822 message/);
  });
});

// --- DKIM ------------------------------------------------------------------------------------

const dkimKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const DKIM_RECORD = `v=DKIM1; k=rsa; p=${dkimKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
const DKIM_NAME = 'sel._domainkey.example.com';

/** A resolver that knows only the test key; every other name does not exist. */
const lookups: string[] = [];
const resolver: TxtResolver = async (name) => {
  lookups.push(name);
  if (name === DKIM_NAME) return [[DKIM_RECORD]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};
const offline =
  (code: string): TxtResolver =>
  async (name) => {
    throw Object.assign(new Error(`queryTxt ${code} ${name}`), { code });
  };

/** dkimpy's dkim.sign over the mail (as an MTA sees it: no mbox line); the header is prepended. */
async function dkimSign(mail: Buffer, opts: { identity?: string; length?: boolean } = {}): Promise<Buffer> {
  const keyFile = path.join(scratch, 'dkim.pem');
  await writeFile(keyFile, dkimKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const script =
    'import dkim, sys\nm = sys.stdin.buffer.read()\nident = sys.argv[2].encode() or None\n' +
    'h = dkim.sign(m, b"sel", b"example.com", open(sys.argv[1], "rb").read(), identity=ident, length=sys.argv[3] == "1",\n' +
    '  include_headers=[b"from", b"subject", b"date", b"message-id", b"to"], linesep=b"\\n")\n' +
    'sys.stdout.buffer.write(h + m)';
  return python(script, withoutMboxLine(mail), [keyFile, opts.identity ?? '', opts.length ? '1' : '0']);
}

/** dkimpy's own dkim.verify, with the test key as its DNS. */
async function dkimpyVerify(mail: Buffer): Promise<boolean> {
  const script =
    'import dkim, sys\nrec = sys.argv[1].encode()\n' +
    'def dns(name, timeout=5):\n  return rec if name.rstrip(b".") == sys.argv[2].encode() else None\n' +
    'print("PASS" if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns) else "FAIL")';
  return (await python(script, mail, [DKIM_RECORD, DKIM_NAME])).toString().trim() === 'PASS';
}

describe('DKIM', () => {
  let dkimSigned: Buffer;
  beforeAll(async () => {
    dkimSigned = await dkimSign(fixture);
  });

  it('a good signature is signed by the d= domain, and dkimpy agrees', async () => {
    lookups.length = 0;
    const result = await attestMessage(dkimSigned, { resolver });
    expect(result.status).toBe('signed');
    expect(result.signatures).toEqual([expect.objectContaining({ method: 'dkim', status: 'good', identity: 'example.com', algorithm: 'rsa-sha256' })]);
    expect(result.summary).toBe('signed by DKIM example.com');
    expect(lookups).toEqual([DKIM_NAME]);
    expect(await dkimpyVerify(dkimSigned)).toBe(true);
  });

  it('a changed body is bad (body hash), and dkimpy agrees', async () => {
    const tampered = edit(dkimSigned, 'return -ENODEV;', 'return -ENODEW;');
    const result = await attestMessage(tampered, { resolver });
    expect(result.status).toBe('bad');
    expect(result.signatures[0]?.detail).toMatch(/^body hash did not verify/);
    expect(await dkimpyVerify(tampered)).toBe(false);
  });

  it('a changed signed header is bad (signature), and dkimpy agrees', async () => {
    const tampered = edit(dkimSigned, 'refuse setup when', 'refuse setup if');
    const result = await attestMessage(tampered, { resolver });
    expect(result.status).toBe('bad');
    expect(result.signatures[0]?.detail).toBe('fail: bad signature');
    expect(await dkimpyVerify(tampered)).toBe(false);
  });

  it('DNS that cannot answer makes it unknown, never bad', async () => {
    for (const code of ['ENOTFOUND', 'ETIMEOUT', 'ECONNREFUSED', 'ENODATA']) {
      const result = await attestMessage(dkimSigned, { resolver: offline(code) });
      expect(result.status, code).toBe('unknown');
      expect(result.signatures[0]?.status, code).toBe('unknown');
    }
    const thrown = await attestMessage(dkimSigned, { resolver: () => Promise.reject(new Error('offline')) });
    expect(thrown.signatures[0]).toMatchObject({ status: 'unknown', detail: expect.stringMatching(/offline/) });
    const empty = await attestMessage(dkimSigned, { resolver: async () => [] });
    expect(empty.signatures[0]?.status).toBe('unknown');
  });

  it('names i= when it says more than d=', async () => {
    const result = await attestMessage(await dkimSign(fixture, { identity: 'jane@example.com' }), { resolver });
    expect(result.signatures[0]).toMatchObject({ status: 'good', identity: 'example.com (i=jane@example.com)' });
  });

  it('a pass that leaves appended text unsigned (l=) is unknown, though dkimpy passes it', async () => {
    const footer = Buffer.concat([await dkimSign(fixture, { length: true }), Buffer.from('+\tevil();\n')]);
    const result = await attestMessage(footer, { resolver });
    expect(result.signatures[0]).toMatchObject({ status: 'unknown', detail: expect.stringMatching(/bytes after the signed length/) });
    expect(await dkimpyVerify(footer)).toBe(true);
  });

  it('checks no more than 10 signatures', async () => {
    const header = dkimSigned.subarray(0, dkimSigned.indexOf('\nFrom: ') + 1).toString('latin1');
    const many = Buffer.concat([Buffer.from(header.repeat(11)), dkimSigned]);
    const result = await attestMessage(many, { resolver });
    expect(result.signatures).toHaveLength(10);
    expect(result.status).toBe('signed');
  });
});

describe('patatt and DKIM together', () => {
  let both: Buffer;
  beforeAll(async () => {
    both = await dkimSign(signed);
  });

  it('lists both in the summary', async () => {
    const result = await attestMessage(both, { keyrings: [keyring], resolver });
    expect(result.status).toBe('signed');
    expect(result.summary).toBe('signed by patatt ed25519 jane@example.com; DKIM example.com');
  });

  it('stays signed when DNS is down, and says what was not checked', async () => {
    const result = await attestMessage(both, { keyrings: [keyring], resolver: offline('ETIMEOUT') });
    expect(result.status).toBe('signed');
    expect(result.summary).toBe('signed by patatt ed25519 jane@example.com (not checked: DKIM example.com)');
  });

  it('a changed diff breaks both', async () => {
    const result = await attestMessage(edit(both, 'return -ENODEV;', 'return -ENODEW;'), { keyrings: [keyring], resolver });
    expect(result.status).toBe('bad');
    expect(result.signatures.map((s) => `${s.method}:${s.status}`)).toEqual(['patatt:bad', 'dkim:bad']);
  });
});
