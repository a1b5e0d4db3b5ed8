/**
 * The receiver's check of an escrow update (link/scope-check.ts calls it): only sealed entries
 * appended, none deleted (a child cannot erase what it escrowed before, nor can a stolen laptop
 * wipe the copy its replacement will need), each within the entry cap, and the document within
 * ESCROW_MAX_DOC_BYTES at this node. Who may write it at all is protocol/escrow.ts's rule,
 * applied by the caller like any scope: from a child, only its own; from the parent, only ours.
 */
import { ESCROW_MAX_DOC_BYTES, EscrowEntrySchema, escrowUnitOf, type DocRef } from '../../../protocol/index.ts'
import type { Queryable } from '../store/db.ts'

export async function checkEscrowUpdate(
  e: { docId: string; update: Uint8Array; values: unknown[]; deletes: boolean }, tx: Queryable,
): Promise<DocRef | string> {
  const unit = escrowUnitOf(e.docId)
  if (!unit) return `unknown escrow document ${e.docId}`
  if (e.deletes) return 'an escrow is append-only: nothing in it may be deleted'
  for (const v of e.values) {
    const p = EscrowEntrySchema.safeParse(v)
    if (!p.success) return `a malformed escrow entry in ${e.docId}: ${p.error.issues[0]?.message}`
  }
  const [row] = await tx.query<{ n: number | null }>('SELECT sum(octet_length(update))::float8 AS n FROM doc_updates WHERE doc_id = $1', [e.docId])
  const held = Number(row?.n ?? 0)
  if (held + e.update.length > ESCROW_MAX_DOC_BYTES) {
    return `the escrow of ${unit} would grow past ${ESCROW_MAX_DOC_BYTES / 1024 / 1024} MiB (${held} bytes held, ${e.update.length} more offered): refused`
  }
  return { kind: 'escrow', nodeCode: unit }
}
