/**
 * The public progress lookup (办件进度查询): what an applicant learns with the case number and
 * the phone given at intake — the status in the words of the item, the due date, what to bring
 * when a correction is asked for (一次性告知), what is still owed under 容缺受理 and by when, and
 * why a case was refused or denied. Never the applicant's name, id number or materials list.
 *
 * The same answer travels over the link when a node higher up (the city's site) is asked about
 * a case it does not hold: the question goes down towards the window that took it in (the case
 * number begins with its code) until a node on the case's path answers. Pure: the node builds
 * it from its case view, the link checks answers against the schema, the page shows it.
 */
import { z } from 'zod'
import { CASE_STATUSES, CaseIdSchema, type CaseView } from './case.ts'
import { DivisionCodeSchema } from './division.ts'
import { RESULT_KINDS } from './outcomes.ts'

const Text = z.string().max(1000)
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/)

export const PublicProgressSchema = z.object({
  id: CaseIdSchema,
  itemName: z.string().max(200),
  status: z.enum(CASE_STATUSES),
  dueDate: Day.nullable(),
  /** The item's kind of result, for the words of its outcome (protocol/outcomes.ts). */
  resultKind: z.enum(RESULT_KINDS),
  /** Who decides it now, by name (the code when no name is known). */
  handlerName: z.string().max(200),
  /** While awaiting correction (待补正): the materials to bring and the clerk's note. */
  correction: z.object({ materials: z.array(z.string().max(200)).max(50), note: Text.nullable() }).nullable(),
  /** 容缺受理: materials still owed and the day promised; null when nothing is owed. */
  owed: z.object({ materials: z.array(z.string().max(200)).max(50), deadline: Day }).nullable(),
  /** The reason of a 不予受理 or a denial, in the decider's words; null otherwise. */
  reason: Text.nullable(),
  /** May the applicant rate it on this page now: delivered, not yet rated, and this node is the window that took it in. */
  ratable: z.boolean(),
  rated: z.boolean(),
  /** The node that answered (the window, or a unit on the case's path below the one asked). */
  answeredBy: DivisionCodeSchema,
})
export type PublicProgress = z.infer<typeof PublicProgressSchema>

/** What a lookup needs of the case's item and of this node. */
export interface ProgressContext {
  itemName: string
  resultKind: (typeof RESULT_KINDS)[number]
  handlerName: string
  /** The node answering: only the window that took the case in takes the applicant's rating. */
  nodeCode: string
}

/** The progress of a case as the public may see it. */
export function progressOf(view: CaseView, at: ProgressContext): PublicProgress {
  const last = <T extends CaseView['events'][number]['type']>(type: T) => [...view.events].reverse().find((e) => e.type === type) as Extract<CaseView['events'][number], { type: T }> | undefined
  const corr = view.status === 'correction' ? last('correction-requested') : undefined
  const reasonEvent = view.status === 'refused' ? last('refused') : view.status === 'denied' || (view.status === 'delivered' && last('denied')) ? last('denied') : undefined
  const rated = view.rating !== null
  return {
    id: view.id,
    itemName: at.itemName,
    status: view.status,
    dueDate: view.dueDate,
    resultKind: at.resultKind,
    handlerName: at.handlerName,
    correction: corr ? { materials: corr.materials, note: corr.note ?? null } : null,
    owed: view.owed.length && view.deferred ? { materials: view.owed, deadline: view.deferred.deadline } : null,
    reason: reasonEvent?.reason ?? null,
    rated,
    ratable: !rated && view.status === 'delivered' && view.originCode === at.nodeCode,
    answeredBy: at.nodeCode,
  }
}

/**
 * A question one node asks its child over the link (the `ask` frame's JSON body). `phoneHash`
 * is `phoneKey(caseId, phone)` computed by the asker: the digits do not travel through the
 * nodes in between, which need not hold them.
 */
export const LinkAskSchema = z.object({
  kind: z.literal('progress'),
  caseId: CaseIdSchema,
  phoneHash: z.string().regex(/^[0-9a-f]{64}$/, 'phoneHash is 64 hex digits (SHA-256)'),
})
export type LinkAsk = z.infer<typeof LinkAskSchema>

/** The answer (the `answer` frame's JSON body): found, not found, or the holder could not be reached. */
export const LinkAnswerSchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('found'), progress: PublicProgressSchema }),
  z.object({ outcome: z.literal('not-found') }),
  z.object({ outcome: z.literal('unreachable'), unit: DivisionCodeSchema }),
  z.object({ outcome: z.literal('limited'), retryAfterSeconds: z.number().int().min(1).max(86_400) }),
])
export type LinkAnswer = z.infer<typeof LinkAnswerSchema>

/** The text hashed for `phoneHash`: the case number and the phone's digits (so "138 0000-0000" is "13800000000"). */
export const phoneKeyText = (caseId: string, phone: string): string => `${caseId}:${phone.replace(/\D/g, '')}`
