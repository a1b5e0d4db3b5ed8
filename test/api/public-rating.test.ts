/**
 * 好差评 by the applicant on the public page (issue 9): POST /api/public/rating with the case
 * number and phone, no login — after delivery only, once, at the window that took the case in,
 * recorded as that node's event in the applicant's name; limited like the progress lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, request, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
let anon: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
  anon = request(t.app)
}, 300_000)
afterAll(async () => t?.close())

async function approved(): Promise<string> {
  const made = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') })
  expect((await agent('POST', `/api/cases/${made.body.id}/events`, { type: 'approved' })).status).toBe(200)
  return made.body.id
}
const rate = (body: unknown) => anon('POST', '/api/public/rating', body)

describe('POST /api/public/rating', () => {
  it('after delivery only, once; recorded by the window in the applicant\'s name; the lookup says whether it may rate', async () => {
    const id = await approved()
    const early = await rate({ id, phone: applicant.phone, rating: 2 })
    expect(early.status).toBe(409)
    expect(early.body.error.message).toMatch(/出件后才能评价/)
    expect((await anon('GET', `/api/public/progress?id=${id}&phone=${applicant.phone}`)).body).toMatchObject({ ratable: false, rated: false })
    expect((await agent('POST', `/api/cases/${id}/events`, { type: 'delivered' })).status).toBe(200)
    expect((await anon('GET', `/api/public/progress?id=${id}&phone=${applicant.phone}`)).body).toMatchObject({ status: 'delivered', ratable: true, rated: false })

    const ok = await rate({ id, phone: '138 0000-0000', rating: 2, comment: '等候时间太长' })
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({ id, rating: 2 })
    const view = (await agent('GET', `/api/cases/${id}`)).body
    const ev = view.events.find((e: any) => e.type === 'rated')
    expect(ev).toMatchObject({ author: VILLAGE, user: '申请人（网上评价）', rating: 2, comment: '等候时间太长' })
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
