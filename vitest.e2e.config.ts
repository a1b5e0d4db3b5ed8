import { defineConfig } from 'vitest/config'
import { E2E } from './vitest.config.ts'

/**
 * End to end: each file starts its own tree of node processes (up to 15) or a browser, so files
 * run one at a time on the two cores — in parallel they would measure the machine, not the code.
 */
export default defineConfig({
  test: {
    include: E2E,
    testTimeout: 300_000,
    // A beforeAll starts a tree of processes one after another (each bounded at 180 s).
    hookTimeout: 600_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
})
