/**
 * The figures of the units below this node, read from its children's rollups (stats_rollup,
 * migration 020) — and, for a child that sent no rollup for a month (a node older than
 * rollups), from the raw statistics rows of that child's subtree, as before.
 *
 * What a node can answer from what it holds (protocol/stats-rollup.ts): every groupBy for its
 * own subtree and each child's; groupBy=day and groupBy=child for units two and three levels
 * below (a township and a village at the city); groupBy=item below a child is not held (the
 * child's rollup sums its items over its whole subtree): the answer says so in `notHeld`.
 */
import { addCounts, childTowards, emptyCounts, isInSubtree, parseCounts, type StatsCounts } from '../../../protocol/index.ts'
import { buildRollup, edgeRead, levelsBelow, rangeSplit, rawAsRollup, ROLLUP_DEPTH } from '../../../protocol/stats-rollup.ts'
import type { StatsSource } from '../services/stats.ts'
import type { Db } from '../store/db.ts'
import { REJECTED_PREFIX } from './project.ts'

type Dim = 'origin' | 'handler'

/**
 * The descendants whose raw statistics rows still count here: those below a child that has sent
 * no rollup in this dimension (a node older than rollups; an upgraded child re-publishes every
 * month it holds on its first refresh, so one rollup means all its months come as rollups).
 * Found without reading the rows: the distinct units of stats_rows by a skip scan of its
 * primary key (a few index probes at a new city, one per unit at an old one), against the few
 * rows of stats_rollup_docs.
 */
async function rawUnits(db: Db, self: string, dim: Dim, under: string): Promise<string[]> {
  const units = await db.query<{ code: string }>(
    `WITH RECURSIVE u(code) AS (
       SELECT min(node_code) FROM stats_rows
       UNION ALL
       SELECT (SELECT min(node_code) FROM stats_rows WHERE node_code > u.code) FROM u WHERE u.code IS NOT NULL
     ) SELECT code FROM u WHERE code IS NOT NULL`)
  if (!units.length) return []
  const covered = new Set((await db.query<{ child_code: string }>('SELECT DISTINCT child_code FROM stats_rollup_docs WHERE dim = $1', [dim])).map((r) => r.child_code))
  return units.map((u) => u.code).filter((code) => code !== self && isInSubtree(code, under) && !covered.has(childTowards(self, code) ?? ''))
}

/** StatsCounts' numbers, as summed in SQL from stored values (jsonb). */
const FIELDS = ['accepted', 'completed', 'approved', 'denied', 'onTime', 'onSpot', 'promisedCompleted', 'early', 'overdue', 'dueSoon',
  'crossUnit', 'transferred', 'refused', 'deferred', 'rectified', 'rectOverdue'] as const
// float8: a sum of many values each up to MAX_COUNT stays exact in a double and never overflows.
const JSON_SUMS = [
  ...FIELDS.map((f) => `coalesce(sum(s * (counts->>'${f}')::bigint), 0)::float8 AS "${f}"`),
  ...[0, 1, 2, 3, 4].map((i) => `coalesce(sum(s * (counts->'ratings'->>${i})::bigint), 0)::float8 AS r${i}`),
].join(', ')

function countsOfSums(r: Record<string, number | string>): StatsCounts {
  const c = emptyCounts()
  for (const f of FIELDS) c[f] = Number(r[f])
  c.ratings = [0, 1, 2, 3, 4].map((i) => Number(r[`r${i}`]))
  return c
}

const RAW_ROWS = `SELECT node_code, day, item_code, counts FROM stats_rows
  WHERE node_code = ANY($1::text[]) AND dim = $2 AND ($3::text IS NULL OR day >= $3) AND ($4::text IS NULL OR day <= $4)`

export function rollupSource(db: Db, self: string): StatsSource {
  return async (q) => {
    const dim: Dim = q.by ?? 'origin'
    const under = q.under
    const rel = levelsBelow(self, under)
    const out = new Map<string, StatsCounts>()
    const add = (k: string, c: StatsCounts) => out.set(k, addCounts(out.get(k) ?? emptyCounts(), c))
    let notHeld: string | undefined

    // 1. Children's rollups.
    const child = under === self ? null : childTowards(self, under)
    const args: unknown[] = [dim, self]
    // What to read, as alternatives each along one index (migration 023): unit rows by their key
    // or their parent (`up`), item rows by child and month — never every unit's rows of a period.
    let wheres: string[]
    // The column the rows are summed by (the answer's row key; '' for the unit's total only).
    let keyOf: string
    // The children that sent rollups (a few rows).
    const children = async () => (await db.query<{ child_code: string }>('SELECT DISTINCT child_code FROM stats_rollup_docs WHERE dim = $1 AND child_code <> $2', [dim, self])).map((r) => r.child_code)
    if (q.groupBy === 'item' && rel >= 2) {
      // Not held by item: the unit's total only (the answer's totals stay right).
      notHeld = 'item'
      wheres = [`kind = 'u' AND key = $${args.push(under)}`]
      keyOf = "''"
    } else if (q.groupBy === 'item') {
      wheres = ["kind = 'i'"]
      keyOf = 'key'
    } else if (q.groupBy === 'day') {
      // One read per unit (a county's children: a few): each along stats_rollup_key_days.
      wheres = (child ? [under] : await children()).map((u) => `kind = 'u' AND key = $${args.push(u)}`)
      keyOf = 'day'
    } else if (!child) {
      wheres = (await children()).map((u) => `kind = 'u' AND key = $${args.push(u)}`)
      keyOf = 'child_code'
    } else if (rel <= ROLLUP_DEPTH) {
      const u = args.push(under)
      wheres = [`kind = 'o' AND key = $${u}`, `kind = 'u' AND up = $${u}`]
      keyOf = 'key'
    } else {
      wheres = [`kind = 'u' AND key = $${args.push(under)}`]
      keyOf = 'key'
    }
    // Item rows are read by child and month (stats_rollup_months, _days); unit rows by their key
    // or parent alone — a unit's key is in one child's rollup only (checkRollupEntry), and a
    // condition on the child or the month would draw the planner (no statistics in PGlite) to
    // an index that leads with the period.
    const items = q.groupBy === 'item' && !notHeld
    const own = `${child && items ? ` AND child_code = $${args.push(child)}` : ''} AND child_code <> $2`
    // Whole months from their month rows; the days of a partial month at either end (groupBy=day: every day).
    const split: ReturnType<typeof rangeSplit> = q.groupBy === 'day' ? { months: null, days: [[q.from ?? '0000', q.to ?? '9999']] } : rangeSplit(q.from, q.to)
    const parts: string[] = []
    // Each read signed (s): an edge of more than half a month is its month's sum minus the other days.
    const monthRows = (where: string, s: number, from: string | null, to: string | null) => parts.push(`SELECT ${keyOf} AS k, ${s} AS s, counts
      FROM stats_rollup WHERE dim = $1 AND ${where}${own} AND day = month
      AND ($${args.push(from)}::text IS NULL OR month >= $${args.length}) AND ($${args.push(to)}::text IS NULL OR month <= $${args.length})`)
    const dayRows = (where: string, s: number, [a, b]: [string, string]) => {
      const months = items ? ` AND month >= $${args.push(a.slice(0, 7))} AND month <= $${args.push(b.slice(0, 7))}` : ''
      parts.push(`SELECT ${keyOf} AS k, ${s} AS s, counts FROM stats_rollup WHERE dim = $1 AND ${where}${own} AND day <> month${months}
        AND day >= $${args.push(a)} AND day <= $${args.push(b)}`)
    }
    let subtracted = false
    for (const where of wheres) {
      if (split.months) monthRows(where, 1, split.months.from, split.months.to)
      for (const [a, b] of split.days) {
        const e = split.months ? edgeRead(a, b) : { days: [a, b] as [string, string] }
        if ('days' in e) dayRows(where, 1, e.days)
        else {
          monthRows(where, 1, e.month, e.month)
          if (e.minus) dayRows(where, -1, e.minus)
          subtracted ||= !!e.minus
        }
      }
    }
    // Checked when projected (project-rollup.ts): summed as they are, in SQL — one row per key
    // comes back, not one per child, day and key.
    const rows = parts.length ? await db.query<Record<string, number | string>>(`SELECT k, ${JSON_SUMS} FROM (${parts.join(' UNION ALL ')}) s GROUP BY k`, args) : []
    for (const r of rows) {
      const c = countsOfSums(r)
      // A key whose counts all fell on the days subtracted was not in the range: no row for it.
      if (subtracted && !FIELDS.some((f) => c[f]) && !c.ratings.some((n) => n)) continue
      add(String(r.k), c)
    }
    const total = out.get('')
    out.delete('')
    const [rej] = await db.query<{ n: number }>(
      `SELECT coalesce(sum(rejected), 0)::int AS n FROM stats_rollup_docs WHERE dim = $1 AND rejected > 0
       AND ($2::text IS NULL OR child_code = $2) AND ($3::text IS NULL OR month >= $3) AND ($4::text IS NULL OR month <= $4)`,
      [dim, child, q.from?.slice(0, 7) ?? null, q.to?.slice(0, 7) ?? null])
    let skipped = Number(rej?.n ?? 0)

    // 2. Raw rows where no rollup stands for them.
    const rawOf = await rawUnits(db, self, dim, under)
    const raw = rawOf.length ? await db.query<{ node_code: string; day: string; item_code: string; counts: unknown }>(RAW_ROWS, [rawOf, dim, q.from ?? null, q.to ?? null]) : []
    let unmarked = 0
    for (const r of raw) {
      const counts = parseCounts(r.counts)
      if (!counts) {
        skipped++
        if (!r.item_code.startsWith(REJECTED_PREFIX)) unmarked++
        continue
      }
      const key = q.groupBy === 'day' ? r.day : q.groupBy === 'child' ? (r.node_code === under ? under : childTowards(under, r.node_code)) : r.item_code
      if (key) add(key, counts)
    }
    if (unmarked) console.warn(`[${self}] statistics: ${unmarked} stored row(s) with malformed counts skipped`)
    // Rows by item come only from raw rows (months no rollup stands for); the rollups' total adds to the totals.
    return { counts: out, skipped, ...(notHeld ? { total, ...(rows.length ? { notHeld } : {}) } : {}) }
  }
}

/**
 * This node's rollup of its subtree for one month: its own counts (`own`, by `day|item`) and
 * each child's rollup rows — or, for a child without one, its subtree's raw rows.
 */
export async function subtreeRollup(db: Db, self: string, month: string, dim: Dim, own: Map<string, StatsCounts>): Promise<Map<string, StatsCounts>> {
  const rows = await db.query<{ child_code: string; kind: string; day: string; key: string; counts: StatsCounts }>(
    `SELECT child_code, kind, day, key, counts FROM stats_rollup
     WHERE dim = $1 AND month = $2 AND day <> month AND child_code <> $3
       AND (kind = 'i' OR key = child_code OR (kind = 'u' AND up = child_code))`,
    [dim, month, self])
  const children = new Map<string, Map<string, StatsCounts>>()
  for (const r of rows) {
    let m = children.get(r.child_code)
    if (!m) children.set(r.child_code, (m = new Map()))
    m.set(`${r.kind}|${r.day}|${r.key}`, r.counts)
  }
  const rawOf = await rawUnits(db, self, dim, self)
  const raw = rawOf.length ? await db.query<{ node_code: string; day: string; item_code: string; counts: unknown }>(RAW_ROWS, [rawOf, dim, `${month}-01`, `${month}-31`]) : []
  const byChild = new Map<string, { unit: string; day: string; item: string; counts: StatsCounts }[]>()
  for (const r of raw) {
    const counts = parseCounts(r.counts)
    const c = childTowards(self, r.node_code)
    if (!counts || !c) continue
    let list = byChild.get(c)
    if (!list) byChild.set(c, (list = []))
    list.push({ unit: r.node_code, day: r.day, item: r.item_code, counts })
  }
  for (const [c, list] of byChild) children.set(c, rawAsRollup(c, list))
  return buildRollup(self, own, children)
}
