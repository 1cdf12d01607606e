import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two files at a time fit 2 cores. The timing-sensitive event-loop test and the
    // node-gyp build run after the rest, one at a time (see package.json "test").
    maxWorkers: 2,
    minWorkers: 1,
  },
});
