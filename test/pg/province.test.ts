/**
 * The province exchange on a real PostgreSQL 15 server: a county on PostgreSQL pushes a case's
 * records to a province played by msw (the outbox's SQL — the claim's FOR UPDATE SKIP LOCKED,
 * the unnest updates, the bounded counts — runs on the server as on PGlite), and two
 * connections claiming at once, as two processes of one node sharing the database do, never
 * claim the same record.
 */
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProvinceCaseBatchSchema } from '../../protocol/index.ts'
import { openNode, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { ProvinceOutbox } from '../../nodes/core/province/outbox.ts'
import { openPg } from '../../nodes/core/store/pg.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { applicant, request } from '../helpers/node.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, requiredOf } from '../fixtures/catalogue.ts'
import { waitFor } from '../attack/guard.ts'
import { PG_TEST_TIMEOUT_MS } from './scenario.ts'

const BASE = 'https://province.test/exchange/v1'
const COUNTY = '511302000000'
const held = new Map<string, number>()
const msw = setupServer(
  http.post(`${BASE}/cases`, async ({ request: req }) => {
    const { records } = ProvinceCaseBatchSchema.parse(await req.json())
    return HttpResponse.json({ results: records.map((r) => {
      const seen = held.has(r.key)
      held.set(r.key, (held.get(r.key) ?? 0) + (seen ? 0 : 1))
      return { key: r.key, status: seen ? 'duplicate' : 'accepted' }
    }) })
  }),
  http.post(`${BASE}/ratings`, async () => HttpResponse.json({ results: [] })),
)

describe.skipIf(!postgresAvailable())('the province exchange on PostgreSQL 15', () => {
  let tmp: ReturnType<typeof tempDir>
  let server: PgServer | null = null
  let node: TongbanNode | null = null

  beforeAll(async () => {
    msw.listen({ onUnhandledRequest: 'bypass' })
    tmp = tempDir('p4-province-pg-')
    server = await startPostgres()
  }, PG_TEST_TIMEOUT_MS)

  afterAll(async () => {
    await node?.close().catch(() => {})
    await server?.stop()
    msw.close()
    tmp?.cleanup()
  }, PG_TEST_TIMEOUT_MS)

  it('a county on PostgreSQL pushes its case once; two connections never claim the same record', async () => {
    const url = await server!.createDatabase('province')
    node = await openNode({
      ...PRESETS.county.defaults, level: 'county', code: COUNTY, name: '顺庆区', dataDir: `${tmp.dir}/county`, databaseUrl: url, catalogue: FIXTURE_CATALOGUE,
      province: { url: BASE, credentials: { clientId: 'c', clientSecret: 's' }, backoff: { baseMs: 10, capMs: 100 }, pollMs: 20 },
    })
    await node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
    const { token } = await node.users.login({ name: 'staff', password: 'password10' })
    const staff = request(createApp(node), token)
    const made = await staff('POST', '/api/cases', { itemCode: 'C-I01', applicant, materials: requiredOf('C-I01') })
    expect(made.status).toBe(201)
    expect((await staff('POST', `/api/cases/${made.body.id}/events`, { type: 'approved' })).status).toBe(200)
    const keys = [`${made.body.id}:accepted:${COUNTY}`, `${made.body.id}:decided:${COUNTY}`]
    const states = async () => (await node!.db.query<{ state: string }>(`SELECT state FROM province_outbox WHERE record_key = ANY($1::text[])`, [keys])).map((r) => r.state)
    await waitFor('both records acknowledged', async () => (await states()).join() === 'acked,acked', 60_000)
    for (const k of keys) expect(held.get(k)).toBe(1)
    expect(await node.province!.health()).toMatchObject({ pending: 0, failed: 0, pendingMore: false })

    // Two processes' connections, claiming at once from records nobody else touches.
    const [one, two] = await Promise.all([openPg(url), openPg(url)])
    try {
      const at = new Date('2030-01-01T00:00:00Z')
      await one.query(`INSERT INTO province_outbox (record_key, kind, case_id, payload, next_at, state)
        SELECT 'pg' || i, 'case', 'c' || i, '{}'::jsonb, $1, 'pending' FROM generate_series(1, 40) AS i`, [at.toISOString()])
      const self = { code: COUNTY, name: '顺庆区' }
      const lease = new Date(at.getTime() + 60_000)
      // The node's own pusher sees none of them due (its clock is now, they are due in 2030).
      const claims = await Promise.all([0, 1, 2, 3].map((i) => new ProvinceOutbox(i % 2 ? one : two, self).claim(at, 15, lease)))
      const got = claims.flat().map((d) => d.key)
      expect(new Set(got).size).toBe(got.length)
      expect(got.length).toBe(40)
    } finally {
      await one.close()
      await two.close()
    }
  }, PG_TEST_TIMEOUT_MS)
})
