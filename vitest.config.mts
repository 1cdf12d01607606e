import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Hostile-input and build tests are CPU-heavy; two files at a time fit 2 cores.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
