/**
 * The repair pass's list of documents toward a child (Outbox.docsInScope) reads only the routes
 * that can concern the child, not every stored update: it must still name exactly the documents
 * `inScope` accepts, one by one, over cases of every shape (from and to the child's subtree, its
 * siblings, another county, transferred) and documents that are not cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Outbox } from '../../nodes/core/link/outbox.ts'
import { testNode, type TestNode } from '../helpers/node.ts'
import { COUNTY, FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode
beforeAll(async () => {
  t = await testNode({ level: 'county', code: COUNTY, name: '顺庆区', catalogue: FIXTURE_CATALOGUE })
}, 300_000)
afterAll(async () => t?.close())

const OTHER_TOWNSHIP = `${TOWNSHIP.slice(0, 6)}199000`
const OTHER_VILLAGE = `${TOWNSHIP.slice(0, 9)}299`
const OTHER_COUNTY = `${COUNTY.slice(0, 4)}99000000`
const UNITS = [COUNTY, TOWNSHIP, VILLAGE, OTHER_TOWNSHIP, OTHER_VILLAGE, OTHER_COUNTY, `${OTHER_TOWNSHIP.slice(0, 9)}201`]

describe('Outbox.docsInScope toward a child', () => {
  it('names exactly the documents inScope accepts', async () => {
    let n = 0
    const put = async (docId: string) => {
      n++
      await t.node.db.query(`INSERT INTO doc_updates (doc_id, update, origin, uid) VALUES ($1, '\\x00'::bytea, 'local', $2)`, [docId, `u${n}`])
    }
    for (const origin of UNITS) {
      for (const h1 of UNITS) {
        for (const h2 of [null, ...UNITS.slice(0, 3)]) {
          const docId = `case:${origin}-20260101-${String(++n).padStart(4, '0')}`
          await t.node.db.query('INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers) VALUES ($1, $2, $3, $4)', [docId, origin, h1, h2 ? [h1, h2] : [h1]])
          await put(docId)
          await put(docId) // a second update: listed once
        }
      }
    }
    await put(`case:${VILLAGE}-20260101-9999`) // events before their application: no route yet
    for (const d of [`stats:${VILLAGE}-2026-01-origin`, `stats:${OTHER_VILLAGE}-2026-01-origin`, `catalogue:${COUNTY}`, `catalogue:${TOWNSHIP}`, 'directory']) await put(d)
    const all = (await t.node.db.query<{ doc_id: string }>('SELECT DISTINCT doc_id FROM doc_updates')).map((r) => r.doc_id)
    for (const child of [TOWNSHIP, OTHER_TOWNSHIP]) {
      const out = new Outbox(t.node.db, child, true)
      const want: string[] = []
      for (const d of all) if (await out.inScope(d)) want.push(d)
      expect(want.length).toBeGreaterThan(5)
      expect([...(await out.docsInScope())].sort(), child).toEqual(want.sort())
    }
  }, 300_000)
})
