/** POST /api/cases (intake at a window), GET /api/cases (filters) and GET /api/cases/:id. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { CITY, COUNTY, FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE, requiredOf, testClock } from '../fixtures/catalogue.ts'

// Monday 2 March 2026, 10:00 in China.
const clock = testClock('2026-03-02T10:00:00+08:00')
let t: TestNode
let agent: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, name: '长青村', catalogue: FIXTURE_CATALOGUE, now: clock.now })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(async () => t?.close())

/** Moves the node's clock and logs in again (tokens last 12 hours of the node's clock). */
async function moveTo(at: string): Promise<void> {
  clock.set(at)
  agent = await t.as('agent', 'agent')
}

const intake = (itemCode: string, materials = requiredOf(itemCode), who: Client = agent, a: unknown = applicant) =>
  who('POST', '/api/cases', { itemCode, applicant: a, materials })

describe('POST /api/cases at a village', () => {
  it('accepts a village-level instant item on the spot: 201, accepted, handled here, due today', async () => {
    const r = await intake('V-I01', ['居民身份证', '户口簿', '房屋租赁合同'])
    expect(r.status).toBe(201)
    expect(Object.keys(r.body).sort()).toEqual(['dueDate', 'handlerCode', 'id', 'status'])
    expect(r.body).toMatchObject({ status: 'accepted', handlerCode: VILLAGE, dueDate: '2026-03-02' })
    expect(r.body.id).toMatch(new RegExp(`^${VILLAGE}-20260302-\\d{4,6}$`))
  })

  it('numbers cases <origin>-<YYYYMMDD>-<seq>, the sequence rising within the day', async () => {
    const a = (await intake('V-I01')).body.id as string
    const b = (await intake('V-I01')).body.id as string
    const seq = (id: string) => Number(id.split('-')[2])
    expect(seq(b)).toBe(seq(a) + 1)
    // A new local day starts its own sequence (China time: 16:30 UTC is already the next day).
    await moveTo('2026-03-02T16:30:00Z')
    try {
      const c = (await intake('V-I01')).body.id as string
      expect(c).toBe(`${VILLAGE}-20260303-0001`)
    } finally {
      await moveTo('2026-03-02T10:00:00+08:00')
    }
  })

  it('sends a county-level item up: submitted, handled by the county, no due date yet', async () => {
    const r = await intake('C-P01')
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ status: 'submitted', handlerCode: COUNTY, dueDate: null })
    expect(r.body.id).toMatch(new RegExp(`^${VILLAGE}-20260302-\\d{4}$`))
    const township = await intake('T-P01')
    expect(township.body).toMatchObject({ status: 'submitted', handlerCode: TOWNSHIP })
    const city = await intake('S-P01')
    expect(city.body).toMatchObject({ status: 'submitted', handlerCode: CITY })
  })

  it('counts a promised item\'s due date in working days of the published calendar (清明 4–6 April)', async () => {
    await moveTo('2026-04-02T10:00:00+08:00') // Thursday; Fri 3rd works, Sat–Mon rest
    try {
      const r = await intake('V-P01') // 3 promised working days: Fri 3, Tue 7, Wed 8
      expect(r.body).toMatchObject({ status: 'accepted', dueDate: '2026-04-08' })
    } finally {
      await moveTo('2026-03-02T10:00:00+08:00')
    }
  })

  it('names ALL missing required materials at once (一次性告知)', async () => {
    const none = await intake('C-P01', [])
    expect(none.status).toBe(400)
    expect(none.body.error.code).toBe('missing_materials')
    for (const m of ['申请书', '营业执照', '居民身份证']) expect(none.body.error.message).toContain(m)
    expect(none.body.error.details.missing).toEqual(['申请书', '营业执照', '居民身份证'])

    const some = await intake('C-P01', ['营业执照'])
    expect(some.status).toBe(400)
    expect(some.body.error.details.missing).toEqual(['申请书', '居民身份证'])
    expect(some.body.error.message).not.toContain('营业执照')

    const optionalOnly = await intake('V-I01', ['房屋租赁合同'])
    expect(optionalOnly.body.error.details.missing).toEqual(['居民身份证', '户口簿'])
  })

  it('refuses a material not in the item\'s guide', async () => {
    const r = await intake('V-I01', [...requiredOf('V-I01'), '结婚证'])
    expect(r.status).toBe(400)
    expect(r.body.error.message).toContain('结婚证')
  })

  it('404 for an unknown item, 409 for a retired one', async () => {
    const unknown = await intake('X-404', [])
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('not_found')
    expect(unknown.body.error.message).toContain('X-404')
    const retired = await intake('V-R01')
    expect(retired.status).toBe(409)
    expect(retired.body.error.code).toBe('item_retired')
  })

  it('400 for a bad applicant id number, naming the field', async () => {
    for (const idNumber of ['12345', '51130219800101123Y', '5113021980010112345', '000000000000000000', '511302198001011234']) {
      const r = await intake('V-I01', undefined, agent, { ...applicant, idNumber })
      expect(r.status, idNumber).toBe(400)
      expect(r.body.error.code).toBe('invalid_input')
      expect(r.body.error.message).toContain('applicant.idNumber')
    }
    // A passport number is not held to the resident id format.
    const passport = await intake('V-I01', undefined, agent, { ...applicant, idType: 'passport', idNumber: 'E12345678' })
    expect(passport.status).toBe(201)
  })

  it('400 for a missing applicant or body', async () => {
    const r = await agent('POST', '/api/cases', { itemCode: 'V-I01', materials: requiredOf('V-I01') })
    expect(r.status).toBe(400)
    expect(r.body.error.message).toContain('applicant')
    expect((await agent('POST', '/api/cases', '')).status).toBe(400)
  })

  it('admins and supervisors do not take in applications: 403', async () => {
    for (const role of ['admin', 'supervisor'] as const) {
      const r = await intake('V-I01', undefined, await t.as(`${role}1`, role))
      expect(r.status, role).toBe(403)
    }
  })
})

describe('GET /api/cases/:id', () => {
  it('returns the case with its events and folded status', async () => {
    const { id } = (await intake('V-P01')).body
    const r = await agent('GET', `/api/cases/${id}`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      id, itemCode: 'V-P01', itemVersion: 1, applicant, materials: requiredOf('V-P01'), originCode: VILLAGE, handlerCode: VILLAGE,
      status: 'accepted', dueDate: '2026-03-05', kind: 'promised', promisedDays: 3, flagged: [], rating: null,
    })
    expect(r.body.events.map((e: any) => [e.type, e.author, e.user])).toEqual([['accepted', VILLAGE, 'agent']])
  })

  it('404 for a case this node does not hold, 400 for something that is no case number', async () => {
    const r = await agent('GET', `/api/cases/${VILLAGE}-20260302-9999`)
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('not_found')
    expect((await agent('GET', `/api/cases/${VILLAGE.replace('1201', '1202')}-20260302-0001`)).status).toBe(404)
    expect((await agent('GET', '/api/cases/not-a-case')).status).toBe(400)
  })
})

describe('GET /api/cases filters', () => {
  let f: TestNode
  let a: Client
  const fclock = testClock('2026-03-02T10:00:00+08:00')
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    f = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE, now: fclock.now })
    a = await f.as('agent', 'agent')
    const take = async (key: string, item: string) => (ids[key] = (await intake(item, requiredOf(item), a)).body.id)
    await take('instantDone', 'V-I01') // due 03-02, approved below
    await take('promised', 'V-P01') // due 03-05, left open
    await take('county', 'C-P01') // submitted, no due date
    await take('township', 'T-P01') // submitted
    fclock.set('2026-03-04T10:00:00+08:00')
    a = await f.as('agent', 'agent')
    await take('promisedLater', 'V-P01') // due 03-09
    expect((await a('POST', `/api/cases/${ids.instantDone}/events`, { type: 'approved' })).status).toBe(200)
  }, 300_000)
  afterAll(async () => f?.close())

  const idsOf = async (query: string, who = a) => {
    const r = await who('GET', `/api/cases${query}`)
    expect(r.status, query).toBe(200)
    expect(r.body.total).toBe(r.body.cases.length)
    return r.body.cases.map((c: any) => c.id).sort()
  }
  const sorted = (...keys: string[]) => keys.map((k) => ids[k]).sort()

  it('lists every case held here, newest first, with summaries and no personal data but the name', async () => {
    const r = await a('GET', '/api/cases')
    expect(r.body.total).toBe(5)
    expect(r.body.cases[0].id).toBe(ids.promisedLater)
    expect(r.body.cases[0]).toMatchObject({ itemCode: 'V-P01', status: 'accepted', dueDate: '2026-03-09', applicantName: applicant.name })
  })

  it('by status (one or several)', async () => {
    expect(await idsOf('?status=submitted')).toEqual(sorted('county', 'township'))
    expect(await idsOf('?status=accepted')).toEqual(sorted('promised', 'promisedLater'))
    expect(await idsOf('?status=approved')).toEqual(sorted('instantDone'))
    expect(await idsOf('?status=approved,submitted')).toEqual(sorted('instantDone', 'county', 'township'))
  })

  it('by handler', async () => {
    expect(await idsOf(`?handler=${COUNTY}`)).toEqual(sorted('county'))
    expect(await idsOf(`?handler=${VILLAGE}`)).toEqual(sorted('instantDone', 'promised', 'promisedLater'))
    expect(await idsOf(`?handler=${VILLAGE}&status=accepted`)).toEqual(sorted('promised', 'promisedLater'))
    const bad = await a('GET', '/api/cases?handler=county')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('handler')
  })

  it('overdue: open past its due date, as the clock moves', async () => {
    // 4 March: nothing is past due (the first promised case is due on the 5th).
    expect(await idsOf('?overdue=true')).toEqual([])
    fclock.set('2026-03-06T09:00:00+08:00')
    a = await f.as('agent', 'agent') // tokens last 12 hours of the node's clock
    expect(await idsOf('?overdue=true')).toEqual(sorted('promised'))
    fclock.set('2026-03-10T09:00:00+08:00')
    a = await f.as('agent', 'agent')
    expect(await idsOf('?overdue=true')).toEqual(sorted('promised', 'promisedLater'))
    // Completed or submitted cases are never overdue here; overdue=false filters nothing.
    expect(await idsOf('?overdue=false')).toHaveLength(5)
    expect((await a('GET', '/api/cases?overdue=maybe')).status).toBe(400)
  })

  it('pages with limit and offset', async () => {
    const page = await a('GET', '/api/cases?limit=2&offset=1')
    expect(page.body.total).toBe(5)
    expect(page.body.cases).toHaveLength(2)
    expect((await a('GET', '/api/cases?limit=-1')).status).toBe(400)
  })
})
