/**
 * Projects a statistics document into stats_rows, inside the transaction that stores its update.
 *
 * A statistics document comes from a descendant, which may be broken or hostile; the link checks
 * every value it inserts (scope-check, with StatsCountsSchema), but that check lets strings
 * through (the unit's name is one) and a replica may hold values from before the check existed.
 * So the projection checks again, and never throws on content: a throw here would roll back the
 * whole batch the update came in, and the link would fail on it again and again.
 *
 * An entry whose key is not `<day of this month>|<item code>` or whose value is not exactly
 * StatsCounts is not projected as counts. It is logged, and a marker row takes its place — item
 * code `!rejected:<hash of the key>`, counts `{ rejected: reason }` — so that every later
 * GET /api/stats of the subtree finds it (the marker is not counts, so the summing skips it
 * and reports it in `skipped`) and the dashboard can warn, across restarts, for as long as the
 * document holds the bad entry. Item codes never start with `!` (ItemCodeSchema), so a marker
 * cannot collide with a real row.
 */
import { createHash } from 'node:crypto'
import type * as Y from 'yjs'
import { ItemCodeSchema, parseCounts, type StatsCounts } from '../../../protocol/index.ts'
import { parseRollupDocId } from '../../../protocol/stats-rollup.ts'
import type { Queryable } from '../store/db.ts'
import { projectRollup } from './project-rollup.ts'
import { countsMap, docGeneration, parseStatsDocId } from './stats-doc.ts'

export const REJECTED_PREFIX = '!rejected:'

/** What a projection did: rows written as counts, entries refused (each left as a marker row). */
export interface StatsProjection {
  rows: number
  rejected: { key: string; reason: string }[]
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

/** Reads a statistics document's entries without trusting them: each is counts, or a reason. */
export function checkEntries(month: string, doc: Y.Doc): { key: string; day: string | null; item: string | null; counts: StatsCounts | null; reason: string | null }[] {
  const out: ReturnType<typeof checkEntries> = []
  let entries: [string, unknown][]
  try {
    entries = [...countsMap(doc, docGeneration(doc)).entries()] // the highest generation: stats-doc.ts
  } catch (e) {
    // 'counts' made as another shared type by a hostile writer: nothing in it can be counts.
    return [{ key: '(counts)', day: null, item: null, counts: null, reason: `unreadable counts map: ${String((e as Error)?.message ?? e).slice(0, 100)}` }]
  }
  for (const [key, value] of entries) {
    const bar = key.indexOf('|')
    const day = bar > 0 ? key.slice(0, bar) : ''
    const item = bar > 0 ? key.slice(bar + 1) : ''
    const dayOk = DAY.test(day) && day.startsWith(`${month}-`)
    let reason: string | null = null
    if (!dayOk) reason = `the key's day is not a day of ${month}`
    else if (!ItemCodeSchema.safeParse(item).success) reason = 'the key has no valid item code'
    const counts = reason ? null : parseCounts(value)
    if (!reason && !counts) reason = 'not exactly StatsCounts'
    out.push({ key, day: dayOk ? day : null, item: reason ? null : item, counts, reason })
  }
  return out
}

/** A name fit to show: a non-empty string of at most 100 characters, no control characters (jsonb and text hold no NUL). */
export const showable = (name: unknown): name is string => typeof name === 'string' && !!name.trim() && name.length <= 100 && !/[\u0000-\u001f\u007f]/.test(name)

/** Keeps the names of the items a unit below counts (its document's `items` map) that are well formed. */
export async function projectItemNames(doc: Y.Doc, tx: Queryable): Promise<void> {
  let entries: [string, unknown][]
  try {
    entries = [...doc.getMap<unknown>('items').entries()]
  } catch {
    return // `items` made as another shared type: no names to learn
  }
  const codes: string[] = []
  const names: string[] = []
  for (const [code, name] of entries) {
    if (!ItemCodeSchema.safeParse(code).success || !showable(name)) continue
    codes.push(code)
    names.push(name)
  }
  // One statement for all of them (a map's keys are distinct, so no row is upserted twice).
  // text[], not a jsonb array: a name is stored as its one-row text parameter was, a lone
  // surrogate made U+FFFD, where jsonb would refuse the whole statement.
  if (codes.length) {
    await tx.query(
      'INSERT INTO item_names (code, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name',
      [codes, names],
    )
  }
}

/** For the marker and the log: jsonb refuses NUL and lone surrogates, so keep printable ASCII only. */
export const printable = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?')

export async function projectStats(docId: string, doc: Y.Doc, tx: Queryable): Promise<StatsProjection> {
  const rollup = parseRollupDocId(docId)
  if (rollup) return projectRollup(rollup, docId, doc, tx)
  const ref = parseStatsDocId(docId)
  const result: StatsProjection = { rows: 0, rejected: [] }
  if (!ref) return result
  await tx.query('DELETE FROM stats_rows WHERE node_code = $1 AND month = $2 AND dim = $3', [ref.nodeCode, ref.month, ref.dim])
  let name: unknown
  try {
    name = doc.getMap<unknown>('meta').get('name')
  } catch {
    name = undefined
  }
  // The scope check allows strings of at most 100 characters; PostgreSQL text holds no NUL.
  if (showable(name)) {
    await tx.query('INSERT INTO units (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name', [ref.nodeCode, name])
  }
  await projectItemNames(doc, tx)
  // The rows and the markers as columns, each set in one statement (a village's month was ~40
  // one-row statements, each time its document came up in a frame). Keys are distinct, so no
  // two rows share (day, item); a marker's item starts with `!`, which no counted item does.
  const rows = { day: [] as string[], item: [] as string[], counts: [] as string[] }
  const marks = { day: [] as string[], item: [] as string[], counts: [] as string[] }
  for (const e of checkEntries(ref.month, doc)) {
    if (e.counts && e.day && e.item) {
      rows.day.push(e.day)
      rows.item.push(e.item)
      rows.counts.push(JSON.stringify(e.counts))
      result.rows++
      continue
    }
    const reason = e.reason ?? 'malformed'
    result.rejected.push({ key: e.key, reason })
    marks.day.push(e.day ?? `${ref.month}-01`)
    marks.item.push(REJECTED_PREFIX + createHash('sha256').update(e.key).digest('hex').slice(0, 24))
    marks.counts.push(JSON.stringify({ rejected: printable(reason), key: printable(e.key.slice(0, 80)) }))
  }
  const insert = `INSERT INTO stats_rows (node_code, month, day, item_code, counts, dim)
    SELECT $1, $2, d, i, c::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[]) AS u(d, i, c)`
  if (rows.day.length) await tx.query(insert, [ref.nodeCode, ref.month, ref.dim, rows.day, rows.item, rows.counts])
  if (marks.day.length) await tx.query(`${insert} ON CONFLICT DO NOTHING`, [ref.nodeCode, ref.month, ref.dim, marks.day, marks.item, marks.counts])
  if (result.rejected.length) {
    const shown = result.rejected.slice(0, 3).map((r) => `"${printable(r.key.slice(0, 60))}": ${printable(r.reason)}`).join('; ')
    console.warn(`[stats] ${docId}: ${result.rejected.length} malformed value(s) not counted (${shown}${result.rejected.length > 3 ? '; …' : ''})`)
  }
  return result
}
