/**
 * Rollups agree with a direct sum (property-style, small tree): whatever each unit counted,
 * the rollups built bottom-up hold exactly the sums of the raw rows of each subtree, and a raw
 * child's rows read as a rollup (rawAsRollup) give the same entries. And the scopes: a rollup
 * goes up one level and is written by its own unit only.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { childTowards, isInSubtree, parentCode } from './division.ts'
import { childMayWrite, sendsUp } from './scopes.ts'
import { addCounts, emptyCounts, type StatsCounts } from './stats.ts'
import {
  buildRollup, checkRollupEntry, edgeRead, lastDayOfMonth, levelsBelow, parseRollupDocId, rangePlan, rangeSplit, rawAsRollup, rollupDocId, rollupKey,
} from './stats-rollup.ts'

const CITY = '511300000000'
const UNITS = [
  CITY, '511302000000', '511303000000',
  '511302101000', '511302102000', '511303101000',
  '511302101201', '511302101202', '511302102201', '511303101201',
]
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-31']
const ITEMS = ['C-001', 'T-002', 'V-003']

interface Raw { unit: string; day: string; item: string; counts: StatsCounts }

const countsArb = fc.record({ a: fc.nat(20), done: fc.nat(20), r: fc.nat(4) }).map(({ a, done, r }): StatsCounts => {
  const completed = Math.min(a, done)
  const c = emptyCounts()
  c.accepted = a
  c.completed = completed
  c.approved = completed
  c.onTime = completed
  c.ratings[r] = completed
  return c
})
const rawArb = fc.array(fc.record({ unit: fc.constantFrom(...UNITS), day: fc.constantFrom(...DAYS), item: fc.constantFrom(...ITEMS), counts: countsArb }), { maxLength: 60 })

const children = (code: string) => UNITS.filter((u) => parentCode(u) === code)

function ownOf(code: string, raw: Raw[]): Map<string, StatsCounts> {
  const out = new Map<string, StatsCounts>()
  for (const r of raw) if (r.unit === code) out.set(`${r.day}|${r.item}`, addCounts(out.get(`${r.day}|${r.item}`) ?? emptyCounts(), r.counts))
  return out
}

function rollupOf(code: string, raw: Raw[]): Map<string, StatsCounts> {
  return buildRollup(code, ownOf(code, raw), new Map(children(code).map((c) => [c, rollupOf(c, raw)])))
}

/** What a rollup of `root` must hold, summed straight from the raw rows. */
function direct(root: string, raw: Raw[]): Map<string, StatsCounts> {
  const out = new Map<string, StatsCounts>()
  const add = (k: string, c: StatsCounts) => out.set(k, addCounts(out.get(k) ?? emptyCounts(), c))
  for (const r of raw) {
    if (!isInSubtree(r.unit, root)) continue
    add(rollupKey('i', r.day, r.item), r.counts)
    for (const u of UNITS) if (levelsBelow(root, u) >= 0 && levelsBelow(root, u) <= 2 && isInSubtree(r.unit, u)) add(rollupKey('u', r.day, u), r.counts)
    if (r.unit === root || parentCode(r.unit) === root) add(rollupKey('o', r.day, r.unit), r.counts)
  }
  return out
}

const sorted = (m: Map<string, StatsCounts>) => [...m.entries()].filter(([, c]) => c.accepted || c.completed).sort(([a], [b]) => (a < b ? -1 : 1))

describe('a rollup', () => {
  it('holds exactly the direct sums of its subtree, at every level', () => {
    fc.assert(fc.property(rawArb, (raw) => {
      for (const unit of UNITS) expect(sorted(rollupOf(unit, raw))).toEqual(sorted(direct(unit, raw)))
    }), { numRuns: 150 })
  })

  it('made from an older child\'s raw rows is the rollup the child would have sent', () => {
    fc.assert(fc.property(rawArb, (raw) => {
      for (const unit of UNITS.filter((u) => u !== CITY)) {
        expect(sorted(rawAsRollup(unit, raw.filter((r) => isInSubtree(r.unit, unit))))).toEqual(sorted(rollupOf(unit, raw)))
      }
    }), { numRuns: 100 })
  })

  it('of a parent keeps nothing its child wrote about units outside the child\'s subtree', () => {
    const c = { ...emptyCounts(), accepted: 7 }
    const hostile = new Map([[rollupKey('u', DAYS[0], '511302102000'), c], [rollupKey('o', DAYS[0], '511302102201'), c], [rollupKey('u', DAYS[0], '511302101000'), { ...c, accepted: 1 }]])
    // 511302101000 names its sibling township and that township's village: only its own row stays.
    const r = buildRollup('511302000000', new Map(), new Map([['511302101000', hostile]]))
    expect(r.get(rollupKey('u', DAYS[0], '511302102000'))).toBeUndefined()
    expect(r.get(rollupKey('o', DAYS[0], '511302102201'))).toBeUndefined()
    expect(r.get(rollupKey('u', DAYS[0], '511302000000'))?.accepted).toBe(1)
  })
})

describe('checkRollupEntry', () => {
  const c = { ...emptyCounts(), accepted: 1 }
  it('takes keys of its unit\'s subtree only, no deeper than a rollup reaches, and exact counts', () => {
    const T = '511302101000'
    expect(checkRollupEntry(T, '2026-03', 'i|2026-03-02|V-003', c)).toMatchObject({ kind: 'i', key: 'V-003' })
    expect(checkRollupEntry(T, '2026-03', 'u|2026-03-02|511302101201', c)).toMatchObject({ kind: 'u' })
    expect(checkRollupEntry(T, '2026-03', 'o|2026-03-02|511302101000', c)).toMatchObject({ kind: 'o' })
    expect(checkRollupEntry(T, '2026-03', 'u|2026-03-02|511302102201', c)).toMatchObject({ reason: expect.stringMatching(/not in 511302101000's subtree/) })
    expect(checkRollupEntry(T, '2026-03', 'u|2026-03-02|511302000000', c)).toMatchObject({ reason: expect.stringMatching(/not in/) })
    expect(checkRollupEntry('511302000000', '2026-03', 'o|2026-03-02|511302101201', c)).toMatchObject({ reason: expect.stringMatching(/deeper/) })
    expect(checkRollupEntry(CITY, '2026-03', 'u|2026-03-02|511302101201', c)).toMatchObject({ reason: expect.stringMatching(/deeper/) })
    expect(checkRollupEntry(T, '2026-03', 'i|2026-04-02|V-003', c)).toMatchObject({ reason: expect.stringMatching(/not a day of 2026-03/) })
    expect(checkRollupEntry(T, '2026-03', 'x|2026-03-02|V-003', c)).toMatchObject({ reason: expect.stringMatching(/not a rollup key/) })
    expect(checkRollupEntry(T, '2026-03', 'i|2026-03-02|V-003', { ...c, accepted: 2e9 })).toMatchObject({ reason: 'not exactly StatsCounts' })
    expect(checkRollupEntry(T, '2026-03', 'i|2026-03-02|V-003', { ...c, completed: 5, approved: 5 })).toMatchObject({ reason: 'not exactly StatsCounts' })
  })
})

describe('rollup documents on the link', () => {
  const T = '511302101000'
  it('go up one level only, raw or rolled up', () => {
    expect(sendsUp('511302000000', { kind: 'stats', nodeCode: T, rollup: true })).toBe(true)
    expect(sendsUp(CITY, { kind: 'stats', nodeCode: T, rollup: true })).toBe(false)
    expect(sendsUp('511302000000', { kind: 'stats', nodeCode: T })).toBe(true)
    expect(sendsUp(CITY, { kind: 'stats', nodeCode: '511302101201' })).toBe(false)
  })
  it('are written by their own unit only; raw documents of the subtree still pass (an older child forwards them)', () => {
    expect(childMayWrite('511302000000', T, { kind: 'stats', nodeCode: T, rollup: true })).toBeNull()
    expect(childMayWrite('511302000000', T, { kind: 'stats', nodeCode: '511302101201', rollup: true })).toMatch(/written by that unit only/)
    expect(childMayWrite('511302000000', T, { kind: 'stats', nodeCode: '511302102000', rollup: true })).toMatch(/written by that unit only/)
    expect(childMayWrite('511302000000', T, { kind: 'stats', nodeCode: '511302101201' })).toBeNull()
  })
  it('ids round-trip', () => {
    expect(parseRollupDocId(rollupDocId(T, '2026-03', 'handler'))).toEqual({ nodeCode: T, month: '2026-03', dim: 'handler' })
    expect(parseRollupDocId('stats:511302101000:2026-03')).toBeNull()
  })
})

describe('rangePlan', () => {
  it('reads whole months from month rows and at most two partial months by day', () => {
    expect(rangePlan()).toEqual({ fullFrom: null, fullTo: null, partial: [] })
    expect(rangePlan('2026-01-01', '2026-12-31')).toEqual({ fullFrom: '2026-01', fullTo: '2026-12', partial: [] })
    expect(rangePlan('2026-01-15', '2026-03-10')).toEqual({ fullFrom: '2026-02', fullTo: '2026-02', partial: ['2026-01', '2026-03'] })
    expect(rangePlan('2026-02-01', '2026-02-28')).toEqual({ fullFrom: '2026-02', fullTo: '2026-02', partial: [] })
    expect(rangePlan('2026-03-05', '2026-03-06')).toEqual({ fullFrom: '2026-04', fullTo: '2026-02', partial: ['2026-03'] })
    expect(rangePlan('2025-12-02', undefined)).toEqual({ fullFrom: '2026-01', fullTo: null, partial: ['2025-12'] })
  })
  it('rangeSplit: whole months and the edge days cover each day of any range exactly once', () => {
    // Every day from 2025-10-01 to 2026-05-31, and every range over them (either end open).
    const days: string[] = []
    for (let t = Date.UTC(2025, 9, 1); t <= Date.UTC(2026, 4, 31); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10))
    const day = fc.option(fc.constantFrom(...days), { nil: undefined })
    fc.assert(fc.property(day, day, (from, to) => {
      const { months, days: edges } = rangeSplit(from, to)
      const covered = days.map((d) => (months && (!months.from || d.slice(0, 7) >= months.from) && (!months.to || d.slice(0, 7) <= months.to) ? 1 : 0)
        + edges.filter(([a, b]) => d >= a && d <= b).length)
      days.forEach((d, i) => expect(covered[i], `${from}..${to} ${d}`).toBe((!from || d >= from) && (!to || d <= to) ? 1 : 0))
      // At most two edges, each within one month; whole months only where the range holds them.
      expect(edges.length).toBeLessThanOrEqual(2)
      if (months) for (const [a, b] of edges) expect(b <= lastDayOfMonth(a.slice(0, 7))).toBe(true)
      // Each edge read as its days or as its month minus the other days: the same days, once.
      if (months) {
        for (const [a, b] of edges) {
          const r = edgeRead(a, b)
          const got = days.map((d) => ('days' in r ? (d >= r.days[0] && d <= r.days[1] ? 1 : 0)
            : (d.slice(0, 7) === r.month ? 1 : 0) - (r.minus && d >= r.minus[0] && d <= r.minus[1] ? 1 : 0)))
          days.forEach((d, i) => expect(got[i], `edge ${a}..${b} ${d}`).toBe(d >= a && d <= b ? 1 : 0))
          const read = 'days' in r ? r.days : r.minus
          if (read) expect(Date.parse(read[1]) - Date.parse(read[0])).toBeLessThan(16 * 86_400_000)
        }
      }
    }), { numRuns: 400 })
    expect(rangeSplit('2026-03-16', '2026-03-16')).toEqual({ months: null, days: [['2026-03-16', '2026-03-16']] })
    expect(rangeSplit('2025-12-20', '2026-02-10')).toEqual({ months: { from: '2026-01', to: '2026-01' }, days: [['2025-12-20', '2025-12-31'], ['2026-02-01', '2026-02-10']] })
  })
  it('childTowards is what groupBy=child keys by', () => {
    expect(childTowards(CITY, '511302101201')).toBe('511302000000')
  })
})
