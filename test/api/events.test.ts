/** POST /api/cases/:id/events: the state machine and who may act where. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { COUNTY, FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(async () => t?.close())

async function takeIn(itemCode: string): Promise<string> {
  const r = await agent('POST', '/api/cases', { itemCode, applicant, materials: requiredOf(itemCode) })
  expect(r.status).toBe(201)
  return r.body.id
}
const act = (id: string, body: unknown, who: Client = agent) => who('POST', `/api/cases/${id}/events`, body)
const eventsOf = async (id: string) => (await agent('GET', `/api/cases/${id}`)).body.events.map((e: any) => e.type)

describe('a village case, start to finish at the village', () => {
  it('approve → deliver → rate: 200 with the new status each time', async () => {
    const id = await takeIn('V-I01')
    const approved = await act(id, { type: 'approved', note: '材料齐全' })
    expect(approved.status).toBe(200)
    expect(approved.body).toMatchObject({ id, status: 'approved' })
    expect(approved.body.completedAt).toEqual(expect.any(String))

    const delivered = await act(id, { type: 'delivered' })
    expect(delivered.status).toBe(200)
    expect(delivered.body.status).toBe('delivered')

    const rated = await act(id, { type: 'rated', rating: 5, comment: '非常满意' })
    expect(rated.status).toBe(200)
    expect(rated.body).toMatchObject({ status: 'delivered', rating: 5, flagged: [] })
    expect(rated.body.events.map((e: any) => e.type)).toEqual(['accepted', 'approved', 'delivered', 'rated'])
    // Lamport clocks rise with each action taken here.
    expect(rated.body.events.map((e: any) => e.lamport)).toEqual([1, 2, 3, 4])

    const listed = await agent('GET', '/api/cases?status=delivered')
    expect(listed.body.cases.find((c: any) => c.id === id)).toMatchObject({ status: 'delivered', rating: 5 })
  })

  it('a correction stops the case until resumed; a denial needs a reason', async () => {
    const id = await takeIn('V-P01')
    expect((await act(id, { type: 'correction-requested', materials: ['房屋现状照片'] })).body.status).toBe('correction')
    const early = await act(id, { type: 'approved' })
    expect(early.status).toBe(409)
    expect((await act(id, { type: 'resumed' })).body.status).toBe('accepted')
    const noReason = await act(id, { type: 'denied' })
    expect(noReason.status).toBe(400)
    expect(noReason.body.error.message).toContain('reason')
    expect((await act(id, { type: 'denied', reason: '不符合条件' })).body.status).toBe('denied')
  })
})

describe('不予受理 (refused) apart from 不予许可 (denied)', () => {
  it('a county case not yet accepted is refused at the county with a reason; denied is for after acceptance', async () => {
    // The village may not refuse what the county decides (the county's own refusal: test/ui/practices.test.ts).
    const id = await takeIn('C-P01')
    const here = await act(id, { type: 'refused', reason: '不属于本机关职权范围' })
    expect(here.status).toBe(403)
    expect(here.body.error.message).toContain(COUNTY)
    expect(await eventsOf(id)).toEqual([])
    // At its own handler: a village item, taken in and accepted on the spot, is past refusing.
    const v = await takeIn('V-P01')
    const late = await act(v, { type: 'refused', reason: '不属于本事项' })
    expect(late.status).toBe(409)
    expect(late.body.error.message).toMatch(/refused is not allowed while accepted/)
  })

  it('a refusal needs its reason: 400 with a message naming it', async () => {
    const id = await takeIn('V-P01')
    for (const body of [{ type: 'refused' }, { type: 'refused', reason: '   ' }]) {
      const r = await act(id, body)
      expect(r.status).toBe(400)
      expect(r.body.error.code).toBe('invalid_input')
      expect(r.body.error.message).toMatch(/不予受理须写明理由|reason/)
    }
  })
})

describe('refused transitions → 409, and nothing is recorded', () => {
  it('deliver before approve', async () => {
    const id = await takeIn('V-I01')
    const r = await act(id, { type: 'delivered' })
    expect(r.status).toBe(409)
    expect(r.body.error.code).toBe('transition_refused')
    expect(r.body.error.message).toMatch(/delivered is not allowed while accepted/)
    expect(await eventsOf(id)).toEqual(['accepted'])
  })

  it('rate before delivery (even after the decision), and rate twice', async () => {
    const id = await takeIn('V-I01')
    expect((await act(id, { type: 'rated', rating: 4 })).status).toBe(409)
    expect((await act(id, { type: 'approved' })).status).toBe(200)
    const early = await act(id, { type: 'rated', rating: 4 })
    expect(early.status).toBe(409)
    expect(early.body.error.message).toMatch(/a rating is given after delivery, not while approved/)
    expect((await act(id, { type: 'delivered' })).status).toBe(200)
    expect((await act(id, { type: 'rated', rating: 4 })).status).toBe(200)
    const twice = await act(id, { type: 'rated', rating: 1 })
    expect(twice.status).toBe(409)
    expect(twice.body.error.message).toMatch(/already rated/)
    const view = (await agent('GET', `/api/cases/${id}`)).body
    expect(view.rating).toBe(4)
    expect(view.events.map((e: any) => e.type)).toEqual(['accepted', 'approved', 'delivered', 'rated'])
  })

  it('anything after a withdrawal; accepting twice', async () => {
    const id = await takeIn('V-P01')
    expect((await act(id, { type: 'accepted' })).status).toBe(409)
    expect((await act(id, { type: 'withdrawn', reason: '申请人撤回' })).body.status).toBe('withdrawn')
    for (const body of [{ type: 'approved' }, { type: 'resumed' }, { type: 'withdrawn' }]) {
      expect((await act(id, body)).status, body.type).toBe(409)
    }
    expect(await eventsOf(id)).toEqual(['accepted', 'withdrawn'])
  })
})

describe('who may act where → 403', () => {
  it('a decision on a county case is not the village\'s to take', async () => {
    const id = await takeIn('C-P01')
    for (const body of [{ type: 'accepted' }, { type: 'approved' }, { type: 'denied', reason: 'x' }, { type: 'correction-requested', materials: ['申请书'] }]) {
      const r = await act(id, body)
      expect(r.status, body.type).toBe(403)
      expect(r.body.error.code).toBe('forbidden')
      expect(r.body.error.message).toContain(COUNTY)
    }
    const view = (await agent('GET', `/api/cases/${id}`)).body
    expect(view).toMatchObject({ status: 'submitted', handlerCode: COUNTY })
    expect(view.events).toEqual([])
    // The window where it began may still withdraw it on the applicant's behalf.
    expect((await act(id, { type: 'withdrawn' })).body.status).toBe('withdrawn')
  })

  it('supervisors and admins read but do not act', async () => {
    const id = await takeIn('V-I01')
    const supervisor = await t.as('supervisor', 'supervisor')
    const admin = await t.as('admin', 'admin')
    for (const who of [supervisor, admin]) {
      const r = await act(id, { type: 'approved' }, who)
      expect(r.status).toBe(403)
      expect(r.body.error.code).toBe('forbidden')
    }
    expect((await supervisor('GET', `/api/cases/${id}`)).body.status).toBe('accepted')
    expect(await eventsOf(id)).toEqual(['accepted'])
  })
})

describe('bad requests', () => {
  it('404 for an unknown case, 400 for an unknown action or a bad rating', async () => {
    const unknown = await act(`${VILLAGE}-20260101-0999`, { type: 'approved' })
    expect(unknown.status).toBe(404)
    const id = await takeIn('V-I01')
    const bogus = await act(id, { type: 'stamped' })
    expect(bogus.status).toBe(400)
    expect(bogus.body.error.message).toContain('type')
    expect((await act(id, { type: 'approved' })).status).toBe(200)
    expect((await act(id, { type: 'delivered' })).status).toBe(200)
    for (const rating of [0, 6, 2.5]) {
      const r = await act(id, { type: 'rated', rating })
      expect(r.status, String(rating)).toBe(400)
      expect(r.body.error.message).toContain('rating')
    }
  })
})
