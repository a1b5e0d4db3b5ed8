/**
 * `tongban backup` / `tongban restore --from` of a node on PostgreSQL (--database-url), real
 * processes and a real PostgreSQL 15 server. The backup file holds the node's data dir (keys,
 * enrollments, certificate), not its database: that is pg_dump's. A restore of such a backup
 * without --database-url is refused, saying what to do; with it — after pg_restore of the dump —
 * the database must hold that node and no other client, and it takes a new epoch and a Lamport
 * floor (as a restored embedded store does: nodes/core/cli/backup.ts), and the node starts on
 * it with what the dump held. Before, the restore said it was done and left the restored
 * database with its old epoch and no floor: its links would resume from cursors past what it
 * held, and its peers refuse its new events on a case as back-dated.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentIdCheck } from '../../protocol/people.ts'
import { COUNTY, FIXTURE_CATALOGUE, requiredOf } from '../fixtures/catalogue.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess } from '../helpers/process.ts'
import { PG_BIN, postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { tempDir } from '../helpers/template.ts'

const PASSWORD = 'restore-secret-1'
const APPLICANT = { name: '钱大伟', idType: 'resident-id' as const, idNumber: '51130219900505201' + residentIdCheck('51130219900505201'), phone: '13566667777' }
const TIMEOUT = 600_000

let tmp: ReturnType<typeof tempDir>
let server: PgServer | null = null
let url = ''
let node: NodeProcess
const dir = (name: string) => join(tmp.dir, name)
const meta = async (dbUrl: string, key: string): Promise<string | null> => {
  const c = new pg.Client({ connectionString: dbUrl })
  await c.connect()
  try {
    const r = await c.query('SELECT value FROM node_meta WHERE key = $1', [key])
    return r.rows[0]?.value ?? null
  } finally {
    await c.end()
  }
}
const county = (data: string, dbUrl: string) => ({ level: 'county' as const, code: COUNTY, name: '顺庆区', data, catalogue: FIXTURE_CATALOGUE, extra: ['--database-url', dbUrl] })
async function intake(): Promise<string> {
  const staff = await loginAt(node.url, 'staff', PASSWORD)
  const r = await staff('POST', '/api/cases', { itemCode: 'C-P01', applicant: APPLICANT, materials: requiredOf('C-P01') })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.id as string
}

describe.skipIf(!postgresAvailable())('backup and restore of a node on PostgreSQL', { timeout: TIMEOUT }, () => {
  const ids: string[] = []
  let epochBefore: string | null = null
  const file = () => dir('county.tbak')
  const dump = () => dir('county.pgdump')

  beforeAll(async () => {
    tmp = tempDir('tongban-restore-pg-')
    server = await startPostgres()
    url = await server.createDatabase('county')
    mkdirSync(dir('county'), { recursive: true })
    writeFileSync(join(dir('county'), 'users.seed.json'), JSON.stringify([{ name: 'staff', role: 'staff', password: PASSWORD }]))
    node = await startNodeProcess(county(dir('county'), url))
  }, TIMEOUT)

  afterAll(async () => {
    await killAll()
    await server?.stop()
    tmp?.cleanup()
  }, 180_000)

  it('backs up the data dir and says the database is pg_dump\'s', async () => {
    ids.push(await intake())
    expect(await node.stop(), node.output()).toBe(0)
    const b = await runCli(['backup', '--data', dir('county'), '--out', file()])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout).toMatch(/keeps its store in PostgreSQL \(--database-url\): back the database up with pg_dump/)
    // The store's epoch is made at its first link (link/status.ts): this county has none, so
    // give it the one a linked node would hold, for the restore to replace.
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    await c.query(`INSERT INTO node_meta (key, value) VALUES ('epoch', 'before-the-backup') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`)
    await c.end()
    epochBefore = 'before-the-backup'
    execFileSync(join(PG_BIN, 'pg_dump'), ['--format=custom', '--file', dump(), url], { stdio: 'pipe' })
    // Work after the backup: lost with the restore below.
    node = await startNodeProcess(county(dir('county'), url))
    ids.push(await intake())
    expect(await node.stop(), node.output()).toBe(0)
  })

  it('a restore without --database-url is refused, saying what to do; nothing is written', async () => {
    const r = await runCli(['restore', '--data', dir('restored'), '--from', file()])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stderr).toMatch(/a node on PostgreSQL: it holds the node's keys and files, not its database/)
    expect(r.stderr).toMatch(/pg_restore .* then run again with --database-url URL/)
    expect(existsSync(dir('restored'))).toBe(false)
  })

  it('refuses a database that holds no node, and one another client is connected to', async () => {
    const empty = await server!.createDatabase('empty')
    const none = await runCli(['restore', '--data', dir('restored'), '--from', file(), '--database-url', empty])
    expect(none.code, none.stdout + none.stderr).toBe(2)
    expect(none.stderr).toMatch(/holds no node: restore it first \(pg_restore/)
    expect(existsSync(dir('restored'))).toBe(false)

    const busy = new pg.Client({ connectionString: url })
    await busy.connect()
    try {
      const r = await runCli(['restore', '--data', dir('restored'), '--from', file(), '--database-url', url])
      expect(r.code, r.stdout + r.stderr).toBe(2)
      expect(r.stderr).toMatch(/1 other connection\(s\) to the database at --database-url: stop every process of node 511302000000/)
      expect(existsSync(dir('restored'))).toBe(false)
    } finally {
      await busy.end()
    }
  })

  it('after pg_restore of the dump, restore --database-url gives the database a new epoch and a floor, and the node runs on it', async () => {
    const restoredUrl = await server!.createDatabase('county_restored')
    execFileSync(join(PG_BIN, 'pg_restore'), ['--no-owner', '--dbname', restoredUrl, dump()], { stdio: 'pipe' })
    expect(await meta(restoredUrl, 'epoch')).toBe(epochBefore) // the dump's, as its peers know it
    const r = await runCli(['restore', '--data', dir('restored'), '--from', file(), '--database-url', restoredUrl])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/restored county 511302000000 \(顺庆区\).*its database \(PostgreSQL\) takes a new epoch/)
    expect(await meta(restoredUrl, 'epoch')).toBeNull() // a new one is made at the next start
    expect(Number(await meta(restoredUrl, 'lamport_floor'))).toBeGreaterThan(0)

    node = await startNodeProcess(county(dir('restored'), restoredUrl))
    expect(await meta(restoredUrl, 'epoch')).not.toBe(epochBefore) // a new one at its first link
    const staff = await loginAt(node.url, 'staff', PASSWORD)
    const held = await staff('GET', `/api/cases/${ids[0]}`)
    expect(held.status).toBe(200)
    expect((await staff('GET', `/api/cases/${ids[1]}`)).status).toBe(404) // after the dump: not in it
    // It acts on its cases (signed above the floor).
    const acted = await staff('POST', `/api/cases/${ids[0]}/events`, { type: held.body.status === 'submitted' ? 'accepted' : 'approved' })
    expect(acted.status, JSON.stringify(acted.body)).toBe(200)
    expect(await node.stop(), node.output()).toBe(0)
  })

  it('a backup of an embedded store is not restored into PostgreSQL', async () => {
    // A PGlite county of its own, backed up, then offered with --database-url.
    mkdirSync(dir('lite'), { recursive: true })
    const lite = await startNodeProcess({ level: 'county', code: COUNTY, name: '顺庆区', data: dir('lite'), catalogue: FIXTURE_CATALOGUE })
    expect(await lite.stop(), lite.output()).toBe(0)
    expect((await runCli(['backup', '--data', dir('lite'), '--out', dir('lite.tbak')])).code).toBe(0)
    const r = await runCli(['restore', '--data', dir('lite-restored'), '--from', dir('lite.tbak'), '--database-url', url])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stderr).toMatch(/holds an embedded store \(pgdata\/\): --database-url is for the backup of a node on PostgreSQL/)
  })
})
