/**
 * 通办 at one node's API (issue 8): naming the deciding unit at intake, transferring (转办), and
 * the unit directory route — each bad input answered with a status and a message a person can
 * act on, nothing stored. (The whole tree is test/tree/cross-tree.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
const COUNTY2 = '511303000000'

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, name: '长青村', catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(async () => t?.close())

const count = async () => (await agent('GET', '/api/cases')).body.total

describe('POST /api/cases with a deciding unit', () => {
  it('refuses a unit the directory does not know, one of another level, or one outside the city — storing nothing', async () => {
    const before = await count()
    const unknown = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: requiredOf('C-P01'), handlerCode: COUNTY2 })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toMatch(`handlerCode: no unit ${COUNTY2} in the unit directory`)
    const level = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: requiredOf('C-P01'), handlerCode: '511303101000' })
    expect(level.status).toBe(400)
    expect(level.body.error.message).toMatch(/decided at 县\(区\) level: 511303101000 is a 乡镇\(街道\) unit/)
    const city = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: requiredOf('C-P01'), handlerCode: '511402000000' })
    expect(city.status).toBe(400)
    expect(city.body.error.message).toMatch(/not in this city's tree/)
    const junk = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: requiredOf('C-P01'), handlerCode: '5113' })
    expect(junk.status).toBe(400)
    expect(junk.body.error.details.issues[0].field).toBe('handlerCode')
    expect(await count()).toBe(before)
  })

  it('takes a unit named explicitly when it is the default one (the window itself for a village item)', async () => {
    const r = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01'), handlerCode: VILLAGE })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ handlerCode: VILLAGE, status: 'accepted' })
    const view = (await agent('GET', `/api/cases/${r.body.id}`)).body
    expect(view).toMatchObject({ currentHandlerCode: VILLAGE, handlers: [VILLAGE] })
  })
})

describe('POST /api/cases/:id/events transferred', () => {
  it('needs a reason and a unit the directory knows; a transfer to the handler itself is refused by the state machine', async () => {
    const made = await agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: requiredOf('V-P01') })
    const id = made.body.id
    const noReason = await agent('POST', `/api/cases/${id}/events`, { type: 'transferred', to: '511302101202' })
    expect(noReason.status).toBe(400)
    expect(noReason.body.error.message).toMatch(/reason/)
    const unknown = await agent('POST', `/api/cases/${id}/events`, { type: 'transferred', to: '511302101202', reason: '户籍在青松村' })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toMatch(/to: no unit 511302101202 in the unit directory/)
    const self = await agent('POST', `/api/cases/${id}/events`, { type: 'transferred', to: VILLAGE, reason: '自己' })
    expect(self.status).toBe(409)
    expect(self.body.error.message).toMatch(/already decided at 511302101201/)
    expect((await agent('GET', `/api/cases/${id}`)).body.events.map((e: any) => e.type)).toEqual(['accepted'])
  })

  it('a supervisor may not transfer', async () => {
    const made = await agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: requiredOf('V-P01') })
    const sup = await t.as('sup', 'supervisor')
    const r = await sup('POST', `/api/cases/${made.body.id}/events`, { type: 'transferred', to: VILLAGE, reason: 'x' })
    expect(r.status).toBe(403)
  })
})

describe('GET /api/units', () => {
  it('lists the units of the directory by name, found by initials or code; refuses bad queries with 400', async () => {
    const all = await agent('GET', '/api/units')
    expect(all.status).toBe(200)
    expect(all.body.units).toContainEqual({ code: VILLAGE, name: '长青村', level: 'village', parentCode: '511302101000', active: true })
    for (const q of ['cqc', '长青', VILLAGE]) expect((await agent('GET', `/api/units?q=${encodeURIComponent(q)}`)).body.units.map((u: any) => u.code)).toEqual([VILLAGE])
    expect((await agent('GET', '/api/units?q=zzz')).body.units).toEqual([])
    expect((await agent('GET', '/api/units?level=county')).body.units).toEqual([])
    const bad = await agent('GET', '/api/units?level=province')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/level/)
    expect((await agent('GET', `/api/units?q=${'x'.repeat(51)}`)).status).toBe(400)
  })
})
