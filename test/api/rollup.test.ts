/**
 * The statistics rollups and the list tally (migrations 015, 023: day, month and day-sum rows) agree with the cases they count,
 * whoever writes the case rows: random rows inserted, updated (status moves, a transfer away,
 * a rating, a rectification) and deleted straight in SQL, then every groupBy, both dimensions
 * and random ranges compared with a direct count over the cases (StatsService.ownCountsFromCases,
 * the pre-rollup SQL), and list totals with count(*). Keyset pagination walks every case once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testNode, type Client, type TestNode } from '../helpers/node.ts'
import { mulberry32 } from '../tools/link-emulator.ts'
import { listMigrations, splitStatements } from '../../nodes/core/store/migrate.ts'
import { COUNTY, FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE, testClock } from '../fixtures/catalogue.ts'

const clock = testClock('2026-03-16T10:00:00+08:00')
let t: TestNode
let staff: Client

beforeAll(async () => {
  t = await testNode({ level: 'county', code: COUNTY, name: '顺庆区', catalogue: FIXTURE_CATALOGUE, now: clock.now })
  staff = await t.as('staff', 'staff')
}, 300_000)
afterAll(async () => t?.close())

/** A seeded generator: a failure names its seed and replays. */
const rng = mulberry32

const STATUSES = ['submitted', 'accepted', 'correction', 'approved', 'denied', 'delivered', 'withdrawn', 'refused']
const ORIGINS = [COUNTY, TOWNSHIP, VILLAGE]
const HANDLERS = [COUNTY, TOWNSHIP]
const ITEMS = ['C-P01', 'C-I01', 'T-P01']
const day = (r: () => number, from = 1) => `2026-${String(from + Math.floor(r() * 3)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')}`
const at = (d: string, r: () => number) => new Date(Date.parse(`${d}T08:00:00+08:00`) + Math.floor(r() * 10 * 3600_000)).toISOString()
const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]

/** One random case row's mutable fields: every column the counts read, nulls included. */
function fields(r: () => number) {
  const created = day(r)
  const accepted = r() < 0.8 ? at(created, r) : null
  const done = accepted && r() < 0.6 ? at(day(r, 2), r) : null
  const rating = done && r() < 0.6 ? 1 + Math.floor(r() * 5) : null
  return {
    status: pick(r, STATUSES), decision: done ? (r() < 0.2 ? 'denied' : 'approved') : null, accepted_at: accepted, completed_at: done,
    due_date: r() < 0.7 ? day(r, 2) : null, rating, stat_day: (accepted ?? `${created}T00:00:00Z`).slice(0, 10), handler_code: pick(r, HANDLERS),
    cross_unit: r() < 0.2, transfers: r() < 0.15 ? 1 : 0, deferred: r() < 0.1, rect_status: rating && rating <= 2 ? pick(r, [null, 'open', 'replied', 'closed']) : null,
    rect_due: r() < 0.5 ? day(r, 2) : null, kind: r() < 0.5 ? 'promised' : 'instant', created_at: at(created, r),
  }
}

async function insertCase(r: () => number, n: number): Promise<void> {
  const f = fields(r)
  const origin = pick(r, ORIGINS)
  await t.node.db.query(
    `INSERT INTO cases (id, item_code, item_version, origin_code, handler_code, kind, status, decision, applicant_name, applicant_phone,
       created_at, accepted_at, completed_at, delivered_at, due_date, rating, flagged, stat_day, first_handler_code, cross_unit, transfers, deferred, owed, rect_status, rect_due)
     VALUES ($1,$2,1,$3,$4,$5,$6,$7,'张三','13800000000',$8,$9,$10,NULL,$11,$12,0,$13,$4,$14,$15,$16,0,$17,$18)`,
    [`${origin}-20260101-${String(n).padStart(4, '0')}`, pick(r, ITEMS), origin, f.handler_code, f.kind, f.status, f.decision, f.created_at, f.accepted_at,
      f.completed_at, f.due_date, f.rating, f.stat_day, f.cross_unit, f.transfers, f.deferred, f.rect_status, f.rect_due],
  )
}

async function updateCase(r: () => number): Promise<void> {
  const f = fields(r)
  const [row] = await t.node.db.query<{ id: string }>('SELECT id FROM cases ORDER BY id OFFSET floor($1::float8 * (SELECT count(*) FROM cases))::int LIMIT 1', [r()])
  await t.node.db.query(
    `UPDATE cases SET status = $2, decision = $3, accepted_at = $4, completed_at = $5, due_date = $6, rating = $7, stat_day = $8, handler_code = $9,
       cross_unit = $10, transfers = $11, deferred = $12, rect_status = $13, rect_due = $14, updated_at = now() WHERE id = $1`,
    [row.id, f.status, f.decision, f.accepted_at, f.completed_at, f.due_date, f.rating, f.stat_day, f.handler_code, f.cross_unit, f.transfers, f.deferred, f.rect_status, f.rect_due],
  )
}

const sorted = (m: Map<string, unknown>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1))

describe('the rollup (migration 015) agrees with the cases', () => {
  it('for random rows written, rewritten and deleted: every groupBy, both dimensions, random ranges; list totals too', async () => {
    const seed = Number(process.env.ROLLUP_SEED ?? 20261130)
    const r = rng(seed)
    let n = 0
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 60; i++) await insertCase(r, ++n)
      for (let i = 0; i < 40; i++) await updateCase(r)
      for (let i = 0; i < 5; i++) await t.node.db.query('DELETE FROM cases WHERE id = (SELECT id FROM cases ORDER BY id OFFSET floor($1::float8 * (SELECT count(*) FROM cases))::int LIMIT 1)', [r()])
      // Some cases of the year before, moved there by an update (the trigger's remove and add).
      for (let i = 0; i < 6; i++) await t.node.db.query(`UPDATE cases SET stat_day = '2025-12-' || substr(stat_day, 9, 2) WHERE id = (SELECT id FROM cases ORDER BY id OFFSET floor($1::float8 * (SELECT count(*) FROM cases))::int LIMIT 1)`, [r()])
      const d = day(r)
      // Whole months (read from month rows, migration 023), partial first and last months (their
      // days from day rows), one day, within one month, across the year's end, open ends.
      const ranges = [{}, { from: '2026-02-01' }, { to: '2026-02-15' }, { from: day(r), to: day(r, 2) }, { from: d, to: d },
        { from: '2026-02-01', to: '2026-03-31' }, { from: '2026-01-10', to: '2026-03-20' }, { from: '2026-02-03', to: '2026-02-25' },
        { from: '2025-12-15', to: '2026-02-10' }, { from: '2025-12-01', to: '2026-01-31' }, { from: '2026-01-31', to: '2026-02-01' },
        { from: '2026-02-10' }, { to: '2026-01-31' }, { from: '2026-03-05', to: '2026-02-05' }]
      for (const range of ranges) {
        for (const groupBy of ['item', 'day', 'day|item', 'child']) {
          for (const by of ['origin', 'handler'] as const) {
            const q = { ...range, groupBy, by }
            const want = await t.node.stats.ownCountsFromCases(q)
            expect(sorted(await t.node.stats.ownCounts(q)), `seed ${seed} round ${round} ${JSON.stringify(q)}`).toEqual(sorted(want))
          }
        }
      }
      for (const q of [{}, { status: 'accepted' }, { status: 'delivered,refused' }, { handler: COUNTY }, { origin: VILLAGE, status: 'submitted,accepted' }]) {
        const [{ c }] = await t.node.db.query<{ c: number }>(
          `SELECT count(*)::int AS c FROM cases WHERE ($1::text IS NULL OR status = ANY(string_to_array($1, ','))) AND ($2::text IS NULL OR handler_code = $2) AND ($3::text IS NULL OR origin_code = $3)`,
          [(q as { status?: string }).status ?? null, (q as { handler?: string }).handler ?? null, (q as { origin?: string }).origin ?? null])
        expect((await t.node.cases.list({ ...q, limit: 1 })).total, `seed ${seed} round ${round} ${JSON.stringify(q)}`).toBe(c)
      }
    }
    // Something was counted: the comparison above is not of two empty maps.
    expect((await t.node.stats.ownCounts({ groupBy: 'item', by: 'handler' })).size).toBeGreaterThan(0)

    // The migrations' set-based backfills (of a store that held cases before 015, 023) give the
    // same tally, rollup and clock rows as the triggers kept (zero rows aside: the rollup's
    // triggers leave them behind).
    const snapshot = async () => [
      await t.node.db.query('SELECT status, origin_code, handler_code, n::int FROM case_tally WHERE n <> 0 ORDER BY 1, 2, 3'),
      await t.node.db.query(`SELECT ${ROLLUP_COLUMNS} FROM case_rollup WHERE n <> 0 ORDER BY 1, 2, 3, 4`),
      await t.node.db.query(`SELECT ${ROLLUP_COLUMNS.replace(' day,', ' month,')} FROM case_rollup_month WHERE n <> 0 ORDER BY 1, 2, 3, 4`),
      await t.node.db.query(`SELECT ${ROLLUP_COLUMNS.replace(' item_code,', '')} FROM case_rollup_daysum WHERE n <> 0 ORDER BY 1, 2, 3`),
      // The open cases' groups: none left at 0 (a group whose cases closed is removed).
      await t.node.db.query('SELECT dim, unit_code, day, item_code, what, at, n FROM case_clock ORDER BY 1, 2, 3, 4, 5, 6'),
    ]
    const kept = await snapshot()
    // Rows of every table were kept (the comparison is not of empty lists).
    for (const rows of kept) expect(rows.length).toBeGreaterThan(0)
    expect(kept[4].every((r) => (r as { n: number }).n !== 0)).toBe(true)
    for (const table of ['case_tally', 'case_rollup', 'case_rollup_month', 'case_rollup_daysum', 'case_clock']) await t.node.db.query(`DELETE FROM ${table}`)
    const backfill = (v: number, tables: RegExp) => splitStatements(listMigrations().find((m) => m.version === v)!.sql).filter((x) => tables.test(x))
    const of015 = backfill(15, /^INSERT INTO case_(tally|rollup) /)
    expect(of015.length).toBe(2)
    for (const stmt of of015) await t.node.db.query(stmt)
    // 023's triggers on case_rollup kept its month and day sums as 015's backfill wrote it…
    expect((await snapshot()).slice(0, 4)).toEqual(kept.slice(0, 4))
    // …and 023's own backfill (of a store that held cases before 023) gives them and the open cases' groups.
    for (const table of ['case_rollup_month', 'case_rollup_daysum']) await t.node.db.query(`DELETE FROM ${table}`)
    const of023 = backfill(23, /^INSERT INTO case_(rollup_month|rollup_daysum|clock) /)
    expect(of023.length).toBe(3)
    for (const stmt of of023) await t.node.db.query(stmt)
    expect(await snapshot()).toEqual(kept)
  }, 300_000)
})

const ROLLUP_COLUMNS = 'dim, unit_code, day, item_code, n, accepted, completed, approved, denied, on_time, on_spot, promised_completed, early, r1, r2, r3, r4, r5, cross_unit, transferred, refused, deferred, rectified'

describe('GET /api/cases keyset pagination', () => {
  it('walks every case exactly once, newest first, with `next`; a filter keeps to its rows; offset still answers', async () => {
    const [{ c }] = await t.node.db.query<{ c: number }>('SELECT count(*)::int AS c FROM cases')
    expect(c).toBeGreaterThan(100)
    const seen: { id: string; createdAt: string }[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 100; pages++) {
      const res = await staff('GET', `/api/cases?limit=37${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(res.status).toBe(200)
      expect(res.body.total).toBe(c)
      seen.push(...res.body.cases)
      cursor = res.body.next
      if (!cursor) break
    }
    expect(seen.length).toBe(c)
    expect(new Set(seen.map((s) => s.id)).size).toBe(c)
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]]
      expect(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id)).toBe(true)
    }
    const delivered = await staff('GET', '/api/cases?status=delivered&limit=5')
    const after = await staff('GET', `/api/cases?status=delivered&limit=5&cursor=${encodeURIComponent(delivered.body.next)}`)
    expect(after.body.cases.every((x: { status: string }) => x.status === 'delivered')).toBe(true)
    expect(after.body.cases[0].id).toBe((await staff('GET', '/api/cases?status=delivered&limit=5&offset=5')).body.cases[0].id)
    // The last page says there is none after it.
    const last = await staff('GET', `/api/cases?limit=1000`)
    expect(last.body.next).toBeNull()
  })

  it('refuses a cursor it did not give: 400 naming the parameter', async () => {
    const res = await staff('GET', '/api/cases?cursor=2026-01-01%27%3Bdrop')
    expect(res.status).toBe(400)
    expect(JSON.stringify(res.body)).toContain('cursor')
  })
})
