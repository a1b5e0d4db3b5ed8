/**
 * Process entry: `node bin/make-template.mjs DIR` initialises and migrates one PGlite store in
 * DIR for a tree of new nodes to copy (cli/tree.ts). Its own process, so PGlite's initdb peak
 * (~0.9 GB) leaves with it instead of staying in the demo's process.
 */
import { makePgliteTemplate } from '../store/pglite.ts'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: make-template DIR')
  process.exit(2)
}
await makePgliteTemplate(dir)
