/**
 * Opening a unit's escrow on a restored laptop: every sealed entry the recovery code's key opens,
 * pieced back into the case updates it held, applied like updates from the parent (it is from
 * the parent that they came; the escrow writer skips that origin, so they are not sealed again).
 * An update is applied only to a case taken in at this unit: the key proves the unit wrote the
 * entry, and the unit escrows nothing else.
 */
import { escrowDocId, parseDocId } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'
import { open } from './crypto.ts'
import { escrowEntries, joinPasses, readPiece, type Piece } from './escrow-doc.ts'

export interface EscrowOpened {
  /** Sealed entries the parent sent back. */
  entries: number
  /** …of which this key opened. */
  opened: number
  /** Passes missing a piece (never expected: a pass is appended in one change). */
  incomplete: number
  /** Cases this node did not hold before, now restored from the escrow. */
  restored: string[]
}

export async function restoreEscrow(node: TongbanNode, key: Buffer): Promise<EscrowOpened> {
  const docId = escrowDocId(node.config.code)
  const sealed = (await node.docs.has(docId)) ? escrowEntries(await node.docs.get(docId)).toArray() : []
  const ps: Piece[] = []
  for (const s of sealed) {
    const plain = open(key, docId, s)
    const p = plain && readPiece(plain)
    if (p) ps.push(p)
  }
  const { records, incomplete } = joinPasses(ps)
  const own = records.filter((r) => {
    try {
      const d = parseDocId(r.docId)
      return d.kind === 'case' && d.originCode === node.config.code
    } catch {
      return false
    }
  })
  const before = new Set((await node.db.query<{ id: string }>('SELECT id FROM cases')).map((r) => r.id))
  for (let at = 0; at < own.length; at += 64) await node.docs.applyBatch(own.slice(at, at + 64), 'parent')
  const after = (await node.db.query<{ id: string }>('SELECT id FROM cases WHERE origin_code = $1', [node.config.code])).map((r) => r.id)
  return { entries: sealed.length, opened: ps.length, incomplete, restored: after.filter((id) => !before.has(id) && own.some((r) => r.docId === `case:${id}`)) }
}
