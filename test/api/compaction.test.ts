/**
 * Bounded growth (docs/compact-cases.ts): a closed case (delivered and rated) untouched for
 * longer than the retention is merged to one stored update holding its whole state — read back
 * the same, numbered with the newest sequence it replaced (the link resends nothing); an open
 * case, and one changed within the retention, keep their rows; a later change still lands.
 * The merged row is stored packed and read back whole (the case page, its scan, the statistics,
 * the link's bytes), after a restart too; case_events keeps only what the attachment lane reads.
 */
import { createHash, randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { compactClosedCases } from '../../nodes/core/docs/compact-cases.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { openNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { applicant, request, TEST_PASSWORD, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(async () => t?.close())

const takeIn = async () => (await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') })).body.id as string
const act = (id: string, body: unknown) => agent('POST', `/api/cases/${id}/events`, body)
const rowsOf = (id: string) => t.node.db.query<{ seq: number }>(`SELECT seq::float8 AS seq FROM doc_updates WHERE doc_id = $1 ORDER BY seq`, [`case:${id}`])
/** A fresh read from the store, not the node's cached document. */
const stored = async (id: string) => {
  const doc = new Y.Doc()
  for (const r of await t.node.db.query<{ update: Uint8Array }>(`SELECT update FROM doc_updates WHERE doc_id = $1 ORDER BY seq`, [`case:${id}`])) Y.applyUpdate(doc, r.update)
  return { app: doc.getMap('case').get('application'), events: doc.getArray('events').toArray() }
}

describe('compacting closed cases', () => {
  it('merges a closed case past the retention into one row; keeps open and recent ones; a later change lands', async () => {
    const closed = await takeIn()
    for (const e of [{ type: 'approved' }, { type: 'delivered' }, { type: 'rated', rating: 5 }]) expect((await act(closed, e)).status).toBe(200)
    const open = await takeIn()
    const recent = await takeIn()
    for (const e of [{ type: 'approved' }, { type: 'delivered' }, { type: 'rated', rating: 4 }]) expect((await act(recent, e)).status).toBe(200)
    // The closed one was last touched 40 days ago; the others now.
    await t.node.db.query(`UPDATE cases SET updated_at = now() - interval '40 days' WHERE id = ANY($1)`, [[closed, open]])
    const before = await rowsOf(closed)
    expect(before.length).toBe(4)
    const view = (await agent('GET', `/api/cases/${closed}`)).body
    const content = await stored(closed)

    const r = await compactClosedCases(t.node.db, { retentionDays: 30, now: new Date() })
    expect(r).toMatchObject({ merged: 1, rowsRemoved: 3 })
    const after = await rowsOf(closed)
    expect(after.map((x) => Number(x.seq))).toEqual([Number(before[3].seq)])
    expect(await stored(closed)).toEqual(content)
    expect((await rowsOf(open)).length).toBe(1 + 0) // taken in on the spot: one row, and open: untouched
    expect((await rowsOf(recent)).length).toBe(4)
    // A second pass starts after its cursor: nothing again.
    expect((await compactClosedCases(t.node.db, { retentionDays: 30, now: new Date() })).merged).toBe(0)

    // The node answers the same case; a change after it is judged on the whole history.
    expect((await agent('GET', `/api/cases/${closed}`)).body).toEqual(view)
    const more = await act(closed, { type: 'rated', rating: 3 })
    expect(more.status).toBe(409) // rated once: the state machine still knows it
    expect((await rowsOf(closed)).length).toBe(1)
  })
})

describe('a closed case compacted and packed (issue 11, goal 3)', () => {
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
  const year = () => agent('GET', '/api/stats?from=2000-01-01&to=2100-12-31&groupBy=item')
  /** How the merged row is stored: its first bytes and its length, as bytes in the table (not unpacked). */
  const rawRows = (id: string) => t.node.db.query<{ head: Uint8Array; n: number }>(
    `SELECT substring(update from 1 for 5) AS head, octet_length(update) AS n FROM doc_updates WHERE doc_id = $1 ORDER BY seq`, [`case:${id}`])

  it('keeps only attached events in case_events, whatever a writer inserts', async () => {
    const id = await takeIn()
    expect((await act(id, { type: 'approved' })).status).toBe(200)
    const kinds = await t.node.db.query<{ type: string }>('SELECT type FROM case_events WHERE case_id = $1', [id])
    expect(kinds).toEqual([]) // accepted and approved are in the document, not here
    // A bulk writer (bench/lib/county-fill.ts) sends every event: only `attached` stays.
    await t.node.db.query(
      `INSERT INTO case_events (case_id, event_id, type, lamport, author, user_name, at, body) VALUES
       ($1, 'x-approved', 'approved', 9, $2, 'u', now(), '{}'), ($1, 'x-attached', 'attached', 10, $2, 'u', now(), '{"hash":"00"}')`, [id, VILLAGE])
    expect((await t.node.db.query<{ event_id: string }>('SELECT event_id FROM case_events WHERE case_id = $1', [id])).map((r) => r.event_id)).toEqual(['x-attached'])
    await t.node.db.query(`DELETE FROM case_events WHERE case_id = $1`, [id])
  })

  it('compacts a delivered case nobody rated; a late rating still lands and is counted', async () => {
    const id = await takeIn()
    for (const e of [{ type: 'approved' }, { type: 'delivered' }]) expect((await act(id, e)).status).toBe(200)
    await t.node.db.query(`UPDATE cases SET updated_at = now() - interval '40 days' WHERE id = $1`, [id])
    await t.node.db.query(`DELETE FROM node_meta WHERE key = 'compact_cases_after'`)
    const rated = async () => (await year()).body.totals.ratings as number[] // counts of 1..5 stars
    const before = await rated()
    expect((await compactClosedCases(t.node.db, { retentionDays: 30, now: new Date() })).merged).toBeGreaterThanOrEqual(1)
    expect(await rawRows(id)).toHaveLength(1)
    expect((await act(id, { type: 'rated', rating: 4 })).status).toBe(200)
    expect((await agent('GET', `/api/cases/${id}`)).body).toMatchObject({ status: 'delivered', rating: 4 })
    expect((await rated())[3]).toBe(before[3] + 1)
    expect(await rawRows(id)).toHaveLength(2) // the merged row and the rating beside it
  })

  it('stores the merged row packed; the case, its timeline, its scan and the statistics read the same, and after a restart', async () => {
    const id = await takeIn()
    const file = new Uint8Array(randomBytes(40_000))
    file.set([0xff, 0xd8, 0xff, 0xe0])
    const { token } = await t.node.users.login({ name: 'agent', password: TEST_PASSWORD })
    const up = await t.app.request(`/api/cases/${id}/attachments?name=${encodeURIComponent('身份证正面.jpg')}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: file,
    })
    expect(up.status).toBe(201)
    for (const e of [{ type: 'approved' }, { type: 'delivered' }, { type: 'rated', rating: 5 }]) expect((await act(id, e)).status).toBe(200)
    // The attachment lane's query reads the attached event from case_events: still there.
    expect((await t.node.db.query('SELECT 1 FROM case_events WHERE case_id = $1 AND type = $2 AND body->>$3 = $4', [id, 'attached', 'hash', sha(file)])).length).toBe(1)
    await t.node.db.query(`UPDATE cases SET updated_at = now() - interval '40 days' WHERE id = $1`, [id])
    const view = (await agent('GET', `/api/cases/${id}`)).body
    expect(view.events.map((e: any) => e.type)).toEqual(['accepted', 'attached', 'approved', 'delivered', 'rated'].filter((x) => view.events.some((e: any) => e.type === x)))
    const stats = (await year()).body
    const unpackedBytes = (await t.node.db.query<{ update: Uint8Array }>('SELECT update FROM doc_updates WHERE doc_id = $1', [`case:${id}`])).reduce((n, r) => n + r.update.length, 0)

    const r = await compactClosedCases(t.node.db, { retentionDays: 30, now: new Date() })
    expect(r.merged).toBeGreaterThanOrEqual(1)
    const raw = await rawRows(id)
    expect(raw).toHaveLength(1)
    expect([...raw[0].head]).toEqual([0x00, 0x00, 0x74, 0x62, 0x01]) // packed (docs/packed-update.ts)
    expect(raw[0].n).toBeLessThan(unpackedBytes * 0.75)
    // A second pass leaves a packed row as it is.
    await t.node.db.query(`DELETE FROM node_meta WHERE key = 'compact_cases_after'`)
    await compactClosedCases(t.node.db, { retentionDays: 30, now: new Date() })
    expect(await rawRows(id)).toEqual(raw)

    // Read from the store, not the cache: the node's cached documents are dropped by a restart.
    const dataDir = t.dataDir
    await t.node.close()
    const node = await openNode({ ...PRESETS.village.defaults, level: 'village', code: VILLAGE, name: `node ${VILLAGE}`, dataDir, catalogue: FIXTURE_CATALOGUE })
    const app = createApp(node, { extend: PRESETS.village.extend })
    t = { ...t, node, app, close: async () => { await node.close(); rmSync(dataDir, { recursive: true, force: true }) } }
    const { token: tok2 } = await node.users.login({ name: 'agent', password: TEST_PASSWORD })
    agent = request(app, tok2)
    expect((await agent('GET', `/api/cases/${id}`)).body).toEqual(view)
    expect((await year()).body).toEqual(stats)
    const got = await app.request(`/api/cases/${id}/attachments/${sha(file)}`, { headers: { authorization: `Bearer ${tok2}` } })
    expect(got.status).toBe(200)
    expect(sha(new Uint8Array(await got.arrayBuffer()))).toBe(sha(file))
    // What the link sends a peer: the outbox reads the row unpacked, a whole Yjs update.
    const [row] = await node.db.query<{ update: Uint8Array }>('SELECT update FROM doc_updates WHERE doc_id = $1', [`case:${id}`])
    const doc = new Y.Doc()
    Y.applyUpdate(doc, row.update)
    expect(doc.getArray('events').toArray().map((e: any) => e.id)).toEqual(view.events.map((e: any) => e.id))
  })
})
