/**
 * The node on a real PostgreSQL 15 server (`databaseUrl`) answers exactly as on PGlite: the
 * same migrations apply, and one scripted day at a county window — users, catalogue edits,
 * intake, every kind of action and refusal, lists, cases and statistics — gives the same API
 * responses on both. A restart on PostgreSQL reads it all back from the server, and the node
 * outlives a restart of the server itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../nodes/core/http/app.ts'
import { openNode, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { listMigrations } from '../../nodes/core/store/migrate.ts'
import { request, testNode } from '../helpers/node.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { tempDir } from '../helpers/template.ts'
import { Clock, COUNTY, normalise, PG_TEST_TIMEOUT_MS, runScenario, writeCatalogue, type Step } from './scenario.ts'

let tmp: ReturnType<typeof tempDir>
let server: PgServer | null = null
let url = ''
const opened: TongbanNode[] = []

async function openOnPg(dataDir: string, clock: Clock): Promise<TongbanNode> {
  const node = await openNode({
    ...PRESETS.county.defaults, level: 'county', code: COUNTY, name: '顺庆区', dataDir,
    databaseUrl: url, catalogue: writeCatalogue(tmp.dir), now: clock.now,
  })
  opened.push(node)
  return node
}

describe.skipIf(!postgresAvailable())('the node on PostgreSQL 15', () => {
  beforeAll(async () => {
    tmp = tempDir('tongban-pg-backends-')
    server = await startPostgres()
    url = await server.createDatabase('backends')
  }, PG_TEST_TIMEOUT_MS)

  afterAll(async () => {
    for (const n of opened) await n.close().catch(() => {})
    await server?.stop()
    tmp?.cleanup()
  }, PG_TEST_TIMEOUT_MS)

  let onPg: Step[] = []
  let onPglite: Step[] = []

  it('applies every migration once', async () => {
    const node = await openOnPg(`${tmp.dir}/first`, new Clock())
    expect(node.db.kind).toBe('pg')
    const versions = (await node.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)
    expect(versions).toEqual(listMigrations().map((m) => m.version))
    await node.close()
    opened.pop()
  }, PG_TEST_TIMEOUT_MS)

  it('gives the same API responses as PGlite for the same script', async () => {
    const pgClock = new Clock()
    const node = await openOnPg(`${tmp.dir}/pg`, pgClock)
    await node.users.add({ name: 'admin', role: 'admin', password: 'password10' })
    onPg = normalise(await runScenario(createApp(node, { extend: PRESETS.county.extend }), pgClock))

    const liteClock = new Clock()
    const lite = await testNode({ level: 'county', code: COUNTY, name: '顺庆区', catalogue: writeCatalogue(tmp.dir), now: liteClock.now })
    try {
      await lite.node.users.add({ name: 'admin', role: 'admin', password: 'password10' })
      onPglite = normalise(await runScenario(lite.app, liteClock))
    } finally {
      await lite.close()
    }

    // The script did what it meant to (so equality is not two equal failures)...
    const by = (name: string) => onPg.find((s) => s.step === name)!
    expect(onPg.filter((s) => s.status >= 500)).toEqual([])
    expect(by('intake instant').status).toBe(201)
    expect(by('rate promised').body).toMatchObject({ status: 'delivered', rating: 2 })
    expect(by('missing materials').status).toBe(400)
    expect(by('approve delivered (refused)').status).toBe(409)
    expect(by('approve city case here (forbidden)').status).toBe(403)
    expect((by('list overdue').body as { total: number }).total).toBe(1)
    expect((by('stats by item').body as { totals: Record<string, unknown> }).totals).toMatchObject({ accepted: 7, completed: 3, overdue: 1, dueSoon: 1 })
    // ...and PostgreSQL answered every step exactly as PGlite did.
    expect(onPg.map((s) => s.step)).toEqual(onPglite.map((s) => s.step))
    for (let i = 0; i < onPg.length; i++) expect({ step: onPg[i].step, on: 'pg', status: onPg[i].status, body: onPg[i].body }).toEqual({ ...onPglite[i], on: 'pg' })

    await node.close()
    opened.splice(opened.indexOf(node), 1)
  }, PG_TEST_TIMEOUT_MS)

  it('reads everything back from the server after a restart, with a new data dir', async () => {
    const clock = new Clock()
    clock.set('2026-04-07T02:00:00.000Z')
    const node = await openOnPg(`${tmp.dir}/restarted`, clock)
    const { token } = await node.users.login({ name: '监督乙', password: 'password10' })
    const call = request(createApp(node), token)
    const again = normalise([
      { step: 'list all', ...(await call('GET', '/api/cases')) },
      { step: 'stats by item', ...(await call('GET', '/api/stats')) },
      { step: 'stats by day', ...(await call('GET', '/api/stats?groupBy=day')) },
    ])
    for (const s of again) expect(s).toEqual(onPg.find((p) => p.step === s.step))
    // Seeding is skipped for a catalogue already held; migrations are not applied twice.
    const [{ n }] = await node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')
    expect(n).toBe(listMigrations().length)
  }, PG_TEST_TIMEOUT_MS)
})

describe.skipIf(!postgresAvailable())('the node when its PostgreSQL server restarts', () => {
  it('keeps running, and serves again once the server is back', async () => {
    const server = await startPostgres()
    const dir = tempDir('tongban-pg-restart-')
    let node: TongbanNode | null = null
    try {
      node = await openNode({ level: 'city', code: '511300000000', name: '南充市', dataDir: dir.dir, databaseUrl: await server.createDatabase('restart'), catalogue: writeCatalogue(dir.dir) })
      await node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
      const call = request(createApp(node), (await node.users.login({ name: 'staff', password: 'password10' })).token)
      expect((await call('GET', '/api/cases')).status).toBe(200) // the pool now holds idle connections
      await server.restart() // ...which the server cuts
      const after = await call('GET', '/api/cases')
      expect(after).toMatchObject({ status: 200, body: { total: 0 } })
    } finally {
      await node?.close()
      await server.stop()
      dir.cleanup()
    }
  }, PG_TEST_TIMEOUT_MS)
})
