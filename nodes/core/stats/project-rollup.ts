/**
 * Projects a child's rollup document (protocol/stats-rollup.ts) into stats_rollup, inside the
 * transaction that stores its update: its day rows, and per key the month's sum (so a range of
 * whole months reads one row per key and month).
 *
 * The child may be broken or hostile. The link lets only the unit itself write its rollup
 * (scopes.ts), and checks every value is StatsCounts or a short string; here each entry is
 * checked again against the unit's subtree (checkRollupEntry): a key naming a unit outside it,
 * or deeper than a rollup reaches, or a value that is not exactly StatsCounts is not counted —
 * counted in stats_rollup_docs.rejected, which GET /api/stats reports as `skipped` so the
 * dashboard warns. A document with more than MAX_ROLLUP_KEYS keys is refused whole. Never
 * throws on content (a throw would roll back the link's batch again and again).
 */
import type * as Y from 'yjs'
import { addCounts, emptyCounts, isInSubtree, parentCode, type StatsCounts } from '../../../protocol/index.ts'
import { checkRollupEntry, MAX_ROLLUP_KEYS } from '../../../protocol/stats-rollup.ts'
import type { Queryable } from '../store/db.ts'
import { printable, projectItemNames, showable, type StatsProjection } from './project.ts'
import { countsMap, docGeneration } from './stats-doc.ts'

/** Rows per INSERT statement: PGlite's cost is per statement, a county's month is ~30,000 rows. */
const CHUNK = 5_000

export async function projectRollup(ref: { nodeCode: string; month: string; dim: 'origin' | 'handler' }, docId: string, doc: Y.Doc, tx: Queryable): Promise<StatsProjection> {
  const result: StatsProjection = { rows: 0, rejected: [] }
  // This node's own rollup is what it sends up, not a child's figures.
  const [self] = await tx.query<{ value: string }>("SELECT value FROM node_meta WHERE key = 'code'")
  if (self?.value === ref.nodeCode) return result
  await tx.query('DELETE FROM stats_rollup WHERE child_code = $1 AND dim = $2 AND month = $3', [ref.nodeCode, ref.dim, ref.month])
  let entries: [string, unknown][]
  try {
    entries = [...countsMap(doc, docGeneration(doc)).entries()] // the highest generation: stats-doc.ts
  } catch {
    entries = []
    result.rejected.push({ key: '(counts)', reason: 'unreadable counts map' })
  }
  if (entries.length > MAX_ROLLUP_KEYS) {
    result.rejected.push({ key: '(document)', reason: `${entries.length} keys, more than the ${MAX_ROLLUP_KEYS} a rollup may hold` })
    entries = []
  }
  const rows: [string, string, string, string | null, StatsCounts][] = []
  const months = new Map<string, [string, string, string | null, StatsCounts]>()
  for (const [key, value] of entries) {
    const e = checkRollupEntry(ref.nodeCode, ref.month, key, value)
    if ('reason' in e) {
      result.rejected.push({ key, reason: e.reason })
      continue
    }
    const up = e.kind === 'i' ? null : parentCode(e.key)
    rows.push([e.day, e.kind, e.key, up, e.counts])
    const mk = `${e.kind}|${e.key}`
    const m = months.get(mk) ?? [e.kind, e.key, up, emptyCounts()]
    addCounts(m[3], e.counts)
    months.set(mk, m)
  }
  for (const [kind, key, up, c] of months.values()) rows.push([ref.month, kind, key, up, c])
  for (let i = 0; i < rows.length; i += CHUNK) {
    await tx.query(
      `INSERT INTO stats_rollup (dim, kind, child_code, month, day, key, up, counts)
       SELECT $1, r->>1, $2, $3, r->>0, r->>2, r->>3, r->4 FROM jsonb_array_elements($4::jsonb) r`,
      [ref.dim, ref.nodeCode, ref.month, JSON.stringify(rows.slice(i, i + CHUNK))],
    )
  }
  result.rows = rows.length
  await tx.query(
    `INSERT INTO stats_rollup_docs (child_code, dim, month, rows, rejected, changed_at) VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (child_code, dim, month) DO UPDATE SET rows = EXCLUDED.rows, rejected = EXCLUDED.rejected, changed_at = now()`,
    [ref.nodeCode, ref.dim, ref.month, rows.length, result.rejected.length],
  )
  await projectNames(ref.nodeCode, doc, tx)
  await projectItemNames(doc, tx)
  if (result.rejected.length) {
    const shown = result.rejected.slice(0, 3).map((r) => `"${printable(r.key.slice(0, 60))}": ${printable(r.reason)}`).join('; ')
    console.warn(`[stats] ${docId}: ${result.rejected.length} rollup entr${result.rejected.length === 1 ? 'y' : 'ies'} not counted (${shown}${result.rejected.length > 3 ? '; …' : ''})`)
  }
  return result
}

/** The names a rollup carries (map `names`: code → name) of units in its unit's subtree only. */
async function projectNames(root: string, doc: Y.Doc, tx: Queryable): Promise<void> {
  let entries: [string, unknown][]
  try {
    entries = [...doc.getMap<unknown>('names').entries()]
  } catch {
    return
  }
  let meta: unknown
  try {
    meta = doc.getMap<unknown>('meta').get('name')
  } catch {
    meta = undefined
  }
  if (showable(meta)) entries.push([root, meta])
  // One row per code (the unit's own name may be in both maps): the last one stands.
  const named = [...new Map(entries.filter(([code, name]) => isInSubtree(code, root) && showable(name))).entries()]
  // text[], not a jsonb array: a name with a lone surrogate is stored as U+FFFD (as a text
  // parameter is), where jsonb refused the whole statement, and the rollup with it.
  for (let i = 0; i < named.length; i += CHUNK) {
    const chunk = named.slice(i, i + CHUNK)
    await tx.query(
      `INSERT INTO units (code, name) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name`,
      [chunk.map(([code]) => code), chunk.map(([, name]) => name)],
    )
  }
}
