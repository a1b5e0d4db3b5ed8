import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { addCounts, countCase, emptyCounts, MAX_COUNT, parseCounts, StatsCountsSchema, toRow, type CaseFigures, type StatsCounts } from './stats.ts'
import { localDate, WorkingDays } from './calendar.ts'

// 2026-11-23 is a Monday; 11-27 a Friday; 11-28/29 the weekend.
const days = new WorkingDays()
const cal = { localDate: (at: string) => localDate(at), add: (d: string, n: number) => days.add(d, n) }
const at10 = (date: string) => `${date}T02:00:00Z` // 10:00 in China

const counts = (over: Partial<StatsCounts>): StatsCounts => ({ ...emptyCounts(), ...over })

describe('toRow', () => {
  it('gives null rates where there is nothing to divide', () => {
    const row = toRow('k', emptyCounts())
    expect(row.key).toBe('k')
    expect(row.completionRate).toBeNull()
    expect(row.onTimeRate).toBeNull()
    expect(row.onSpotRate).toBeNull()
    expect(row.earlyRate).toBeNull()
    expect(row.satisfactionRate).toBeNull()
  })

  it('computes each rate from its own numerator and denominator', () => {
    const row = toRow('CX-001', counts({
      accepted: 10, completed: 8, approved: 6, denied: 2, onTime: 6, onSpot: 2, promisedCompleted: 5, early: 1,
      overdue: 1, dueSoon: 2, ratings: [1, 1, 1, 1, 1],
    }))
    expect(row).toEqual({
      key: 'CX-001', accepted: 10, completed: 8, approved: 6, denied: 2, overdue: 1, dueSoon: 2, ratings: [1, 1, 1, 1, 1],
      completionRate: 0.8, onTimeRate: 0.75, onSpotRate: 0.25, dailyRate: 0.2, earlyRate: 0.2, satisfactionRate: 0.6, crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0, badRatings: 2, rectificationRate: 0,
    })
  })

  it('a rate is null when only its own denominator is zero', () => {
    const row = toRow('k', counts({ accepted: 3, completed: 0, promisedCompleted: 0 }))
    expect(row.completionRate).toBe(0)
    expect(row.onTimeRate).toBeNull()
    expect(row.earlyRate).toBeNull()
    expect(toRow('k', counts({ completed: 2, onSpot: 2 })).completionRate).toBeNull()
  })

  it('日结率 is the cases completed on the day of acceptance among all accepted, open ones included', () => {
    const row = toRow('k', counts({ accepted: 4, completed: 2, approved: 2, onSpot: 2, onTime: 2 }))
    expect(row.dailyRate).toBe(0.5)
    expect(row.onSpotRate).toBe(1)
    expect(toRow('k', counts({})).dailyRate).toBeNull()
  })

  it('rounds to four decimals', () => {
    expect(toRow('k', counts({ accepted: 3, completed: 1 })).completionRate).toBe(0.3333)
    expect(toRow('k', counts({ accepted: 3, completed: 2 })).completionRate).toBe(0.6667)
  })

  it('counts ratings of 3 (基本满意) or better as satisfied', () => {
    expect(toRow('k', counts({ ratings: [0, 0, 1, 0, 0] })).satisfactionRate).toBe(1)
    expect(toRow('k', counts({ ratings: [1, 1, 0, 0, 0] })).satisfactionRate).toBe(0)
    expect(toRow('k', counts({ ratings: [0, 1, 0, 0, 3] })).satisfactionRate).toBe(0.75)
  })

  it('copies the ratings array', () => {
    const c = counts({ ratings: [1, 2, 3, 4, 5] })
    const row = toRow('k', c)
    row.ratings[0] = 99
    expect(c.ratings[0]).toBe(1)
  })
})

/** Random counts that keep the relations of real ones (what countCase and the SQL produce). */
const n = fc.nat({ max: 1000 })
const consistentCounts: fc.Arbitrary<StatsCounts> = fc
  .record({ approved: n, denied: n, open: n, onTime: n, onSpot: n, promised: n, early: n, overdue: n, dueSoon: n, ratings: fc.array(n, { minLength: 5, maxLength: 5 }), crossUnit: n, transferred: n, refused: n, deferred: n })
  .map((r) => {
    const completed = r.approved + r.denied
    const promisedCompleted = r.promised % (completed + 1)
    return {
      accepted: completed + r.open, completed, approved: r.approved, denied: r.denied,
      onTime: r.onTime % (completed + 1), onSpot: r.onSpot % (completed + 1), promisedCompleted, early: r.early % (promisedCompleted + 1),
      overdue: r.overdue, dueSoon: r.dueSoon, ratings: r.ratings, crossUnit: r.crossUnit, transferred: r.transferred, refused: r.refused, deferred: r.deferred,
      // rectifications: closed and overdue ones within the bad ratings
      rectified: r.ratings[0] % 2, rectOverdue: r.ratings[1] % 2,
    }
  })

describe('StatsCountsSchema: the exact shape of a statistics value', () => {
  it('reads a value written before 通办 (no crossUnit, transferred) as none of them', () => {
    const { crossUnit: _c, transferred: _t, refused: _r, deferred: _d, rectified: _e, rectOverdue: _f, ...old } = emptyCounts()
    expect(parseCounts({ ...old, accepted: 1 })).toEqual({ ...emptyCounts(), accepted: 1 })
    expect(parseCounts({ ...old, crossUnit: -1, transferred: 0 })).toBeNull()
  })

  const good = counts({ accepted: 3, completed: 2, approved: 1, denied: 1, onTime: 2, onSpot: 1, promisedCompleted: 1, early: 1, overdue: 1, dueSoon: 1, ratings: [0, 1, 0, 0, 2] })

  it('accepts what the producers make', () => {
    expect(parseCounts(emptyCounts())).toEqual(emptyCounts())
    expect(parseCounts(good)).toEqual(good)
    fc.assert(fc.property(consistentCounts, (c) => { expect(parseCounts(c)).toEqual(c) }), { numRuns: 200 })
    // countCase's output, for every kind of case the countCase tests below use.
    const c = emptyCounts()
    countCase(c, { status: 'approved', decision: 'approved', kind: 'promised', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-24'), dueDate: '2026-11-26', rating: 4 }, '2026-11-25', cal)
    countCase(c, { status: 'denied', decision: 'denied', kind: 'instant', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-23'), dueDate: '2026-11-23', rating: null }, '2026-11-25', cal)
    countCase(c, { status: 'accepted', decision: null, kind: 'promised', acceptedAt: at10('2026-11-20'), completedAt: null, dueDate: '2026-11-24', rating: null }, '2026-11-25', cal)
    expect(parseCounts(c)).toEqual(c)
  })

  it('refuses anything else, without throwing', () => {
    const bad: unknown[] = [
      null, undefined, 'x', 42, [], { ...good, accepted: '3' }, { ...good, overdue: -1 }, { ...good, dueSoon: 1.5 },
      { ...good, overdue: Number.NaN }, { ...good, overdue: Number.POSITIVE_INFINITY }, { ...good, overdue: MAX_COUNT + 1 },
      { ...good, overdue: 2 ** 53 }, { ...good, extra: 1 }, { ...good, __proto__: { accepted: 1 }, constructor: 1 },
      { ...good, ratings: [0, 0, 0, 0] }, { ...good, ratings: [0, 0, 0, 0, 0, 0] }, { ...good, ratings: [0, 0, 0, 0, '1'] },
      { ...good, ratings: 'xxxxx' }, Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'early')),
      // Inconsistent: a rate above 100 %, or decisions that do not add up.
      { ...good, completed: 4, approved: 3, denied: 1 }, { ...good, approved: 2 }, { ...good, onTime: 3 }, { ...good, onSpot: 3 },
      { ...good, promisedCompleted: 3 }, { ...good, early: 2 },
    ]
    for (const v of bad) {
      expect(StatsCountsSchema.safeParse(v).success, JSON.stringify(v)).toBe(false)
      expect(parseCounts(v)).toBeNull()
    }
  })

  it('a sum of valid counts is valid (the relations are kept by addition)', () => {
    fc.assert(fc.property(consistentCounts, consistentCounts, (x, y) => { expect(parseCounts(addCounts(structuredClone(x), y))).not.toBeNull() }), { numRuns: 100 })
  })
})

describe('addCounts', () => {
  it('sums every count and the ratings element by element, into the first argument', () => {
    const a = counts({ accepted: 1, completed: 1, approved: 1, onTime: 1, onSpot: 1, ratings: [0, 0, 0, 1, 0] })
    const b = counts({ accepted: 2, completed: 1, denied: 1, promisedCompleted: 1, early: 1, overdue: 3, dueSoon: 4, ratings: [1, 0, 0, 1, 2], crossUnit: 2, transferred: 1, refused: 2, deferred: 1, rectified: 0, rectOverdue: 0 })
    const r = addCounts(a, b)
    expect(r).toBe(a)
    expect(r).toEqual({
      accepted: 3, completed: 2, approved: 1, denied: 1, onTime: 1, onSpot: 1, promisedCompleted: 1, early: 1,
      overdue: 3, dueSoon: 4, ratings: [1, 0, 0, 2, 2], crossUnit: 2, transferred: 1, refused: 2, deferred: 1, rectified: 0, rectOverdue: 0,
    })
    expect(b).toEqual(counts({ accepted: 2, completed: 1, denied: 1, promisedCompleted: 1, early: 1, overdue: 3, dueSoon: 4, ratings: [1, 0, 0, 1, 2], crossUnit: 2, transferred: 1, refused: 2, deferred: 1, rectified: 0, rectOverdue: 0 }))
  })

  it('is commutative and has emptyCounts as identity (random counts)', () => {
    const arb = consistentCounts
    fc.assert(
      fc.property(arb, arb, (x, y) => {
        const xy = addCounts(structuredClone(x), y)
        const yx = addCounts(structuredClone(y), x)
        expect(xy).toEqual(yx)
        expect(addCounts(emptyCounts(), x)).toEqual(x)
        expect(xy.accepted).toBe(x.accepted + y.accepted)
        expect(xy.ratings[4]).toBe(x.ratings[4] + y.ratings[4])
        expect(StatsCountsSchema.safeParse(xy).success).toBe(true)
      }),
      { numRuns: 200 },
    )
  })
})

function count(f: Partial<CaseFigures>, today = '2026-11-23'): StatsCounts {
  const c = emptyCounts()
  countCase(c, { status: 'submitted', decision: null, kind: 'promised', acceptedAt: null, completedAt: null, dueDate: null, rating: null, ...f }, today, cal)
  return c
}

describe('countCase: 不予受理', () => {
  it('counts a refused case as refused, never as accepted or completed', () => {
    const c = emptyCounts()
    countCase(c, { status: 'refused', decision: null, kind: 'promised', acceptedAt: null, completedAt: null, dueDate: null, rating: null }, '2026-11-25', cal)
    expect(c).toEqual({ ...emptyCounts(), refused: 1 })
    expect(parseCounts(c)).toEqual(c)
  })
})

describe('countCase', () => {
  it('counts 异地件 and transferred cases, accepted or not', () => {
    const c = emptyCounts()
    countCase(c, { status: 'submitted', decision: null, kind: 'promised', acceptedAt: null, completedAt: null, dueDate: null, rating: null, crossUnit: true, transfers: 2 }, '2026-11-25', cal)
    countCase(c, { status: 'submitted', decision: null, kind: 'promised', acceptedAt: null, completedAt: null, dueDate: null, rating: null, crossUnit: false, transfers: 0 }, '2026-11-25', cal)
    expect([c.crossUnit, c.transferred, c.accepted]).toEqual([1, 1, 0])
  })

  it('an instant case done the day it was accepted is on the spot and on time', () => {
    const c = count({
      status: 'approved', decision: 'approved', kind: 'instant',
      acceptedAt: at10('2026-11-23'), completedAt: '2026-11-23T03:00:00Z', dueDate: '2026-11-23',
    })
    expect(c).toEqual(counts({ accepted: 1, completed: 1, approved: 1, onTime: 1, onSpot: 1 }))
  })

  it('on the spot means the same China date, not the same UTC date', () => {
    // accepted 23:00 on 11-23 in China, completed 01:00 on 11-24 in China (both 11-23 in UTC)
    const c = count({
      status: 'approved', decision: 'approved', kind: 'instant',
      acceptedAt: '2026-11-23T15:00:00Z', completedAt: '2026-11-23T17:00:00Z', dueDate: '2026-11-23',
    })
    expect(c.onSpot).toBe(0)
    expect(c.onTime).toBe(0) // done on 11-24, due 11-23
  })

  it('a promised case done before its due date is early and on time', () => {
    const c = count({
      status: 'approved', decision: 'approved', kind: 'promised',
      acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-26'), dueDate: '2026-11-30',
    })
    expect(c).toEqual(counts({ accepted: 1, completed: 1, approved: 1, onTime: 1, promisedCompleted: 1, early: 1 }))
  })

  it('a promised case done on its due date is on time but not early', () => {
    const c = count({
      status: 'approved', decision: 'approved', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-30'), dueDate: '2026-11-30',
    })
    expect(c.onTime).toBe(1)
    expect(c.early).toBe(0)
    expect(c.promisedCompleted).toBe(1)
  })

  it('a promised case done after its due date is neither on time nor early', () => {
    const c = count({
      status: 'approved', decision: 'approved', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-12-01'), dueDate: '2026-11-30',
    })
    expect(c.completed).toBe(1)
    expect(c.onTime).toBe(0)
    expect(c.early).toBe(0)
  })

  it('an instant case is never counted as promised or early', () => {
    const c = count({
      status: 'approved', decision: 'approved', kind: 'instant', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-23'), dueDate: '2026-11-24',
    })
    expect(c.promisedCompleted).toBe(0)
    expect(c.early).toBe(0)
  })

  it('a delivered case counts its decision: approved or denied', () => {
    const base = { status: 'delivered', acceptedAt: at10('2026-11-23'), completedAt: at10('2026-11-24'), dueDate: '2026-11-30' }
    expect(count({ ...base, decision: 'approved' })).toMatchObject({ completed: 1, approved: 1, denied: 0 })
    expect(count({ ...base, decision: 'denied' })).toMatchObject({ completed: 1, approved: 0, denied: 1 })
    expect(count({ ...base, status: 'denied', decision: 'denied' })).toMatchObject({ completed: 1, approved: 0, denied: 1 })
  })

  it('a case refused before acceptance is neither accepted nor completed', () => {
    const c = count({ status: 'denied', decision: 'denied', completedAt: at10('2026-11-23') })
    expect(c).toEqual(emptyCounts())
  })

  it('an open case past its due date is overdue', () => {
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-11-20' }, '2026-11-23'))
      .toEqual(counts({ accepted: 1, overdue: 1 }))
    expect(count({ status: 'submitted', dueDate: '2026-11-20' }, '2026-11-23').overdue).toBe(1)
  })

  it('an open case due today or on the next working day is due soon', () => {
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-11-23' }, '2026-11-23')).toMatchObject({ overdue: 0, dueSoon: 1 })
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-11-24' }, '2026-11-23').dueSoon).toBe(1)
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-11-25' }, '2026-11-23').dueSoon).toBe(0)
    // Friday: the next working day is Monday
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-11-30' }, '2026-11-27').dueSoon).toBe(1)
    expect(count({ status: 'accepted', acceptedAt: at10('2026-11-16'), dueDate: '2026-12-01' }, '2026-11-27').dueSoon).toBe(0)
  })

  it('completed, withdrawn and paused (correction) cases are neither overdue nor due soon', () => {
    for (const status of ['approved', 'denied', 'delivered', 'withdrawn', 'correction']) {
      const c = count({ status, acceptedAt: at10('2026-11-16'), dueDate: '2026-11-20' }, '2026-11-23')
      expect(c.overdue).toBe(0)
      const d = count({ status, acceptedAt: at10('2026-11-16'), dueDate: '2026-11-23' }, '2026-11-23')
      expect(d.dueSoon).toBe(0)
    }
  })

  it('counts a rating in its slot and ignores a missing or out-of-range one', () => {
    expect(count({ rating: 4 }).ratings).toEqual([0, 0, 0, 1, 0])
    expect(count({ rating: 1 }).ratings).toEqual([1, 0, 0, 0, 0])
    expect(count({ rating: null }).ratings).toEqual([0, 0, 0, 0, 0])
    expect(count({ rating: 0 }).ratings).toEqual([0, 0, 0, 0, 0])
    expect(count({ rating: 6 }).ratings).toEqual([0, 0, 0, 0, 0])
  })

  it('adds to the counts it is given', () => {
    const c = counts({ accepted: 5, ratings: [0, 0, 0, 0, 2] })
    countCase(c, { status: 'accepted', decision: null, kind: 'promised', acceptedAt: at10('2026-11-23'), completedAt: null, dueDate: '2026-11-30', rating: 5 }, '2026-11-23', cal)
    expect(c.accepted).toBe(6)
    expect(c.ratings).toEqual([0, 0, 0, 0, 3])
  })
})
