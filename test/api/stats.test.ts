/**
 * GET /api/stats: the figures every report quotes, for a known set of cases at one village,
 * worked out by hand from the definitions in protocol/stats.ts:
 * - accepted: accepted cases; completed: of those, approved or denied (a delivered case counts as its decision)
 * - completionRate = completed / accepted; onTimeRate = completed on or before the due date / completed
 * - onSpotRate = completed the local day of acceptance / completed
 * - dailyRate (日结率) = completed the local day of acceptance / accepted
 * - earlyRate = promised cases completed before the due date / promised cases completed
 * - overdue = submitted or accepted, past due; dueSoon = submitted or accepted, due today or the next working day
 * - satisfactionRate = ratings 3–5 / all ratings. Rates are rounded to 4 decimals, null where nothing to divide.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf, testClock } from '../fixtures/catalogue.ts'

const clock = testClock('2026-03-02T10:00:00+08:00')
let t: TestNode
let agent: Client

/** Moves the node's clock (China time, March 2026: Mon 2 … Fri 6, Mon 9, Tue 10) and logs in again. */
async function on(day: string, time = '10:00'): Promise<void> {
  clock.set(`2026-03-${day}T${time}:00+08:00`)
  agent = await t.as('agent', 'agent')
}
async function takeIn(itemCode: string): Promise<string> {
  const r = await agent('POST', '/api/cases', { itemCode, applicant, materials: requiredOf(itemCode) })
  expect(r.status).toBe(201)
  return r.body.id
}
async function act(id: string, body: Record<string, unknown>): Promise<void> {
  const r = await agent('POST', `/api/cases/${id}/events`, body)
  expect(r.status, `${body.type} on ${id}: ${JSON.stringify(r.body)}`).toBe(200)
}

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE, now: clock.now })
  // V-I01: instant (due the day accepted). V-P01: promised, 3 working days.
  await on('02')
  const A = await takeIn('V-I01') //        accepted 02, due 02
  await on('02', '10:30')
  await act(A, { type: 'approved' }) //     completed 02: on time, on the spot
  await act(A, { type: 'delivered' })
  await act(A, { type: 'rated', rating: 5 })
  await on('02', '11:00')
  const B = await takeIn('V-P01') //        accepted 02, due 05 (03, 04, 05)
  const C = await takeIn('V-P01') //        accepted 02, due 05
  await takeIn('V-P01') //                  D: accepted 02, due 05, left open → overdue on the 9th
  await on('03', '09:00')
  await act(B, { type: 'approved' }) //     completed 03: on time, early, not on the spot
  await act(B, { type: 'delivered' })
  await act(B, { type: 'rated', rating: 2 })
  await takeIn('V-I01') //                  E: accepted 03, due 03, left open → overdue
  const H = await takeIn('V-P01') //        accepted 03, due 06, then in correction: the clock stops, never overdue
  await act(H, { type: 'correction-requested', materials: ['房屋现状照片'] })
  await on('04')
  await takeIn('V-P01') //                  F: accepted 04, due 09 (05, 06, 09) → due soon on the 9th (today)
  await on('05')
  await takeIn('V-P01') //                  J: accepted 05, due 10 (06, 09, 10) → due soon (next working day)
  const K = await takeIn('V-P01') //        accepted 05, withdrawn: accepted, never completed, not open
  await act(K, { type: 'withdrawn' })
  await on('06')
  await act(C, { type: 'denied', reason: '不符合条件' }) // completed 06, after its due date 05: late, not early
  await act(C, { type: 'delivered' })
  await act(C, { type: 'rated', rating: 3 })
  await takeIn('C-P01') //                  G: county item, submitted here, never accepted here: counts nothing
  await on('09') //                         today: Monday 9 March
}, 300_000)
afterAll(async () => t?.close())

const zero = { accepted: 0, completed: 0, approved: 0, denied: 0, overdue: 0, dueSoon: 0, ratings: [0, 0, 0, 0, 0], crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0 }
const noRates = { completionRate: null, onTimeRate: null, onSpotRate: null, dailyRate: null, earlyRate: null, satisfactionRate: null, badRatings: 0, rectificationRate: null }

// A, E (V-I01): accepted 2; completed 1 (A, approved, on time, on the spot; instant: not in earlyRate);
// E open past due → overdue 1; ratings: one 5.
const instantRow = {
  key: 'V-I01', accepted: 2, completed: 1, approved: 1, denied: 0, overdue: 1, dueSoon: 0, ratings: [0, 0, 0, 0, 1], crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0,
  completionRate: 0.5, onTimeRate: 1, onSpotRate: 1, dailyRate: 0.5, earlyRate: null, satisfactionRate: 1, badRatings: 0, rectificationRate: null,
}
// B, C, D, H, F, J, K (V-P01): accepted 7; completed 2 (B approved on time and early; C denied late);
// overdue 1 (D); dueSoon 2 (F due today, J due tomorrow); ratings: a 2 and a 3.
const promisedRow = {
  key: 'V-P01', accepted: 7, completed: 2, approved: 1, denied: 1, overdue: 1, dueSoon: 2, ratings: [0, 1, 1, 0, 0], crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0,
  completionRate: 0.2857 /* 2/7 */, onTimeRate: 0.5, onSpotRate: 0, dailyRate: 0, earlyRate: 0.5, satisfactionRate: 0.5, badRatings: 1, rectificationRate: 0,
}
// Everything: accepted 9, completed 3 (A, B on time; A on the spot; B early of 2 promised), ratings 5, 2, 3.
const totals = {
  key: 'total', accepted: 9, completed: 3, approved: 2, denied: 1, overdue: 2, dueSoon: 2, ratings: [0, 1, 1, 0, 1], crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0,
  completionRate: 0.3333, onTimeRate: 0.6667, onSpotRate: 0.3333, dailyRate: 0.1111 /* 1/9 */, earlyRate: 0.5, satisfactionRate: 0.6667, badRatings: 1, rectificationRate: 0,
}

describe('GET /api/stats', () => {
  it('groupBy=item', async () => {
    const r = await agent('GET', '/api/stats?groupBy=item')
    expect(r.status).toBe(200)
    expect(r.body.groupBy).toBe('item')
    expect(r.body.rows).toEqual([
      { key: 'C-P01', ...zero, ...noRates }, // G, submitted: a row of zeros
      instantRow,
      promisedRow,
    ])
    expect(r.body.totals).toEqual(totals)
    // The default grouping is by item.
    expect((await agent('GET', '/api/stats')).body.rows).toEqual(r.body.rows)
  })

  it('groupBy=day (the day each case was accepted, or taken in if never accepted)', async () => {
    const r = await agent('GET', '/api/stats?groupBy=day')
    expect(r.status).toBe(200)
    expect(r.body.rows).toEqual([
      // A, B, C, D: completed A, B, C; on time A, B; on the spot A; early B of promised B, C; D overdue.
      { key: '2026-03-02', accepted: 4, completed: 3, approved: 2, denied: 1, overdue: 1, dueSoon: 0, ratings: [0, 1, 1, 0, 1], crossUnit: 0, transferred: 0, refused: 0, deferred: 0, rectified: 0, rectOverdue: 0,
        completionRate: 0.75, onTimeRate: 0.6667, onSpotRate: 0.3333, dailyRate: 0.25, earlyRate: 0.5, satisfactionRate: 0.6667, badRatings: 1, rectificationRate: 0 },
      // E (overdue), H (in correction: neither overdue nor due soon).
      { key: '2026-03-03', ...zero, accepted: 2, overdue: 1, ...noRates, completionRate: 0, dailyRate: 0 },
      // F, due today.
      { key: '2026-03-04', ...zero, accepted: 1, dueSoon: 1, ...noRates, completionRate: 0, dailyRate: 0 },
      // J due tomorrow, K withdrawn.
      { key: '2026-03-05', ...zero, accepted: 2, dueSoon: 1, ...noRates, completionRate: 0, dailyRate: 0 },
      // G, submitted to the county.
      { key: '2026-03-06', ...zero, ...noRates },
    ])
    expect(r.body.totals).toEqual(totals)
  })

  it('from and to limit the days counted', async () => {
    const r = await agent('GET', '/api/stats?groupBy=day&from=2026-03-03&to=2026-03-04')
    expect(r.body).toMatchObject({ from: '2026-03-03', to: '2026-03-04' })
    expect(r.body.rows.map((x: any) => x.key)).toEqual(['2026-03-03', '2026-03-04'])
    expect(r.body.totals).toMatchObject({ accepted: 3, completed: 0, overdue: 1, dueSoon: 1, completionRate: 0 })
  })

  it('the same cases judged on another day: overdue and due soon move with today', async () => {
    await on('10') // Tuesday 10: F (due 9) is now overdue, J (due 10) due soon
    try {
      const r = await agent('GET', '/api/stats?groupBy=item')
      expect(r.body.totals).toMatchObject({ overdue: 3, dueSoon: 1, accepted: 9, completed: 3 })
    } finally {
      await on('09')
    }
  })

  it('400 for a bad query', async () => {
    for (const q of ['groupBy=month', 'from=March', 'to=2026-3-1']) {
      const r = await agent('GET', `/api/stats?${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error.code).toBe('invalid_input')
    }
  })

  it('carries no personal data', async () => {
    const text = JSON.stringify((await agent('GET', '/api/stats?groupBy=day')).body)
    for (const v of [applicant.name, applicant.idNumber, applicant.phone]) expect(text).not.toContain(v)
  })
})
