/**
 * What a link reads for its next frame (Outbox.next): only the updates that go in the frame are
 * read from the store (PGlite turns each byte of a `bytea` into a number in JavaScript, and a
 * frame holds ~55 of the 400 rows looked at), and the frames still carry every update for the
 * peer once, in order, none of the peer's own, each frame up to the target bytes (at least one
 * update, however large).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Outbox } from '../../nodes/core/link/outbox.ts'
import { testNode, type TestNode } from '../helpers/node.ts'
import { COUNTY, FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode
beforeAll(async () => {
  t = await testNode({ level: 'township', code: TOWNSHIP, name: '镇', catalogue: FIXTURE_CATALOGUE })
}, 300_000)
afterAll(async () => t?.close())

describe('Outbox.next', () => {
  it('reads only the updates of the frame, and the frames carry every update for the peer once, in order', async () => {
    const [{ s }] = await t.node.db.query<{ s: number }>('SELECT coalesce(max(seq), 0)::float8 AS s FROM doc_updates')
    // 120 updates of the township's own cases, every seventh handled at the township (not sent
    // up: not on the county's path, but read and counted), every fifth from the county (not sent back), one of 40 KB.
    const want: number[] = []
    const sizes = new Map<number, number>()
    for (let i = 0; i < 120; i++) {
      const docId = `case:${TOWNSHIP}-20260101-${String(i).padStart(4, '0')}`
      if (i % 7 === 0) await t.node.db.query('INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers) VALUES ($1, $2, $2, $3)', [docId, TOWNSHIP, [TOWNSHIP]])
      else await t.node.db.query('INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers) VALUES ($1, $2, $2, $3)', [docId, TOWNSHIP, [COUNTY]])
      const size = i === 60 ? 40_000 : 900 + (i % 13) * 17
      const origin = i % 5 === 0 ? 'parent' : 'local'
      const [{ seq }] = await t.node.db.query<{ seq: number }>(
        `INSERT INTO doc_updates (doc_id, update, origin, uid) VALUES ($1, decode(repeat(to_hex($2::int % 256), $3), 'hex'), $4, $5) RETURNING seq::float8 AS seq`,
        [docId, (i % 240) + 16, size, origin, `outbox-read-${i}`])
      sizes.set(seq, size)
      if (origin === 'local' && i % 7 !== 0) want.push(seq)
    }
    const outbox = new Outbox(t.node.db, COUNTY, false)
    const query = vi.spyOn(t.node.db, 'query')
    const got: number[] = []
    let after = s
    try {
      for (let guard = 0; guard < 200; guard++) {
        query.mockClear()
        const { entries, scannedTo } = await outbox.next(after, 8 * 1024)
        // The rows read carry the bytes of no update past this frame but the one that did not fit.
        const rows = (await query.mock.results[0].value) as ({ seq: number } & Record<string, unknown>)[]
        const carried = rows.filter((r) => Object.values(r).some((v) => (typeof v === 'string' && v.length >= 1800) || (v instanceof Uint8Array && v.length >= 900)))
        expect(carried.filter((r) => Number(r.seq) > scannedTo).length).toBeLessThanOrEqual(1)
        if (!entries.length && scannedTo === after) break
        if (entries.length > 1) expect(entries.reduce((a, e) => a + e.update.length, 0)).toBeLessThanOrEqual(8 * 1024)
        for (const e of entries) {
          expect(e.update.length).toBe(sizes.get(e.seq))
          expect(e.seq).toBeGreaterThan(after)
          expect(e.seq).toBeLessThanOrEqual(scannedTo)
          got.push(e.seq)
        }
        after = scannedTo
      }
    } finally {
      query.mockRestore()
    }
    // Every update for the county, once, in order; none of the county's own comes back.
    expect(got).toEqual(want)
  }, 120_000)
})
