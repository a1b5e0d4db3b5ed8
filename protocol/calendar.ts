/**
 * Working days (工作日) from the calendar the city publishes: weekends rest unless adjusted to
 * a workday (调休上班), public holidays rest even on weekdays. Time limits (时限) count working
 * days; dates are local to China (UTC+8, no daylight saving), written YYYY-MM-DD.
 */
import type { Calendar } from './catalogue.ts'

const DAY_MS = 86_400_000
const CHINA_OFFSET_MS = 8 * 3_600_000

/** The local (China) date of an instant. */
export function localDate(at: string | Date): string {
  const t = typeof at === 'string' ? Date.parse(at) : at.getTime()
  return new Date(t + CHINA_OFFSET_MS).toISOString().slice(0, 10)
}

function shift(date: string, days: number): string {
  return new Date(Date.parse(date + 'T00:00:00Z') + days * DAY_MS).toISOString().slice(0, 10)
}

/** A lookup built once from the published calendars. */
export class WorkingDays {
  private readonly rest = new Set<string>()
  private readonly work = new Set<string>()

  constructor(calendars: readonly Calendar[] = []) {
    for (const c of calendars) {
      for (const h of c.holidays) this.rest.add(h.date)
      for (const w of c.workdays) this.work.add(w.date)
    }
  }

  isWorkingDay(date: string): boolean {
    if (this.work.has(date)) return true
    if (this.rest.has(date)) return false
    const dow = new Date(date + 'T00:00:00Z').getUTCDay()
    return dow !== 0 && dow !== 6
  }

  /** The n-th working day after `date` (n = 0: `date` itself, or the next working day if it rests). */
  add(date: string, n: number): string {
    let d = date
    if (n === 0) {
      for (let i = 0; i < 60 && !this.isWorkingDay(d); i++) d = shift(d, 1)
      return d
    }
    for (let left = n, guard = 0; left > 0 && guard < 3660; guard++) {
      d = shift(d, 1)
      if (this.isWorkingDay(d)) left--
    }
    return d
  }

  /** Working days in the half-open span (from, to]; 0 when `to` is not after `from`. */
  between(from: string, to: string): number {
    let n = 0
    for (let d = shift(from, 1), guard = 0; d <= to && guard < 3660; d = shift(d, 1), guard++) {
      if (this.isWorkingDay(d)) n++
    }
    return n
  }
}
