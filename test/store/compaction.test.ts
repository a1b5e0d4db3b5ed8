/** Statistics documents are compacted: their rows stop piling up, and nothing is lost. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emptyCounts } from '../../protocol/index.ts'
import { statsDocId, writeCounts, readCounts } from '../../nodes/core/stats/stats-doc.ts'
import { testNode, type TestNode } from '../helpers/node.ts'

let t: TestNode
beforeAll(async () => {
  t = await testNode({ level: 'village', code: '511302101201' })
})
afterAll(() => t.close())

describe('compaction of statistics documents', () => {
  it('keeps the rows of a much-rewritten document bounded and its content whole', async () => {
    const id = statsDocId('511302101201', '2026-11')
    for (let i = 1; i <= 450; i++) {
      await t.node.docs.change(id, (doc) => writeCounts(doc, new Map([['2026-11-23|V-001', { ...emptyCounts(), accepted: i }], [`2026-11-${String(1 + (i % 28)).padStart(2, '0')}|V-002`, { ...emptyCounts(), completed: 1 }]])))
    }
    const deadline = Date.now() + 60_000
    let rows = Infinity
    while (Date.now() < deadline) {
      ;[{ n: rows }] = await t.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM doc_updates WHERE doc_id = $1', [id])
      if (rows < 200) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(rows).toBeLessThan(200)
    t.node.docs.clearCache()
    const counts = readCounts(await t.node.docs.get(id))
    expect(counts.get('2026-11-23|V-001')?.accepted).toBe(450)
  })
})
