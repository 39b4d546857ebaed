import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Unit tests exercise pure logic (and real git/HTTP where cheap); e2e tests build and boot real
// kernels and run one file at a time because they share the build directory and both cores.
// `long` holds the e2e files whose first run builds a kernel of its own (the KASAN/lockdep
// config, the 6.1 tree): they do not fit CI's budget on a fresh machine, so `npm run test:long`
// runs them after everything `npm test` runs.
const e2e = { testTimeout: 3_600_000, hookTimeout: 3_600_000, pool: 'forks', poolOptions: { forks: { singleFork: true } } } as const;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 60_000,
          // DKIM keys of the mails under test come from this file (empty: every lookup is
          // "no such name", as offline), never from the network; child processes inherit it
          env: { KHARNESS_DKIM_DNS_FILE: fileURLToPath(new URL('tests/fixtures/attest/no-dns.json', import.meta.url)) },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          ...e2e,
        },
      },
      {
        test: {
          name: 'long',
          include: ['tests/long/**/*.test.ts'],
          ...e2e,
        },
      },
    ],
  },
});
