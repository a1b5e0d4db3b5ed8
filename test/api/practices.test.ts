/**
 * The service practices at one node's API (issue 9), on a village node with the fixture catalogue:
 * - 容缺受理: a required material the catalogue marks deferrable may be left out on the
 *   applicant's written commitment and a deadline; the case owes it, the approval waits for a
 *   `supplied` event naming it, statistics count 容缺件; bad deferrals get 400 with a reason.
 * - 好差评 on the public page: POST /api/public/rating with the case number and phone, no login —
 *   after delivery only, once, at the window that took the case in, recorded as that node's
 *   event in the applicant's name; limited like the progress lookup.
 * - 差评整改: a rating of 不满意 or 非常不满意 opens a rectification at the handling unit, due in
 *   15 working days; the unit replies (`rectified`), a supervisor checks it
 *   (`rectification-checked`); statistics count 差评数, 整改 closed and overdue.
 * (不予受理 is in events.test.ts; the whole practices in the browser: test/ui/practices.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, request, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
let supervisor: Client
let anon: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
  supervisor = await t.as('supervisor', 'supervisor')
  anon = request(t.app)
}, 300_000)
afterAll(async () => t?.close())

const act = (id: string, body: unknown, who: Client = agent) => who('POST', `/api/cases/${id}/events`, body)

const later = (days: number) => new Date(Date.now() + days * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10)
const deferred = (o: object = {}) => ({ materials: ['申请书'], commitment: '本人承诺五个工作日内补交申请书原件', deadline: later(7), ...o })
const intake = (body: object) => agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: ['居民身份证'], ...body })

describe('容缺受理', () => {
  it('without the deferral a deferrable material is still missing, and the answer says it may be deferred', async () => {
    const r = await intake({})
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('missing_materials')
    expect(r.body.error.details).toMatchObject({ missing: ['申请书'], deferrable: ['申请书'] })
    expect(r.body.error.message).toContain('可容缺受理')
  })

  it('accepted on a commitment; the approval waits until the material is supplied; statistics count it', async () => {
    const made = await intake({ deferred: deferred() })
    expect(made.status).toBe(201)
    expect(made.body.status).toBe('accepted')
    const view = (await agent('GET', `/api/cases/${made.body.id}`)).body
    expect(view).toMatchObject({ owed: ['申请书'], deferred: { materials: ['申请书'], commitment: '本人承诺五个工作日内补交申请书原件' } })
    const early = await act(made.body.id, { type: 'approved' })
    expect(early.status).toBe(409)
    expect(early.body.error.message).toMatch(/waits for the deferred \(容缺\) materials: 申请书/)
    const wrong = await act(made.body.id, { type: 'supplied', materials: ['居民身份证'] })
    expect(wrong.status).toBe(409)
    expect(wrong.body.error.message).toMatch(/not owed/)
    expect((await act(made.body.id, { type: 'supplied', materials: [] })).status).toBe(400)
    const supplied = await act(made.body.id, { type: 'supplied', materials: ['申请书'], note: '已交原件' })
    expect(supplied.status).toBe(200)
    expect(supplied.body.owed).toEqual([])
    expect((await act(made.body.id, { type: 'approved' })).body.status).toBe('approved')
    const stats = (await agent('GET', '/api/stats')).body
    expect(stats.totals.deferred).toBe(1)
  })

  it('refuses a deferral of a material that is not deferrable, brought anyway, or due before today — storing nothing', async () => {
    const before = (await agent('GET', '/api/cases')).body.total
    const cases: [object, RegExp][] = [
      [{ materials: ['申请书'], deferred: deferred({ materials: ['居民身份证'] }) }, /不可容缺.*居民身份证/],
      [{ materials: ['申请书', '居民身份证'], deferred: deferred() }, /无需容缺.*申请书/],
      [{ deferred: deferred({ deadline: '2020-01-01' }) }, /期限不能早于今天/],
      [{ deferred: deferred({ commitment: ' ' }) }, /书面承诺/],
    ]
    for (const [body, message] of cases) {
      const r = await intake(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.message).toMatch(message)
    }
    expect((await agent('GET', '/api/cases')).body.total).toBe(before)
  })
})

async function approved(): Promise<string> {
  const made = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') })
  expect((await agent('POST', `/api/cases/${made.body.id}/events`, { type: 'approved' })).status).toBe(200)
  return made.body.id
}
const rate = (body: unknown) => anon('POST', '/api/public/rating', body)

describe('POST /api/public/rating', () => {
  it('after delivery only, once; recorded by the window in the applicant\'s name; the lookup says whether it may rate', async () => {
    const id = await approved()
    const early = await rate({ id, phone: applicant.phone, rating: 4 })
    expect(early.status).toBe(409)
    expect(early.body.error.message).toMatch(/出件后才能评价/)
    expect((await anon('GET', `/api/public/progress?id=${id}&phone=${applicant.phone}`)).body).toMatchObject({ ratable: false, rated: false })
    expect((await agent('POST', `/api/cases/${id}/events`, { type: 'delivered' })).status).toBe(200)
    expect((await anon('GET', `/api/public/progress?id=${id}&phone=${applicant.phone}`)).body).toMatchObject({ status: 'delivered', ratable: true, rated: false })

    const ok = await rate({ id, phone: '138 0000-0000', rating: 4, comment: '等候时间稍长' })
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({ id, rating: 4 })
    const view = (await agent('GET', `/api/cases/${id}`)).body
    const ev = view.events.find((e: any) => e.type === 'rated')
    expect(ev).toMatchObject({ author: VILLAGE, user: '申请人（网上评价）', rating: 4, comment: '等候时间稍长' })
    expect((await anon('GET', `/api/public/progress?id=${id}&phone=${applicant.phone}`)).body).toMatchObject({ ratable: false, rated: true })
    const again = await rate({ id, phone: applicant.phone, rating: 5 })
    expect(again.status).toBe(409)
    expect(again.body.error.message).toMatch(/已评价/)
  })

  it('a wrong phone is the same 404 as an unknown case; bad input is 400 naming the field', async () => {
    const id = await approved()
    const wrong = await rate({ id, phone: '13900000000', rating: 5 })
    const unknown = await rate({ id: `${VILLAGE}-20200101-9999`, phone: applicant.phone, rating: 5 })
    expect(wrong.status).toBe(404)
    expect(await wrong.body).toEqual(unknown.body)
    for (const [body, field] of [[{ id, phone: applicant.phone, rating: 6 }, 'rating'], [{ id, phone: applicant.phone }, 'rating'], [{ id: 'x', phone: applicant.phone, rating: 3 }, 'id']] as const) {
      const r = await rate(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.details.issues[0].field).toBe(field)
    }
  })
})


async function delivered(rating: number): Promise<string> {
  const made = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') })
  for (const type of ['approved', 'delivered']) expect((await act(made.body.id, { type })).status).toBe(200)
  expect((await act(made.body.id, { type: 'rated', rating })).status).toBe(200)
  return made.body.id
}

describe('差评整改', () => {
  it('opens on 不满意, is replied by the unit, checked by a supervisor (not by staff); counted', async () => {
    const id = await delivered(2)
    const view = (await agent('GET', `/api/cases/${id}`)).body
    expect(view.rectification).toMatchObject({ status: 'open', reply: null, closedAt: null })
    expect(view.rectification.dueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    const noReply = await act(id, { type: 'rectified' })
    expect(noReply.status).toBe(400)
    expect(noReply.body.error.message).toMatch(/整改须写明/)
    expect((await act(id, { type: 'rectification-checked', passed: true }, supervisor)).status).toBe(409)
    expect((await act(id, { type: 'rectified', reply: '已整改，已向申请人致歉' })).body.rectification.status).toBe('replied')
    const byStaff = await act(id, { type: 'rectification-checked', passed: true })
    expect(byStaff.status).toBe(403)
    expect(byStaff.body.error.message).toMatch(/supervisor/)
    expect((await act(id, { type: 'rectification-checked', passed: false, note: '未说明整改措施' }, supervisor)).body.rectification.status).toBe('open')
    expect((await act(id, { type: 'rectified', reply: '已对窗口人员培训，并向申请人致歉' })).status).toBe(200)
    const closed = await act(id, { type: 'rectification-checked', passed: true }, supervisor)
    expect(closed.body.rectification).toMatchObject({ status: 'closed', reply: '已对窗口人员培训，并向申请人致歉' })
    // A supervisor still does nothing else.
    expect((await act(id, { type: 'withdrawn' }, supervisor)).status).toBe(403)
    const stats = (await agent('GET', '/api/stats')).body.totals
    expect(stats).toMatchObject({ badRatings: 1, rectified: 1, rectOverdue: 0, rectificationRate: 1 })
  })

  it('a good rating opens nothing', async () => {
    const id = await delivered(3)
    expect((await agent('GET', `/api/cases/${id}`)).body.rectification).toBeNull()
    const r = await act(id, { type: 'rectified', reply: 'x' })
    expect(r.status).toBe(409)
    expect(r.body.error.message).toMatch(/no rectification is open/)
  })
})
