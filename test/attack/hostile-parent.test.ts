/**
 * Issue 7, class 2 from above: a compromised township relays for its village but cannot forge
 * a decision of the county above it, nor vouch for a key that is not its to vouch for. The
 * village checks the county's signature against the unit directory rooted in the city key it
 * pinned at enrollment. Updates go through the same check and store path a link from the
 * parent uses (scope-check's `makeRefuse` into `DocStore.applyBatch`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { signingText, type CaseEvent, type DirectoryEntry, type NodeKeyRef } from '../../protocol/index.ts'
import { caseDocId, readApplication, readVerified } from '../../nodes/core/docs/case-doc.ts'
import { DIRECTORY_DOC } from '../../nodes/core/docs/directory-doc.ts'
import { makeRefuse } from '../../nodes/core/link/scope-check.ts'
import { memoryKeys, type NodeKeys } from '../../nodes/core/trust/keys.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { caseUpdate, signedEvent } from '../helpers/link-client.ts'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const keys: Record<string, NodeKeys> = { [CITY]: memoryKeys(), [COUNTY]: memoryKeys(), [TOWN]: memoryKeys() }
const ref = (code: string): NodeKeyRef & { code: string } => ({ code, alg: keys[code].alg, publicKey: keys[code].publicKey })

function entry(code: string, name: string, key: NodeKeyRef, voucher: NodeKeys, vouchedBy: string, serial = 1): DirectoryEntry {
  const e = { code, name, alg: key.alg, publicKey: key.publicKey, status: 'active' as const, serial, at: '2026-11-01T00:00:00.000Z', vouchedBy }
  return { ...e, sig: voucher.sign(signingText('directory', e)) }
}

let v: TestNode
let agent: Client
let refuse: ReturnType<typeof makeRefuse>
const logs: string[] = []

/** As if the township sent it down the link: checked, then stored (or refused and logged). */
async function fromParent(docId: string, update: Uint8Array): Promise<boolean> {
  const { refused } = await v.node.docs.applyBatch([{ docId, update }], 'parent', { refuse })
  for (const r of refused) logs.push(r.reason)
  return refused.length === 0
}
async function docState(docId: string): Promise<Uint8Array> {
  return Y.encodeStateAsUpdate(await v.node.docs.get(docId))
}

beforeAll(async () => {
  v = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await v.as('agent', 'agent')
  // What enrollment pinned: the township as parent, the city as root; the directory as it came down.
  v.node.trust.pin({ root: ref(CITY), parent: ref(TOWN), chain: [] })
  refuse = makeRefuse(VILLAGE, TOWN, false, v.node.trust, v.node.docs)
  const dir = [
    entry(CITY, '南充市', ref(CITY), keys[CITY], CITY),
    entry(COUNTY, '顺庆区', ref(COUNTY), keys[CITY], CITY),
    entry(TOWN, '潆溪镇', ref(TOWN), keys[COUNTY], COUNTY),
    entry(VILLAGE, '长青村', v.node.trust.keys, keys[TOWN], TOWN),
  ]
  expect(await fromParent(DIRECTORY_DOC, caseUpdate((d) => d.getArray('entries').push(dir)).update)).toBe(true)
  expect(v.node.trust.unit(COUNTY)?.keys[0].publicKey).toBe(keys[COUNTY].publicKey)
}, 300_000)

afterAll(async () => {
  await v?.close()
})

async function countyCase(): Promise<{ id: string; docId: string; lamport: number }> {
  const r = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: ['申请书', '营业执照', '居民身份证'] })
  if (r.status !== 201) throw new Error(JSON.stringify(r.body))
  expect(r.body.handlerCode).toBe(COUNTY)
  return { id: r.body.id, docId: caseDocId(r.body.id), lamport: 0 }
}
/** A decision as a node of the first version signed it: naming no case (protocol/event-binding.ts). */
const decision = (type: 'accepted' | 'approved', author: string, lamport: number, signer: NodeKeys, at = new Date().toISOString()): CaseEvent =>
  signedEvent({ type, author, lamport, user: 'staff', at } as never, signer)
/** A decision as nodes sign it now: for its case. */
const decisionOn = (caseId: string, type: 'accepted' | 'approved', author: string, lamport: number, signer: NodeKeys): CaseEvent =>
  signedEvent({ type, author, lamport, user: 'staff', at: new Date().toISOString(), case: caseId } as never, signer)
const DAY = 86_400_000

describe('a compromised parent relays but cannot forge', () => {
  it('the county\'s own signed decisions are taken', async () => {
    const c = await countyCase()
    const base = await docState(c.docId)
    const { update } = caseUpdate((d) => d.getArray('events').push([decision('accepted', COUNTY, 1, keys[COUNTY]), decision('approved', COUNTY, 2, keys[COUNTY])]), base)
    expect(await fromParent(c.docId, update)).toBe(true)
    expect((await agent('GET', `/api/cases/${c.id}`)).body.status).toBe('approved')
  })

  it('a decision in the county\'s name signed by the township is refused', async () => {
    const c = await countyCase()
    const { update } = caseUpdate((d) => d.getArray('events').push([decision('accepted', COUNTY, 1, keys[TOWN])]), await docState(c.docId))
    expect(await fromParent(c.docId, update)).toBe(false)
    expect(logs.at(-1)).toMatch(/signature is not 511302000000's/)
    expect((await agent('GET', `/api/cases/${c.id}`)).body.status).toBe('submitted')
  })

  it('a decision the township signs as itself on the county\'s case is refused', async () => {
    const c = await countyCase()
    const { update } = caseUpdate((d) => d.getArray('events').push([decision('accepted', TOWN, 1, keys[TOWN])]), await docState(c.docId))
    expect(await fromParent(c.docId, update)).toBe(false)
    expect(logs.at(-1)).toMatch(/decided at the handling node 511302000000/)
  })

  it('the application the village signed cannot be replaced from above', async () => {
    const c = await countyCase()
    const app = readApplication(await v.node.docs.get(c.docId))!
    const changed = { ...app, applicant: { ...applicant, name: '王五' } }
    expect(await fromParent(c.docId, caseUpdate((d) => d.getMap('other').set('application', changed), await docState(c.docId)).update)).toBe(false)
    expect((await agent('GET', `/api/cases/${c.id}`)).body.applicant.name).toBe(applicant.name)
  })

  it('the township cannot vouch a new key for the county, nor replace the root', async () => {
    const evil = memoryKeys()
    // Vouched by the township for its parent: the schema says a unit is vouched for by its parent.
    const forCounty = entry(COUNTY, '顺庆区', evil, keys[TOWN], TOWN)
    expect(await fromParent(DIRECTORY_DOC, caseUpdate((d) => d.getArray('entries').push([forCounty]), await docState(DIRECTORY_DOC)).update)).toBe(false)
    // In the city's name, signed by the township.
    const asCity = entry(COUNTY, '顺庆区', evil, keys[TOWN], CITY, 2)
    expect(await fromParent(DIRECTORY_DOC, caseUpdate((d) => d.getArray('entries').push([asCity]), await docState(DIRECTORY_DOC)).update)).toBe(false)
    expect(logs.at(-1)).toMatch(/not signed by 511300000000/)
    // A new root.
    const root = entry(CITY, '南充市', evil, evil, CITY, 2)
    expect(await fromParent(DIRECTORY_DOC, caseUpdate((d) => d.getArray('entries').push([root]), await docState(DIRECTORY_DOC)).update)).toBe(false)
    expect(v.node.trust.unit(COUNTY)!.keys.map((k) => k.publicKey)).toEqual([keys[COUNTY].publicKey])
    // So a decision signed with the evil key is still refused.
    const c = await countyCase()
    const { update } = caseUpdate((d) => d.getArray('events').push([decision('accepted', COUNTY, 1, evil)]), await docState(c.docId))
    expect(await fromParent(c.docId, update)).toBe(false)
  })
})

describe('a compromised parent cannot move a decision from one case to another', () => {
  it('the county\'s decisions signed for one case are refused on another', async () => {
    const one = await countyCase()
    const two = await countyCase()
    const made = [decisionOn(one.id, 'accepted', COUNTY, 1, keys[COUNTY]), decisionOn(one.id, 'approved', COUNTY, 2, keys[COUNTY])]
    expect(await fromParent(one.docId, caseUpdate((d) => d.getArray('events').push(made), await docState(one.docId)).update)).toBe(true)
    expect((await agent('GET', `/api/cases/${one.id}`)).body.status).toBe('approved')
    // The very same signed events, relayed on the second case.
    expect(await fromParent(two.docId, caseUpdate((d) => d.getArray('events').push(made), await docState(two.docId)).update)).toBe(false)
    expect(logs.at(-1)).toMatch(new RegExp(`signed for case ${one.id}, not for ${two.id}`))
    expect((await agent('GET', `/api/cases/${two.id}`)).body.status).toBe('submitted')
  })

  it('an event naming no case is refused when dated after the grace period, or before its case was taken in', async () => {
    const c = await countyCase()
    const late = decision('accepted', COUNTY, 1, keys[COUNTY], new Date(Date.now() + 31 * DAY).toISOString())
    expect(await fromParent(c.docId, caseUpdate((d) => d.getArray('events').push([late]), await docState(c.docId)).update)).toBe(false)
    expect(logs.at(-1)).toMatch(/names no case and is dated .*: events signed since then name their case/)
    const early = decision('accepted', COUNTY, 1, keys[COUNTY], new Date(Date.now() - 2 * DAY).toISOString())
    expect(await fromParent(c.docId, caseUpdate((d) => d.getArray('events').push([early]), await docState(c.docId)).update)).toBe(false)
    expect(logs.at(-1)).toMatch(new RegExp(`names no case and is dated .*, before case ${c.id} was taken in`))
    expect((await agent('GET', `/api/cases/${c.id}`)).body.status).toBe('submitted')
  })

  it('a decision for another case already in a document counts for nothing there', async () => {
    // As if it had slipped in before the check existed: written to the document directly.
    const one = await countyCase()
    const two = await countyCase()
    const moved = decisionOn(one.id, 'accepted', COUNTY, 1, keys[COUNTY])
    await v.node.docs.change(two.docId, async (doc) => void doc.getArray('events').push([moved]), 'local')
    const held = readVerified(await v.node.docs.get(two.docId), v.node.trust)!
    expect(held.events).toEqual([])
    expect(held.rejected).toEqual([{ eventId: moved.id, reason: `event ${moved.id} was signed for case ${one.id}, not for ${two.id}` }])
    expect((await agent('GET', `/api/cases/${two.id}`)).body.status).toBe('submitted')
  })
})
