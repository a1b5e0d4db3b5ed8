/**
 * Issue 7, class 8 (input side): NUL bytes, absurd offsets and limits, malformed escapes — every
 * one answers 400 with a message naming what is wrong, never 500. A real PGlite store on disk
 * (Postgres text refuses NUL, bigint overflows: these used to reach it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, request, testNode, TEST_PASSWORD, type Client, type TestNode } from '../helpers/node.ts'
import { VILLAGE, FIXTURE_CATALOGUE, requiredOf } from '../fixtures/catalogue.ts'
import { failOnUnhandled } from './guard.ts'

failOnUnhandled()

describe('hostile input answers 400, never 500', { timeout: 300_000 }, () => {
  let t: TestNode
  let agent: Client
  let admin: Client
  let caseId: string
  let bearer: string
  beforeAll(async () => {
    t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
    agent = await t.as('agent', 'agent')
    bearer = `Bearer ${(await t.node.users.login({ name: 'agent', password: TEST_PASSWORD })).token}`
    await t.node.users.add({ name: 'boss', role: 'admin', password: 'admin-password-1' })
    admin = request(t.app, (await t.node.users.login({ name: 'boss', password: 'admin-password-1' })).token)
    const r = await agent('POST', '/api/cases', { itemCode: 'V-P01', applicant, materials: requiredOf('V-P01') })
    expect(r.status).toBe(201)
    caseId = r.body.id
  })
  afterAll(async () => t?.close())

  const expect400 = (r: { status: number; body: any }, mentions: RegExp) => {
    expect(r.status, JSON.stringify(r.body)).toBe(400)
    expect(r.body.error.message).toMatch(mentions)
  }

  const lists: [string, RegExp][] = [
    ['/api/cases?offset=1e30', /offset/],
    ['/api/cases?offset=1000000000000000000000000000000', /offset.*whole number/],
    ['/api/cases?offset=-5', /offset/],
    ['/api/cases?limit=-1', /limit.*whole number/],
    ['/api/cases?limit=1e3', /limit/],
    ['/api/cases?limit=99999999999', /limit/],
    ['/api/cases?limit=NaN', /limit/],
    ['/api/cases?limit=1001', /limit.*1000/],
    ['/api/cases?status=%00', /NUL/],
    ['/api/cases?status=nonsense', /status/],
    ['/api/cases?origin=%00', /NUL/],
    ['/api/cases?origin=abc', /origin.*12-digit/],
    ['/api/cases?handler=county', /handler/],
    ['/api/cases?overdue=maybe', /overdue/],
    ['/api/cases?x%00=1', /NUL/],
    ['/api/cases/%00', /NUL/],
    ['/api/catalogue/items/%00', /NUL/],
    ['/api/catalogue/items/V-I01%00', /NUL/],
    ['/api/stats?under=%00', /NUL/],
    ['/api/stats?from=%00', /NUL/],
    ['/api/cases/%E0%A4%A', /malformed/],
  ]
  for (const [path, mentions] of lists) {
    it(`GET ${path}`, async () => expect400(await agent('GET', path), mentions))
  }

  it('a page within bounds still answers', async () => {
    const r = await agent('GET', '/api/cases?limit=1000&offset=1000000000')
    expect(r.status).toBe(200)
    expect(r.body.cases).toEqual([])
    expect((await agent('GET', '/api/cases?limit=0&offset=0&handler=&status=submitted,accepted')).status).toBe(200)
  })

  it('a NUL in the applicant name (JSON "\\u0000") names the field', async () => {
    const r = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant: { ...applicant, name: '张\u0000三' }, materials: requiredOf('V-I01') })
    expect400(r, /applicant\.name.*NUL/)
    expect(r.body.error.details.issues[0].field).toBe('applicant.name')
  })

  it('NUL in other body fields: materials, item code, an event, a key', async () => {
    expect400(await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: [...requiredOf('V-I01'), 'x\u0000'] }), /materials\.\d+.*NUL/)
    expect400(await agent('POST', '/api/cases', { itemCode: 'V-I01\u0000', applicant, materials: requiredOf('V-I01') }), /itemCode.*NUL/)
    expect400(await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01'), ['a\u0000b']: 1 }), /NUL/)
    expect400(await agent('POST', `/api/cases/${caseId}/events`, { type: 'correction-requested', materials: ['\u0000'], note: 'x' }), /NUL/)
    expect400(await agent('POST', `/api/cases/${caseId}/events`, { type: 'approved', note: 'ok\u0000' }), /NUL/)
  })

  it('NUL in login and users bodies', async () => {
    expect400(await request(t.app)('POST', '/api/login', { name: 'nobody\u0000', password: 'password1' }), /NUL/)
    expect400(await admin('POST', '/api/users', { name: 'x\u0000y', role: 'agent', password: 'password123' }), /NUL/)
  })

  it('an action on a malformed case number: 400, not a store error', async () => {
    expect400(await agent('POST', '/api/cases/not-a-case/events', { type: 'approved' }), /case number/)
  })

  it('a malformed Idempotency-Key: 400 naming the header', async () => {
    const res = await t.app.request('/api/cases', {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/json', 'idempotency-key': 'has space' },
      body: JSON.stringify({ itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') }),
    })
    expect(res.status).toBe(400)
    expect((await res.json()).error.message).toMatch(/Idempotency-Key/)
  })

  it('the node is still healthy after all of it', async () => {
    const r = await agent('GET', '/api/cases')
    expect(r.status).toBe(200)
    expect(r.body.cases.map((c: any) => c.id)).toEqual([caseId])
  })
})
