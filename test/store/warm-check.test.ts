/**
 * The link's check warmed at start (nodes/core/link/warm-check.ts): a case made up and signed by
 * the node goes through the whole check — the frame's body packed and unpacked, `prepare` with its
 * signatures on libuv's pool, the check, the values handed over as applied — and is let through,
 * so the warm-up covers the path a child's first frame takes rather than stopping at an early
 * refusal; and nothing of it is stored: no update, no row, no sequence number, no query at all.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { warmCheck } from '../../nodes/core/link/warm-check.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-warm-check-')
const TOWN = '511302101000'
let town: RunningNode

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
}, 300_000)

afterAll(async () => {
  await town?.stop()
  tmp.cleanup()
})

describe('the link check warm-up', () => {
  it('runs at start, in the background', async () => {
    // A node's start resolves before the warm-up runs (it must not delay the listening port).
    const other = await startNode({ level: 'township', code: '511302102000', name: '镇二', dataDir: join(tmp.dir, 'town2'), loadDataDir: await pgliteTemplate() })
    try {
      const ahead = vi.spyOn(other.node.trust, 'verifyAhead')
      await other.checkWarmed
      expect(ahead.mock.calls.map((c) => c[0]).sort()).toEqual(['application', 'event'])
    } finally {
      await other.stop()
    }
  }, 300_000)

  it('runs the whole check on a made-up case, its signatures on the pool, and stores nothing', async () => {
    const { trust, docs, db } = town.node
    await town.checkWarmed
    const before = await docs.latestSeq()
    const ahead = vi.spyOn(trust, 'verifyAhead')
    const query = vi.spyOn(db, 'query')
    try {
      expect(await warmCheck(trust, docs)).toBeNull()
      expect(ahead.mock.calls.map((c) => c[0]).sort()).toEqual(['application', 'event'])
      expect(query).not.toHaveBeenCalled()
    } finally {
      ahead.mockRestore()
      query.mockRestore()
    }
    expect(await docs.latestSeq()).toBe(before)
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM doc_updates WHERE doc_id = $1`, [`case:${TOWN}-20000101-000001`])
    expect(row.n).toBe(0)
    const [cases] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cases WHERE id = $1`, [`${TOWN}-20000101-000001`])
    expect(cases.n).toBe(0)
  }, 60_000)
})
