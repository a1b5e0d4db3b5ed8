/**
 * What a sealed escrow entry holds, and the document that keeps the entries. One pass of the
 * writer turns the case updates it escrows into one byte stream — (document id, update) pairs —
 * cut into pieces of at most ESCROW_PLAIN_BYTES, each sealed on its own with the pass's id and
 * its place, so an update of any size fits the link's entry cap and a restore puts the pieces of
 * each pass back together. Reading checks every length: a sealed entry opened with the right
 * key was written by the unit, but a bug must not become a crash.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type * as Y from 'yjs'
import { ESCROW_ARRAY, ESCROW_PLAIN_BYTES } from '../../../protocol/index.ts'

export interface EscrowRecord {
  docId: string
  update: Uint8Array
}

export const escrowEntries = (doc: Y.Doc): Y.Array<string> => doc.getArray<string>(ESCROW_ARRAY)

/** The plain pieces of one pass: each `passId • index • total • bytes`. */
export function pieces(passId: string, records: EscrowRecord[]): Uint8Array[] {
  const stream = encoding.createEncoder()
  encoding.writeVarUint(stream, records.length)
  for (const r of records) {
    encoding.writeVarString(stream, r.docId)
    encoding.writeVarUint8Array(stream, r.update)
  }
  const all = encoding.toUint8Array(stream)
  const total = Math.max(1, Math.ceil(all.length / ESCROW_PLAIN_BYTES))
  const out: Uint8Array[] = []
  for (let i = 0; i < total; i++) {
    const e = encoding.createEncoder()
    encoding.writeVarString(e, passId)
    encoding.writeVarUint(e, i)
    encoding.writeVarUint(e, total)
    encoding.writeVarUint8Array(e, all.subarray(i * ESCROW_PLAIN_BYTES, (i + 1) * ESCROW_PLAIN_BYTES))
    out.push(encoding.toUint8Array(e))
  }
  return out
}

export interface Piece {
  passId: string
  index: number
  total: number
  bytes: Uint8Array
}

export function readPiece(plain: Uint8Array): Piece | null {
  try {
    const d = decoding.createDecoder(plain)
    const passId = decoding.readVarString(d)
    const index = decoding.readVarUint(d)
    const total = decoding.readVarUint(d)
    const bytes = decoding.readVarUint8Array(d)
    if (index >= total || bytes.length > plain.length || decoding.hasContent(d)) return null
    return { passId, index, total, bytes }
  } catch {
    return null
  }
}

/** The records of whole passes (pieces of each put back in order); passes missing a piece are counted, not read. */
export function joinPasses(ps: Piece[]): { records: EscrowRecord[]; incomplete: number } {
  const byPass = new Map<string, Piece[]>()
  for (const p of ps) byPass.set(p.passId, [...(byPass.get(p.passId) ?? []), p])
  const records: EscrowRecord[] = []
  let incomplete = 0
  for (const list of byPass.values()) {
    const total = list[0].total
    const parts = new Map(list.filter((p) => p.total === total).map((p) => [p.index, p.bytes]))
    if (parts.size !== total) {
      incomplete++
      continue
    }
    const len = [...parts.values()].reduce((n, b) => n + b.length, 0)
    const all = new Uint8Array(len)
    let at = 0
    for (let i = 0; i < total; i++) {
      all.set(parts.get(i)!, at)
      at += parts.get(i)!.length
    }
    try {
      const d = decoding.createDecoder(all)
      const n = decoding.readVarUint(d)
      const got: EscrowRecord[] = []
      for (let i = 0; i < n; i++) got.push({ docId: decoding.readVarString(d), update: decoding.readVarUint8Array(d) })
      if (decoding.hasContent(d)) throw new Error('trailing bytes')
      records.push(...got)
    } catch {
      incomplete++
    }
  }
  return { records, incomplete }
}
