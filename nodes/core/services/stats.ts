/**
 * Statistics of this node's own windows: every case counted once, at the window that took it
 * in, so a parent's figures are its own plus its children's sums. Rows carry counts and rates,
 * never personal data.
 */
import {
  addCounts, countCase, emptyCounts, localDate, StatsQuerySchema, toRow,
  type StatsCounts, type StatsRow, type WorkingDays,
} from '../../../protocol/index.ts'
import { parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'

export interface StatsResult {
  from: string | null
  to: string | null
  groupBy: string
  rows: StatsRow[]
  totals: StatsRow
}

/** Extra sources of counts by key, e.g. children's statistics documents (the tree adds them). */
export type StatsSource = (q: { from?: string; to?: string; groupBy: string }) => Promise<Map<string, StatsCounts>>

export class StatsService {
  private readonly sources: StatsSource[] = []

  constructor(
    private readonly db: Db,
    private readonly self: { code: string },
    private readonly days: () => WorkingDays,
    private readonly now: () => Date = () => new Date(),
  ) {}

  addSource(s: StatsSource): void {
    this.sources.push(s)
  }

  /** Counts of this node's own cases by key (item, day, or — for its own windows — its own code). */
  async ownCounts(q: { from?: string; to?: string; groupBy: string }): Promise<Map<string, StatsCounts>> {
    const rows = await this.db.query<{
      item_code: string; status: string; decision: 'approved' | 'denied' | null; kind: 'instant' | 'promised'
      stat_day: string; accepted_at: string | null; completed_at: string | null; due_date: string | null; rating: number | null
    }>(
      `SELECT item_code, status, decision, kind, stat_day, accepted_at, completed_at, due_date, rating
       FROM cases WHERE origin_code = $1 AND ($2::text IS NULL OR stat_day >= $2) AND ($3::text IS NULL OR stat_day <= $3)`,
      [this.self.code, q.from ?? null, q.to ?? null],
    )
    const days = this.days()
    const today = localDate(this.now())
    const cal = { localDate, add: (d: string, n: number) => days.add(d, n) }
    const out = new Map<string, StatsCounts>()
    for (const r of rows) {
      const iso = (v: string | null) => (v == null ? null : new Date(v).toISOString())
      const day = r.stat_day
      const key = q.groupBy === 'day' ? day : q.groupBy === 'child' ? this.self.code : q.groupBy === 'day|item' ? `${day}|${r.item_code}` : r.item_code
      let c = out.get(key)
      if (!c) out.set(key, (c = emptyCounts()))
      countCase(c, {
        status: r.status, decision: r.decision, kind: r.kind, acceptedAt: iso(r.accepted_at),
        completedAt: iso(r.completed_at), dueDate: r.due_date, rating: r.rating,
      }, today, cal)
    }
    return out
  }

  async query(input: unknown): Promise<StatsResult> {
    const q = parseOr400(StatsQuerySchema, input, 'statistics query')
    const merged = await this.ownCounts(q)
    for (const source of this.sources) {
      for (const [k, c] of await source(q)) merged.set(k, addCounts(merged.get(k) ?? emptyCounts(), c))
    }
    const total = emptyCounts()
    for (const c of merged.values()) addCounts(total, c)
    const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => toRow(k, c))
    return { from: q.from ?? null, to: q.to ?? null, groupBy: q.groupBy, rows, totals: toRow('total', total) }
  }
}
