/**
 * Projects the supervision documents into rows, inside the transaction that stores their update
 * (docs/projection.ts): a unit's warnings into watch_entries, a notice and its latest reply into
 * notices. What came from below was checked at the link; it is checked again here (a replica may
 * hold values from before the checks), and a bad value is skipped, never thrown on.
 */
import type * as Y from 'yjs'
import { warningKey, WarningSchema } from '../../../protocol/index.ts'
import { showable } from '../stats/project.ts'
import type { Queryable } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'
import { readVerifiedNotice } from './notice-doc.ts'

export async function projectWatch(docId: string, doc: Y.Doc, tx: Queryable): Promise<void> {
  const code = docId.slice('watch:'.length)
  if (!/^\d{12}$/.test(code)) return
  let entries: [string, unknown][]
  let name: unknown
  try {
    entries = [...doc.getMap<unknown>('warnings').entries()]
    name = doc.getMap<unknown>('meta').get('name')
  } catch {
    return // a map made as another shared type by a hostile writer: nothing to show
  }
  if (showable(name)) await tx.query('INSERT INTO units (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name', [code, name])
  await tx.query('DELETE FROM watch_entries WHERE node_code = $1', [code])
  const rows = entries.flatMap(([key, v]) => {
    const p = WarningSchema.safeParse(v)
    return p.success && p.data.unit === code && warningKey(p.data) === key ? [p.data] : []
  })
  if (!rows.length) return
  // One statement for the unit's warnings: PGlite's cost is per statement.
  await tx.query(
    `INSERT INTO watch_entries (node_code, case_id, type, item_code, item_name, level, since, detail)
     SELECT $1, w->>'caseId', w->>'type', w->>'itemCode', w->>'itemName', w->>'level', w->>'since', w->>'detail'
     FROM jsonb_array_elements($2::jsonb) AS w ON CONFLICT DO NOTHING`,
    [code, JSON.stringify(rows)],
  )
}

export async function projectNotice(doc: Y.Doc, tx: Queryable, trust: Trust): Promise<void> {
  const held = readVerifiedNotice(doc, trust)
  if (!held) return
  const { notice: n, replies } = held
  const last = replies.at(-1) ?? null
  // The issuer's own name, signed: a fallback for a unit the directory does not name (never over it).
  if (showable(n.issuerName)) await tx.query('INSERT INTO units (code, name) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING', [n.issuer, n.issuerName])
  await tx.query(
    `INSERT INTO notices (id, issuer, target, case_id, type, body, deadline, issued_at, issued_by, replies, reply_text, reply_at, reply_by)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
     ON CONFLICT (id) DO UPDATE SET replies = EXCLUDED.replies, reply_text = EXCLUDED.reply_text, reply_at = EXCLUDED.reply_at, reply_by = EXCLUDED.reply_by`,
    [n.id, n.issuer, n.target, n.caseId ?? null, n.type ?? null, n.text, n.deadline, n.issuedAt, n.issuedBy, replies.length, last?.text ?? null, last?.at ?? null, last?.user ?? null],
  )
}
