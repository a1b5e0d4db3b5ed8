/** A closed case's merged update stored packed (docs/packed-update.ts): read back byte for byte, checked, and harmless if not unpacked. */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { isPacked, packUpdate, unpackRows, unpackUpdate } from '../../nodes/core/docs/packed-update.ts'

/** A case document's whole state, as the compaction job merges it. */
function caseState(): Uint8Array {
  const doc = new Y.Doc()
  doc.getMap('case').set('application', { id: '511302101201-20260101-0001', itemCode: 'V-I01', applicant: { name: '张三', idNumber: '511302198001011235' }, sig: randomBytes(64).toString('base64url') })
  for (const type of ['accepted', 'approved', 'delivered']) doc.getArray('events').push([{ type, lamport: 1, author: '511302101201', user: '代办员', at: '2026-01-01T01:00:00.000Z', id: randomBytes(16).toString('base64url'), sig: randomBytes(64).toString('base64url') }])
  return Y.encodeStateAsUpdate(doc)
}

describe('packed updates', () => {
  it('packs a case smaller and unpacks it byte for byte; a Yjs update is never taken for a packed one', () => {
    const whole = caseState()
    expect(isPacked(whole)).toBe(false)
    const packed = packUpdate(whole)
    expect(isPacked(packed)).toBe(true)
    expect(packed.length).toBeLessThan(whole.length * 0.8)
    expect(Buffer.from(unpackUpdate(packed)).equals(Buffer.from(whole))).toBe(true)
    expect(unpackUpdate(whole)).toBe(whole) // not packed: as it is
  })

  it('keeps bytes that do not shrink as they are', () => {
    const noise = new Uint8Array(randomBytes(300))
    noise[0] = 1
    expect(packUpdate(noise)).toBe(noise)
  })

  it('refuses a damaged packed value instead of returning garbage', () => {
    const packed = packUpdate(caseState())
    for (const at of [6, Math.floor(packed.length / 2), packed.length - 2]) {
      const bad = packed.slice()
      bad[at] ^= 0x55
      expect(() => unpackUpdate(bad), `byte ${at}`).toThrow()
    }
  })

  it('a reader that forgot to unpack applies nothing (00 00 is an empty update), not garbage', () => {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, packUpdate(caseState()))
    expect(doc.getArray('events').length).toBe(0)
    expect(doc.store.clients.size).toBe(0)
  })

  it('the stores unpack the `update` column of any row, and nothing else', () => {
    const whole = caseState()
    const packed = packUpdate(whole)
    const rows = unpackRows([{ update: packed, other: packed }, { update: whole }, { seq: 1 }])
    expect(Buffer.from(rows[0].update as Uint8Array).equals(Buffer.from(whole))).toBe(true)
    expect(rows[0].other).toBe(packed)
    expect(rows[1].update).toBe(whole)
  })
})
