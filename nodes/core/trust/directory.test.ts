import { describe, expect, it } from 'vitest'
import { memoryKeys, verifySignature, type NodeKeys } from './keys.ts'
import { canonicalJson } from '../../../protocol/canonical.ts'
import { DirectoryEntrySchema, resolveDirectory, signingText, type DirectoryEntry } from '../../../protocol/trust.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const TOWN = '511302101000'
const k: Record<string, NodeKeys> = { [CITY]: memoryKeys(), [COUNTY]: memoryKeys(), [TOWN]: memoryKeys() }
const root = { code: CITY, alg: k[CITY].alg, publicKey: k[CITY].publicKey }

function entry(code: string, key: NodeKeys, voucher: NodeKeys, over: Partial<DirectoryEntry> = {}): DirectoryEntry {
  const e = { code, name: code, alg: key.alg, publicKey: key.publicKey, status: 'active' as const, serial: 1, at: '2026-11-30T00:00:00.000Z', vouchedBy: (code === CITY ? CITY : code.endsWith('000000') ? CITY : COUNTY), ...over }
  return { ...e, sig: voucher.sign(signingText('directory', e)) }
}

describe('canonicalJson', () => {
  it('is independent of key order and leaves out undefined members', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined, b: 'x' }] })).toBe(canonicalJson({ a: [1, { b: 'x', d: 2 }], b: 1 }))
    expect(() => canonicalJson({ a: Number.NaN })).toThrow()
  })
})

describe('resolveDirectory', () => {
  const chain = [entry(CITY, k[CITY], k[CITY]), entry(COUNTY, k[COUNTY], k[CITY]), entry(TOWN, k[TOWN], k[COUNTY])]

  it('believes each entry whose chain of vouchers reaches the pinned root, in any order', () => {
    const r = resolveDirectory([...chain].reverse(), root, verifySignature)
    expect([...r.units.keys()].sort()).toEqual([CITY, TOWN, COUNTY].sort())
    expect(r.ignored).toEqual([])
    expect(chain.every((e) => DirectoryEntrySchema.safeParse(e).success)).toBe(true)
  })

  it('ignores an entry signed by anyone but its parent, and one whose voucher is unknown', () => {
    const forged = entry(TOWN, memoryKeys(), k[TOWN]) // the township vouching for a new key of its own
    const orphan = entry('511303101000', memoryKeys(), memoryKeys(), { vouchedBy: '511303000000' })
    const r = resolveDirectory([...chain, forged, orphan], root, verifySignature)
    expect(r.units.get(TOWN)!.keys.map((x) => x.publicKey)).toEqual([k[TOWN].publicKey])
    expect(r.ignored.map((i) => i.reason)).toEqual([`not signed by ${COUNTY}`, 'its voucher 511303000000 is not in the directory'])
  })

  it('a later revocation retires a key, which stays known for what it signed before', () => {
    const revoked = entry(TOWN, k[TOWN], k[COUNTY], { status: 'revoked', serial: 2 })
    const r = resolveDirectory([revoked, ...chain], root, verifySignature)
    expect(r.units.get(TOWN)!.keys).toEqual([{ alg: 'ed25519', publicKey: k[TOWN].publicKey, active: false }])
  })

  it('never lets an entry replace the pinned root key', () => {
    const evil = memoryKeys()
    const r = resolveDirectory([...chain, entry(CITY, evil, evil, { serial: 2 })], root, verifySignature)
    expect(r.units.get(CITY)!.keys.map((x) => x.publicKey)).toEqual([k[CITY].publicKey])
  })
})
