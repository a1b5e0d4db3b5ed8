/**
 * The escrow writer of a village: seals the updates of the cases that stay in the village (their
 * path does not reach the parent) into its escrow document, which the link carries to the parent
 * like any document. Driven by a cursor over the store's sequence (escrow_state), moved in the
 * transaction that appends the sealed entries: each update is escrowed once, a pass reads only
 * what was stored since the last (O(changed)), and a crash or a stop between passes loses
 * nothing — the next start picks up at the cursor.
 *
 * Updates that came from the parent are skipped: the parent holds them already (and a restore
 * applies what it opens from the escrow with that origin, so it is not escrowed twice).
 */
import { randomBytes } from 'node:crypto'
import { escrowDocId, sendsUp } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'
import { escrowKey, newRecoveryCode, seal } from './crypto.ts'
import { escrowEntries, pieces, type EscrowRecord } from './escrow-doc.ts'

/** Rows read per pass step (a village back from a week's work passes in a few steps). */
const SCAN_ROWS = 500
/** Intake comes in bursts: one pass shortly after, not one per update. */
const DELAY_MS = 300

/**
 * The escrow key kept in the store. `recoveryCode` (a restore) sets it from the code; with none
 * and no key yet (a first start), a new code is made: returned once, for the caller to show.
 */
export async function loadEscrowKey(node: TongbanNode, recoveryCode?: string): Promise<{ key: Buffer; newCode: string | null }> {
  const unit = node.config.code
  const save = (key: Buffer) => node.db.query(
    `INSERT INTO node_meta (key, value) VALUES ('escrow_key', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key.toString('base64')])
  if (recoveryCode) {
    const key = escrowKey(recoveryCode, unit)
    await save(key)
    return { key, newCode: null }
  }
  const [row] = await node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'escrow_key'`)
  if (row) return { key: Buffer.from(row.value, 'base64'), newCode: null }
  const code = newRecoveryCode()
  const key = escrowKey(code, unit)
  await save(key)
  return { key, newCode: code }
}

export class EscrowWriter {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> = Promise.resolve()
  private closed = false
  readonly docId: string
  // Every case update, those from the parent too: a pass seals none of theirs but moves the
  // cursor past them, or `pending` (what /healthz reports as waiting to be sealed) would count
  // them until the next local change — for good, on a village the parent alone writes to.
  private readonly onUpdate = (u: { docId: string; origin: string }) => {
    if (u.docId.startsWith('case:')) this.schedule()
  }

  constructor(
    private readonly node: TongbanNode,
    private readonly key: Buffer,
    private readonly log: (msg: string) => void,
  ) {
    this.docId = escrowDocId(node.config.code)
  }

  start(): void {
    this.node.docs.on('update', this.onUpdate)
    this.schedule()
  }

  schedule(): void {
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.running.then(() => this.pass()).catch((e) => this.log(`escrow: sealing the village's own cases failed (retried at the next change): ${(e as Error).message}`))
    }, DELAY_MS)
  }

  /** Seals everything stored since the cursor; resolves when the cursor is at the store's end. */
  async pass(): Promise<void> {
    const parent = this.node.parent
    if (!parent) return
    for (let more = true; more && !this.closed;) {
      const { result } = await this.node.docs.change(this.docId, async (doc, tx) => {
        await tx.query('INSERT INTO escrow_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING')
        const [st] = await tx.query<{ at: number }>('SELECT escrowed_to::float8 AS at FROM escrow_state WHERE id = 1')
        const rows = await tx.query<{ seq: number; doc_id: string; update: Uint8Array; origin: string; origin_code: string | null; handlers: string[] | null }>(
          `SELECT u.seq::float8 AS seq, u.doc_id, u.update, u.origin, r.origin_code, r.handlers
           FROM doc_updates u LEFT JOIN doc_routes r ON r.doc_id = u.doc_id
           WHERE u.seq > $1 AND u.doc_id LIKE 'case:%' ORDER BY u.seq LIMIT $2`, [Number(st.at), SCAN_ROWS])
        if (!rows.length) return false
        const records: EscrowRecord[] = rows
          .filter((r) => r.origin !== 'parent' && r.origin_code && r.handlers?.length && !sendsUp(parent, { kind: 'case', originCode: r.origin_code, handlers: r.handlers }))
          .map((r) => ({ docId: r.doc_id, update: r.update }))
        if (records.length) {
          const passId = randomBytes(9).toString('base64url')
          escrowEntries(doc).push(pieces(passId, records).map((p) => seal(this.key, this.docId, p)))
        }
        await tx.query('UPDATE escrow_state SET escrowed_to = $1, updated_at = now() WHERE id = 1', [rows[rows.length - 1].seq])
        return rows.length === SCAN_ROWS
      })
      more = result
    }
  }

  /** Case updates stored after the cursor (not yet looked at by a pass): 0 once all are sealed. */
  async pending(): Promise<number> {
    const [r] = await this.node.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM doc_updates WHERE doc_id LIKE 'case:%' AND seq > COALESCE((SELECT escrowed_to FROM escrow_state WHERE id = 1), 0)`)
    return r.n
  }

  /** Stops after the pass under way (the next start resumes at the cursor). */
  async close(): Promise<void> {
    this.closed = true
    this.node.docs.off('update', this.onUpdate)
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }
}
