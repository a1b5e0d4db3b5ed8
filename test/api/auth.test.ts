/** /healthz, login, and the bearer token every other /api route requires. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, request, testNode, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, name: '长青村', catalogue: FIXTURE_CATALOGUE })
  await t.node.users.add({ name: 'agent1', role: 'agent', password: 'right-password' })
}, 300_000)
afterAll(async () => t?.close())

describe('GET /healthz', () => {
  it('names the node and its parent, without a token', async () => {
    const r = await request(t.app)('GET', '/healthz')
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ level: 'village', code: VILLAGE, name: '长青村', parent: TOWNSHIP })
  })
})

describe('POST /api/login', () => {
  const anon = () => request(t.app)

  it('gives a token for the right password, and the token works', async () => {
    const r = await anon()('POST', '/api/login', { name: 'agent1', password: 'right-password' })
    expect(r.status).toBe(200)
    expect(r.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/)
    expect(r.body).toMatchObject({ name: 'agent1', role: 'agent' })
    const me = await request(t.app, r.body.token)('GET', '/api/users/me')
    expect(me).toEqual({ status: 200, body: { name: 'agent1', role: 'agent', displayName: null, phone: null, department: null } })
  })

  it('refuses a wrong password and an unknown user alike with 401', async () => {
    const wrong = await anon()('POST', '/api/login', { name: 'agent1', password: 'wrong-password' })
    const unknown = await anon()('POST', '/api/login', { name: 'nobody', password: 'right-password' })
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401)
      expect(r.body.error.code).toBe('unauthenticated')
    }
    // The same message: a login attempt does not reveal which names exist.
    expect(wrong.body.error.message).toBe(unknown.body.error.message)
  })

  it('answers missing fields with 400 naming them', async () => {
    const r = await anon()('POST', '/api/login', {})
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('invalid_input')
    expect(r.body.error.message).toContain('name')
    expect(r.body.error.message).toContain('password')
    const noPassword = await anon()('POST', '/api/login', { name: 'agent1' })
    expect(noPassword.status).toBe(400)
    expect(noPassword.body.error.message).toContain('password')
  })

  it('answers a body that is not JSON with 400', async () => {
    const r = await anon()('POST', '/api/login', 'name=agent1')
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('bad_request')
  })
})

describe('every /api route but login requires a bearer token', () => {
  /**
   * The routes are read from the app itself, so a route added later is checked too.
   * Path parameters get plausible values: the 401 must come before any lookup.
   */
  function apiRoutes(): { method: string; path: string }[] {
    const seen = new Set<string>()
    const out: { method: string; path: string }[] = []
    for (const r of t.app.routes) {
      if (r.method === 'ALL' || !r.path.startsWith('/api/')) continue
      if (r.path.startsWith('/api/login') || r.path.startsWith('/api/public/')) continue
      const path = r.path
        .replace(':id', `${VILLAGE}-20260302-0001`)
        .replace(':code', 'V-I01')
        .replace(/:[a-zA-Z]+/g, 'x')
      const key = `${r.method} ${path}`
      if (!seen.has(key)) seen.add(key), out.push({ method: r.method, path })
    }
    return out
  }

  it('finds the routes to check', () => {
    const keys = apiRoutes().map((r) => `${r.method} ${r.path.replace(/V-I01|\d{12}-\d{8}-\d{4}/g, ':p')}`)
    for (const must of ['GET /api/catalogue', 'POST /api/catalogue/items', 'PATCH /api/catalogue/items/:p', 'POST /api/catalogue/import',
      'POST /api/cases', 'GET /api/cases', 'GET /api/cases/:p', 'POST /api/cases/:p/events', 'GET /api/stats', 'GET /api/users']) {
      expect(keys).toContain(must)
    }
  })

  it('answers 401 with no token, an unknown token, or another scheme', async () => {
    const failures: string[] = []
    for (const { method, path } of apiRoutes()) {
      const body = method === 'GET' ? undefined : { itemCode: 'V-I01', applicant, materials: [] }
      for (const auth of [undefined, 'Bearer not-a-token', 'Basic YWdlbnQxOnJpZ2h0LXBhc3N3b3Jk']) {
        const res = await t.app.request(path, {
          method,
          headers: { ...(auth ? { authorization: auth } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body && JSON.stringify(body),
        })
        const json = (await res.json()) as { error?: { code: string } }
        if (res.status !== 401 || json.error?.code !== 'unauthenticated') failures.push(`${method} ${path} (${auth ?? 'no header'}) → ${res.status}`)
      }
    }
    expect(failures).toEqual([])
    // Nothing was written by the refused requests.
    expect((await t.node.cases.list({})).total).toBe(0)
  })

  it('refuses an expired token', async () => {
    const { token } = await t.node.users.login({ name: 'agent1', password: 'right-password' })
    await t.node.db.query(`UPDATE tokens SET expires_at = now() - interval '1 minute'`)
    const r = await request(t.app, token)('GET', '/api/catalogue')
    expect(r.status).toBe(401)
    expect(r.body.error.message).toMatch(/expired/)
  })
})
