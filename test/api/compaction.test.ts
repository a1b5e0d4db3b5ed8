/**
 * Bounded growth (docs/compact-cases.ts): a closed case (delivered and rated) untouched for
 * longer than the retention is merged to one stored update holding its whole state — read back
 * the same, numbered with the newest sequence it replaced (the link resends nothing); an open
 * case, and one changed within the retention, keep their rows; a later change still lands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { compactClosedCases } from '../../nodes/core/docs/compact-cases.ts'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
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
