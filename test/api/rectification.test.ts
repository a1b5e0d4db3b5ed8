/**
 * 差评整改 at the API (issue 9): a rating of 不满意 or 非常不满意 opens a rectification at the
 * handling unit, due in 15 working days; the unit replies (`rectified`), a supervisor checks it
 * (`rectification-checked`); statistics count 差评数, 整改 closed and overdue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
let supervisor: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
  supervisor = await t.as('supervisor', 'supervisor')
}, 300_000)
afterAll(async () => t?.close())

const act = (id: string, body: unknown, who: Client = agent) => who('POST', `/api/cases/${id}/events`, body)

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
