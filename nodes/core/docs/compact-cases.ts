/**
 * Bounded growth (issue 11, goal 3): a closed case (CLOSED_SQL: delivered, refused or
 * withdrawn) that nothing has changed for longer than the retention setting has its stored
 * updates (the application, then one row per event: 4–6 rows) merged into one row holding the
 * document's whole state, stored packed (packed-update.ts: ~0.7 KB instead of ~1.4 KB).
 *
 * The merged row takes the sequence number of the newest row it replaces. So the link, which
 * streams by sequence, sends it to no peer that had those rows already (their cursors are past
 * it), and a peer that had not yet received the newest row gets the whole state instead — a
 * superset. Only rows read in the same transaction are deleted: an update stored meanwhile
 * stays, and the case re-enters the window later (its `updated_at` moved).
 *
 * The job walks the closed cases by (updated_at, id) from a cursor kept in node_meta, a page at
 * a time: it never reads every case, and each case is merged about once.
 */
import * as Y from 'yjs'
import type { Db } from '../store/db.ts'
import { isPacked, packUpdate } from './packed-update.ts'

export const DEFAULT_RETENTION_DAYS = 30
/**
 * A closed case: one no event can follow but a late rating or a rectification's — delivered
 * (rated or not: many applicants never rate), refused (不予受理) or withdrawn — with no
 * rectification open. A late rating or rectification lands as a new row beside the merged
 * one, and the case is merged again once untouched past the retention.
 */
export const CLOSED_SQL = `(status IN ('delivered', 'refused', 'withdrawn') AND (rect_status IS NULL OR rect_status NOT IN ('open', 'replied')))`
const PAGE = 200
const CURSOR_KEY = 'compact_cases_after'

/**
 * Merges the rows of one case document into one, stored packed (packed-update.ts); returns how
 * many rows it removed, or null when it left the document as it was.
 */
async function compactDoc(db: Db, docId: string): Promise<number | null> {
  return db.transaction(async (tx) => {
    // Several processes on one PostgreSQL: the document's write lock (doc-store.ts DOC_LOCK).
    if (db.kind === 'pg') await tx.query('SELECT pg_advisory_xact_lock(7411002, hashtext($1))', [docId])
    // `update` comes back unpacked (the store unpacks it); `raw` as stored, to see whether it is packed.
    const rows = await tx.query<{ seq: number; update: Uint8Array; raw: Uint8Array; origin: string; created_at: string }>(
      'SELECT seq::float8 AS seq, update, update AS raw, origin, created_at FROM doc_updates WHERE doc_id = $1 ORDER BY seq', [docId])
    // One row already packed: nothing to merge or pack. One row not yet packed (a case stored
    // whole, e.g. taken in and closed in one go, or merged before packing existed): packed.
    if (!rows.length || (rows.length === 1 && isPacked(rows[0].raw))) return null
    const doc = new Y.Doc({ gc: true })
    doc.transact(() => {
      for (const r of rows) Y.applyUpdate(doc, r.update)
    })
    const whole = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    const last = rows[rows.length - 1]
    await tx.query('DELETE FROM doc_updates WHERE doc_id = $1 AND seq = ANY($2::bigint[])', [docId, rows.map((r) => r.seq)])
    // The uid only has to be unique: an update offered again that this state already holds
    // changes nothing and is dropped before any insert (doc-store), so no uid of content is
    // needed to catch it. `m:<seq>` (never 43 base64url characters like a content uid) is ~35
    // bytes shorter than a hash, in the row and in the unique index.
    const uid = `m:${last.seq}`
    await tx.query(
      'INSERT INTO doc_updates (seq, doc_id, update, origin, uid, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (uid) DO NOTHING',
      [last.seq, docId, packUpdate(whole), last.origin, uid, last.created_at],
    )
    return rows.length - 1
  })
}

/**
 * One pass: the next pages of cases closed and untouched since `retentionDays`, merged.
 * Returns the cases looked at, merged, and rows removed.
 */
export async function compactClosedCases(db: Db, opts: { retentionDays: number; now: Date; maxCases?: number }): Promise<{ looked: number; merged: number; rowsRemoved: number }> {
  const cutoff = new Date(opts.now.getTime() - opts.retentionDays * 86_400_000).toISOString()
  const [cur] = await db.query<{ value: string }>('SELECT value FROM node_meta WHERE key = $1', [CURSOR_KEY])
  let [afterAt, afterId] = cur ? (JSON.parse(cur.value) as [string, string]) : ['1970-01-01T00:00:00.000Z', '']
  const out = { looked: 0, merged: 0, rowsRemoved: 0 }
  const max = opts.maxCases ?? 5_000
  while (out.looked < max) {
    const page = await db.query<{ id: string; updated_at: string; closed: boolean }>(
      `SELECT id, updated_at, ${CLOSED_SQL} AS closed FROM cases
       WHERE (updated_at, id) > ($1::timestamptz, $2) AND updated_at < $3 ORDER BY updated_at, id LIMIT $4`,
      [afterAt, afterId, cutoff, PAGE],
    )
    if (!page.length) break
    let removedHere = 0
    let changedHere = 0
    for (const c of page) {
      out.looked++
      if (!c.closed) continue
      const removed = await compactDoc(db, `case:${c.id}`)
      if (removed !== null) {
        out.merged++
        changedHere++
        removedHere += removed
      }
    }
    out.rowsRemoved += removedHere
    // So that the next page's rows reuse this page's space (the table would grow otherwise):
    // PGlite runs no autovacuum worker. VACUUM skips the pages its visibility map marks
    // all-visible, so it visits what changed since the last one, not the whole table.
    if (changedHere) await db.query('VACUUM doc_updates')
    const last = page[page.length - 1]
    afterAt = new Date(last.updated_at).toISOString()
    afterId = last.id
    await db.query('INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [CURSOR_KEY, JSON.stringify([afterAt, afterId])])
    if (page.length < PAGE) break
  }
  return out
}

/** TONGBAN_CASE_RETENTION_DAYS, or the default. */
export function retentionDaysFromEnv(): number {
  const env = process.env.TONGBAN_CASE_RETENTION_DAYS
  return env !== undefined && /^\d{1,5}$/.test(env) ? Number(env) : DEFAULT_RETENTION_DAYS
}

/**
 * The node's periodic job: a pass 10 minutes after start (not during it), then hourly, each of
 * at most 5,000 cases. TONGBAN_CASE_RETENTION_DAYS sets the retention (default 30 days).
 */
export function startCaseCompaction(db: Db, now: () => Date, log: (s: string) => void): { stop(): Promise<void> } {
  const retentionDays = retentionDaysFromEnv()
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false
  const pass = () => {
    if (stopped) return
    running = running.then(() => compactClosedCases(db, { retentionDays, now: now() }))
      .then((r) => {
        if (r && typeof r === 'object' && 'merged' in r && r.merged) log(`compacted ${r.merged} closed case(s) older than ${retentionDays} days (${r.rowsRemoved} stored updates merged away)`)
      })
      .catch((e) => log(`compacting closed cases failed: ${(e as Error).message}`))
  }
  const first = setTimeout(pass, 600_000)
  const hourly = setInterval(pass, 3_600_000)
  first.unref()
  hourly.unref()
  return {
    async stop() {
      stopped = true
      clearTimeout(first)
      clearInterval(hourly)
      await running
    },
  }
}
