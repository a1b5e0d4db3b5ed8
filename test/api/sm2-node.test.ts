/**
 * A node whose key was made with SM2 (国密, `--sign-alg sm2` at first start) signs its
 * applications and events with it, and reads them back verified; the choice is kept for life.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { caseDocId, readApplication } from '../../nodes/core/docs/case-doc.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'

let v: TestNode
let agent: Client

beforeAll(async () => {
  v = await testNode({ level: 'village', code: '511302101201', catalogue: FIXTURE_CATALOGUE, signAlg: 'sm2' })
  agent = await v.as('agent', 'agent')
}, 300_000)
afterAll(async () => v?.close())

describe('an SM2 node', () => {
  it('signs intake and actions with SM2 and verifies them on read', async () => {
    expect(v.node.trust.keys.alg).toBe('sm2')
    const r = await agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: ['申请书', '居民身份证'] })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    const read = (await agent('GET', `/api/cases/${r.body.id}`)).body
    expect(read.status).toBe('accepted')
    expect(read.flagged).toEqual([])
    expect(v.node.trust.checkApplication(readApplication(await v.node.docs.get(caseDocId(r.body.id)))!)).toBeNull()
    expect(v.node.trust.checkEvent(read.events[0])).toBeNull()
    // Tampering shows: the same event with another user no longer verifies.
    expect(v.node.trust.checkEvent({ ...read.events[0], user: 'someone else' })).toMatch(/not the hash of its content/)
  })
})
