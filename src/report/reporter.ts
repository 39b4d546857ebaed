import { execa } from 'execa';
import { InputError } from '../common/errors.js';
import type { PersonInfo } from './types.js';

/** `Name <addr@host>` as given to --reporter; a bare address is allowed too. */
export function parseReporter(value: string): PersonInfo {
  const m = /^\s*(?:"?([^"<>]*?)"?\s*)?<([^<>\s@]+@[^<>\s@]+)>\s*$/.exec(value) ?? /^\s*()([^<>\s@]+@[^<>\s@]+)\s*$/.exec(value);
  if (!m) throw new InputError(`--reporter "${value}" is not "Name <address>"`, 'e.g. --reporter "Zswap Robot <zswap-robot@example.org>"');
  const person = { name: (m[1] ?? '').trim(), email: m[2] as string };
  if (/@localhost$/i.test(person.email)) throw new InputError(`--reporter ${person.email} is not an address anyone can write to`);
  return person;
}

async function gitConfig(key: string): Promise<string> {
  const r = await execa('git', ['config', '--get', key], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : '';
}

/** git config user.name/user.email, when an address is set (and is not @localhost). */
export async function gitIdentity(): Promise<PersonInfo | undefined> {
  const [name, email] = await Promise.all([gitConfig('user.name'), gitConfig('user.email')]);
  if (!email || !email.includes('@') || /@localhost$/i.test(email)) return undefined;
  return { name, email };
}

export function formatPerson(p: PersonInfo): string {
  return p.name ? `${p.name} <${p.email}>` : `<${p.email}>`;
}
