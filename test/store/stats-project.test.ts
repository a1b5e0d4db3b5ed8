/**
 * A descendant's statistics document projected into stats_rows (stats/project.ts): what it
 * stores — its counts, a marker per malformed entry, its unit's and items' names — in a few
 * statements whatever its size (one statement per row before: ~40 for a village's month, each
 * time the document came up in a link's frame).
 */
import { join } from 'node:path'
import * as Y from 'yjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectStats, REJECTED_PREFIX } from '../../nodes/core/stats/project.ts'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import type { Db, Queryable } from '../../nodes/core/store/db.ts'
import { emptyCounts } from '../../protocol/index.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-stats-project-')
let db: Db
const VILLAGE = '511302101201'
const MONTH = '2026-11'

beforeAll(async () => {
  db = await openPglite(join(tmp.dir, 'pg'), { loadDataDir: await pgliteTemplate() })
}, 300_000)

afterAll(async () => {
  await db?.close()
  tmp.cleanup()
})

/** A village's month: `days` days × `items` items counted, and what else a document may hold. */
function statsDoc(days: number, items: number): Y.Doc {
  const doc = new Y.Doc()
  doc.getMap('meta').set('name', '一村')
  const counts = doc.getMap<unknown>('counts')
  const names = doc.getMap<unknown>('items')
  for (let i = 0; i < items; i++) names.set(`ITEM-${i}`, `事项${i}`)
  names.set('ITEM-odd', 'a lone \ud800 surrogate') // stored as its text parameter always was
  names.set('!bad', '不是事项') // not an item code: not kept
  for (let d = 1; d <= days; d++) {
    for (let i = 0; i < items; i++) counts.set(`${MONTH}-${String(d).padStart(2, '0')}|ITEM-${i}`, { ...emptyCounts(), accepted: d * 100 + i })
  }
  counts.set(`${MONTH}-03|ITEM-0x`, { accepted: 'many' }) // not StatsCounts
  counts.set('2026-10-31|ITEM-0', emptyCounts()) // another month's day
  return doc
}

/** Counts every statement a projection makes. */
const counting = (tx: Queryable, seen: string[]): Queryable => ({
  query: (sql, params) => {
    seen.push(sql)
    return tx.query(sql, params)
  },
})

describe('a statistics document projected', () => {
  it('stores every row, marker and name, in a few statements whatever its size', async () => {
    const doc = statsDoc(10, 4)
    // Rows of an older version of the document, replaced whole.
    await db.query("INSERT INTO stats_rows (node_code, month, day, item_code, counts, dim) VALUES ($1, $2, $3, 'ITEM-9', '{}', 'origin')", [VILLAGE, MONTH, `${MONTH}-28`])
    const seen: string[] = []
    const result = await db.transaction((tx) => projectStats(`stats:${VILLAGE}:${MONTH}`, doc, counting(tx, seen)))
    expect(result.rows).toBe(40)
    expect(result.rejected.map((r) => r.key).sort()).toEqual(['2026-10-31|ITEM-0', `${MONTH}-03|ITEM-0x`])
    // The delete, the unit's name, the items' names, the rows, the markers (one each, 46 before).
    expect(seen.length).toBeLessThanOrEqual(5)

    const rows = await db.query<{ day: string; item_code: string; counts: Record<string, unknown>; dim: string; month: string }>(
      'SELECT day, item_code, counts, dim, month FROM stats_rows WHERE node_code = $1 ORDER BY day, item_code', [VILLAGE])
    const counted = rows.filter((r) => !r.item_code.startsWith(REJECTED_PREFIX))
    expect(counted).toHaveLength(40)
    expect(counted.every((r) => r.dim === 'origin' && r.month === MONTH)).toBe(true)
    expect(counted.find((r) => r.day === `${MONTH}-07` && r.item_code === 'ITEM-2')?.counts).toEqual({ ...emptyCounts(), accepted: 702 })
    const markers = rows.filter((r) => r.item_code.startsWith(REJECTED_PREFIX))
    expect(markers.map((m) => [m.day, m.counts.key]).sort()).toEqual([[`${MONTH}-01`, '2026-10-31|ITEM-0'], [`${MONTH}-03`, `${MONTH}-03|ITEM-0x`]])
    expect(markers.find((m) => m.day === `${MONTH}-03`)?.counts.rejected).toBe('not exactly StatsCounts')

    const names = await db.query<{ code: string; name: string }>("SELECT code, name FROM item_names WHERE code LIKE 'ITEM-%' OR code = '!bad' ORDER BY code")
    expect(names).toEqual([
      ...[0, 1, 2, 3].map((i) => ({ code: `ITEM-${i}`, name: `事项${i}` })),
      { code: 'ITEM-odd', name: 'a lone \ufffd surrogate' },
    ])
    expect(await db.query('SELECT name FROM units WHERE code = $1', [VILLAGE])).toEqual([{ name: '一村' }])

    // The same document again (it comes up 2–3 times a catch-up): the same rows, nothing doubled.
    await db.transaction((tx) => projectStats(`stats:${VILLAGE}:${MONTH}`, doc, tx))
    expect(await db.query('SELECT day, item_code, counts, dim, month FROM stats_rows WHERE node_code = $1 ORDER BY day, item_code', [VILLAGE])).toEqual(rows)
  })
})

describe('a rollup document', () => {
  it('stores the names it carries of units in its subtree, a lone surrogate as U+FFFD, and nothing outside', async () => {
    const { projectRollup } = await import('../../nodes/core/stats/project-rollup.ts')
    const TOWN = '511302101000'
    const doc = new Y.Doc()
    doc.getMap('meta').set('name', '潆溪镇')
    const names = doc.getMap<unknown>('names')
    names.set('511302101201', '长青村 \ud800') // jsonb refused this, and the whole rollup with it
    names.set('511302101202', '白塔村')
    names.set('511302102201', '别镇的村') // outside the township's subtree: not kept
    await db.transaction((tx) => projectRollup({ nodeCode: TOWN, month: MONTH, dim: 'origin' }, `rollup:${TOWN}:origin:${MONTH}`, doc, tx))
    expect(await db.query<{ code: string; name: string }>("SELECT code, name FROM units WHERE code IN ('511302101000', '511302101201', '511302101202', '511302102201') ORDER BY code")).toEqual([
      { code: TOWN, name: '潆溪镇' },
      { code: '511302101201', name: '长青村 \ufffd' },
      { code: '511302101202', name: '白塔村' },
    ])
  })
})
