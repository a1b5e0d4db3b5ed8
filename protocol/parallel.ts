/**
 * 并联审批 (联办): an item may name several departments of the handling node that give their
 * opinions in parallel, each within its own time limit (working days from acceptance). The
 * application freezes the list at intake, like the promised days, so every replica folds the
 * same opinions and due dates. Pure: the catalogue, the fold, the node and the UI share it.
 *
 * Who decides after a 不同意: the handler, not the fold. The opinions are internal advice of the
 * departments; the 不予许可决定 is the handling unit's own act, issued in its name at the window
 * with the reason and the applicant's rights of appeal. A 政务服务中心 clerk expects to issue it
 * (汇总意见、统一出件), so one 不同意 makes approval impossible and the case page offers only
 * 不予许可 with that department's reason prefilled (`denialReason`). Every reader of decisions
 * (timeline, progress lookup, statistics, supervision) keeps seeing one `denied` event.
 */
import { z } from 'zod'
import type { CaseEvent } from './case.ts'
import { localDate, type WorkingDays } from './calendar.ts'

/** A department's name as staff and items carry it (e.g. 自然资源所). */
export const DepartmentNameSchema = z.string().trim()
  .min(1, '部门名称不能为空 (a department needs a name)')
  .max(40, '部门名称最多 40 个字 (a department name has at most 40 characters)')

/** One department of a 并联 item and its time limit for its opinion. */
export const ParallelDepartmentSchema = z.object({
  department: DepartmentNameSchema,
  days: z.number({ error: '并联部门的办理时限须为工作日数 (days: a number of working days)' }).int('办理时限须为整数个工作日 (days: whole working days)')
    .min(1, '并联部门的办理时限至少 1 个工作日 (days: at least 1 working day)').max(365, '办理时限最多 365 个工作日 (days: at most 365)'),
})
export type ParallelDepartment = z.infer<typeof ParallelDepartmentSchema>

/** The departments of a 并联 item: two or more, each named once (an empty list: none, so a change can remove them). */
export const ParallelSchema = z.array(ParallelDepartmentSchema)
  .max(20, '并联审批最多 20 个部门 (at most 20 departments)')
  .superRefine((list, ctx) => {
    if (list.length === 1) ctx.addIssue({ code: 'custom', path: [], message: '并联审批至少需要两个部门 (parallel approval names at least two departments)' })
    const seen = new Set<string>()
    list.forEach((d, i) => {
      if (seen.has(d.department)) ctx.addIssue({ code: 'custom', path: [i, 'department'], message: `部门 ${d.department} 重复 (named twice)` })
      seen.add(d.department)
    })
  })

/** The `opinion` event's own fields: a department's 同意 / 不同意, with the reason of a 不同意. */
export const OpinionInputSchema = z.object({
  type: z.literal('opinion'),
  department: DepartmentNameSchema,
  agree: z.boolean({ error: '请选择同意或不同意 (agree: true or false)' }),
  reason: z.string().trim().max(500, '理由最多 500 字 (a reason has at most 500 characters)').optional(),
}).refine((o) => o.agree || !!o.reason, { path: ['reason'], message: '不同意须写明理由 (a 不同意 needs its reason)' })

/** Checks a 并联 list against the item's promised days: each limit fits within them. */
export function parallelProblem(parallel: readonly ParallelDepartment[] | undefined, promisedDays: number): { path: (string | number)[]; message: string } | null {
  const i = (parallel ?? []).findIndex((d) => d.days > promisedDays)
  if (i < 0) return null
  const d = parallel![i]
  return { path: ['parallel', i, 'days'], message: `${d.department} 的办理时限 ${d.days} 个工作日超过了事项的承诺时限 ${promisedDays} 个工作日 (a department's limit cannot exceed the item's promised days)` }
}

/** Where one department's opinion stands on a case. */
export interface OpinionState {
  department: string
  days: number
  /** Its opinion is due by (YYYY-MM-DD) once the case is accepted; null before. */
  dueDate: string | null
  /** The opinion that counts (the first), or null: 待出具意见. */
  opinion: { agree: boolean; reason: string | null; at: string; user: string; eventId: string } | null
}

/** The departments' states before any opinion (none when the item is not 并联). */
export function initialOpinions(parallel: readonly ParallelDepartment[] | undefined): OpinionState[] {
  return (parallel ?? []).map((d) => ({ department: d.department, days: d.days, dueDate: null, opinion: null }))
}

/** Departments still to give their opinion. */
export const pendingDepartments = (states: readonly OpinionState[]): string[] => states.filter((s) => !s.opinion).map((s) => s.department)

/** The first 不同意 in the order the opinions counted, if any. */
export function firstDisagreement(states: readonly OpinionState[]): OpinionState | null {
  const against = states.filter((s) => s.opinion && !s.opinion.agree)
  against.sort((a, b) => (a.opinion!.at < b.opinion!.at ? -1 : a.opinion!.at > b.opinion!.at ? 1 : 0))
  return against[0] ?? null
}

/**
 * Applies an opinion event in the fold, at status `status`: null when it counts (and `states`
 * now holds it), else why it is refused (flagged). Opinions are given while the case is accepted,
 * by a department the item names, once: the first counts, later ones are refused.
 */
export function applyOpinion(states: OpinionState[], e: Extract<CaseEvent, { type: 'opinion' }>, status: string): string | null {
  if (status !== 'accepted') return `受理后、办结前才出具部门意见 (an opinion is given while the case is accepted, not while ${status})`
  const s = states.find((x) => x.department === e.department)
  if (!s) return states.length ? `${e.department}不是本事项的并联部门（${states.map((x) => x.department).join('、')}） (not a department of this item)` : '本事项不是并联审批事项，无需部门意见 (this item takes no department opinions)'
  if (s.opinion) return `${e.department}已经出具意见，以第一次为准 (${e.department} has already given its opinion)`
  if (!e.agree && !e.reason) return '不同意须写明理由 (a 不同意 needs its reason)'
  s.opinion = { agree: e.agree, reason: e.reason ?? null, at: e.at, user: e.user, eventId: e.id }
  return null
}

/** Why the case may not be approved yet on its opinions (null: it may). */
export function approvalBlocked(states: readonly OpinionState[]): string | null {
  const no = firstDisagreement(states)
  if (no) return `${no.department}不同意（${no.opinion!.reason}），只能作出不予决定 (a department disagreed: the case can only be denied)`
  const pending = pendingDepartments(states)
  return pending.length ? `待${pending.join('、')}出具意见后方可准予 (the approval waits for the opinions of ${pending.join('、')})` : null
}

/** Sets each department's due date: its working days from acceptance, pushed back like the case's by the days spent in correction. */
export function dateOpinions(states: OpinionState[], acceptedAt: string | null, pausedDays: number, days: WorkingDays): void {
  for (const s of states) s.dueDate = acceptedAt ? days.add(localDate(acceptedAt), s.days + pausedDays) : null
}

/** The reason a denial carries after a 不同意: the department's name and its reason (the clerk may edit it). */
export function denialReason(states: readonly OpinionState[]): string | null {
  const no = firstDisagreement(states)
  return no ? `${no.department}：${no.opinion!.reason}` : null
}

/**
 * May this user record `department`'s opinion? Only window staff of that department (a user's
 * department is set by the node's administrator): null when they may, else why not, in words
 * the user reads.
 */
export function mayGiveOpinion(user: { role: string; department?: string | null }, department: string): string | null {
  if (user.role !== 'staff') return `只有${department}的工作人员可以出具该部门意见 (only staff of ${department} give its opinion)`
  if (!user.department) return `您的账号未设部门，不能出具部门意见；请管理员为您设置部门 (your account has no department: ask an administrator to set it)`
  if (user.department !== department) return `您属于${user.department}，不能出具${department}的意见 (you are staff of ${user.department}, not of ${department})`
  return null
}
