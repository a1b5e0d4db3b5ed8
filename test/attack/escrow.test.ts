/**
 * Escrow from hostile children (issue 10, part 3): a township keeps each village's sealed escrow
 * and takes it only from that village — another child (a stolen laptop of a neighbour) cannot
 * write it, nor can anyone delete from it, send something other than sealed entries, or send one
 * over the cap. Updates go through the check and store path a child's link uses (scope-check's
 * `makeRefuse` into `DocStore.applyBatch`). And the seal itself: the recovery code opens it,
 * another code or another unit's document does not.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ESCROW_MAX_DOC_BYTES, ESCROW_MAX_ENTRY_CHARS, escrowDocId, normalizeRecoveryCode, sendsDown, sendsUp,
} from '../../protocol/index.ts'
import { escrowKey, newRecoveryCode, open, seal } from '../../nodes/core/escrow/crypto.ts'
import { joinPasses, pieces, readPiece } from '../../nodes/core/escrow/escrow-doc.ts'
import { checkEscrowUpdate } from '../../nodes/core/escrow/scope.ts'
import { makeRefuse } from '../../nodes/core/link/scope-check.ts'
import { caseUpdate } from '../helpers/link-client.ts'
import { testNode, type TestNode } from '../helpers/node.ts'

const COUNTY = '511302000000'
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const NEIGHBOUR = '511302101202'
const ESCROW = escrowDocId(VILLAGE)
const entry = (bytes = 80) => `e1.${randomBytes(bytes).toString('base64url')}`

let t: TestNode
const held = async () => (await t.node.docs.has(ESCROW)) ? (await t.node.docs.get(ESCROW)).getArray<string>('entries').toArray() : []

/** As if `child` sent it up its link: checked, then stored; the reason when refused. */
async function fromChild(child: string, docId: string, update: Uint8Array): Promise<string | null> {
  const refuse = makeRefuse(TOWN, child, true, t.node.trust, t.node.docs)
  const { refused } = await t.node.docs.applyBatch([{ docId, update }], `child:${child}`, { refuse })
  return refused[0]?.reason ?? null
}

beforeAll(async () => {
  t = await testNode({ level: 'township', code: TOWN })
}, 300_000)
afterAll(async () => {
  await t?.close()
})

describe('a village\'s escrow at its township', () => {
  let state: Uint8Array
  it('is taken from the village itself, appended', async () => {
    const first = caseUpdate((d) => d.getArray('entries').push([entry(), entry()]))
    expect(await fromChild(VILLAGE, ESCROW, first.update)).toBeNull()
    const more = caseUpdate((d) => d.getArray('entries').push([entry()]), first.state)
    expect(await fromChild(VILLAGE, ESCROW, more.update)).toBeNull()
    state = more.state
    expect(await held()).toHaveLength(3)
  })

  it('another child cannot write it, nor its own at the wrong level', async () => {
    const before = await held()
    const forged = caseUpdate((d) => d.getArray('entries').push([entry()]), state)
    expect(await fromChild(NEIGHBOUR, ESCROW, forged.update)).toMatch(/511302101202 may write only its own escrow, not 511302101201's/)
    expect(await held()).toEqual(before)
  })

  it('nothing is deleted from it, not even by the village (a stolen laptop cannot wipe it)', async () => {
    const before = await held()
    const wipe = caseUpdate((d) => d.getArray('entries').delete(0, 3), state)
    expect(await fromChild(VILLAGE, ESCROW, wipe.update)).toMatch(/append-only/)
    expect(await held()).toEqual(before)
  })

  it('holds sealed entries only: plain values and oversize entries are refused', async () => {
    const before = await held()
    const plain = caseUpdate((d) => d.getArray('entries').push([{ applicant: { name: '赵小凤' } }]), state)
    expect(await fromChild(VILLAGE, ESCROW, plain.update)).toMatch(/malformed escrow entry/)
    const text = caseUpdate((d) => d.getArray('entries').push(['赵小凤 13712345678']), state)
    expect(await fromChild(VILLAGE, ESCROW, text.update)).toMatch(/e1\.<base64url>/)
    const huge = caseUpdate((d) => d.getArray('entries').push([`e1.${'A'.repeat(ESCROW_MAX_ENTRY_CHARS)}`]), state)
    expect(await fromChild(VILLAGE, ESCROW, huge.update)).toMatch(new RegExp(`at most ${ESCROW_MAX_ENTRY_CHARS} characters`))
    expect(await held()).toEqual(before)
  })

  it('refuses to grow one unit\'s escrow past its cap', async () => {
    const full = { query: async () => [{ n: ESCROW_MAX_DOC_BYTES - 10 }] } as never
    const one = caseUpdate((d) => d.getArray('entries').push([entry()]))
    expect(await checkEscrowUpdate({ docId: ESCROW, update: one.update, values: [entry()], deletes: false }, full)).toMatch(/would grow past 64 MiB/)
    const empty = { query: async () => [{ n: null }] } as never
    expect(await checkEscrowUpdate({ docId: ESCROW, update: one.update, values: [entry()], deletes: false }, empty)).toEqual({ kind: 'escrow', nodeCode: VILLAGE })
  })

  it('goes up one level only, and down to its unit only', () => {
    const ref = { kind: 'escrow' as const, nodeCode: VILLAGE }
    expect(sendsUp(TOWN, ref)).toBe(true)
    expect(sendsUp(COUNTY, ref)).toBe(false) // the township never passes it on
    expect(sendsDown(VILLAGE, ref)).toBe(true) // a restored laptop fetches it back
    expect(sendsDown(NEIGHBOUR, ref)).toBe(false)
  })
})

describe('the seal', () => {
  it('opens with the recovery code only, and only in its own unit\'s document', () => {
    const code = newRecoveryCode()
    expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/)
    expect(normalizeRecoveryCode(` ${code.toLowerCase().replaceAll('-', ' ')} `)).toBe(code)
    expect(normalizeRecoveryCode('1234')).toBeNull()
    const key = escrowKey(code, VILLAGE)
    const plain = new TextEncoder().encode('{"name":"赵小凤"}')
    const sealed = seal(key, ESCROW, plain)
    expect(sealed).not.toContain('赵小凤')
    expect(open(key, ESCROW, sealed)).toEqual(plain)
    expect(open(escrowKey(newRecoveryCode(), VILLAGE), ESCROW, sealed)).toBeNull() // another code
    expect(open(escrowKey(code, NEIGHBOUR), ESCROW, sealed)).toBeNull() // the same code for another unit
    expect(open(key, escrowDocId(NEIGHBOUR), sealed)).toBeNull() // moved into another unit's document
    const flipped = sealed.slice(0, 20) + (sealed[20] === 'A' ? 'B' : 'A') + sealed.slice(21)
    expect(open(key, ESCROW, flipped)).toBeNull()
  })

  it('cuts a large pass into pieces that fit the entry cap, and puts them back together', () => {
    const key = escrowKey(newRecoveryCode(), VILLAGE)
    const big = { docId: `case:${VILLAGE}-20261130-0001`, update: randomBytes(150_000) }
    const small = { docId: `case:${VILLAGE}-20261130-0002`, update: randomBytes(300) }
    const sealed = pieces('pass1', [big, small]).map((p) => seal(key, ESCROW, p))
    expect(sealed.length).toBeGreaterThan(3)
    for (const s of sealed) expect(s.length).toBeLessThanOrEqual(ESCROW_MAX_ENTRY_CHARS)
    const opened = sealed.reverse().map((s) => readPiece(open(key, ESCROW, s)!)!)
    const { records, incomplete } = joinPasses(opened)
    expect(incomplete).toBe(0)
    expect(records.map((r) => r.docId)).toEqual([big.docId, small.docId])
    expect(Buffer.from(records[0].update).equals(big.update)).toBe(true)
    // A pass missing a piece is counted, not read.
    expect(joinPasses(opened.slice(1))).toEqual({ records: [], incomplete: 1 })
  })
})

// An update that is not Yjs at all is refused before anything else (the general check).
it('a non-update is refused', async () => {
  expect(await fromChild(VILLAGE, ESCROW, new Uint8Array([1, 2, 3]))).toBeTruthy()
})
