/**
 * Statistics of this node's own windows: every case counted once, at the window that took it
 * in, so a parent's figures are its own plus its children's sums. Rows carry counts and rates,
 * never personal data.
 */
import {
  addCounts, emptyCounts, isInSubtree, localDate, parentCode, StatsQuerySchema, toRow,
  type StatsCounts, type StatsRow, type WorkingDays,
} from '../../../protocol/index.ts'
import { rangeSplit } from '../../../protocol/stats-rollup.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'

export interface StatsResult {
  from: string | null
  to: string | null
  groupBy: string
  /** 受理地 (origin) or 办理地 (handler). */
  by: 'origin' | 'handler'
  under: string
  rows: StatsRow[]
  /**
   * Names, by code, of the units this answer shows: this node, the units from it down to
   * `under`, and (groupBy=child) each row's unit — not every unit below (3,131 at a city).
   */
  names: Record<string, string>
  /**
   * Names of the items the rows count, by code (grouped by item): from this node's catalogue,
   * else as the statistics of the units below named them (an item of a county's local list at the city).
   */
  itemNames: Record<string, string>
  totals: StatsRow
  /**
   * Statistics values of descendants left out of these figures because they were not exactly
   * StatsCounts (a broken or hostile unit below): the dashboard warns when this is not 0.
   */
  skipped: number
  /**
   * Set when this node does not hold the breakdown asked for: `item` for groupBy=item under a
   * unit two or more levels below (its parent's rollup sums items over its whole subtree —
   * protocol/stats-rollup.ts); the rows are then empty and the unit's own node has them.
   */
  notHeld?: 'item'
}

/**
 * Extra sources of counts by key, e.g. children's statistics documents (the tree adds them),
 * with how many values they skipped as malformed.
 */
export type StatsSource = (q: { from?: string; to?: string; groupBy: string; under: string; by?: 'origin' | 'handler' }) => Promise<{ counts: Map<string, StatsCounts>; skipped: number; notHeld?: string; total?: StatsCounts }>

export class StatsService {
  private readonly sources: StatsSource[] = []

  constructor(
    private readonly db: Db,
    private readonly self: { code: string; name: string },
    private readonly days: () => WorkingDays,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Names of this node and the units below it, by code: all of them, or only those of `codes`. */
  async names(codes?: string[]): Promise<Record<string, string>> {
    const rows = await this.db.query<{ code: string; name: string }>(
      codes ? 'SELECT code, name FROM units WHERE code = ANY($1::text[])' : 'SELECT code, name FROM units', codes ? [codes] : [])
    return { ...Object.fromEntries(rows.map((r) => [r.code, r.name])), [this.self.code]: this.self.name }
  }

  /** The names of `codes`: this node's catalogue first, then the names statistics from below carried. */
  async itemNames(codes: string[]): Promise<Record<string, string>> {
    if (!codes.length) return {}
    const rows = await this.db.query<{ code: string; name: string }>(
      `SELECT code, name, 0 AS pri FROM item_names WHERE code = ANY($1)
       UNION ALL SELECT code, name, 1 AS pri FROM catalogue_items WHERE code = ANY($1) ORDER BY pri`, [codes])
    // Later rows win: the catalogue's own name over one carried up.
    return Object.fromEntries(rows.map((r) => [r.code, r.name]))
  }

  addSource(s: StatsSource): void {
    this.sources.push(s)
  }

  /**
   * Counts of this node's own cases by key (item, day, or — for its own windows — its own code):
   * those taken in here (by origin, 受理地) or those decided here now (by handler, 办理地).
   */
  async ownCounts(q: { from?: string; to?: string; groupBy: string; by?: 'origin' | 'handler' }): Promise<Map<string, StatsCounts>> {
    const dim = q.by === 'handler' ? 'handler' : 'origin'
    // What depends on the case alone is summed from the rollups a trigger keeps (migrations 015,
    // 023), never the cases: whole months from the month rows, the days of a partial first and
    // last month from the day rows — by item where items are asked for, else one row a day.
    // The rules are protocol's countCase.
    const SUMS = `sum(n)::int AS n, sum(accepted)::int AS accepted, sum(completed)::int AS completed, sum(approved)::int AS approved,
         sum(denied)::int AS denied, sum(on_time)::int AS on_time, sum(on_spot)::int AS on_spot,
         sum(promised_completed)::int AS promised_completed, sum(early)::int AS early,
         sum(r1)::int AS r1, sum(r2)::int AS r2, sum(r3)::int AS r3, sum(r4)::int AS r4, sum(r5)::int AS r5,
         sum(cross_unit)::int AS cross_unit, sum(transferred)::int AS transferred, sum(refused)::int AS refused,
         sum(deferred)::int AS deferred, sum(rectified)::int AS rectified`
    const byDay = q.groupBy === 'day' || q.groupBy === 'day|item'
    const split: ReturnType<typeof rangeSplit> = byDay ? { months: null, days: [[q.from ?? '0000', q.to ?? '9999']] } : rangeSplit(q.from, q.to)
    const dayTable = q.groupBy === 'day' || q.groupBy === 'child' ? 'case_rollup_daysum' : 'case_rollup'
    const rollKey = q.groupBy === 'day' ? 'day' : q.groupBy === 'child' ? '$1::text' : q.groupBy === 'day|item' ? "day || '|' || item_code" : 'item_code'
    const args: unknown[] = [this.self.code, dim]
    const parts: string[] = []
    if (split.months) {
      const mk = q.groupBy === 'child' ? '$1::text' : 'item_code'
      parts.push(`SELECT ${mk} AS k, ${SUMS} FROM case_rollup_month WHERE dim = $2 AND unit_code = $1
        AND ($${args.push(split.months.from)}::text IS NULL OR month >= $${args.length}) AND ($${args.push(split.months.to)}::text IS NULL OR month <= $${args.length}) GROUP BY 1`)
    }
    for (const [a, b] of split.days) {
      parts.push(`SELECT ${rollKey} AS k, ${SUMS} FROM ${dayTable} WHERE dim = $2 AND unit_code = $1 AND day >= $${args.push(a)} AND day <= $${args.push(b)} GROUP BY 1`)
    }
    const rows = parts.length ? await this.db.query<Record<string, number | string>>(
      `SELECT k, ${SUMS} FROM (${parts.join(' UNION ALL ')}) s GROUP BY k HAVING sum(n) > 0`, args) : []
    // What moves with the clock is counted from the open cases' groups (case_clock, migration
    // 023: stat day, item and due date), with "today" and the next working day worked out once,
    // here, from the calendar. '' is the day of a case without one: counted in an open range only.
    const today = localDate(this.now())
    const nextWorkingDay = this.days().add(today, 1)
    const open = await this.db.query<{ k: string; overdue: number; due_soon: number; rect_overdue: number }>(
      `SELECT ${rollKey} AS k,
         coalesce(sum(n) FILTER (WHERE what = 'due' AND at < $4), 0)::int AS overdue,
         coalesce(sum(n) FILTER (WHERE what = 'due' AND at >= $4 AND at <= $5), 0)::int AS due_soon,
         coalesce(sum(n) FILTER (WHERE what = 'rect' AND at < $4), 0)::int AS rect_overdue
       FROM case_clock WHERE dim = $6 AND unit_code = $1 AND ($2::text IS NULL OR day >= $2) AND ($3::text IS NULL OR (day <= $3 AND day <> ''))
       GROUP BY k`,
      [this.self.code, q.from ?? null, q.to ?? null, today, nextWorkingDay, dim],
    )
    const clock = new Map(open.map((r) => [String(r.k), r]))
    const out = new Map<string, StatsCounts>()
    for (const r of rows) {
      const n = (f: string) => Number(r[f])
      const c = clock.get(String(r.k))
      out.set(String(r.k), {
        accepted: n('accepted'), completed: n('completed'), approved: n('approved'), denied: n('denied'),
        onTime: n('on_time'), onSpot: n('on_spot'), promisedCompleted: n('promised_completed'), early: n('early'),
        overdue: Number(c?.overdue ?? 0), dueSoon: Number(c?.due_soon ?? 0), ratings: [n('r1'), n('r2'), n('r3'), n('r4'), n('r5')],
        crossUnit: n('cross_unit'), transferred: n('transferred'), refused: n('refused'), deferred: n('deferred'), rectified: n('rectified'),
        rectOverdue: Number(c?.rect_overdue ?? 0),
      })
    }
    return out
  }

  /**
   * The same counts straight from the cases (one pass over the period's rows): what the rollup
   * must always agree with (test/api/rollup.test.ts compares them), and the "before" of
   * bench/county-size.ts.
   */
  async ownCountsFromCases(q: { from?: string; to?: string; groupBy: string; by?: 'origin' | 'handler' }): Promise<Map<string, StatsCounts>> {
    const column = q.by === 'handler' ? 'handler_code' : 'origin_code'
    // Counted in SQL (one row per key, not per case): the same rules as protocol's countCase,
    // with "today" and the next working day worked out once, here, from the calendar.
    const today = localDate(this.now())
    const nextWorkingDay = this.days().add(today, 1)
    const key = q.groupBy === 'day' ? 'stat_day' : q.groupBy === 'child' ? '$1::text' : q.groupBy === 'day|item' ? "stat_day || '|' || item_code" : 'item_code'
    const rows = await this.db.query<Record<string, number | string>>(
      `WITH c AS (
         SELECT *, ${key} AS k,
           accepted_at IS NOT NULL AND completed_at IS NOT NULL AS done,
           to_char(completed_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD') AS done_day,
           to_char(accepted_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD') AS accepted_day,
           status IN ('submitted', 'accepted') AND due_date IS NOT NULL AS open_due
         FROM cases WHERE ${column} = $1 AND ($2::text IS NULL OR stat_day >= $2) AND ($3::text IS NULL OR stat_day <= $3)
       )
       SELECT k,
         count(*) FILTER (WHERE accepted_at IS NOT NULL)::int AS accepted,
         count(*) FILTER (WHERE done)::int AS completed,
         count(*) FILTER (WHERE done AND decision IS DISTINCT FROM 'denied')::int AS approved,
         count(*) FILTER (WHERE done AND decision = 'denied')::int AS denied,
         count(*) FILTER (WHERE done AND due_date IS NOT NULL AND done_day <= due_date)::int AS on_time,
         count(*) FILTER (WHERE done AND done_day = accepted_day)::int AS on_spot,
         count(*) FILTER (WHERE done AND kind = 'promised')::int AS promised_completed,
         count(*) FILTER (WHERE done AND kind = 'promised' AND due_date IS NOT NULL AND done_day < due_date)::int AS early,
         count(*) FILTER (WHERE open_due AND due_date < $4)::int AS overdue,
         count(*) FILTER (WHERE open_due AND due_date >= $4 AND due_date <= $5)::int AS due_soon,
         count(*) FILTER (WHERE rating = 1)::int AS r1, count(*) FILTER (WHERE rating = 2)::int AS r2,
         count(*) FILTER (WHERE rating = 3)::int AS r3, count(*) FILTER (WHERE rating = 4)::int AS r4,
         count(*) FILTER (WHERE rating = 5)::int AS r5,
         count(*) FILTER (WHERE cross_unit)::int AS cross_unit, count(*) FILTER (WHERE transfers > 0)::int AS transferred,
         count(*) FILTER (WHERE status = 'refused')::int AS refused,
         count(*) FILTER (WHERE deferred)::int AS deferred,
         count(*) FILTER (WHERE rect_status = 'closed')::int AS rectified,
         count(*) FILTER (WHERE rect_status IN ('open', 'replied') AND rect_due < $4)::int AS rect_overdue
       FROM c GROUP BY k`,
      [this.self.code, q.from ?? null, q.to ?? null, today, nextWorkingDay],
    )
    const out = new Map<string, StatsCounts>()
    for (const r of rows) {
      const n = (f: string) => Number(r[f])
      out.set(String(r.k), {
        accepted: n('accepted'), completed: n('completed'), approved: n('approved'), denied: n('denied'),
        onTime: n('on_time'), onSpot: n('on_spot'), promisedCompleted: n('promised_completed'), early: n('early'),
        overdue: n('overdue'), dueSoon: n('due_soon'), ratings: [n('r1'), n('r2'), n('r3'), n('r4'), n('r5')],
        crossUnit: n('cross_unit'), transferred: n('transferred'), refused: n('refused'), deferred: n('deferred'), rectified: n('rectified'), rectOverdue: n('rect_overdue'),
      })
    }
    return out
  }


  async query(input: unknown): Promise<StatsResult> {
    const q = parseOr400(StatsQuerySchema, input, 'statistics query')
    const under = q.under ?? this.self.code
    if (!isInSubtree(under, this.self.code)) throw new ApiError('invalid_input', `under: ${under} is not in this node's subtree (${this.self.code})`)
    // This node's own windows count only when the drill-down includes it.
    const merged = under === this.self.code ? await this.ownCounts(q) : new Map<string, StatsCounts>()
    let skipped = 0
    let notHeld: 'item' | undefined
    const extra: StatsCounts[] = []
    for (const source of this.sources) {
      const got = await source({ ...q, under })
      skipped += got.skipped
      if (got.notHeld === 'item') notHeld = 'item'
      if (got.total) extra.push(got.total)
      for (const [k, c] of got.counts) merged.set(k, addCounts(merged.get(k) ?? emptyCounts(), c))
    }
    const total = emptyCounts()
    for (const c of [...merged.values(), ...extra]) addCounts(total, c)
    const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => toRow(k, c))
    const itemNames = q.groupBy === 'item' ? await this.itemNames(rows.map((r) => r.key)) : {}
    const shown: string[] = []
    for (let u: string | null = under; u && u !== this.self.code; u = parentCode(u)) shown.push(u)
    if (q.groupBy === 'child') shown.push(...rows.map((r) => r.key))
    return { from: q.from ?? null, to: q.to ?? null, groupBy: q.groupBy, by: q.by, under, rows, totals: toRow('total', total), skipped, names: await this.names(shown), itemNames, ...(notHeld ? { notHeld } : {}) }
  }
}
