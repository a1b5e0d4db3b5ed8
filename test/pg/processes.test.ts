/**
 * Two processes of one city node (`tongban start --database-url`) on one real PostgreSQL, as
 * behind any HTTP load balancer (issue 11, goal 4): a write in one reaches the other's links
 * and live views (LISTEN/NOTIFY, docs/doc-store.ts `hearOtherProcesses`), and a child's link
 * is held by one process at a time (a lock that dies with its process: links.ts `claim`).
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { childHello, enroll, identity, proofHeaders } from '../helpers/link-client.ts'
import { nodeCert } from '../helpers/tls.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess, type Remote } from '../helpers/process.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { encodeFrame } from '../../protocol/index.ts'
import { residentIdCheck } from '../../protocol/people.ts'
import { PG_TEST_TIMEOUT_MS } from './scenario.ts'

const CITY = '511300000000'
const TOWNSHIP_COUNTY = '511302000000'
const PASSWORD = 'password10'
const applicant = { name: '共享甲', idType: 'resident-id', idNumber: '51130019900101001' + residentIdCheck('51130019900101001'), phone: '13900000001' }

let tmp: ReturnType<typeof tempDir>
let server: PgServer | null = null
let a: NodeProcess, b: NodeProcess, county: NodeProcess
let staffA: Remote, staffB: Remote
const closers: (() => void)[] = []

const dir = (name: string) => join(tmp.dir, name)

describe.skipIf(!postgresAvailable())('two city processes on one PostgreSQL', () => {
  beforeAll(async () => {
    tmp = tempDir('tongban-pg-processes-')
    server = await startPostgres()
    const url = await server.createDatabase('city_processes')
    const city = (name: string, extra: string[] = []) => ({ level: 'city' as const, code: CITY, name: '南充市', data: dir(name), catalogue: 'sample', extra: ['--database-url', url, ...extra] })
    a = await startNodeProcess(city('a'))
    // The county is enrolled at A (enrollments live in the data dir): B learns of it below.
    const token = await runCli(['child', 'add', '--data', dir('a'), '--code', TOWNSHIP_COUNTY])
    expect(token.code, token.stderr).toBe(0)
    mkdirSync(dir('b'), { recursive: true })
    copyFileSync(join(dir('a'), 'enrollments.json'), join(dir('b'), 'enrollments.json'))
    // Behind one load balancer both serve the same certificate (A's, made at its first start).
    b = await startNodeProcess(city('b', ['--tls-cert', join(dir('a'), 'tls', 'cert.pem'), '--tls-key', join(dir('a'), 'tls', 'key.pem')]))
    const added = await runCli(['user', 'add', '--data', dir('a'), '--database-url', url, '--name', 'staff', '--role', 'staff', '--password', PASSWORD])
    expect(added.code, added.stderr).toBe(0)
    staffA = await loginAt(a.url, 'staff', PASSWORD)
    staffB = await loginAt(b.url, 'staff', PASSWORD)
    const tokenLine = /(\S+)\s*$/.exec(token.stdout.trim())![1]
    county = await startNodeProcess({ level: 'county', code: TOWNSHIP_COUNTY, name: '顺庆区', data: dir('county'), catalogue: 'sample', extra: ['--parent', a.url, '--token', tokenLine] })
  }, PG_TEST_TIMEOUT_MS)

  afterAll(async () => {
    for (const c of closers) c()
    await killAll()
    await server?.stop()
    tmp?.cleanup()
  }, 180_000)

  it('a decision made at B reaches the child linked to A', async () => {
    // The county takes in a city matter; it goes up through the link the county holds with A.
    const countyStaff = await eventually(async () => {
      const r = await runCli(['user', 'add', '--data', dir('county'), '--name', 'window', '--role', 'staff', '--password', PASSWORD])
      return r.code === 0 ? loginAt(county.url, 'window', PASSWORD) : null
    }, 120_000, 'a user at the county')
    const made = await countyStaff('POST', '/api/cases', { itemCode: 'S-004', applicant, materials: ['项目备案信息表', '项目单位营业执照', '项目符合产业政策的声明'] })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    const id = made.body.id as string
    await eventually(async () => (await staffB('GET', `/api/cases/${id}`)).status === 200, 120_000, `case ${id} in the shared store`)
    // B verified the county's signature: it read again the directory A changed when the county enrolled.
    // B decides. Only A holds the county's link: without hearing B's write, A would not send it.
    expect((await staffB('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(200)
    expect((await staffB('POST', `/api/cases/${id}/events`, { type: 'approved', note: '同意备案' })).status).toBe(200)
    await eventually(async () => (await countyStaff('GET', `/api/cases/${id}`)).body.status === 'approved', 120_000, 'the approval made at B, at the county')
  }, PG_TEST_TIMEOUT_MS)

  it("a live view at B shows what A writes", async () => {
    const made = await staffA('POST', '/api/cases', { itemCode: 'S-004', applicant: { ...applicant, phone: '13900000002' }, materials: ['项目备案信息表', '项目单位营业执照', '项目符合产业政策的声明'] })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    const id = made.body.id as string
    const { token } = (await (await fetch(`${b.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'staff', password: PASSWORD }) })).json()) as { token: string }
    const doc = new Y.Doc()
    // Both processes serve A's certificate: the test's WebSocket trusts it (fetch does already).
    const ca = nodeCert(dir('a'))
    class TrustingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { ca })
      }
    }
    const provider = new WebsocketProvider(b.url.replace('http', 'ws') + '/live/case', id, doc, { WebSocketPolyfill: TrustingWebSocket as never, params: { token }, disableBc: true })
    closers.push(() => (provider.destroy(), doc.destroy()))
    const events = () => doc.getArray('events').length
    await eventually(async () => provider.synced && events() > 0, 60_000, 'the live view at B synced')
    const before = events()
    expect((await staffA('POST', `/api/cases/${id}/events`, { type: 'approved' })).status).toBe(200)
    await eventually(async () => events() > before, 60_000, "A's approval in B's live view")
  }, PG_TEST_TIMEOUT_MS)

  it('a child holds its link with one process at a time; the other takes it once it is let go', async () => {
    // A second county, played by the test (its key in memory), enrolled at A; B learns of it.
    const other = identity('511303000000', '高坪区')
    const token = await runCli(['child', 'add', '--data', dir('a'), '--code', other.code])
    expect(token.code, token.stderr).toBe(0)
    expect((await enroll(a.url, other, /(\S+)\s*$/.exec(token.stdout.trim())![1])).status).toBe(200)
    copyFileSync(join(dir('a'), 'enrollments.json'), join(dir('b'), 'enrollments.json'))
    const ca = nodeCert(dir('a'))
    /** Opens /link as the second county; `status` is 101 once open, or the HTTP status of a refusal. */
    const dial = async (at: NodeProcess) => {
      const ws = new WebSocket(at.url.replace(/^http/, 'ws') + '/link', { headers: await proofHeaders(at.url, CITY, other), ca })
      ws.on('error', () => {})
      const status = new Promise<number>((resolve) => {
        ws.once('open', () => resolve(101))
        ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0))
      })
      return { ws, status }
    }
    const atA = await dial(a)
    expect(await atA.status).toBe(101)
    atA.ws.send(encodeFrame(childHello(other.code)))
    // B knows the child (after it reads enrollments.json) but A holds its link: 409.
    const refused = await eventually(async () => {
      const l = await dial(b)
      const s = await l.status
      return s === 409 ? s : (l.ws.close(), null)
    }, 60_000, 'B turning the child away while A holds its link', 1_000)
    expect(refused).toBe(409)
    atA.ws.close()
    const atB = await eventually(async () => {
      const l = await dial(b)
      return (await l.status) === 101 ? l : null
    }, 60_000, 'B taking the link once A let it go', 1_000)
    atB.ws.close()
  }, PG_TEST_TIMEOUT_MS)
})
