/**
 * A county answers its dashboard from its townships' rollups (protocol/stats-rollup.ts,
 * migration 020): two townships send rollups, a third is older and sends raw documents of its
 * own and its village's. Every GET /api/stats — groupBy item, day and child, both dimensions,
 * under the county, a township and a village, over whole and partial months — must equal the
 * direct sum of what every unit counted. And hostile rollups: a township's rollup naming units
 * outside its subtree, absurd counts, more keys than a rollup may hold — none of it counts,
 * the sibling's figures stand, and the answer reports how many entries it skipped.
 */
import * as Y from 'yjs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { addCounts, childTowards, emptyCounts, isInSubtree, parentCode, toRow, type StatsCounts } from '../../protocol/index.ts'
import { buildRollup, MAX_ROLLUP_KEYS, rollupDocId, rollupKey } from '../../protocol/stats-rollup.ts'
import { statsDocId, writeCounts, writeName } from '../../nodes/core/stats/stats-doc.ts'
import { testNode, type Client, type TestNode } from '../helpers/node.ts'
import { COUNTY } from '../fixtures/catalogue.ts'
import { failOnUnhandled } from '../attack/guard.ts'

failOnUnhandled()

const T1 = '511302101000'
const T2 = '511302102000'
const T3 = '511302103000' // older: raw documents only
const UNITS = [T1, '511302101201', '511302101202', T2, '511302102201', T3, '511302103201']
const MONTHS = ['2026-02', '2026-03']
const ITEMS = ['C-P01', 'T-I02', 'V-I03']
type Dim = 'origin' | 'handler'

interface Raw { unit: string; day: string; item: string; counts: StatsCounts; dim: Dim }

/** A small deterministic generator: the same figures on every run. */
let seed = 7
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed % n
}
const RAW: Raw[] = []
for (const dim of ['origin', 'handler'] as const) {
  for (let i = 0; i < 160; i++) {
    const month = MONTHS[rnd(2)]
    const day = `${month}-${String(1 + rnd(28)).padStart(2, '0')}`
    const c = emptyCounts()
    c.accepted = 1 + rnd(9)
    c.completed = rnd(c.accepted + 1)
    c.denied = rnd(c.completed + 1)
    c.approved = c.completed - c.denied
    c.onTime = c.completed
    c.onSpot = rnd(c.completed + 1)
    c.ratings[rnd(5)] = c.completed
    c.crossUnit = rnd(2)
    RAW.push({ unit: UNITS[rnd(UNITS.length)], day, item: ITEMS[rnd(3)], counts: c, dim })
  }
}

const ownOf = (code: string, month: string, dim: Dim) => {
  const out = new Map<string, StatsCounts>()
  for (const r of RAW) if (r.unit === code && r.dim === dim && r.day.startsWith(month)) out.set(`${r.day}|${r.item}`, addCounts(out.get(`${r.day}|${r.item}`) ?? emptyCounts(), r.counts))
  return out
}
const rollupOf = (code: string, month: string, dim: Dim): Map<string, StatsCounts> =>
  buildRollup(code, ownOf(code, month, dim), new Map(UNITS.filter((u) => parentCode(u) === code).map((c) => [c, rollupOf(c, month, dim)])))

/** What GET /api/stats must answer, summed straight from every unit's rows. */
function expected(q: { groupBy: string; under: string; by: Dim; from?: string; to?: string }) {
  const out = new Map<string, StatsCounts>()
  for (const r of RAW) {
    if (r.dim !== q.by || !isInSubtree(r.unit, q.under) || (q.from && r.day < q.from) || (q.to && r.day > q.to)) continue
    const key = q.groupBy === 'day' ? r.day : q.groupBy === 'child' ? (r.unit === q.under ? q.under : childTowards(q.under, r.unit)!) : r.item
    out.set(key, addCounts(out.get(key) ?? emptyCounts(), r.counts))
  }
  const total = emptyCounts()
  for (const c of out.values()) addCounts(total, c)
  return { rows: [...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, c]) => toRow(k, c)), totals: toRow('total', total) }
}

let t: TestNode
let staff: Client
const warn = vi.spyOn(console, 'warn')
/** Each child writes its documents from its own Yjs client, as the link brings them. */
const writers = new Map<string, Y.Doc>()
function updateOf(docId: string, mutate: (doc: Y.Doc) => void): Uint8Array {
  let doc = writers.get(docId)
  if (!doc) writers.set(docId, (doc = new Y.Doc()))
  const before = Y.encodeStateVector(doc)
  doc.transact(() => mutate(doc))
  return Y.encodeStateAsUpdate(doc, before)
}
const send = async (from: string, docId: string, mutate: (doc: Y.Doc) => void) => {
  const { refused } = await t.node.docs.applyBatch([{ docId, update: updateOf(docId, mutate) }], `child:${from}`)
  expect(refused).toEqual([])
}

beforeAll(async () => {
  t = await testNode({ level: 'county', code: COUNTY })
  staff = await t.as('supervisor', 'supervisor')
  for (const dim of ['origin', 'handler'] as const) {
    for (const month of MONTHS) {
      for (const tw of [T1, T2]) await send(tw, rollupDocId(tw, month, dim), (doc) => { writeCounts(doc, rollupOf(tw, month, dim)); writeName(doc, `镇${tw.slice(6, 9)}`) })
      // The older township sends its own raw document and forwards its village's.
      for (const u of [T3, '511302103201']) await send(T3, statsDocId(u, month, dim), (doc) => writeCounts(doc, ownOf(u, month, dim)))
    }
  }
}, 300_000)
afterAll(async () => {
  warn.mockRestore()
  await t?.close()
})

const get = async (q: Record<string, string | undefined>) => {
  const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined) as [string, string][]).toString()
  const r = await staff('GET', `/api/stats?${qs}`)
  expect(r.status, qs).toBe(200)
  return r.body
}

describe('a county summing its townships\' rollups', () => {
  it('answers every grouping, dimension, drill-down and range as the direct sum', async () => {
    // Whole months (month sums), partial first and last months (their days), one day, within a
    // month, across the year's end, open ends.
    const ranges: [string | undefined, string | undefined][] = [[undefined, undefined], ['2026-02-01', '2026-03-31'], ['2026-02-10', '2026-03-05'], ['2026-03-01', '2026-03-31'],
      ['2026-03-04', '2026-03-04'], ['2026-02-10', '2026-03-20'], ['2026-02-03', '2026-02-25'], ['2025-12-20', '2026-02-15'], ['2025-11-01', '2026-02-28'],
      ['2026-02-15', undefined], [undefined, '2026-02-20'], ['2026-03-31', '2026-03-31']]
    // Every name the node knows: an answer carries exactly those of the units it shows.
    const known = await t.node.stats.names()
    for (const by of ['origin', 'handler'] as const) {
      for (const under of [COUNTY, T1, T3, '511302101201', '511302103201']) {
        for (const groupBy of ['item', 'day', 'child']) {
          for (const [from, to] of ranges) {
            const body = await get({ groupBy, under, by, from, to })
            const want = expected({ groupBy, under, by, from, to })
            const what = `${by} ${groupBy} under ${under} ${from}..${to}`
            expect(body.totals, what).toEqual(want.totals)
            // By item below a township the county holds only its rollup's total (T3 is raw: it has them).
            if (groupBy === 'item' && under === '511302101201') {
              expect(body.rows, what).toEqual([])
              if (want.rows.length) expect(body.notHeld, what).toBe('item')
            } else expect(body.rows, what).toEqual(want.rows)
            expect(body.skipped, what).toBe(0)
            const shown = new Set([COUNTY, ...(groupBy === 'child' ? body.rows.map((r: { key: string }) => r.key) : [])])
            for (let u: string | null = under; u && u !== COUNTY; u = parentCode(u)) shown.add(u)
            expect(Object.keys(body.names).sort(), what).toEqual([...shown].filter((c) => known[c]).sort())
          }
        }
      }
    }
    expect((await get({ groupBy: 'child' })).names[T1]).toBe('镇101')
    // A drill-down names the unit drilled into, whatever it groups by.
    expect((await get({ groupBy: 'item', under: T1 })).names).toEqual({ [COUNTY]: known[COUNTY], [T1]: '镇101' })
  }, 300_000)
})

describe('a hostile township\'s rollup', () => {
  const bad = { ...emptyCounts(), accepted: 1000 }
  it('counts only for its own subtree: units outside it, absurd counts and inconsistent ones are skipped and reported', async () => {
    const before = await get({ groupBy: 'child', from: '2026-03-01', to: '2026-03-31' })
    const month = '2026-03'
    await send(T1, rollupDocId(T1, month, 'origin'), (doc) => {
      const m = doc.getMap<unknown>('counts')
      m.set(rollupKey('u', '2026-03-02', T2), bad) // the sibling township
      m.set(rollupKey('u', '2026-03-02', '511302102201'), bad) // the sibling's village
      m.set(rollupKey('o', '2026-03-02', COUNTY), bad) // its parent
      m.set(rollupKey('i', '2026-03-02', 'C-P01'), { ...bad, accepted: 2_000_000_000 }) // absurd
      m.set(rollupKey('i', '2026-03-03', 'C-P01'), { ...bad, completed: 5000, approved: 5000 }) // completed > accepted
      m.set(rollupKey('i', '2026-04-03', 'C-P01'), bad) // another month
    })
    const after = await get({ groupBy: 'child', from: '2026-03-01', to: '2026-03-31' })
    expect(after.skipped).toBe(6)
    expect(after.rows).toEqual(before.rows)
    expect(after.totals).toEqual(before.totals)
    expect((await get({ under: T2, groupBy: 'day', from: '2026-03-01', to: '2026-03-31' })).totals).toEqual(expected({ groupBy: 'day', under: T2, by: 'origin', from: '2026-03-01', to: '2026-03-31' }).totals)
    expect(warn.mock.calls.some((a) => /6 rollup entries not counted/.test(String(a[0])))).toBe(true)
  })

  it('with more keys than a rollup may hold is refused whole, and the county says so', async () => {
    const month = '2026-02'
    await send(T2, rollupDocId(T2, month, 'handler'), (doc) => {
      const m = doc.getMap<unknown>('counts')
      const one = { ...emptyCounts(), accepted: 1 }
      for (let i = 0; i <= MAX_ROLLUP_KEYS; i++) m.set(rollupKey('i', '2026-02-01', `X-${i}`), one)
    })
    const r = await get({ by: 'handler', under: T2, from: '2026-02-01', to: '2026-02-28' })
    expect(r.totals.accepted).toBe(0)
    expect(r.skipped).toBe(1)
    expect(warn.mock.calls.some((a) => /more than the 100000 a rollup may hold/.test(String(a[0])))).toBe(true)
  }, 120_000)
})
