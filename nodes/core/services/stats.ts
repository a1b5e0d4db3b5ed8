/**
 * Statistics of this node's own windows: every case counted once, at the window that took it
 * in, so a parent's figures are its own plus its children's sums. Rows carry counts and rates,
 * never personal data.
 */
import {
  addCounts, countCase, emptyCounts, isInSubtree, localDate, StatsQuerySchema, toRow,
  type StatsCounts, type StatsRow, type WorkingDays,
} from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'

export interface StatsResult {
  from: string | null
  to: string | null
  groupBy: string
  under: string
  rows: StatsRow[]
  /** Names of this node and the units below it, by code, for labels. */
  names: Record<string, string>
  totals: StatsRow
}

/** Extra sources of counts by key, e.g. children's statistics documents (the tree adds them). */
export type StatsSource = (q: { from?: string; to?: string; groupBy: string; under: string }) => Promise<Map<string, StatsCounts>>

export class StatsService {
  private readonly sources: StatsSource[] = []

  constructor(
    private readonly db: Db,
    private readonly self: { code: string; name: string },
    private readonly days: () => WorkingDays,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async names(): Promise<Record<string, string>> {
    const rows = await this.db.query<{ code: string; name: string }>('SELECT code, name FROM units')
    return { ...Object.fromEntries(rows.map((r) => [r.code, r.name])), [this.self.code]: this.self.name }
  }

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
    const under = q.under ?? this.self.code
    if (!isInSubtree(under, this.self.code)) throw new ApiError('invalid_input', `under: ${under} is not in this node's subtree (${this.self.code})`)
    // This node's own windows count only when the drill-down includes it.
    const merged = under === this.self.code ? await this.ownCounts(q) : new Map<string, StatsCounts>()
    for (const source of this.sources) {
      for (const [k, c] of await source({ ...q, under })) merged.set(k, addCounts(merged.get(k) ?? emptyCounts(), c))
    }
    const total = emptyCounts()
    for (const c of merged.values()) addCounts(total, c)
    const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => toRow(k, c))
    return { from: q.from ?? null, to: q.to ?? null, groupBy: q.groupBy, under, rows, totals: toRow('total', total), names: await this.names() }
  }
}
