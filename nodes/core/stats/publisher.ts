/**
 * Keeps this node's own statistics documents current: shortly after its cases change, and
 * every few minutes (overdue and due-soon move with the clock). Also gives the statistics
 * service its descendants' figures, summed from their documents' projected rows.
 */
import { addCounts, childTowards, emptyCounts, isInSubtree, parseCounts, type StatsCounts } from '../../../protocol/index.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Db } from '../store/db.ts'
import type { StatsService, StatsSource } from '../services/stats.ts'
import { REJECTED_PREFIX } from './project.ts'
import { statsDocId, writeCounts, writeItemNames, writeName } from './stats-doc.ts'

export class StatsPublisher {
  private timer: NodeJS.Timeout | null = null
  private interval: NodeJS.Timeout
  private running: Promise<void> = Promise.resolve()
  private closed = false

  constructor(
    private readonly db: Db,
    private readonly docs: DocStore,
    private readonly stats: StatsService,
    private readonly self: { code: string; name: string },
    // Not sooner: a refresh reads the month's cases, and intake comes in bursts.
    private readonly delayMs = 1_500,
  ) {
    docs.on('update', (u) => {
      if (u.docId.startsWith('case:')) this.schedule()
    })
    this.interval = setInterval(() => this.schedule(true), 5 * 60_000)
    this.interval.unref()
    stats.addSource(this.descendants)
  }

  schedule(withOpen = false): void {
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.running.then(() => this.refresh(withOpen)).catch((e) => console.error(`[${this.self.code}] statistics refresh failed:`, e))
    }, this.delayMs)
  }

  /**
   * Recomputes the months whose cases changed since the last refresh, and those with open cases
   * (overdue and due-soon move with the clock), and writes the documents that changed.
   */
  async refresh(withOpen = false): Promise<void> {
    const [{ now }] = await this.db.query<{ now: string }>('SELECT now()::text AS now')
    for (const dim of ['origin', 'handler'] as const) {
      // The months whose rollup rows changed since (a trigger keeps them, migration 015: a case
      // this node transferred away changes its old handler's row too, so that month drops it
      // here), and those with open cases: never a pass over every case.
      const column = dim === 'origin' ? 'origin_code' : 'handler_code'
      const dirty = await this.db.query<{ month: string }>(
        `SELECT substr(day, 1, 7) AS month FROM case_rollup WHERE dim = $4 AND unit_code = $1 AND ($2::timestamptz IS NULL OR changed_at >= $2)
         UNION SELECT substr(stat_day, 1, 7) FROM cases
         WHERE $3 AND (status IN ('submitted', 'accepted') OR rect_status IN ('open', 'replied')) AND ${column} = $1`,
        [this.self.code, this.since, withOpen, dim],
      )
      for (const { month } of dirty) {
        const counts = await this.stats.ownCounts({ groupBy: 'day|item', from: `${month}-01`, to: `${month}-31`, by: dim })
        const items = await this.stats.itemNames([...new Set([...counts.keys()].map((k) => k.slice(k.indexOf('|') + 1)))])
        await this.docs.change(statsDocId(this.self.code, month, dim), (doc) => {
          writeCounts(doc, counts)
          writeName(doc, this.self.name)
          writeItemNames(doc, new Map(Object.entries(items)))
        })
      }
    }
    this.since = now
  }

  /** Database time of the last refresh's start: cases updated since are in dirty months. */
  private since: string | null = null

  /**
   * Sums of every descendant's statistics, grouped as asked. A stored row whose counts are not
   * exactly StatsCounts — a marker the projection left for a refused value, or a row stored
   * before values were checked — is skipped and counted, never summed: one bad row must not
   * break (or skew) every ancestor's dashboard.
   */
  private descendants: StatsSource = async (q) => {
    const rows = await this.db.query<{ node_code: string; day: string; item_code: string; counts: unknown }>(
      `SELECT node_code, day, item_code, counts FROM stats_rows
       WHERE node_code <> $1 AND dim = $4 AND ($2::text IS NULL OR day >= $2) AND ($3::text IS NULL OR day <= $3)`,
      [this.self.code, q.from ?? null, q.to ?? null, q.by ?? 'origin'],
    )
    const out = new Map<string, StatsCounts>()
    let skipped = 0
    let unmarked = 0
    for (const r of rows) {
      if (!isInSubtree(r.node_code, q.under)) continue
      const counts = parseCounts(r.counts)
      if (!counts) {
        skipped++
        if (!r.item_code.startsWith(REJECTED_PREFIX)) unmarked++
        continue
      }
      const key = q.groupBy === 'day' ? r.day : q.groupBy === 'child' ? (r.node_code === q.under ? q.under : childTowards(q.under, r.node_code)) : r.item_code
      if (!key) continue
      out.set(key, addCounts(out.get(key) ?? emptyCounts(), counts))
    }
    // Markers were logged when projected; a bad row without one came from elsewhere: say so.
    if (unmarked) console.warn(`[${this.self.code}] statistics: ${unmarked} stored row(s) with malformed counts skipped`)
    return { counts: out, skipped }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    clearInterval(this.interval)
    await this.running
  }
}
