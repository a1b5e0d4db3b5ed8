/**
 * Several processes of one node sharing one PostgreSQL database (design.md: a city that
 * outgrows one process). Each has its own data dir (the lock file is per data dir); the store
 * is shared, so each must see — and act on — the cases the others take in, with no stale reads,
 * no duplicate case numbers, and projections that agree with the documents.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { appendEvent, caseDocId, nextLamport } from '../../nodes/core/docs/case-doc.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { openNode, PROJECT_ROOT, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { request, type Client } from '../helpers/node.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { eventually, login } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { START_TIMEOUT_MS } from '../helpers/process.ts'
import { CATALOGUE, PG_TEST_TIMEOUT_MS, writeCatalogue } from './scenario.ts'
import { residentIdCheck } from '../../protocol/people.ts'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)

const CITY = '511300000000'
let tmp: ReturnType<typeof tempDir>
let server: PgServer | null = null
const opened: TongbanNode[] = []
const procs: ChildProcess[] = []

const applicant = (n: number) => ({ name: `共享${n}`, idType: 'resident-id', idNumber: withCheck(`5113001990010${String(n).padStart(4, '0')}`), phone: `1390000${String(n).padStart(4, '0')}` })
const cityItem = CATALOGUE.items.find((i) => i.level === 'city')!
const required = cityItem.materials.filter((m) => m.required).map((m) => m.name)

async function openCity(url: string, name: string): Promise<TongbanNode> {
  const node = await openNode({
    ...PRESETS.city.defaults, level: 'city', code: CITY, name: '南充市', dataDir: join(tmp.dir, name),
    databaseUrl: url, catalogue: writeCatalogue(tmp.dir),
  })
  opened.push(node)
  return node
}

/** Users live in the shared database: add `staff` through one node, log in at each. */
async function staffAt(...nodes: TongbanNode[]): Promise<{ node: TongbanNode; staff: Client }[]> {
  await nodes[0].users.add({ name: 'staff', role: 'staff', password: 'password1' })
  return Promise.all(nodes.map(async (node) => {
    const { token } = await node.users.login({ name: 'staff', password: 'password1' })
    return { node, staff: request(createApp(node, { extend: PRESETS.city.extend }), token) }
  }))
}

/** The case as the list shows it (projected rows) and as its document folds (GET /:id) must agree. */
async function consistent(c: Client, id: string) {
  const view = await c('GET', `/api/cases/${id}`)
  const list = await c('GET', '/api/cases?limit=1000')
  const row = list.body.cases.find((r: { id: string }) => r.id === id)
  expect({ id, status: row?.status, rating: row?.rating }).toEqual({ id, status: view.body.status, rating: view.body.rating })
  return view.body
}

describe.skipIf(!postgresAvailable())('one PostgreSQL database shared by several node processes', () => {
  beforeAll(async () => {
    tmp = tempDir('tongban-pg-shared-')
    server = await startPostgres()
  }, PG_TEST_TIMEOUT_MS)

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    for (const n of opened) await n.close().catch(() => {})
    await server?.stop()
    tmp?.cleanup()
  }, 180_000)

  it('two instances started at once on an empty database migrate it once and see each other\'s cases', async () => {
    const url = await server!.createDatabase('shared_instances')
    const [a, b] = await staffAt(...(await Promise.all([openCity(url, 'a'), openCity(url, 'b')])))

    // Intake at A, read at B.
    const one = await a.staff('POST', '/api/cases', { itemCode: cityItem.code, applicant: applicant(1), materials: required })
    expect(one.status).toBe(201)
    expect((await b.staff('GET', `/api/cases/${one.body.id}`)).body).toMatchObject({ id: one.body.id, status: 'accepted' })
    expect((await b.staff('GET', '/api/cases')).body.cases.map((c: { id: string }) => c.id)).toContain(one.body.id)

    // B acts on it; A (which has read it before) sees the new status, not a stale copy.
    expect((await b.staff('POST', `/api/cases/${one.body.id}/events`, { type: 'approved' })).status).toBe(200)
    expect((await a.staff('GET', `/api/cases/${one.body.id}`)).body.status).toBe('approved')
    expect((await a.staff('POST', `/api/cases/${one.body.id}/events`, { type: 'delivered' })).status).toBe(200)
    expect((await b.staff('POST', `/api/cases/${one.body.id}/events`, { type: 'rated', rating: 4 })).body).toMatchObject({ status: 'delivered', rating: 4 })
    await consistent(a.staff, one.body.id)
    await consistent(b.staff, one.body.id)

    // Both take in at once: every case number is unique, and both list all of them.
    const ids = (await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? a : b).staff('POST', '/api/cases', { itemCode: cityItem.code, applicant: applicant(100 + i), materials: required }),
    ))).map((r) => {
      expect(r.status).toBe(201)
      return r.body.id as string
    })
    expect(new Set(ids).size).toBe(20)
    for (const side of [a, b]) {
      const list = (await side.staff('GET', '/api/cases?limit=1000')).body
      expect(list.total).toBe(21)
      expect(list.cases.map((c: { id: string }) => c.id).sort()).toEqual([one.body.id, ...ids].sort())
    }

    // Both act on the same cases at once: each case ends in one state, and list and view agree at both.
    // (Without a per-document lock across processes, the last to commit projects a row from a
    // document missing the other's event: list and view then disagree.)
    const acts = await Promise.all(ids.flatMap((id) => [
      a.staff('POST', `/api/cases/${id}/events`, { type: 'approved' }),
      b.staff('POST', `/api/cases/${id}/events`, { type: 'correction-requested', materials: [required[0]] }),
    ]))
    for (const r of acts) expect([200, 409]).toContain(r.status)
    for (const id of ids) {
      const va = await consistent(a.staff, id)
      const vb = await consistent(b.staff, id)
      expect(vb.status).toBe(va.status)
      expect(vb.events.map((e: { id: string }) => e.id)).toEqual(va.events.map((e: { id: string }) => e.id))
    }
    const [sa, sb] = await Promise.all([a.staff('GET', '/api/stats'), b.staff('GET', '/api/stats')])
    expect(sa.body.totals.accepted).toBe(21)
    expect(sb.body).toEqual(sa.body)
  }, PG_TEST_TIMEOUT_MS)

  it('a write to a case waits for another process\'s write to it, then builds on it', async () => {
    const url = await server!.createDatabase('shared_lock')
    const [a, b] = await staffAt(await openCity(url, 'lock-a'), await openCity(url, 'lock-b'))
    const made = await a.staff('POST', '/api/cases', { itemCode: cityItem.code, applicant: applicant(2), materials: required })
    const docId = caseDocId(made.body.id)
    await b.node.docs.get(docId) // B holds a cached copy from before A's action
    const watcher = new pg.Client({ connectionString: url })
    await watcher.connect()
    try {
      // B requests a correction in a transaction it holds open until A's approval has either
      // committed (no lock across processes: B would then build on a stale document) or is
      // waiting for B's lock on the document.
      let approve!: Promise<{ status: number; body: any }>
      await b.node.docs.change(docId, async (doc) => {
        let done = false
        approve = a.staff('POST', `/api/cases/${made.body.id}/events`, { type: 'approved' }).finally(() => (done = true))
        await eventually(async () => done || (await watcher.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rowCount! > 0,
          120_000, 'A to commit or to wait for the lock', 10)
        appendEvent(doc, b.node.trust.signEvent({ type: 'correction-requested', materials: [required[0]], lamport: nextLamport(doc), author: CITY, user: 'staff', at: new Date().toISOString(), case: made.body.id }))
      })
      // A waited, caught up, and found the case in correction: approving now is refused.
      expect((await approve).status).toBe(409)
      expect((await consistent(a.staff, made.body.id)).status).toBe('correction')
      expect((await consistent(b.staff, made.body.id)).status).toBe('correction')
    } finally {
      await watcher.end()
    }
  }, PG_TEST_TIMEOUT_MS)

  it('two `tongban start` processes on one database serve each other\'s cases over HTTP', async () => {
    const url = await server!.createDatabase('shared_processes')
    const bin = join(PROJECT_ROOT, 'bin/tongban.mjs')
    const catalogue = writeCatalogue(tmp.dir)
    const startProc = (name: string) => new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [bin, 'start', '--level', 'city', '--code', CITY, '--name', '南充市', '--port', '0',
        '--data', join(tmp.dir, name), '--database-url', url, '--catalogue', catalogue,
        '--insecure-http'], { stdio: ['ignore', 'pipe', 'pipe'] }) // this test is about the shared store, not TLS (test/attack/transport.test.ts)
      procs.push(p)
      let out = ''
      const timer = setTimeout(() => (p.kill('SIGKILL'), reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000} s:\n${out}`))), START_TIMEOUT_MS)
      const onData = (d: Buffer) => {
        out += d
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) (clearTimeout(timer), resolve(m[1]))
      }
      p.stdout!.on('data', onData)
      p.stderr!.on('data', onData)
      p.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${name} exited with ${code}:\n${out}`))))
    })
    const [urlA, urlB] = await Promise.all([startProc('proc-a'), startProc('proc-b')])
    // Users live in the shared database: one added through one data dir logs in at both.
    // A third data dir: the running nodes hold the locks on theirs.
    mkdirSync(join(tmp.dir, 'proc-c'))
    const add = spawnSync(process.execPath, [bin, 'user', 'add', '--data', join(tmp.dir, 'proc-c'), '--database-url', url,
      '--name', 'clerk', '--role', 'staff', '--password', 'password1'], { encoding: 'utf8', timeout: START_TIMEOUT_MS })
    expect(add.stderr + add.stdout).toContain('user clerk (staff) added')
    const [a, b] = await Promise.all([login(urlA, 'clerk', 'password1'), login(urlB, 'clerk', 'password1')])

    const made = await a('POST', '/api/cases', { itemCode: cityItem.code, applicant: applicant(7), materials: required })
    expect(made.status).toBe(201)
    expect((await b('GET', `/api/cases/${made.body.id}`)).body.status).toBe('accepted')
    expect((await b('POST', `/api/cases/${made.body.id}/events`, { type: 'approved' })).status).toBe(200)
    expect((await a('GET', `/api/cases/${made.body.id}`)).body.status).toBe('approved')
    const other = await b('POST', '/api/cases', { itemCode: cityItem.code, applicant: applicant(8), materials: required })
    expect((await a('GET', '/api/cases')).body.cases.map((c: { id: string }) => c.id).sort()).toEqual([made.body.id, other.body.id].sort())
    expect((await a('GET', '/api/stats')).body.totals).toEqual((await b('GET', '/api/stats')).body.totals)

    for (const p of procs) p.kill('SIGTERM')
    await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r)))))
  }, PG_TEST_TIMEOUT_MS)
})
