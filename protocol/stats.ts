/**
 * Statistics: summable counts per key, and the rates every report quotes derived from them.
 * Counts add up across a subtree; rates never do — they are recomputed from the sums.
 * Each case is counted once, at its origin (the window that took it in), so a parent's figures
 * are its own plus the sum of its children's, without double counting.
 *
 * Definitions (also in the README):
 * - accepted: cases accepted (受理) in the period; completed: of those, approved or denied (办结)
 * - completionRate = completed / accepted
 * - onTimeRate = completed on or before the due date / completed
 * - onSpotRate = completed on the working day of acceptance / completed  (现场办结率)
 * - earlyRate = promised cases completed before the due date / promised cases completed
 * - overdue = open (submitted, accepted) past the due date; dueSoon = open, due today or next working day
 * - dailyRate (日结率) = onSpot / accepted: of the cases accepted, the share completed on the day
 *   of acceptance (the sources quote 77.49 %). Unlike onSpotRate it counts against the cases still
 *   open, so a centre that finishes what it finishes fast but leaves the rest scores low.
 * - satisfactionRate = ratings 基本满意 (3) or better / all ratings
 * - crossUnit (异地件): cases decided by a unit other than the window's own ancestor-or-self;
 *   transferred: cases handed on by a transfer (转办) at least once. Both count every case of
 *   the period, accepted or not.
 * - refused (不予受理): cases refused before acceptance, counted on the day they were taken in;
 *   never among the accepted.
 * - deferred (容缺件): cases taken in with deferrable materials owed on a written commitment.
 * - badRatings (差评数) = ratings 不满意 (2) or 非常不满意 (1); each opens a rectification (整改).
 *   rectified: rectifications a supervisor's check closed; rectificationRate (整改率) =
 *   rectified / badRatings; rectOverdue: rectifications not closed past their due date.
 *
 * Two dimensions (`by`): 受理地 (`origin`, the default) counts each case at the window that took
 * it in; 办理地 (`handler`) counts it at the unit that decides it now. Within one dimension each
 * case is counted once, so subtree sums never double count.
 */
import { z } from 'zod'

/**
 * The most one count may be. A statistics row is one unit's cases of one day and one item: a
 * billion is beyond any real figure, and keeps every sum over a subtree (millions of rows) an
 * exact integer in a double, so one huge value cannot make totals lose precision or turn to
 * Infinity.
 */
export const MAX_COUNT = 1_000_000_000

const count = z.number().int().min(0).max(MAX_COUNT)

/**
 * The exact shape of one statistics value, as it travels in statistics documents and is checked
 * at the link and again before it is projected or summed: known keys only (strict), non-negative
 * integer counts, five ratings, and the relations every producer (countCase, the SQL of
 * StatsService.ownCounts) keeps — so a value from a hostile or broken child can neither break an
 * ancestor's dashboard nor show a rate above 100 %.
 */
export const StatsCountsSchema = z.strictObject({
  accepted: count,
  completed: count,
  approved: count,
  denied: count,
  onTime: count,
  onSpot: count,
  promisedCompleted: count,
  early: count,
  overdue: count,
  dueSoon: count,
  ratings: z.array(count).length(5),
  // Absent in values written before 通办 (issue 8): they count as none.
  crossUnit: count.default(0),
  transferred: count.default(0),
  // Absent in values written before the service practices (issue 9): none.
  refused: count.default(0),
  deferred: count.default(0),
  rectified: count.default(0),
  rectOverdue: count.default(0),
}).refine(
  (c) => c.rectified + c.rectOverdue <= c.ratings[0] + c.ratings[1] && c.completed <= c.accepted && c.approved + c.denied === c.completed
    && c.onTime <= c.completed && c.onSpot <= c.completed && c.promisedCompleted <= c.completed && c.early <= c.promisedCompleted,
  { message: 'inconsistent counts: completed ≤ accepted, approved + denied = completed, onTime, onSpot, promisedCompleted ≤ completed, early ≤ promisedCompleted' },
)
export type StatsCounts = z.infer<typeof StatsCountsSchema>

export interface StatsRow extends Omit<StatsCounts, 'onTime' | 'onSpot' | 'promisedCompleted' | 'early'> {
  /** 日结率: completed on the day of acceptance / accepted. */
  dailyRate: number | null
  key: string
  completionRate: number | null
  onTimeRate: number | null
  onSpotRate: number | null
  earlyRate: number | null
  satisfactionRate: number | null
  badRatings: number
  rectificationRate: number | null
}

export const emptyCounts = (): StatsCounts => ({
  accepted: 0, completed: 0, approved: 0, denied: 0, onTime: 0, onSpot: 0,
  promisedCompleted: 0, early: 0, overdue: 0, dueSoon: 0, ratings: [0, 0, 0, 0, 0], crossUnit: 0, transferred: 0,
  refused: 0, deferred: 0, rectified: 0, rectOverdue: 0,
})

/** The value as StatsCounts if it has exactly that shape, else null (never throws). */
export function parseCounts(v: unknown): StatsCounts | null {
  const r = StatsCountsSchema.safeParse(v)
  return r.success ? r.data : null
}

export function addCounts(into: StatsCounts, c: StatsCounts): StatsCounts {
  for (const k of Object.keys(into) as (keyof StatsCounts)[]) {
    if (k === 'ratings') into.ratings = into.ratings.map((n, i) => n + c.ratings[i])
    else into[k] += c[k]
  }
  return into
}

const rate = (n: number, d: number): number | null => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000)

/** The row a report shows, rates rounded to four decimals (null where nothing to divide). */
export function toRow(key: string, c: StatsCounts): StatsRow {
  const rated = c.ratings.reduce((a, b) => a + b, 0)
  return {
    key, accepted: c.accepted, completed: c.completed, approved: c.approved, denied: c.denied,
    overdue: c.overdue, dueSoon: c.dueSoon, ratings: [...c.ratings], crossUnit: c.crossUnit, transferred: c.transferred,
    refused: c.refused, deferred: c.deferred, rectified: c.rectified, rectOverdue: c.rectOverdue,
    badRatings: c.ratings[0] + c.ratings[1], rectificationRate: rate(c.rectified, c.ratings[0] + c.ratings[1]),
    completionRate: rate(c.completed, c.accepted),
    onTimeRate: rate(c.onTime, c.completed),
    onSpotRate: rate(c.onSpot, c.completed),
    dailyRate: rate(c.onSpot, c.accepted),
    earlyRate: rate(c.early, c.promisedCompleted),
    satisfactionRate: rate(c.ratings[2] + c.ratings[3] + c.ratings[4], rated),
  }
}

export const StatsQuerySchema = z.object({
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'from is YYYY-MM-DD').optional(),
  to: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'to is YYYY-MM-DD').optional(),
  groupBy: z.enum(['item', 'day', 'child']).default('item'),
  /** 受理地 (origin: where taken in) or 办理地 (handler: where decided). */
  by: z.enum(['origin', 'handler']).default('origin'),
  /** Drill-down: only the subtree of this descendant (groupBy=child then groups by its children). */
  under: z.string().regex(/^\d{12}$/, 'under is a 12-digit division code').optional(),
})

/** What statistics need of one case: no personal data. */
export interface CaseFigures {
  status: string
  /** How it was completed, whatever happened after (a delivered case was approved or denied). */
  decision: 'approved' | 'denied' | null
  kind: 'instant' | 'promised'
  acceptedAt: string | null
  completedAt: string | null
  dueDate: string | null
  rating: number | null
  crossUnit?: boolean
  transfers?: number
  /** 容缺受理: accepted with materials owed. */
  deferred?: boolean
  /** 差评整改: the rectification a bad rating opened. */
  rectification?: { status: string; dueDate: string } | null
}

/**
 * Adds one case's contribution to `c`, judged on `today` (YYYY-MM-DD, China).
 * `localDate` and `nextWorkingDay` come from the calendar so this stays pure.
 */
export function countCase(
  c: StatsCounts, f: CaseFigures, today: string,
  cal: { localDate(at: string): string; add(date: string, n: number): string },
): void {
  if (f.acceptedAt) c.accepted++
  if (f.completedAt && f.acceptedAt) {
    c.completed++
    if (f.decision === 'denied') c.denied++
    else c.approved++
    const done = cal.localDate(f.completedAt)
    if (f.dueDate && done <= f.dueDate) c.onTime++
    if (done === cal.localDate(f.acceptedAt)) c.onSpot++
    if (f.kind === 'promised') {
      c.promisedCompleted++
      if (f.dueDate && done < f.dueDate) c.early++
    }
  }
  if ((f.status === 'submitted' || f.status === 'accepted') && f.dueDate) {
    if (f.dueDate < today) c.overdue++
    else if (f.dueDate <= cal.add(today, 1)) c.dueSoon++
  }
  if (f.rating && f.rating >= 1 && f.rating <= 5) c.ratings[f.rating - 1]++
  if (f.crossUnit) c.crossUnit++
  if (f.transfers) c.transferred++
  if (f.status === 'refused') c.refused++
  if (f.deferred) c.deferred++
  if (f.rectification?.status === 'closed') c.rectified++
  else if (f.rectification && f.rectification.dueDate < today) c.rectOverdue++
}
