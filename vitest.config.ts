import { defineConfig } from 'vitest/config';

// Integration tests start real daemons (pebble, knot, tor, miniupnpd, chromium) on a 2-core
// machine: run files one at a time per project so they never fight over ports or CPU time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
