/**
 * Statistics rolled up per subtree (issue 11): each node sums its own cases and its children's
 * rollups into one rollup of its whole subtree per month and dimension, and sends only that —
 * and its own raw statistics, for parents that predate rollups — to its parent. An ancestor two
 * levels up never receives a village's raw rows: the city holds its counties' rollups, which
 * carry what its dashboard drills into.
 *
 * A rollup of unit R (`stats:<R>:<month>[:handled]:sum`, map `counts`) holds, per key:
 * - `i|<day>|<item>`: R's whole subtree by day and item (groupBy=item at R's parent, under=R);
 * - `u|<day>|<unit>`: the subtree total of R and of each unit one or two levels below R
 *   (groupBy=day and groupBy=child two levels deep at the parent);
 * - `o|<day>|<unit>`: the own windows of R and of each child of R (a unit's own row beside its
 *   children's in groupBy=child).
 * Counts only, no personal data. Pure: the node (stats/publisher.ts), the simulator
 * (bench/city-sim.ts) and the tests build rollups with the same functions.
 */
import { ItemCodeSchema } from './catalogue.ts'
import { childTowards, isInSubtree, levelOfCode, levelRank, parentCode } from './division.ts'
import { addCounts, emptyCounts, parseCounts, type StatsCounts } from './stats.ts'

export type RollupKind = 'i' | 'u' | 'o'

/**
 * The most keys one rollup document may hold: a county's month is about 30 days × (its items +
 * its townships and villages with cases that day) — tens of thousands. More is a broken or
 * hostile child making its parent store and sum without bound: the whole document is refused.
 */
export const MAX_ROLLUP_KEYS = 100_000

/** How many levels below the rollup's unit `u` keys reach (1: children, 2: grandchildren). */
export const ROLLUP_DEPTH = 2

export const rollupKey = (kind: RollupKind, day: string, key: string): string => `${kind}|${day}|${key}`

export function parseRollupKey(k: string): { kind: RollupKind; day: string; key: string } | null {
  const m = /^([iuo])\|(\d{4}-\d{2}-\d{2})\|(.+)$/.exec(k)
  return m ? { kind: m[1] as RollupKind, day: m[2], key: m[3] } : null
}

/** `stats:<code>:<month>:sum` (by origin) or `…:handled:sum` (by handler). */
export const rollupDocId = (code: string, month: string, dim: 'origin' | 'handler' = 'origin'): string =>
  `stats:${code}:${month}${dim === 'handler' ? ':handled' : ''}:sum`

export function parseRollupDocId(id: string): { nodeCode: string; month: string; dim: 'origin' | 'handler' } | null {
  const m = /^stats:(\d{12}):(\d{4}-\d{2})(:handled)?:sum$/.exec(id)
  return m ? { nodeCode: m[1], month: m[2], dim: m[3] ? 'handler' : 'origin' } : null
}

/** Levels from `ancestor` down to `code` (0 for itself), or -1 when `code` is not in its subtree. */
export function levelsBelow(ancestor: string, code: string): number {
  const a = levelOfCode(ancestor)
  const c = levelOfCode(code)
  if (typeof a !== 'string' || typeof c !== 'string' || !isInSubtree(code, ancestor)) return -1
  return levelRank(c) - levelRank(a)
}

/**
 * Why an entry of `root`'s rollup for `month` is not one (null when it is): the key's day is in
 * the month, its item is an item code, its unit is in root's subtree and no deeper than the
 * rollup reaches, and the value is exactly StatsCounts. A township's rollup can thus name only
 * its own subtree: it cannot add to another township's figures.
 */
export function checkRollupEntry(root: string, month: string, key: string, value: unknown): { reason: string } | { kind: RollupKind; day: string; key: string; counts: StatsCounts } {
  const k = parseRollupKey(key)
  if (!k) return { reason: 'not a rollup key (i|day|item, u|day|unit or o|day|unit)' }
  if (!k.day.startsWith(`${month}-`)) return { reason: `the key's day is not a day of ${month}` }
  if (k.kind === 'i') {
    if (!ItemCodeSchema.safeParse(k.key).success) return { reason: 'the key has no valid item code' }
  } else {
    const below = levelsBelow(root, k.key)
    if (below < 0) return { reason: `unit ${k.key.slice(0, 12)} is not in ${root}'s subtree` }
    if (below > (k.kind === 'u' ? ROLLUP_DEPTH : 1)) return { reason: `unit ${k.key} is deeper below ${root} than a rollup reaches` }
  }
  const counts = parseCounts(value)
  if (!counts) return { reason: 'not exactly StatsCounts' }
  return { ...k, counts }
}

const add = (into: Map<string, StatsCounts>, key: string, c: StatsCounts): void => {
  into.set(key, addCounts(into.get(key) ?? emptyCounts(), c))
}

/**
 * The rollup of `self`'s subtree: its own cases (`own`, keyed `<day>|<item>`) plus each child's
 * rollup (by child code; keys as above). From a child's rollup the parent keeps the item rows,
 * the child's own and subtree rows, and the subtree rows of the child's children (its own
 * grandchildren); deeper rows stay at the child.
 */
export function buildRollup(self: string, own: Map<string, StatsCounts>, children: Map<string, Map<string, StatsCounts>>): Map<string, StatsCounts> {
  const out = new Map<string, StatsCounts>()
  for (const [k, c] of own) {
    const bar = k.indexOf('|')
    const day = k.slice(0, bar)
    add(out, rollupKey('i', day, k.slice(bar + 1)), c)
    add(out, rollupKey('u', day, self), c)
    add(out, rollupKey('o', day, self), c)
  }
  for (const [child, entries] of children) {
    if (parentCode(child) !== self) continue
    for (const [k, c] of entries) {
      const e = parseRollupKey(k)
      if (!e) continue
      if (e.kind === 'i') add(out, k, c)
      else if (e.kind === 'o') {
        if (e.key === child) add(out, k, c)
      } else if (e.key === child) {
        add(out, k, c)
        add(out, rollupKey('u', e.day, self), c)
      } else if (parentCode(e.key) === child) add(out, k, c)
    }
  }
  return out
}

/**
 * What `child`'s rollup would hold, made from raw statistics rows of units in its subtree (a
 * child older than rollups sends its own and its descendants' raw documents instead).
 */
export function rawAsRollup(child: string, rows: Iterable<{ unit: string; day: string; item: string; counts: StatsCounts }>): Map<string, StatsCounts> {
  const out = new Map<string, StatsCounts>()
  for (const r of rows) {
    const below = levelsBelow(child, r.unit)
    if (below < 0) continue
    add(out, rollupKey('i', r.day, r.item), r.counts)
    if (below <= 1) add(out, rollupKey('o', r.day, r.unit), r.counts)
    add(out, rollupKey('u', r.day, child), r.counts)
    for (let u: string | null = child, n = 0; u && n < ROLLUP_DEPTH && u !== r.unit; n++) {
      u = childTowards(u, r.unit)
      if (u) add(out, rollupKey('u', r.day, u), r.counts)
    }
  }
  return out
}

/** The last day of a month `YYYY-MM`. */
export function lastDayOfMonth(month: string): string {
  const [y, m] = month.split('-').map(Number)
  const d = new Date(Date.UTC(y, m, 0)).getUTCDate()
  return `${month}-${String(d).padStart(2, '0')}`
}

const nextMonth = (m: string, n: number): string => {
  const [y, mm] = m.split('-').map(Number)
  const t = y * 12 + (mm - 1) + n
  return `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`
}

/**
 * How a day range reads rollup rows: whole months from their month rows (`fullFrom`…`fullTo`,
 * null for no bound), and the days of at most two partial months at its ends.
 */
export function rangePlan(from?: string, to?: string): { fullFrom: string | null; fullTo: string | null; partial: string[] } {
  const partial: string[] = []
  let fullFrom: string | null = null
  let fullTo: string | null = null
  if (from) {
    const m = from.slice(0, 7)
    if (from.endsWith('-01')) fullFrom = m
    else {
      fullFrom = nextMonth(m, 1)
      partial.push(m)
    }
  }
  if (to) {
    const m = to.slice(0, 7)
    if (to >= lastDayOfMonth(m)) fullTo = m
    else {
      fullTo = nextMonth(m, -1)
      if (!partial.includes(m)) partial.push(m)
    }
  }
  return { fullFrom, fullTo, partial }
}

/**
 * The same plan as day bounds for a table keyed by day beside one keyed by month: whole months
 * (`months`, null when the range holds none; a null bound is open) and at most two closed day
 * ranges for the partial months at its ends. Together they cover each day of the range once.
 */
export function rangeSplit(from?: string, to?: string): { months: { from: string | null; to: string | null } | null; days: [string, string][] } {
  const { fullFrom, fullTo } = rangePlan(from, to)
  if (from && to && (fullFrom! > fullTo! || from > to)) return { months: null, days: from <= to ? [[from, to]] : [] }
  const days: [string, string][] = []
  if (from && !from.endsWith('-01')) days.push([from, lastDayOfMonth(from.slice(0, 7))])
  if (to && to < lastDayOfMonth(to.slice(0, 7))) days.push([`${to.slice(0, 7)}-01`, to])
  return { months: { from: fullFrom, to: fullTo }, days }
}

/**
 * How to read one edge of a rangeSplit (days `a`…`b`, within one month, from its first day or to
 * its last): by its days, or — when they are more than half the month — as the month's sum
 * minus the other days (`minus`, null when none), so no edge reads more than half a month of days.
 */
export function edgeRead(a: string, b: string): { days: [string, string] } | { month: string; minus: [string, string] | null } {
  const month = a.slice(0, 7)
  const last = lastDayOfMonth(month)
  const n = Number(b.slice(8)) - Number(a.slice(8)) + 1
  if (b.slice(0, 7) !== month || n * 2 <= Number(last.slice(8)) || (!a.endsWith('-01') && b !== last)) return { days: [a, b] }
  const day = (d: number) => `${month}-${String(d).padStart(2, '0')}`
  if (a.endsWith('-01')) return { month, minus: b === last ? null : [day(Number(b.slice(8)) + 1), last] }
  return { month, minus: [`${month}-01`, day(Number(a.slice(8)) - 1)] }
}
