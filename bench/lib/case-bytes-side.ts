/**
 * One side of bench/case-bytes.ts, run as its own process with the code of a checkout (this one,
 * or an older one for "before"): opens the county's data dir with that code (its migrations run),
 * compacts every closed case past the retention with that code's job, and closes.
 * Run: node --import tsx bench/lib/case-bytes-side.ts <checkout root> <data dir> <retention days>
 * Prints one JSON line: { migrateMs, compactMs, merged, rowsRemoved }.
 */
import { join } from 'node:path'
import { COUNTY } from './county-fill.ts'

const [root, dataDir, days] = process.argv.slice(2)
const { openNode } = await import(join(root, 'nodes/core/node.ts'))
const { PRESETS } = await import(join(root, 'nodes/core/presets.ts'))
const { compactClosedCases } = await import(join(root, 'nodes/core/docs/compact-cases.ts'))

const t0 = performance.now()
const node = await openNode({ ...PRESETS.county.defaults, ...COUNTY, dataDir, catalogue: 'sample', checkpointMs: 3_600_000 })
const migrateMs = performance.now() - t0
const t1 = performance.now()
let merged = 0
let rowsRemoved = 0
for (;;) {
  const r = await compactClosedCases(node.db, { retentionDays: Number(days), now: new Date(), maxCases: 20_000 })
  merged += r.merged
  rowsRemoved += r.rowsRemoved
  process.stderr.write(`[case-bytes side] looked at ${r.looked}, merged ${r.merged} (${merged} so far)\n`)
  if (!r.looked) break
}
const compactMs = performance.now() - t1
await node.close()
console.log(JSON.stringify({ migrateMs, compactMs, merged, rowsRemoved }))
