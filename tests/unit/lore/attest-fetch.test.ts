import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { projectRoot, venvBin } from '../../../src/common/paths.js';
import { registerLoreCommands } from '../../../src/lore/cli.js';
import { DNS_FILE_ENV } from '../../../src/lore/attest-series.js';
import { joinMboxrd } from '../../../src/lore/mbox.js';
import { SeriesSchema, type Series } from '../../../src/lore/schema.js';
import { startLoreServer, type LoreServer } from '../../../src/lore/server.js';
import { coverBody, patchBody, rawMail, tempDir, useTempCache } from './helpers.js';

/**
 * Attestation end to end through the real fetch path: a two-patch thread signed by the real
 * patatt (a test key) and dkimpy (a test DKIM key), served by serve-lore over HTTP, fetched by
 * `kharness fetch`; DKIM keys come from a JSON file standing in for DNS, never the network. The
 * same thread with one changed line, and unsigned, must show as bad and be refused.
 */

const PYTHON = venvBin('python3');
const PATATT = venvBin('patatt');
const BIN = path.join(projectRoot, 'bin', 'kharness.js');
const ALICE = 'Alice Chen <alice@example.com>';
const ids = { cover: 'att-0@example.com', p1: 'att-1@example.com', p2: 'att-2@example.com' };
const SIGNED_SUMMARY = 'signed by patatt ed25519 alice@example.com; DKIM example.com';

useTempCache();
let scratch: Awaited<ReturnType<typeof tempDir>>;
let keyring = '';
let dnsFile = '';
const servers: Record<'signed' | 'tampered' | 'unsigned', LoreServer | undefined> = { signed: undefined, tampered: undefined, unsigned: undefined };
const savedDns = process.env[DNS_FILE_ENV];

function thread(): Buffer[] {
  return [
    rawMail({ id: ids.cover, subject: '[PATCH 0/2] mm: zswap: attested', body: coverBody(), from: ALICE }, 0),
    rawMail({ id: ids.p1, subject: '[PATCH 1/2] mm: zswap: one', body: patchBody(1), from: ALICE, parent: ids.cover }, 1),
    rawMail({ id: ids.p2, subject: '[PATCH 2/2] mm: zswap: two', body: patchBody(2), from: ALICE, parent: ids.cover }, 2),
  ];
}

/** The developer signs with patatt, then the sending domain with DKIM (as an MTA does). */
async function sign(mail: Buffer, env: Record<string, string>, dkimKey: string): Promise<Buffer> {
  const devsigned = Buffer.from((await execa(PATATT, ['sign'], { input: mail, encoding: 'buffer', env, cwd: scratch.dir, stripFinalNewline: false })).stdout);
  const script =
    'import dkim, sys\nm = sys.stdin.buffer.read()\n' +
    'sys.stdout.buffer.write(dkim.sign(m, b"sel", b"example.com", open(sys.argv[1], "rb").read(), include_headers=[b"from", b"subject", b"date", b"message-id"], linesep=b"\\n") + m)';
  return Buffer.from((await execa(PYTHON, ['-c', script, dkimKey], { input: devsigned, encoding: 'buffer', stripFinalNewline: false })).stdout);
}

async function serve(name: keyof typeof servers, mails: Buffer[]): Promise<void> {
  const dir = path.join(scratch.dir, `lore-${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'thread.mbox'), joinMboxrd(mails));
  servers[name] = await startLoreServer(dir, 0);
}

beforeAll(async () => {
  for (const tool of [PYTHON, PATATT]) if (!existsSync(tool)) throw new Error(`${tool} is missing: run bash scripts/setup.sh`);
  scratch = await tempDir('kh-attest-fetch-');
  // patatt's own world: HOME, data dir and git config of the signer
  const home = path.join(scratch.dir, 'home');
  const data = path.join(scratch.dir, 'data');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(scratch.dir, 'gitconfig'), '[user]\n\tname = Alice Chen\n\temail = alice@example.com\n[patatt]\n\tsigningkey = ed25519:test\n\tselector = test\n');
  const env = { HOME: home, XDG_DATA_HOME: data, XDG_CONFIG_HOME: path.join(scratch.dir, 'config'), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(scratch.dir, 'gitconfig') };
  await execa(PATATT, ['genkey', '-n', 'test'], { env, cwd: scratch.dir });
  keyring = path.join(scratch.dir, 'keyring');
  await mkdir(path.join(keyring, 'ed25519', 'example.com', 'alice'), { recursive: true });
  await writeFile(path.join(keyring, 'ed25519', 'example.com', 'alice', 'test'), await readFile(path.join(data, 'patatt', 'public', 'test.pub')));

  const dkim = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkimKey = path.join(scratch.dir, 'dkim.pem');
  await writeFile(dkimKey, dkim.privateKey.export({ type: 'pkcs1', format: 'pem' }));
  dnsFile = path.join(scratch.dir, 'dns.json');
  await writeFile(dnsFile, JSON.stringify({ 'sel._domainkey.example.com': `v=DKIM1; k=rsa; p=${dkim.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}` }));
  process.env[DNS_FILE_ENV] = dnsFile;

  const [cover, p1, p2] = thread() as [Buffer, Buffer, Buffer];
  const signed = [cover, await sign(p1, env, dkimKey), await sign(p2, env, dkimKey)];
  const body = signed[2]!.toString('latin1');
  expect(body).toContain('+int y2;');
  const tampered = Buffer.from(body.replace('+int y2;', '+int y2 = 1;'), 'latin1');
  await serve('signed', signed);
  await serve('tampered', [cover, signed[1]!, tampered]);
  await serve('unsigned', [cover, p1, p2]);
});

afterAll(async () => {
  if (savedDns === undefined) delete process.env[DNS_FILE_ENV];
  else process.env[DNS_FILE_ENV] = savedDns;
  for (const s of Object.values(servers)) await s?.close();
  await scratch?.cleanup();
});

/** `kharness fetch` in-process, the way src/cli.ts wires it. */
async function fetchCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const program = new Command('kharness').exitOverride();
  registerLoreCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  let stderr = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'kharness', 'fetch', ...args]);
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stderr };
}

const threadUrl = (name: keyof typeof servers): string => `${servers[name]!.url}/all/${ids.cover}/`;
const readSeriesJson = async (dir: string): Promise<Series> => SeriesSchema.parse(JSON.parse(await readFile(path.join(dir, 'series.json'), 'utf8')));

/** The compiled CLI (bin/kharness.js runs dist/); a dist older than the source would test old code. */
function checkDistFresh(): void {
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs)));
  const dist = path.join(projectRoot, 'dist', 'cli.js');
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest(path.join(projectRoot, 'src'))) throw new Error('dist/ is older than src/: run `npm run build` (scripts/setup.sh does)');
}

async function kharness(args: string[], cwd: string): Promise<{ exitCode: number; stderr: string }> {
  const r = await execa('node', [BIN, ...args], { cwd, reject: false, env: { [DNS_FILE_ENV]: dnsFile, KHARNESS_LORE_NO_CACHE: '1' }, timeout: 60_000 });
  return { exitCode: r.exitCode ?? -1, stderr: String(r.stderr) };
}

describe('attestation through kharness fetch, over HTTP from serve-lore', () => {
  it('a series signed with the test keys shows as signed, per patch, in series.json and on screen', async () => {
    const out = path.join(scratch.dir, 'out-signed');
    const r = await fetchCli([threadUrl('signed'), '--lore', servers.signed!.url, '--no-cache', '--keyring', keyring, '--require-attestation', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`  1/2 mm: zswap: one\n      signed: ${SIGNED_SUMMARY}\n`);
    expect(r.stderr).toContain(`  2/2 mm: zswap: two\n      signed: ${SIGNED_SUMMARY}\n`);
    const series = await readSeriesJson(out);
    expect(series.patches.map((p) => p.attestation?.summary)).toEqual([SIGNED_SUMMARY, SIGNED_SUMMARY]);
    expect(series.patches[0]?.attestation?.signatures.map((s) => `${s.method}:${s.status}:${s.identity}`)).toEqual(['patatt:good:alice@example.com', 'dkim:good:example.com']);
  });

  it('DNS that cannot answer leaves DKIM unknown, not bad; the patatt signature still counts', async () => {
    process.env[DNS_FILE_ENV] = path.join(projectRoot, 'tests', 'fixtures', 'attest', 'no-dns.json');
    try {
      const out = path.join(scratch.dir, 'out-offline');
      const r = await fetchCli([threadUrl('signed'), '--lore', servers.signed!.url, '--no-cache', '--keyring', keyring, '-o', out]);
      expect(r.code, r.stderr).toBe(0);
      const series = await readSeriesJson(out);
      expect(series.patches.map((p) => p.attestation?.status)).toEqual(['signed', 'signed']);
      expect(series.patches[0]?.attestation?.summary).toBe('signed by patatt ed25519 alice@example.com (not checked: DKIM example.com)');
    } finally {
      process.env[DNS_FILE_ENV] = dnsFile;
    }
  });

  it('one changed line of 2/2 is bad by both signatures; --require-attestation refuses it, naming 2/2 only', async () => {
    const out = path.join(scratch.dir, 'out-tampered');
    const r = await fetchCli([threadUrl('tampered'), '--lore', servers.tampered!.url, '--no-cache', '--keyring', keyring, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const series = await readSeriesJson(out);
    expect(series.patches.map((p) => p.attestation?.status)).toEqual(['signed', 'bad']);
    expect(series.patches[1]?.attestation?.signatures.map((s) => `${s.method}:${s.status}`)).toEqual(['patatt:bad', 'dkim:bad']);
    expect(r.stderr).toMatch(/ {2}2\/2 mm: zswap: two\n {6}bad: bad signature: patatt ed25519 alice@example\.com: body content validation failed/);

    const refusedOut = path.join(scratch.dir, 'out-tampered-refused');
    const refused = await fetchCli([threadUrl('tampered'), '--lore', servers.tampered!.url, '--no-cache', '--keyring', keyring, '--require-attestation', '-o', refusedOut]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--require-attestation: 1 of 2 patch\(es\) not signed by a good signature:\n {2}2\/2 mm: zswap: two: bad signature: patatt .*body content validation failed/);
    expect(refused.stderr).not.toMatch(/^ {2}1\/2 /m);
    expect(existsSync(refusedOut)).toBe(false);
  });

  it('the real CLI: fetch, run and bisect --series refuse the unsigned series with exit 2, before anything is written or built', async () => {
    checkDistFresh();
    const cwd = path.join(scratch.dir, 'cli');
    const work = path.join(scratch.dir, 'work');
    await mkdir(cwd, { recursive: true });
    const lore = ['--lore', servers.unsigned!.url, '--keyring', keyring, '--require-attestation'];
    const [fetched, ran, bisected] = await Promise.all([
      kharness(['fetch', threadUrl('unsigned'), ...lore, '-o', 'fetched'], cwd),
      kharness(['run', threadUrl('unsigned'), ...lore, '--no-sandbox', '--work', work, '--out', path.join(cwd, 'report')], cwd),
      kharness(['bisect', '--series', threadUrl('unsigned'), ...lore, '--no-sandbox', '--work', work, '--out', path.join(cwd, 'bisect')], cwd),
    ]);
    for (const r of [fetched, ran, bisected]) {
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain('--require-attestation: 2 of 2 patch(es) not signed by a good signature:\n  1/2 mm: zswap: one: not signed\n  2/2 mm: zswap: two: not signed');
    }
    expect(existsSync(path.join(cwd, 'fetched'))).toBe(false);
    expect(existsSync(path.join(cwd, 'bisect'))).toBe(false);
    // nothing was applied or built: no worktree or build folder exists
    expect(existsSync(work)).toBe(false);
    const report = JSON.parse(await readFile(path.join(cwd, 'report', 'report.json'), 'utf8')) as { status: string; statusReason: string; exitCode: number };
    expect(report).toMatchObject({ status: 'bad-input', exitCode: 2 });
    expect(report.statusReason).toContain('2/2 mm: zswap: two: not signed');
  });
});
