/**
 * 容缺受理 at the API (issue 9): a required material the catalogue marks deferrable may be left
 * out on the applicant's written commitment and a deadline; the case owes it, the approval waits
 * for a `supplied` event naming it, statistics count 容缺件. Bad deferrals get 400 with a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(async () => t?.close())

const later = (days: number) => new Date(Date.now() + days * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10)
const deferred = (o: object = {}) => ({ materials: ['申请书'], commitment: '本人承诺五个工作日内补交申请书原件', deadline: later(7), ...o })
const intake = (body: object) => agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: ['居民身份证'], ...body })
const act = (id: string, body: unknown) => agent('POST', `/api/cases/${id}/events`, body)

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
