/**
 * The case (办件): an application, its append-only events, and the status folded from them.
 * Personal data (the applicant) lives here and nowhere else: statistics carry counts only.
 */
import { z } from 'zod'
import { InstantSchema } from './instant.ts'
import { DivisionCodeSchema } from './division.ts'
import { ItemCodeSchema } from './catalogue.ts'
import { EventIdSchema, SignatureSchema } from './trust.ts'
import { PHONE_MESSAGE, phoneOk, residentIdProblem } from './people.ts'
import { OpinionInputSchema, ParallelDepartmentSchema, type OpinionState } from './parallel.ts'
import { AttachedInputSchema } from './attachments.ts'

export * from './people.ts'

export const CASE_STATUSES = ['submitted', 'accepted', 'correction', 'approved', 'denied', 'delivered', 'withdrawn', 'refused'] as const
export type CaseStatus = (typeof CASE_STATUSES)[number]
export const CaseStatusSchema = z.enum(CASE_STATUSES)

/** Statuses in which the case is still being handled (counts toward overdue). */
export const OPEN_STATUSES: readonly CaseStatus[] = ['submitted', 'accepted', 'correction']
/** Statuses that mean the matter is complete (办结). */
export const COMPLETED_STATUSES: readonly CaseStatus[] = ['approved', 'denied', 'delivered']

export const STATUS_NAMES_ZH: Record<CaseStatus, string> = {
  submitted: '已提交', accepted: '已受理', correction: '待补正', approved: '准予许可',
  denied: '不予许可', delivered: '已出件', withdrawn: '已撤回', refused: '不予受理',
}

export const EVENT_TYPES = ['accepted', 'correction-requested', 'resumed', 'approved', 'denied', 'delivered', 'withdrawn', 'rated', 'transferred', 'refused', 'supplied', 'rectified', 'rectification-checked', 'opinion', 'attached'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const RATING_NAMES_ZH = ['非常不满意', '不满意', '基本满意', '满意', '非常满意'] as const

export const ID_TYPES = ['resident-id', 'passport', 'hk-macau-permit', 'taiwan-permit', 'other'] as const

/**
 * The applicant as an application stored before intake checked more (any 5–20 digit phone, a
 * resident id number without its check character checked): what replicas accept, so cases
 * already taken in stay valid. New intakes are held to ApplicantSchema.
 */
const ApplicantFields = z.object({
  name: z.string().trim().min(1, 'the applicant needs a name').max(100),
  idType: z.enum(ID_TYPES).default('resident-id'),
  idNumber: z.string().trim().min(1, 'the applicant needs an id number').max(40),
  phone: z.string().trim().regex(/^(?=(?:\D*\d){5})[0-9+\- ]{5,20}$/, '手机号至少 5 位数字 (a phone number has at least 5 digits; 5–20 characters of digits, +, - and spaces)'),
})
export const StoredApplicantSchema = ApplicantFields.superRefine((a, ctx) => {
  if (a.idType === 'resident-id' && !/^\d{17}[\dXx]$/.test(a.idNumber)) {
    ctx.addIssue({ code: 'custom', path: ['idNumber'], message: 'a resident id number (居民身份证号) is 17 digits and a digit or X' })
  }
})

/** The applicant at intake: a resident id number with its GB 11643 check character, a mobile or landline phone (protocol/people.ts). */
export const ApplicantSchema = ApplicantFields.extend({ phone: z.string().trim().refine(phoneOk, PHONE_MESSAGE) }).superRefine((a, ctx) => {
  const why = a.idType === 'resident-id' ? residentIdProblem(a.idNumber) : null
  if (why) ctx.addIssue({ code: 'custom', path: ['idNumber'], message: why })
})
export type Applicant = z.infer<typeof ApplicantSchema>

/** Case ids are readable and unique without coordination: origin code, date, daily sequence. */
export const CaseIdSchema = z.string().regex(/^\d{12}-\d{8}-\d{4,6}$/, 'a case number is <origin code>-<YYYYMMDD>-<sequence>')

/** What the action sends: `POST /api/cases/:id/events`. */
export const EventInputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('accepted'), note: z.string().max(500).optional() }),
  z.object({ type: z.literal('correction-requested'), materials: z.array(z.string().min(1)).min(1, 'name the materials to correct').max(50), note: z.string().max(500).optional() }),
  z.object({ type: z.literal('resumed'), note: z.string().max(500).optional() }),
  z.object({ type: z.literal('approved'), note: z.string().max(500).optional() }),
  /** 不予许可 (or the item's words for it, protocol/outcomes.ts): the decision after acceptance. */
  z.object({ type: z.literal('denied'), reason: z.string().trim().min(1, 'a denial needs its reason').max(500) }),
  /** 不予受理: a case not yet accepted is refused, with the reason the applicant reads. */
  z.object({ type: z.literal('refused'), reason: z.string({ error: '不予受理须写明理由 (a refusal to accept needs its reason)' }).trim().min(1, '不予受理须写明理由 (a refusal to accept needs its reason)').max(500) }),
  z.object({ type: z.literal('delivered'), note: z.string().max(500).optional() }),
  z.object({ type: z.literal('withdrawn'), reason: z.string().max(500).optional() }),
  z.object({ type: z.literal('rated'), rating: z.number().int().min(1).max(5), comment: z.string().max(500).optional() }),
  /** 容缺受理: materials the applicant committed to bring, now supplied (at the window or the handler). */
  z.object({ type: z.literal('supplied'), materials: z.array(z.string().trim().min(1)).min(1, '请选择已补齐的容缺材料 (name the materials supplied)').max(50), note: z.string().max(500).optional() }),
  /** 差评整改: the handling unit's rectification of a bad rating, with its reply to the applicant. */
  z.object({ type: z.literal('rectified'), reply: z.string({ error: '整改须写明整改情况和给申请人的答复 (a rectification needs its reply to the applicant)' }).trim().min(1, '整改须写明整改情况和给申请人的答复 (a rectification needs its reply to the applicant)').max(1000) }),
  /** 差评整改: a supervisor's check of the rectification: passed closes it, not passed reopens it. */
  z.object({ type: z.literal('rectification-checked'), passed: z.boolean({ error: '请选择整改是否通过核查 (passed: true or false)' }), note: z.string().trim().max(500).optional() }),
  /** 并联审批: one department's 同意 / 不同意 (protocol/parallel.ts). */
  OpinionInputSchema,
  /** 附件: a scanned material added to the case (protocol/attachments.ts); the status stays. */
  AttachedInputSchema,
  /** 转办: the handler hands a misrouted case to the competent unit (protocol/case-path.ts). */
  z.object({ type: z.literal('transferred'), to: DivisionCodeSchema, reason: z.string().trim().min(1, 'a transfer needs its reason (转办理由)').max(500) }),
])
export type EventInput = z.infer<typeof EventInputSchema>

/** The largest Lamport clock an event may carry (PostgreSQL's integer). */
export const MAX_LAMPORT = 2 ** 31 - 1

/**
 * An event as stored in the case document: the input plus who, where, when, its Lamport clock,
 * its case, its id (a hash of all that: protocol/trust.ts) and the author node's signature over it.
 */
export const CaseEventSchema = z.intersection(
  EventInputSchema,
  z.object({
    id: EventIdSchema,
    /** At most a 32-bit integer: the stores keep it as one (a larger clock once wedged a link in the projection). */
    lamport: z.number().int().min(1).max(MAX_LAMPORT),
    author: DivisionCodeSchema,
    user: z.string().max(100),
    at: InstantSchema,
    /** The case it was signed for (protocol/event-binding.ts); absent only in events signed before. */
    case: CaseIdSchema.optional(),
    sig: SignatureSchema,
  }),
)
export type CaseEvent = z.infer<typeof CaseEventSchema>

const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')

/**
 * 容缺受理: required materials (marked deferrable in the catalogue) the case was accepted
 * without, the applicant's written commitment (承诺) and the day they will be brought by.
 */
export const DeferredSchema = z.object({
  materials: z.array(z.string().trim().min(1)).min(1, '容缺受理须列出所缺材料 (name the materials deferred)').max(50),
  commitment: z.string().trim().min(1, '容缺受理须有申请人的书面承诺 (a deferral needs the applicant\'s written commitment)').max(1000),
  deadline: IsoDay,
})
export type Deferred = z.infer<typeof DeferredSchema>

/**
 * The application as taken in: written once at intake, never changed, signed by the origin.
 * Its number begins with the origin's code, so no node can take in under another's numbers.
 */
export const ApplicationSchema = z.object({
  id: CaseIdSchema,
  itemCode: ItemCodeSchema,
  itemVersion: z.number().int().min(1),
  applicant: StoredApplicantSchema,
  materials: z.array(z.string()),
  originCode: DivisionCodeSchema,
  handlerCode: DivisionCodeSchema,
  createdAt: InstantSchema,
  createdBy: z.string(),
  /** Frozen at intake so every replica computes the same due date. */
  kind: z.enum(['instant', 'promised']),
  promisedDays: z.number().int().min(0),
  /** 容缺受理: what is still owed at intake (absent: nothing). */
  deferred: DeferredSchema.optional(),
  /** 并联审批: the item's departments and their time limits, frozen at intake (absent: none). */
  parallel: z.array(ParallelDepartmentSchema).max(20).optional(),
  sig: SignatureSchema,
}).refine((a) => a.id.slice(0, 12) === a.originCode, { message: 'a case number begins with the code of the window that took it in (originCode)', path: ['id'] })
export type Application = z.infer<typeof ApplicationSchema>

/** `POST /api/cases`. */
export const CaseIntakeSchema = z.object({
  itemCode: ItemCodeSchema,
  /** The deciding unit (异地办理 / 代收代办); absent: the window's own ancestor at the item's level. */
  handlerCode: DivisionCodeSchema.optional(),
  applicant: ApplicantSchema,
  materials: z.array(z.string().trim().min(1)).max(100).default([]),
  /** 容缺受理: deferrable required materials left out, with the commitment and its deadline. */
  deferred: DeferredSchema.optional(),
})
export type CaseIntake = z.infer<typeof CaseIntakeSchema>

/** A case as the API returns it. */
export interface CaseView extends Application {
  events: CaseEvent[]
  status: CaseStatus
  dueDate: string | null
  /** Events the state machine refused at their point in the order, for supervision. */
  flagged: { eventId: string; reason: string }[]
  rating: number | null
  acceptedAt: string | null
  completedAt: string | null
  /** The unit deciding the case now (the application's handler, or the last transfer's target). */
  currentHandlerCode: string
  /** Every unit that has been its handler, in order: the path is the union of their routes. */
  handlers: string[]
  /** 容缺 materials not yet supplied: the approval waits for them. */
  owed: string[]
  /** 差评整改: the rectification a bad rating opened, if any. */
  rectification: Rectification | null
  /** 并联审批: each department's opinion (null: 待出具意见) and its due date; empty when the item is not 并联. */
  opinions: OpinionState[]
}

/** 差评整改: opened by a rating of 不满意 or 非常不满意, due 15 working days later, at the handling unit. */
export interface Rectification {
  status: 'open' | 'replied' | 'closed'
  openedAt: string
  dueDate: string
  reply: string | null
  closedAt: string | null
}
