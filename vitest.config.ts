import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['protocol/**/*.test.ts', 'nodes/**/*.test.ts', 'test/**/*.test.ts', 'catalogue/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PGlite instances are memory-heavy; two cores — keep parallelism modest.
    maxWorkers: 2,
  },
})
