/**
 * 电子监察 (electronic supervision): what is wrong with a case, found from its fold, the
 * catalogue item, the calendar and the time — pure, so the handling node that publishes its
 * warnings and any test compute the same answer.
 *
 * A warning names the case by number, item and unit only: it travels up the tree to every
 * ancestor's supervisor (the `watch:<code>` document), where personal data must never go.
 *
 * Thresholds (yellow 黄牌 = warning, red 红牌 = breach), in working days of the calendar:
 * - 超期 (overdue): an accepted case, not in correction (the clock stops there), is yellow from
 *   the working day before its due date and red from the day after it — the statistics'
 *   dueSoon and overdue (protocol/stats.ts).
 * - 超时未受理 (not accepted in time): a case taken in (or transferred, or resumed after a
 *   correction before acceptance) and not accepted is yellow once one working day has passed and
 *   red after two. The sources quote time limits for handling (承诺时限) but none for acceptance;
 *   the windows accept on the spot (当场受理) or by the next working day, so the second
 *   working day without acceptance is a breach.
 * - 流程异常 (wrong process): every event the fold refused (protocol/state-machine.ts `flagged`);
 *   red when its author was not entitled to it or its signature failed (`unauthorised`, or not
 *   among the fold's events at all), yellow for a step refused at its point in the order (two
 *   windows acting concurrently), which needs a look but is no one's fault by itself.
 * - 违规受理 (acceptance outside the rules): accepted while a required material of the item (at
 *   the version taken in) was neither brought nor deferred on a 容缺 commitment: red.
 * - 整改超期 (rectification overdue): a 差评整改 not closed is yellow from the working day before
 *   its due date and red after it (the statistics' rectOverdue).
 */
import { z } from 'zod'
import type { Application, CaseStatus } from './case.ts'
import { CaseIdSchema } from './case.ts'
import { ItemCodeSchema, type CatalogueItem } from './catalogue.ts'
import { localDate, type WorkingDays } from './calendar.ts'
import { checkMaterials } from './deferral.ts'
import { DivisionCodeSchema } from './division.ts'
import type { Folded } from './state-machine.ts'

export const WARNING_TYPES = ['overdue', 'not-accepted', 'flow', 'irregular-acceptance', 'rect-overdue'] as const
export type WarningType = (typeof WARNING_TYPES)[number]
export const WarningTypeSchema = z.enum(WARNING_TYPES)

export const WARNING_NAMES_ZH: Record<WarningType, string> = {
  overdue: '超期', 'not-accepted': '超时未受理', flow: '流程异常', 'irregular-acceptance': '违规受理', 'rect-overdue': '整改超期',
}

export const WARNING_LEVELS = ['yellow', 'red'] as const
export type WarningLevel = (typeof WARNING_LEVELS)[number]

const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')

/**
 * One warning as it travels up in a `watch:<unit>` document: no applicant, no materials held,
 * nothing personal. Strict: a hostile child cannot smuggle fields up to the city.
 */
export const WarningSchema = z.strictObject({
  caseId: CaseIdSchema,
  itemCode: ItemCodeSchema,
  itemName: z.string().max(200),
  /** The handling unit that publishes the warning (the document's unit). */
  unit: DivisionCodeSchema,
  type: WarningTypeSchema,
  level: z.enum(WARNING_LEVELS),
  /** The local day the warning began. */
  since: IsoDay,
  /** What the fold refused, or which materials were missing (no personal data). */
  detail: z.string().max(300).optional(),
})
export type Warning = z.infer<typeof WarningSchema>

/** The key of a warning in its unit's watch document: one per case and type. */
export const warningKey = (w: Pick<Warning, 'caseId' | 'type'>): string => `${w.caseId}|${w.type}`

export interface DetectInput {
  app: Pick<Application, 'id' | 'itemCode' | 'itemVersion' | 'materials' | 'deferred' | 'createdAt'>
  folded: Pick<Folded, 'status' | 'events' | 'flagged' | 'unauthorised' | 'acceptedAt' | 'dueDate' | 'rectification' | 'handlerCode'>
  /** The item as the catalogue holds it (its name; its materials when the version matches). */
  item: Pick<CatalogueItem, 'name' | 'version' | 'materials'> | null
  /** The unit publishing (the handler now). */
  unit: string
  today: string
  days: WorkingDays
}

const nextDay = (d: string): string => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)

/** The last working day before `date` (or `date` itself when nothing works in the 60 days before). */
function workingDayBefore(days: WorkingDays, date: string): string {
  let d = date
  for (let i = 0; i < 60; i++) {
    d = new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10)
    if (days.isWorkingDay(d)) return d
  }
  return date
}

const OPEN: readonly CaseStatus[] = ['submitted', 'accepted', 'correction']

/**
 * Yellow from `yellowFrom`, red from `redFrom` (local days); also the days ahead on which the
 * answer changes by time alone, so the publisher re-checks the case then and never scans.
 */
function byDeadline(today: string, yellowFrom: string, redFrom: string, floor: string): { level: WarningLevel; since: string } | null {
  if (today >= redFrom) return { level: 'red', since: redFrom }
  if (today >= yellowFrom) return { level: 'yellow', since: yellowFrom < floor ? floor : yellowFrom }
  return null
}

/** The warnings of one case on `today`, and the next day they may change without the case changing. */
export function detectWarnings(input: DetectInput): { warnings: Warning[]; nextCheck: string | null } {
  const { app, folded: f, item, unit, today, days } = input
  const warnings: Warning[] = []
  const future: string[] = []
  const base = { caseId: app.id, itemCode: app.itemCode, itemName: (item?.name ?? app.itemCode).slice(0, 200), unit }
  const push = (type: WarningType, hit: { level: WarningLevel; since: string } | null, detail?: string) => {
    if (hit) warnings.push({ ...base, type, ...hit, ...(detail ? { detail: detail.slice(0, 300) } : {}) })
  }
  const timed = (type: WarningType, yellowFrom: string, redFrom: string, floor: string) => {
    push(type, byDeadline(today, yellowFrom, redFrom, floor))
    for (const d of [yellowFrom, redFrom]) if (d > today) future.push(d)
  }

  if (f.status === 'accepted' && f.dueDate && f.acceptedAt) {
    timed('overdue', workingDayBefore(days, f.dueDate), nextDay(f.dueDate), localDate(f.acceptedAt))
  }
  if (f.status === 'submitted') {
    // The clock of acceptance starts at intake, or at the step that put the case back in the queue.
    let start = app.createdAt
    for (const e of f.events) {
      const refused = f.flagged.some((x) => x.eventId === e.id)
      if (!refused && (e.type === 'transferred' || e.type === 'resumed') && e.at > start) start = e.at
    }
    const day = localDate(start)
    timed('not-accepted', days.add(day, 1), days.add(day, 2), day)
  }
  if (f.flagged.length) {
    const at = new Map(f.events.map((e) => [e.id, e.at]))
    const red = f.flagged.some((x) => f.unauthorised.includes(x.eventId) || !at.has(x.eventId))
    const since = f.flagged.map((x) => localDate(at.get(x.eventId) ?? app.createdAt)).sort()[0]
    const detail = f.flagged.map((x) => x.reason).join('；')
    push('flow', { level: red ? 'red' : 'yellow', since }, `${f.flagged.length} 个操作被拒绝 (refused steps): ${detail}`)
  }
  if (f.acceptedAt && item && item.version === app.itemVersion) {
    const { missing } = checkMaterials({ name: item.name, materials: item.materials }, app.materials, app.deferred, localDate(app.createdAt))
    if (missing.length) push('irregular-acceptance', { level: 'red', since: localDate(f.acceptedAt) }, `受理时缺少必需材料且无容缺承诺 (accepted without): ${missing.join('、')}`)
  }
  const r = f.rectification
  if (r && r.status !== 'closed') timed('rect-overdue', workingDayBefore(days, r.dueDate), nextDay(r.dueDate), localDate(r.openedAt))

  // A case that is closed can only change by a new event (which re-checks it): no date to wait for.
  const stillTimed = OPEN.includes(f.status) || (r && r.status !== 'closed')
  return { warnings, nextCheck: stillTimed && future.length ? future.sort()[0] : null }
}

/** `GET /api/supervision`: the supervisor's list, filtered. */
export const SupervisionQuerySchema = z.object({
  type: WarningTypeSchema.optional(),
  level: z.enum(WARNING_LEVELS).optional(),
  /** Only this unit's subtree (a drill-down). */
  under: z.string().regex(/^\d{12}$/, 'under is a 12-digit division code').optional(),
})
