/**
 * The case state machine. The status is never a field two replicas can overwrite: every replica
 * folds the same set of events in one total order (Lamport clock, then author code, then event
 * id) and skips — and flags for supervision (电子监察: 流程错误) — any event not allowed at its
 * point. Any delivery order of the same events therefore folds to the same result.
 */
import type { Application, CaseEvent, CaseStatus, EventType, Rectification } from './case.ts'
import { localDate, type WorkingDays } from './calendar.ts'
import { mayAuthor } from './permissions.ts'
import { checkHandlerLevel } from './case-path.ts'
import { applyOpinion, approvalBlocked, dateOpinions, initialOpinions, pendingDepartments, type OpinionState } from './parallel.ts'

/** Which event may follow which status, and where it leads. `resumed` returns to the status the correction interrupted. */
const TRANSITIONS: Record<CaseStatus, Partial<Record<EventType, CaseStatus | 'previous'>>> = {
  // 不予受理 (refused) before acceptance; 不予许可 (denied) is a decision, after it.
  submitted: { accepted: 'accepted', 'correction-requested': 'correction', refused: 'refused', withdrawn: 'withdrawn', transferred: 'submitted' },
  accepted: { 'correction-requested': 'correction', approved: 'approved', denied: 'denied', withdrawn: 'withdrawn', transferred: 'submitted' },
  correction: { resumed: 'previous', withdrawn: 'withdrawn' },
  approved: { delivered: 'delivered' },
  denied: { delivered: 'delivered' },
  delivered: {},
  withdrawn: {},
  refused: {},
}

/**
 * May an event of this type follow this status? (Ratings are checked separately: once, after
 * delivery — the applicant rates what they were handed, 好差评 after 出件.)
 */
export function allowedNext(status: CaseStatus, rated: boolean, owed = 0, rectification: Rectification['status'] | null = null, opinions: readonly OpinionState[] = []): EventType[] {
  let next = Object.keys(TRANSITIONS[status]) as EventType[]
  if (!rated && status === 'delivered') next.push('rated')
  // 容缺: the approval waits until every deferred material is supplied.
  if (owed > 0) next = next.filter((t) => t !== 'approved')
  if (owed > 0 && OPEN.includes(status)) next.push('supplied')
  if (rectification === 'open') next.push('rectified')
  if (rectification === 'replied') next.push('rectification-checked')
  // 并联审批: departments give opinions while accepted; the approval waits for all of them to agree.
  if (status === 'accepted' && pendingDepartments(opinions).length) next.push('opinion')
  if (approvalBlocked(opinions)) next = next.filter((t) => t !== 'approved')
  return next
}

/** 差评整改: a rating of 不满意 (2) or 非常不满意 (1) opens a rectification, due in this many working days. */
export const BAD_RATING = 2
export const RECTIFICATION_DAYS = 15

const OPEN: readonly CaseStatus[] = ['submitted', 'accepted', 'correction']

/** Total order of events: Lamport clock, then author code, then id. */
export function compareEvents(a: CaseEvent, b: CaseEvent): number {
  return a.lamport - b.lamport || (a.author < b.author ? -1 : a.author > b.author ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

export interface Folded {
  status: CaseStatus
  events: CaseEvent[]
  flagged: { eventId: string; reason: string }[]
  acceptedAt: string | null
  completedAt: string | null
  deliveredAt: string | null
  decision: 'approved' | 'denied' | null
  /** Due date (YYYY-MM-DD) once accepted; pushed back by the working days spent in correction. */
  dueDate: string | null
  rating: number | null
  /** Working days the clock stood still for corrections. */
  pausedDays: number
  /** The handler now: the application's, or the target of the last transfer the fold followed. */
  handlerCode: string | null
  /** The handlers in the order the fold followed them (the first is the application's). */
  handlers: string[]
  /** Events skipped because their author was not entitled to them at their point (a subset of `flagged`). */
  unauthorised: string[]
  /** 容缺 materials still owed (the application's deferred ones less those supplied). */
  owed: string[]
  /** 差评整改: opened by a bad rating; replied by the handling unit; closed by a supervisor's check. */
  rectification: Rectification | null
  /** 并联审批: each department's opinion and due date, in the item's order (empty: not 并联). */
  opinions: OpinionState[]
}

/**
 * Folds a case's events (in any order, duplicates by id ignored) into its status and dates.
 * Given the case's origin and handler, an event its author may not take (protocol/permissions.ts
 * `mayAuthor`: a village approving a county's case) is skipped and flagged like any other
 * refused step, so a replica that holds a forged event anyway does not follow it.
 *
 * A transfer (转办, allowed to the handler now, while submitted or accepted) makes its target the
 * handler and returns the case to `submitted`: the competent unit accepts it itself, and the
 * due-date clock is the handler's — it starts at the new acceptance, with the promised days of
 * the item, and the days the case spent at the unit that could not decide it (and any correction
 * pause there) do not count against the new one. Time in all counts toward nothing else: the
 * transfer and its reason stay on the timeline for supervision.
 */
export function foldCase(app: Pick<Application, 'kind' | 'promisedDays'> & Partial<Pick<Application, 'originCode' | 'handlerCode' | 'deferred' | 'parallel'>>, events: readonly CaseEvent[], days: WorkingDays): Folded {
  const seen = new Set<string>()
  const ordered = [...events].filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true))).sort(compareEvents)
  let status: CaseStatus = 'submitted'
  let beforeCorrection: CaseStatus = 'submitted'
  let correctionSince: string | null = null
  const out: Folded = {
    status, events: ordered, flagged: [], acceptedAt: null, completedAt: null, deliveredAt: null, decision: null,
    dueDate: null, rating: null, pausedDays: 0, handlerCode: app.handlerCode ?? null, handlers: app.handlerCode ? [app.handlerCode] : [], unauthorised: [],
    owed: [...new Set(app.deferred?.materials ?? [])], rectification: null, opinions: initialOpinions(app.parallel),
  }
  const route = app.originCode && app.handlerCode ? { originCode: app.originCode, handlerCode: app.handlerCode } : null
  for (const e of ordered) {
    const unauthorised = route && mayAuthor(e.type, e.author, route)
    if (unauthorised) {
      out.flagged.push({ eventId: e.id, reason: unauthorised })
      out.unauthorised.push(e.id)
      continue
    }
    if (e.type === 'rated') {
      if (out.rating !== null) out.flagged.push({ eventId: e.id, reason: 'the case was already rated' })
      else if (status === 'delivered') {
        out.rating = e.rating
        if (e.rating <= BAD_RATING) {
          out.rectification = { status: 'open', openedAt: e.at, dueDate: days.add(localDate(e.at), RECTIFICATION_DAYS), reply: null, closedAt: null }
        }
      } else out.flagged.push({ eventId: e.id, reason: `a rating is given after delivery, not while ${status}` })
      continue
    }
    if (e.type === 'rectified' || e.type === 'rectification-checked') {
      const r = out.rectification
      const want = e.type === 'rectified' ? 'open' : 'replied'
      if (!r || r.status !== want) {
        out.flagged.push({ eventId: e.id, reason: r ? `${e.type} is not allowed while the rectification is ${r.status}` : `${e.type}: no rectification is open (only a rating of 不满意 or 非常不满意 opens one)` })
      } else if (e.type === 'rectified') out.rectification = { ...r, status: 'replied', reply: e.reply }
      else out.rectification = e.passed ? { ...r, status: 'closed', closedAt: e.at } : { ...r, status: 'open' }
      continue
    }
    if (e.type === 'supplied') {
      // 容缺: supplying changes no status; it pays off what is owed, named exactly.
      const notOwed = e.materials.filter((m) => !out.owed.includes(m))
      if (!OPEN.includes(status)) out.flagged.push({ eventId: e.id, reason: `supplied is not allowed while ${status}` })
      else if (notOwed.length) out.flagged.push({ eventId: e.id, reason: `not owed (容缺) on this case: ${notOwed.join('、')}` })
      else out.owed = out.owed.filter((m) => !e.materials.includes(m))
      continue
    }
    if (e.type === 'approved' && out.owed.length) {
      out.flagged.push({ eventId: e.id, reason: `the approval waits for the deferred (容缺) materials: ${out.owed.join('、')}` })
      continue
    }
    // 附件: a file added to the case changes nothing the fold decides (its bytes travel on their own).
    if (e.type === 'attached') continue
    if (e.type === 'opinion') {
      const why = applyOpinion(out.opinions, e, status)
      if (why) out.flagged.push({ eventId: e.id, reason: why })
      continue
    }
    const to: CaseStatus | 'previous' | undefined = TRANSITIONS[status][e.type]
    if (!to) {
      out.flagged.push({ eventId: e.id, reason: `${e.type} is not allowed while ${status}` })
      continue
    }
    const blocked = e.type === 'approved' ? approvalBlocked(out.opinions) : null
    if (blocked) {
      out.flagged.push({ eventId: e.id, reason: blocked })
      continue
    }
    if (e.type === 'transferred' && route) {
      const why = e.to === route.handlerCode ? `the case is already decided at ${e.to}` : checkHandlerLevel(e.to, app.handlerCode!)
      if (why) {
        out.flagged.push({ eventId: e.id, reason: why })
        continue
      }
      route.handlerCode = e.to
      out.handlerCode = e.to
      out.handlers.push(e.to)
      out.acceptedAt = null
      out.pausedDays = 0
      correctionSince = null
      // The new handler's departments give their own opinions.
      out.opinions = initialOpinions(app.parallel)
    }
    if (e.type === 'correction-requested') {
      beforeCorrection = status
      correctionSince = e.at
    }
    if (e.type === 'resumed' && correctionSince && beforeCorrection === 'accepted') {
      out.pausedDays += days.between(localDate(correctionSince), localDate(e.at))
    }
    status = to === 'previous' ? beforeCorrection : to
    if (e.type === 'accepted') out.acceptedAt = e.at
    if (e.type === 'approved' || e.type === 'denied') {
      out.completedAt = e.at
      out.decision = e.type
    }
    if (e.type === 'delivered') out.deliveredAt = e.at
  }
  out.status = status
  if (out.acceptedAt) out.dueDate = days.add(localDate(out.acceptedAt), app.promisedDays + out.pausedDays)
  dateOpinions(out.opinions, out.acceptedAt, out.pausedDays, days)
  return out
}
