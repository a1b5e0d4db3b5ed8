/**
 * The provincial platform exchange (数据汇聚, docs/province-api.md): the records a city or county
 * pushes to the province — 办件信息 at each reportable stage of a case, and 好差评 — and the
 * province's per-record acknowledgements. Pure: the records are built from a case's fold, so
 * every node that holds the same events builds the same record under the same key, and the
 * province's idempotency makes a record pushed twice (a lost acknowledgement, two pushing nodes)
 * count once.
 *
 * What leaves: only what the exchange needs to count and trace a case — never the applicant's
 * name, phone or full id number, the materials, or the free text of reasons and comments, which
 * can hold personal details. The applicant is told by id type and a masked number.
 */
import { z } from 'zod'
import { InstantSchema } from './instant.ts'
import { CaseIdSchema, CaseStatusSchema, ID_TYPES, RATING_NAMES_ZH, type Application } from './case.ts'
import { DivisionCodeSchema } from './division.ts'
import type { CaseRoute } from './case-path.ts'
import { onCasePath } from './case-path.ts'
import type { Folded } from './state-machine.ts'

/** The stages at which the province hears of a case (受理, 不予受理, 办结, 出件/送达, 撤回). */
export const PROVINCE_STAGES = ['accepted', 'refused', 'decided', 'delivered', 'withdrawn'] as const
export type ProvinceStage = (typeof PROVINCE_STAGES)[number]
export const PROVINCE_KINDS = ['case', 'rating'] as const
export type ProvinceKind = (typeof PROVINCE_KINDS)[number]

/** The idempotency key of a record: the same for every node and every attempt (at most 200 characters). */
export const ProvinceKeySchema = z.string().regex(/^[0-9A-Za-z:_-]{1,200}$/, 'a record key is 1–200 letters, digits, ":", "_" or "-"')

const Name = z.string().trim().min(1).max(200)
const UnitRefSchema = z.object({ code: DivisionCodeSchema, name: Name })
const ItemRefSchema = z.object({ code: z.string().min(1).max(64), name: Name })
const At = InstantSchema

/** 办件信息: one case at one stage. */
export const ProvinceCaseRecordSchema = z.object({
  key: ProvinceKeySchema,
  caseNumber: CaseIdSchema,
  stage: z.enum(PROVINCE_STAGES),
  item: ItemRefSchema,
  /** 受理地: the window that took it in. */
  origin: UnitRefSchema,
  /** 办理地: the unit deciding it at this stage. */
  handler: UnitRefSchema,
  applicant: z.object({ idType: z.enum(ID_TYPES), idNumberMasked: z.string().min(1).max(40) }),
  status: CaseStatusSchema,
  /** The outcome once there is one: approved/denied (办结), refused (不予受理), withdrawn (撤回). */
  result: z.enum(['approved', 'denied', 'refused', 'withdrawn']).nullable(),
  submittedAt: At,
  acceptedAt: At.nullable(),
  decidedAt: At.nullable(),
  deliveredAt: At.nullable(),
  /** 承诺办结日 (YYYY-MM-DD), once accepted. */
  dueDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable(),
})
export type ProvinceCaseRecord = z.infer<typeof ProvinceCaseRecordSchema>

/** 好差评: the applicant's rating of a delivered case (the comment stays home: it is free text). */
export const ProvinceRatingRecordSchema = z.object({
  key: ProvinceKeySchema,
  caseNumber: CaseIdSchema,
  item: ItemRefSchema,
  handler: UnitRefSchema,
  rating: z.number().int().min(1).max(5),
  ratingName: z.enum(RATING_NAMES_ZH),
  ratedAt: At,
})
export type ProvinceRatingRecord = z.infer<typeof ProvinceRatingRecordSchema>

/** The most records one request carries (the province may ask for fewer: the pusher's batch size). */
export const PROVINCE_MAX_BATCH = 100

/** `POST {base}/cases` and `POST {base}/ratings`: the body. */
export const ProvinceCaseBatchSchema = z.object({ source: DivisionCodeSchema, records: z.array(ProvinceCaseRecordSchema).min(1).max(PROVINCE_MAX_BATCH) })
export const ProvinceRatingBatchSchema = z.object({ source: DivisionCodeSchema, records: z.array(ProvinceRatingRecordSchema).min(1).max(PROVINCE_MAX_BATCH) })

/**
 * The province's word on one record: taken (`accepted`), already held under this key
 * (`duplicate`, as good as accepted), refused for good (`rejected`: fix the data, then retry by
 * hand) or not taken this time (`error`: retried later).
 */
export const ProvinceAckSchema = z.object({
  key: z.string().max(200),
  status: z.enum(['accepted', 'duplicate', 'rejected', 'error']),
  code: z.string().max(100).optional(),
  message: z.string().max(2000).optional(),
})
export type ProvinceAck = z.infer<typeof ProvinceAckSchema>
export const ProvinceResponseSchema = z.object({ results: z.array(ProvinceAckSchema).max(10 * PROVINCE_MAX_BATCH) })

/** The credentials file (`--province-credentials`) or TONGBAN_PROVINCE_CREDENTIALS: sent as HTTP Basic. */
export const ProvinceCredentialsSchema = z.object({
  clientId: z.string({ error: 'clientId is required (the id the province issued to this unit)' }).min(1, 'clientId is empty').max(200).regex(/^[^:\s]+$/, 'clientId has no colon or space'),
  clientSecret: z.string({ error: 'clientSecret is required (the secret the province issued with the clientId)' }).min(1, 'clientSecret is empty').max(1000),
})
export type ProvinceCredentials = z.infer<typeof ProvinceCredentialsSchema>

/**
 * An id number as the province sees it: the first two and last two characters, the rest starred
 * (5113…1235 → 51**************35). Enough to tell two applicants apart when the province
 * traces a complaint with the unit, too little to identify anyone.
 */
export function maskIdNumber(id: string): string {
  const s = id.trim()
  if (s.length <= 4) return '*'.repeat(s.length)
  return s.slice(0, 2) + '*'.repeat(s.length - 4) + s.slice(-2)
}

/** Names the records carry: the item's and each unit's (the code when this node knows no name). */
export interface ProvinceNames {
  item: string
  unit(code: string): string
}

/** The stages a case has reached, in the order they happen. */
export function stagesOf(f: Pick<Folded, 'status' | 'acceptedAt' | 'decision' | 'deliveredAt'>): ProvinceStage[] {
  const out: ProvinceStage[] = []
  if (f.acceptedAt) out.push('accepted')
  if (f.status === 'refused') out.push('refused')
  if (f.decision) out.push('decided')
  if (f.deliveredAt) out.push('delivered')
  if (f.status === 'withdrawn') out.push('withdrawn')
  return out
}

/**
 * The records a case gives the province now: one per stage reached and the rating — but only
 * at a node on the case's path (a node that should hold it): nothing is built elsewhere. The key
 * names the case, the stage and the handler at it, so an acceptance after a transfer (转办) is a
 * new record while a re-projection of the same stage is the same one.
 */
export function provinceRecords(self: string, app: Application, f: Folded, route: CaseRoute, names: ProvinceNames): { case: ProvinceCaseRecord[]; rating: ProvinceRatingRecord[] } {
  if (!onCasePath(self, route)) return { case: [], rating: [] }
  const handlerCode = f.handlerCode ?? app.handlerCode
  const item = { code: app.itemCode, name: names.item }
  const handler = { code: handlerCode, name: names.unit(handlerCode) }
  const result = f.decision ?? (f.status === 'refused' || f.status === 'withdrawn' ? f.status : null)
  const cases = stagesOf(f).map((stage): ProvinceCaseRecord => ({
    key: `${app.id}:${stage}:${handlerCode}`,
    caseNumber: app.id, stage, item,
    origin: { code: app.originCode, name: names.unit(app.originCode) },
    handler,
    applicant: { idType: app.applicant.idType ?? 'resident-id', idNumberMasked: maskIdNumber(app.applicant.idNumber) },
    status: f.status, result,
    submittedAt: app.createdAt, acceptedAt: f.acceptedAt, decidedAt: f.completedAt, deliveredAt: f.deliveredAt, dueDate: f.dueDate,
  }))
  const rated = f.rating === null ? undefined : f.events.find((e) => e.type === 'rated' && !f.flagged.some((x) => x.eventId === e.id))
  const rating = rated && f.rating !== null ? [{
    key: `${app.id}:rating`, caseNumber: app.id, item, handler,
    rating: f.rating, ratingName: RATING_NAMES_ZH[f.rating - 1], ratedAt: rated.at,
  }] : []
  return { case: cases, rating }
}

/**
 * How long to wait before the next attempt after `attempts` failed ones: exponential from
 * `baseMs`, at most `capMs`, with "equal jitter" (half fixed, half random) so nodes that lost
 * the province together do not come back together. `random` in [0, 1).
 */
export function backoffMs(attempts: number, o: { baseMs: number; capMs: number }, random: number): number {
  const exp = Math.min(o.capMs, o.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30))
  return Math.round(exp / 2 + (exp / 2) * random)
}

/** `POST /api/province/retry`: the failed records to send again (absent: every failed one). */
export const ProvinceRetrySchema = z.object({ keys: z.array(ProvinceKeySchema).min(1).max(1000).optional() })

/** `GET /api/province?state=&page=&pageSize=`: which records to list. */
export const ProvinceListQuerySchema = z.object({
  state: z.enum(['failed', 'pending', 'acked']).default('failed'),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(20),
})
