/**
 * Keeps this node's own statistics documents current: shortly after its cases change, and
 * every few minutes (overdue and due-soon move with the clock). Also gives the statistics
 * service its descendants' figures, summed from their documents' projected rows.
 */
import { levelOfCode, localDate, type StatsCounts } from '../../../protocol/index.ts'
import { parseRollupDocId, parseRollupKey, rollupDocId } from '../../../protocol/stats-rollup.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Db } from '../store/db.ts'
import { lamportFloor } from '../services/lamport-floor.ts'
import type { StatsService } from '../services/stats.ts'
import { rollupSource, subtreeRollup } from './rollup-source.ts'
import { parseStatsDocId, statsDocId, writeCounts, writeItemNames, writeName } from './stats-doc.ts'

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
      else if (u.docId.startsWith('stats:') && this.rollsUp) {
        // A child's statistics changed: this node's rollup of that month follows.
        const ref = parseRollupDocId(u.docId) ?? parseStatsDocId(u.docId)
        if (ref && ref.nodeCode !== self.code) {
          this.dirtyBelow.add(`${ref.dim}|${ref.month}`)
          this.schedule()
        }
      }
    })
    this.interval = setInterval(() => this.schedule(true), 5 * 60_000)
    this.interval.unref()
    stats.addSource(rollupSource(db, self.code))
  }

  /** A city has no parent to send a rollup to (the province gets its own exchange). */
  private get rollsUp(): boolean {
    return levelOfCode(this.self.code) !== 'city'
  }
  /** `dim|month` whose children's statistics changed since the last refresh. */
  private dirtyBelow = new Set<string>()

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
    const below = this.dirtyBelow
    this.dirtyBelow = new Set()
    const first = this.since === null
    if (first) {
      // First refresh since start: from where the last run's refreshes got to (node_meta), so a
      // restart recomputes what changed while stopped, not a year of months (issue 11: a county
      // of 250,000 cases spent ~8 s of its first seconds here). The open cases' months move
      // with the date only: a restart on the same day need not recompute them.
      const [saved] = await this.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'stats_since'`)
      this.since = saved?.value ?? null
      if (saved && localDate(new Date(saved.value)) === localDate(new Date(now))) withOpen = false
      this.restored = await this.afterRestore(now)
    }
    // Kept until a refresh is through: one that fails writes them all again at the next.
    const restored = this.restored
    if (this.rollsUp && first) {
      // Every month a child sent statistics for since then (all of them without a saved point) may be out of date.
      for (const r of await this.db.query<{ dim: string; month: string }>(
        'SELECT DISTINCT dim, month FROM stats_rollup_docs WHERE $1::timestamptz IS NULL OR changed_at >= $1', [this.since])) below.add(`${r.dim}|${r.month}`)
      // Without a saved point, also every month of raw statistics from below (children older than
      // rollups): once this node publishes a rollup, its parent reads only rollups from it.
      if (this.since === null) {
        for (const r of await this.db.query<{ dim: string; month: string }>('SELECT DISTINCT dim, month FROM stats_rows WHERE node_code <> $1', [this.self.code])) below.add(`${r.dim}|${r.month}`)
      }
    }
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
      const months = new Set(dirty.map((d) => d.month))
      for (const k of below) if (k.startsWith(`${dim}|`)) months.add(k.slice(dim.length + 1))
      for (const m of restored ?? []) months.add(m)
      for (const month of months) {
        const counts = await this.stats.ownCounts({ groupBy: 'day|item', from: `${month}-01`, to: `${month}-31`, by: dim })
        const items = await this.stats.itemNames([...new Set([...counts.keys()].map((k) => k.slice(k.indexOf('|') + 1)))])
        await this.docs.change(statsDocId(this.self.code, month, dim), (doc) => {
          writeCounts(doc, counts, this.generation)
          writeName(doc, this.self.name)
          writeItemNames(doc, new Map(Object.entries(items)))
        })
        if (this.rollsUp) await this.publishRollup(month, dim, counts)
      }
    }
    this.since = now
    await this.db.query(`INSERT INTO node_meta (key, value) VALUES ('stats_since', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [now])
    if (restored) {
      this.restored = null
      await this.db.query(`INSERT INTO node_meta (key, value) VALUES ('stats_generation', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [String(this.generation)])
    }
  }

  /** The generation this node writes its statistics in (stats-doc.ts): its restore's Lamport floor, 0 if never restored. */
  private generation = 0
  /** Months to write again in a new generation after a restore (until a refresh is through), or null. */
  private restored: Set<string> | null = null

  /**
   * After a restore (a Lamport floor not yet written as a generation), the months to write again
   * in the new generation: every month this node holds a statistics document of, and every month
   * since its last refresh before the backup (`stats_since`, restored with it) — the documents
   * it wrote after the backup are at its parent only, and it cannot know their months otherwise.
   * Null when there is nothing to do.
   */
  private async afterRestore(now: string): Promise<Set<string> | null> {
    this.generation = await lamportFloor(this.db)
    if (!this.generation) return null
    const [done] = await this.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'stats_generation'`)
    if (done && Number(done.value) >= this.generation) return null
    const prefix = `stats:${this.self.code}:`
    // A range on the index (doc_id, seq): ';' follows ':'.
    const held = await this.db.query<{ doc_id: string }>('SELECT DISTINCT doc_id FROM doc_updates WHERE doc_id >= $1 AND doc_id < $2', [prefix, `stats:${this.self.code};`])
    const months = new Set<string>()
    for (const { doc_id } of held) {
      const ref = parseStatsDocId(doc_id) ?? parseRollupDocId(doc_id)
      if (ref?.nodeCode === this.self.code) months.add(ref.month)
    }
    const last = localDate(new Date(now)).slice(0, 7)
    let m = (this.since ? localDate(new Date(this.since)) : last).slice(0, 7)
    // At most ten years of months (a backup older than that is a new node's worth of statistics).
    for (let i = 0; i < 120 && m <= last; i++) {
      months.add(m)
      const [y, mo] = m.split('-').map(Number)
      m = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`
    }
    console.error(`[${this.self.code}] statistics: restored from a backup — writing ${months.size} month(s) again as generation ${this.generation}, above what the parent holds of before the restore`)
    return months
  }

  /** Database time of the last refresh's start: cases updated since are in dirty months. */
  private since: string | null = null

  /**
   * Writes this node's rollup of its subtree for the month (protocol/stats-rollup.ts): its own
   * counts and its children's rollups, with the names of the units and items it counts.
   */
  private async publishRollup(month: string, dim: 'origin' | 'handler', own: Map<string, StatsCounts>): Promise<void> {
    const rollup = await subtreeRollup(this.db, this.self.code, month, dim, own)
    const units = new Set<string>()
    const itemCodes = new Set<string>()
    for (const k of rollup.keys()) {
      const e = parseRollupKey(k)
      if (e?.kind === 'i') itemCodes.add(e.key)
      else if (e) units.add(e.key)
    }
    const names = await this.stats.names()
    const items = await this.stats.itemNames([...itemCodes])
    await this.docs.change(rollupDocId(this.self.code, month, dim), (doc) => {
      writeCounts(doc, rollup, this.generation)
      writeName(doc, this.self.name)
      writeItemNames(doc, new Map(Object.entries(items)))
      writeItemNames(doc, new Map([...units].filter((u) => names[u]).map((u) => [u, names[u]])), 'names')
    })
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    clearInterval(this.interval)
    await this.running
  }
}
