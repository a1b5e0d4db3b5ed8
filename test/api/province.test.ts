/**
 * The provincial platform exchange (数据汇聚, issue 10 part 2; docs/province-api.md) against a
 * province played by msw: a county node on a real PGlite store pushes 办件信息 at each stage and
 * 好差评, from its durable outbox, with backoff. The province is down, slow, answers 5xx then
 * recovers, refuses a record (4xx per record), loses an answer, and acknowledges twice; through
 * all of it nothing is lost, nothing acknowledged is sent again, and the province holds each
 * record once. A case whose path does not include the pushing node is never pushed, even when
 * its document reaches the node's store. Every wait is for a condition, never for a time.
 */
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import * as Y from 'yjs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ProvinceCaseBatchSchema, ProvinceRatingBatchSchema } from '../../protocol/index.ts'
import type { ProvinceConfig } from '../../nodes/core/province/config.ts'
import { ProvinceOutbox } from '../../nodes/core/province/outbox.ts'
import { memoryKeys } from '../../nodes/core/trust/keys.ts'
import { applicant, request, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { signedApplication, signedEvent } from '../helpers/link-client.ts'
import { COUNTY, FIXTURE_CATALOGUE, requiredOf } from '../fixtures/catalogue.ts'
import { waitFor } from '../attack/guard.ts'

const BASE = 'https://province.test/exchange/v1'
const SLOW_BASE = 'https://slow-province.test/exchange/v1'
const CREDENTIALS = { clientId: 'sc-511302', clientSecret: 's3cret-from-the-province' }
const T1 = '511302101000'
/** A test's bound: generous, the machine is shared (every wait inside is for a condition). */
const LONG = 300_000
/** Another county: its case numbers differ from the first node's. */
const COUNTY2 = '511303000000'

/** The province as the node sees it: what it holds, what it was sent, how it answers now. */
const province = {
  mode: 'ok' as 'ok' | 'down' | 'unavailable' | 'lose-answer' | 'duplicate-acks' | 'huge' | 'credentials-refused' | 'busy-once',
  held: new Map<string, any>(),
  /** Times each key was stored as new (must end at 1). */
  stored: new Map<string, number>(),
  received: new Map<string, number>(),
  /** Keys the node was told are held, in an answer it received. */
  ackSeen: new Set<string>(),
  /** Keys sent again after the node was told the province holds them (must stay empty). */
  resentAfterAck: [] as string[],
  reject: (_r: any): { code: string; message: string } | null => null,
  headers: [] as { authorization: string | null; source: string | null }[],
  biggestBatch: 0,
  badBodies: [] as string[],
  unavailableLeft: 0,
  slowMs: 0,
  /** Keys answered `error` once already (busy-once). */
  busy: new Set<string>(),
  /** A province that never answers (HUNG_BASE): requests wait here until the test ends. */
  hung: { entered: 0, answered: 0, release: null as null | (() => void), gate: null as null | Promise<void> },
}

function answer(kind: 'cases' | 'ratings', slow: boolean) {
  return http.post(`${slow ? SLOW_BASE : BASE}/${kind}`, async ({ request: req }) => {
    const mode = province.mode
    province.headers.push({ authorization: req.headers.get('authorization'), source: req.headers.get('x-tongban-source') })
    if (mode === 'down') return HttpResponse.error()
    if (mode === 'credentials-refused') {
      province.mode = 'ok'
      return HttpResponse.json({ error: 'invalid client' }, { status: 401 })
    }
    if (slow && province.slowMs) await new Promise((r) => setTimeout(r, province.slowMs))
    const body = await req.json()
    const parsed = (kind === 'cases' ? ProvinceCaseBatchSchema : ProvinceRatingBatchSchema).safeParse(body)
    if (!parsed.success) {
      province.badBodies.push(JSON.stringify(parsed.error.issues))
      return HttpResponse.json({ error: 'bad envelope' }, { status: 400 })
    }
    const records = parsed.data.records
    province.biggestBatch = Math.max(province.biggestBatch, records.length)
    for (const r of records) {
      province.received.set(r.key, (province.received.get(r.key) ?? 0) + 1)
      if (province.ackSeen.has(r.key)) province.resentAfterAck.push(r.key)
    }
    if (mode === 'unavailable' && province.unavailableLeft-- > 0) return HttpResponse.json({ error: '系统维护中' }, { status: 503 })
    // An answer far beyond any batch's acknowledgements (2 MB): read no further than 1 MB, retried.
    if (mode === 'huge') {
      province.mode = 'ok'
      return new HttpResponse('x'.repeat(2 << 20), { status: 200, headers: { 'content-type': 'application/json' } })
    }
    const results = records.map((r) => {
      if (mode === 'busy-once' && !province.busy.has(r.key)) {
        province.busy.add(r.key)
        return { key: r.key, status: 'error' as const, code: 'BUSY', message: '系统繁忙，请稍后重试' }
      }
      const why = province.reject(r)
      if (why) return { key: r.key, status: 'rejected' as const, ...why }
      if (province.held.has(r.key)) return { key: r.key, status: 'duplicate' as const }
      province.held.set(r.key, r)
      province.stored.set(r.key, (province.stored.get(r.key) ?? 0) + 1)
      return { key: r.key, status: 'accepted' as const }
    })
    // Stored, but the answer never reaches the node (a proxy's 502): the resend must count once.
    if (mode === 'lose-answer') {
      province.mode = 'ok'
      return HttpResponse.json({ error: 'bad gateway' }, { status: 502 })
    }
    // A slow answer may come after the node gave up on it: only a prompt one counts as seen.
    if (!(slow && province.slowMs)) for (const r of results) if (r.status === 'accepted' || r.status === 'duplicate') province.ackSeen.add(r.key)
    const all = mode === 'duplicate-acks'
      ? [...results, ...results.map((r) => ({ ...r, status: r.status === 'accepted' ? 'duplicate' : r.status })), { key: 'not-ours:accepted', status: 'accepted' }]
      : results
    return HttpResponse.json({ results: all })
  })
}

const HUNG_BASE = 'https://hung-province.test/exchange/v1'
province.hung.gate = new Promise((r) => (province.hung.release = r))
const hung = http.post(`${HUNG_BASE}/cases`, async () => {
  province.hung.entered++
  await province.hung.gate
  province.hung.answered++
  return HttpResponse.json({ results: [] })
})

const server = setupServer(answer('cases', false), answer('ratings', false), answer('cases', true), answer('ratings', true), hung)

const config = (over: Partial<ProvinceConfig> = {}): ProvinceConfig => ({
  url: BASE, credentials: CREDENTIALS, batchSize: 3, timeoutMs: 60_000, backoff: { baseMs: 10, capMs: 100 }, pollMs: 20, ...over,
})

let t: TestNode
let staff: Client
let admin: Client
let supervisor: Client

beforeAll(async () => {
  server.listen({ onUnhandledRequest: 'bypass' })
  t = await testNode({ level: 'county', code: COUNTY, name: '顺庆区', catalogue: FIXTURE_CATALOGUE, province: config() })
  staff = await t.as('staff', 'staff')
  admin = await t.as('admin', 'admin')
  supervisor = await t.as('supervisor', 'supervisor')
}, 300_000)
afterAll(async () => {
  await t?.close()
  province.hung.release?.()
  server.close()
})

// Each test sets the province's behaviour it needs; none leaks into the next.
beforeEach(() => {
  province.mode = 'ok'
  province.reject = () => null
  province.unavailableLeft = 0
  province.slowMs = 0
})

const act = (id: string, body: unknown) => staff('POST', `/api/cases/${id}/events`, body)

/** A county case taken in (instant: accepted at intake), approved, delivered and rated 5. */
async function fullCase(): Promise<string> {
  const made = await staff('POST', '/api/cases', { itemCode: 'C-I01', applicant, materials: requiredOf('C-I01') })
  expect(made.status).toBe(201)
  const id = made.body.id as string
  for (const e of [{ type: 'approved' }, { type: 'delivered' }, { type: 'rated', rating: 5, comment: '张三说很满意' }]) expect((await act(id, e)).status).toBe(200)
  return id
}
const keysOf = (id: string) => [`${id}:accepted:${COUNTY}`, `${id}:decided:${COUNTY}`, `${id}:delivered:${COUNTY}`, `${id}:rating`]

async function outbox(id: string): Promise<Map<string, { state: string; attempts: number; last_error: string | null }>> {
  const rows = await t.node.db.query<{ record_key: string; state: string; attempts: number; last_error: string | null }>(
    'SELECT record_key, state, attempts, last_error FROM province_outbox WHERE case_id = $1', [id])
  return new Map(rows.map((r) => [r.record_key, r]))
}
const allAcked = async (id: string) => {
  const o = await outbox(id)
  return keysOf(id).every((k) => o.get(k)?.state === 'acked')
}
function heldOnce(keys: string[]): void {
  for (const k of keys) expect(province.stored.get(k), k).toBe(1)
  expect(province.resentAfterAck).toEqual([])
}

describe('pushing 办件信息 and 好差评', { timeout: LONG }, () => {
  it('each stage and the rating reach the province once, with the credentials, in bounded batches, and nothing personal beyond a masked id', async () => {
    const id = await fullCase()
    await waitFor('every record acknowledged', () => allAcked(id), 60_000)
    heldOnce(keysOf(id))
    const decided = province.held.get(`${id}:decided:${COUNTY}`)
    expect(decided).toMatchObject({
      caseNumber: id, stage: 'decided', item: { code: 'C-I01' }, origin: { code: COUNTY, name: '顺庆区' }, handler: { code: COUNTY, name: '顺庆区' },
      applicant: { idType: 'resident-id', idNumberMasked: '51**************35' }, status: 'approved', result: 'approved',
    })
    expect(decided.item.name).not.toBe('C-I01') // named from the catalogue
    expect(decided.decidedAt).toEqual(expect.any(String))
    expect(province.held.get(`${id}:rating`)).toMatchObject({ caseNumber: id, rating: 5, ratingName: '非常满意' })
    const everything = JSON.stringify([...province.held.values()])
    for (const secret of [applicant.name, applicant.phone, applicant.idNumber, '张三说很满意']) expect(everything).not.toContain(secret)
    const basic = 'Basic ' + Buffer.from(`${CREDENTIALS.clientId}:${CREDENTIALS.clientSecret}`).toString('base64')
    expect(province.headers.length).toBeGreaterThan(0)
    expect(province.headers.every((h) => h.authorization === basic && h.source === COUNTY)).toBe(true)
    expect(province.biggestBatch).toBeLessThanOrEqual(3)
    expect(province.badBodies).toEqual([])
  })

  it('down (network error): the records wait in the outbox, and go once the province is back', async () => {
    province.mode = 'down'
    const id = await fullCase()
    await waitFor('failed attempts recorded', async () => [...(await outbox(id)).values()].some((r) => r.attempts >= 2), 60_000)
    const o = await outbox(id)
    expect(keysOf(id).every((k) => o.get(k)?.state === 'pending')).toBe(true)
    expect([...o.values()].some((r) => r.last_error?.includes('无法连接省平台'))).toBe(true)
    const view = await admin('GET', '/api/province?state=pending')
    expect(view.status).toBe(200)
    expect(view.body).toMatchObject({ configured: true, url: BASE })
    expect(view.body.pending).toBeGreaterThanOrEqual(4)
    expect(view.body.lastError).toContain('无法连接省平台')
    expect(view.body.list.records.some((r: any) => r.caseId === id && r.attempts >= 1)).toBe(true)
    // What /healthz polls counts only so far, and says there is more.
    expect(await t.node.province!.outbox.summary({ bound: 2 })).toMatchObject({ pending: 2, pendingMore: true, acked: null })
    province.mode = 'ok'
    await waitFor('every record acknowledged after the outage', () => allAcked(id), 60_000)
    heldOnce(keysOf(id))
  })

  it('5xx then recovery: retried with backoff until taken, held once', async () => {
    province.mode = 'unavailable'
    province.unavailableLeft = 3
    const id = await fullCase()
    await waitFor('every record acknowledged after the 503s', () => allAcked(id), 60_000)
    province.mode = 'ok'
    heldOnce(keysOf(id))
    expect(Math.max(...[...(await outbox(id)).values()].map((r) => r.attempts))).toBeGreaterThanOrEqual(2)
    expect((await admin('GET', '/api/province')).body.lastSuccess).toEqual(expect.any(String))
  })

  it('a record the province refuses is failed with its reason, not retried, and goes again on retry', async () => {
    let refusing = true
    province.reject = (r) => (refusing && r.stage === 'decided' ? { code: 'E_ITEM', message: '事项编码未在省级事项目录中登记' } : null)
    const id = await fullCase()
    const refused = `${id}:decided:${COUNTY}`
    await waitFor('the refused record failed and the others acknowledged', async () => {
      const o = await outbox(id)
      return o.get(refused)?.state === 'failed' && keysOf(id).filter((k) => k !== refused).every((k) => o.get(k)?.state === 'acked')
    }, 60_000)
    refusing = false // the province would take it now: only a retry sends it again
    expect((await outbox(id)).get(refused)?.last_error).toBe('省平台退回 (E_ITEM): 事项编码未在省级事项目录中登记')
    // Later pushes go on; the failed record is not among them.
    const other = await fullCase()
    await waitFor('a later case acknowledged', () => allAcked(other), 60_000)
    expect(province.received.get(refused)).toBe(1)
    const view = await supervisor('GET', '/api/province')
    expect(view.status).toBe(200)
    expect(view.body.failed).toBe(1)
    expect(view.body.list).toMatchObject({ state: 'failed', total: 1, records: [{ key: refused, caseId: id, kind: 'case', lastError: expect.stringContaining('E_ITEM') }] })
    expect((await supervisor('POST', '/api/province/retry', {})).status).toBe(403)
    expect((await admin('POST', '/api/province/retry', { keys: ['bad key!'] })).status).toBe(400)
    const retried = await admin('POST', '/api/province/retry', { keys: [refused] })
    expect(retried).toMatchObject({ status: 200, body: { retried: 1 } })
    await waitFor('the retried record acknowledged', async () => (await outbox(id)).get(refused)?.state === 'acked', 60_000)
    heldOnce([...keysOf(id), ...keysOf(other)])
    expect((await admin('GET', '/api/province')).body.failed).toBe(0)
  })

  it('an answer longer than any acknowledgement is not read to its end, and the records go again', async () => {
    province.mode = 'huge'
    const id = await fullCase()
    await waitFor('every record acknowledged', () => allAcked(id), 60_000)
    heldOnce(keysOf(id))
    const errors = await t.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM province_outbox WHERE case_id = $1 AND attempts >= 2`, [id])
    expect(errors[0].n).toBeGreaterThanOrEqual(1)
  })

  it('refused credentials (401) and records not taken this time (error) are retried, not failed', async () => {
    province.mode = 'credentials-refused'
    const id = await fullCase()
    await waitFor('every record acknowledged after the 401', () => allAcked(id), 60_000)
    expect((await admin('GET', '/api/province')).body.failed).toBe(0)
    province.mode = 'busy-once'
    const other = await fullCase()
    await waitFor('every record acknowledged after the per-record errors', () => allAcked(other), 60_000)
    heldOnce([...keysOf(id), ...keysOf(other)])
    const rows = [...(await outbox(other)).values()]
    expect(rows.every((r) => r.attempts >= 2)).toBe(true)
    const errors = await t.node.db.query<{ last_error: string }>(`SELECT last_error FROM province_status WHERE id = 1`)
    expect(errors[0].last_error).toMatch(/凭据|BUSY/)
  })

  it('an answer lost after the province stored the records: the resend is acknowledged as duplicate, held once', async () => {
    province.mode = 'lose-answer'
    const id = await fullCase()
    await waitFor('every record acknowledged', () => allAcked(id), 60_000)
    heldOnce(keysOf(id))
    expect(Math.max(...keysOf(id).map((k) => province.received.get(k) ?? 0))).toBeGreaterThanOrEqual(2)
  })

  it('duplicate acknowledgements (twice per record, and for a key never sent) change nothing', async () => {
    province.mode = 'duplicate-acks'
    const id = await fullCase()
    await waitFor('every record acknowledged', () => allAcked(id), 60_000)
    province.mode = 'ok'
    heldOnce(keysOf(id))
    expect((await t.node.db.query(`SELECT 1 FROM province_outbox WHERE record_key = 'not-ours:accepted'`)).length).toBe(0)
  })

  it('the view is for administrators and supervisors; /healthz tells counts, not the address or messages', async () => {
    expect((await staff('GET', '/api/province')).status).toBe(403)
    const anon = request(t.app)
    expect((await anon('GET', '/api/province')).status).toBe(401)
    expect((await admin('GET', '/api/province?state=nope')).status).toBe(400)
    const acked = await admin('GET', '/api/province?state=acked&pageSize=2&page=2')
    expect(acked.body.list).toMatchObject({ state: 'acked', page: 2, pageSize: 2 })
    expect(acked.body.list.records).toHaveLength(2)
    const health = await t.node.province!.health()
    expect(health).toMatchObject({ pending: expect.any(Number), failed: 0 })
    expect(JSON.stringify(health)).not.toContain('province.test')
  })
})

describe('only a node on the case\'s path pushes it', { timeout: LONG }, () => {
  it('a case of a township below (decided there) that reaches the county store anyway is not pushed; one decided at the county is', async () => {
    // The township 潆溪镇, known to the county by its key (as an enrolled child is).
    const keys = memoryKeys()
    t.node.trust.setChildren([{ code: T1, name: '潆溪镇', key: { alg: keys.alg, publicKey: keys.publicKey }, retired: [] }])
    const at = new Date().toISOString()
    const make = (seq: string, itemCode: string, handlerCode: string) => {
      const app = signedApplication({
        id: `${T1}-20260301-${seq}`, itemCode, itemVersion: 1, applicant, materials: requiredOf(itemCode), originCode: T1, handlerCode,
        createdAt: at, createdBy: 'agent', kind: 'promised', promisedDays: 5,
      }, keys)
      const doc = new Y.Doc()
      doc.getMap('case').set('application', app)
      // Accepted by the township itself when it decides; a county case is accepted at the county (not here).
      if (handlerCode === T1) doc.getArray('events').push([signedEvent({ type: 'accepted', lamport: 1, author: T1, user: 'staff', at } as any, keys)])
      return { id: app.id, update: Y.encodeStateAsUpdate(doc) }
    }
    const own = make('0001', 'T-P01', T1)
    const countys = make('0002', 'C-P01', COUNTY)
    const r = await t.node.docs.applyBatch([{ docId: `case:${own.id}`, update: own.update }, { docId: `case:${countys.id}`, update: countys.update }], `child:${T1}`)
    expect(r.refused).toEqual([])
    // Both are projected here (the fold believes them) …
    const rows = await t.node.db.query<{ id: string; status: string }>('SELECT id, status FROM cases WHERE id = ANY($1::text[]) ORDER BY id', [[own.id, countys.id]])
    expect(rows).toEqual([{ id: own.id, status: 'accepted' }, { id: countys.id, status: 'submitted' }])
    // … the county's own is accepted at the county and pushed; the township's never enters the outbox.
    expect((await act(countys.id, { type: 'accepted' })).status).toBe(200)
    await waitFor('the county-decided case pushed', async () => (await outbox(countys.id)).get(`${countys.id}:accepted:${COUNTY}`)?.state === 'acked', 60_000)
    expect((await outbox(own.id)).size).toBe(0)
    expect([...province.received.keys()].some((k) => k.startsWith(own.id))).toBe(false)
  })
})

describe('a slow province', () => {
  it('a request beyond the timeout is abandoned and retried; once the province answers in time the records are acknowledged, held once', async () => {
    const slow = await testNode({ level: 'county', code: COUNTY2, name: '高坪区', catalogue: FIXTURE_CATALOGUE, province: config({ url: SLOW_BASE, timeoutMs: 1_500 }) })
    try {
      // Far apart, and the quick answer's bound 1.5 s, not 300 ms: on a loaded machine an in-process
      // answer can take longer than 300 ms, and the test would wait on luck.
      province.slowMs = 10_000
      const s = await slow.as('staff', 'staff')
      const made = await s('POST', '/api/cases', { itemCode: 'C-I01', applicant, materials: requiredOf('C-I01') })
      expect(made.status).toBe(201)
      const key = `${made.body.id}:accepted:${COUNTY2}`
      const row = async () => (await slow.node.db.query<{ state: string; last_error: string | null }>('SELECT state, last_error FROM province_outbox WHERE record_key = $1', [key]))[0]
      await waitFor('a timed-out attempt', async () => (await row())?.last_error?.includes('未答复') ?? false, 60_000)
      expect((await row()).state).toBe('pending')
      province.slowMs = 0
      await waitFor('acknowledged once the province is quick', async () => (await row())?.state === 'acked', 60_000)
      // The abandoned requests may have been stored late: the resends were duplicates of them.
      await waitFor('the late answers done', () => (province.stored.get(key) ?? 0) >= 1, 60_000)
      expect(province.stored.get(key)).toBe(1)
    } finally {
      province.slowMs = 0
      await slow.close()
    }
  }, LONG)

  it('a node stopping while a request hangs stops without waiting for the answer; the record stays pending', async () => {
    const node = await testNode({ level: 'county', code: '511304000000', name: '嘉陵区', catalogue: FIXTURE_CATALOGUE, province: config({ url: HUNG_BASE, timeoutMs: 3_600_000 }) })
    let closed = false
    try {
      const s = await node.as('staff', 'staff')
      const before = province.hung.entered
      const made = await s('POST', '/api/cases', { itemCode: 'C-I01', applicant, materials: requiredOf('C-I01') })
      expect(made.status).toBe(201)
      await waitFor('a request in flight', () => province.hung.entered > before, 60_000)
      const [row] = await node.node.db.query<{ state: string }>(`SELECT state FROM province_outbox WHERE case_id = $1`, [made.body.id])
      expect(row.state).toBe('pending')
      await node.close()
      closed = true
      // The province has not answered (it never does until the suite ends): the stop did not wait for it.
      expect(province.hung.answered).toBe(0)
    } finally {
      if (!closed) await node.close()
    }
  }, LONG)
})

describe('claiming due records', () => {
  it('two pushers sharing a store never claim the same record; a lease that runs out, or a release, makes it due again', async () => {
    // A node that does not push: only this test claims from its outbox.
    const quiet = await testNode({ level: 'county', code: '511321000000', name: '南部县', catalogue: FIXTURE_CATALOGUE })
    try {
      expect(quiet.node.province).toBeNull()
      const box = new ProvinceOutbox(quiet.node.db, { code: '511321000000', name: '南部县' })
      const now = new Date('2026-12-01T02:00:00Z')
      const later = (ms: number) => new Date(now.getTime() + ms)
      await quiet.node.db.query(
        `INSERT INTO province_outbox (record_key, kind, case_id, payload, next_at) SELECT 'k' || i, 'case', 'c' || i, '{}'::jsonb, $1 FROM generate_series(1, 7) AS i`,
        [now.toISOString()])
      const [a, b] = await Promise.all([box.claim(now, 4, later(60_000)), box.claim(now, 4, later(60_000))])
      const keys = [...a, ...b].map((d) => d.key)
      expect(new Set(keys).size).toBe(keys.length)
      expect(keys.sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'])
      expect(await box.claim(later(1_000), 10, later(61_000))).toEqual([])
      await box.release(['k1'], later(2_000))
      expect((await box.claim(later(2_000), 10, later(62_000))).map((d) => d.key)).toEqual(['k1'])
      expect((await box.claim(later(61_000), 10, later(121_000))).map((d) => d.key).sort()).toEqual(['k2', 'k3', 'k4', 'k5', 'k6', 'k7'])
    } finally {
      await quiet.close()
    }
  }, LONG)
})
