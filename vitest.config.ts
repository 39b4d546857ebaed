import { defineConfig } from 'vitest/config';

// Unit tests exercise pure logic (and real git/HTTP where cheap); e2e tests build and boot real
// kernels and run one file at a time because they share the build directory and both cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 3_600_000,
          hookTimeout: 3_600_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
