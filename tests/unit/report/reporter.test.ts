import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { gitIdentity, parseReporter } from '../../../src/report/reporter.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('GIT_CONFIG_')) delete process.env[k];
  Object.assign(process.env, saved);
});

/** git reads GIT_CONFIG_COUNT/KEY_n/VALUE_n over every config file: the test's own identity. */
function gitConfigEnv(pairs: Record<string, string>): void {
  const entries = Object.entries(pairs);
  process.env.GIT_CONFIG_COUNT = String(entries.length);
  entries.forEach(([k, v], i) => {
    process.env[`GIT_CONFIG_KEY_${i}`] = k;
    process.env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
}

describe("the robot's identity for Reported-by:", () => {
  it('--reporter takes "Name <address>" or a bare address, and refuses anything else or @localhost', () => {
    expect(parseReporter('Zswap Robot <zswap-robot@example.org>')).toEqual({ name: 'Zswap Robot', email: 'zswap-robot@example.org' });
    expect(parseReporter('"Robot, Zswap" <r@example.org>')).toEqual({ name: 'Robot, Zswap', email: 'r@example.org' });
    expect(parseReporter('r@example.org')).toEqual({ name: '', email: 'r@example.org' });
    expect(() => parseReporter('Zswap Robot')).toThrow(InputError);
    expect(() => parseReporter('kharness <kharness@localhost>')).toThrow(/not an address anyone can write to/);
  });

  it('else git config user.name/user.email; none (or @localhost) is no identity', async () => {
    gitConfigEnv({ 'user.name': 'Jane Tester', 'user.email': 'jane@example.org' });
    expect(await gitIdentity()).toEqual({ name: 'Jane Tester', email: 'jane@example.org' });
    gitConfigEnv({ 'user.name': 'kharness', 'user.email': 'kharness@localhost' });
    expect(await gitIdentity()).toBeUndefined();
  });
});
