/**
 * 网上预审 (online pre-review): an applicant, from home, names an item of a node's catalogue,
 * their details and the materials they hold; window staff answer at once — 预审通过, or 需补正
 * with everything missing (一次性告知) — and at the window intake starts from it. A pre-review
 * holds personal data and lives in its node's own store only: it is never in a replicated
 * document, so no other node ever sees it (it is not a case until it is taken in).
 */
import { z } from 'zod'
import { ItemCodeSchema } from './catalogue.ts'
import { ApplicantSchema } from './case.ts'

export const PREREVIEW_STATUSES = ['pending', 'passed', 'correction', 'accepted', 'expired'] as const
export type PrereviewStatus = (typeof PREREVIEW_STATUSES)[number]

export const PREREVIEW_STATUS_NAMES_ZH: Record<PrereviewStatus, string> = {
  pending: '待预审', passed: '预审通过', correction: '需补正', accepted: '已受理', expired: '已过期',
}

/** A pre-review not taken in this many days after it was made reads 已过期 (its answer no longer stands). */
export const PREREVIEW_VALID_DAYS = 30
/** Days after which a pre-review is deleted, applicant and all: personal data is kept no longer than it serves (a case taken in keeps its own). */
export const PREREVIEW_KEEP_DAYS = 90

/**
 * The alphabet of the random part: Crockford's base32 (no I, L, O, U), so a number read aloud
 * or copied by hand is not mistaken. 10 characters = 50 bits: with the phone also required to
 * read one, and lookups limited per address and per number, numbers cannot be enumerated.
 */
export const PREREVIEW_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
export const PREREVIEW_RANDOM_LENGTH = 10

/** `<node code>-YS<10 random characters>`, e.g. 511302101201-YS7K3M9QXF2A; any case is read as upper case. */
export const PrereviewNoSchema = z.string().trim().toUpperCase()
  .regex(/^\d{12}-YS[0-9A-HJKMNP-TV-Z]{10}$/, '预审编号格式不对，形如 511302101201-YS7K3M9QXF2A (a pre-review number is <node code>-YS and 10 letters or digits)')

const MaterialName = z.string().trim().min(1, '材料名称不能为空 (a material needs its name)').max(200, '材料名称过长 (a material name has at most 200 characters)')

/** `POST /api/public/prereviews`: what the applicant sends from the public page. */
export const PrereviewInputSchema = z.object({
  itemCode: ItemCodeSchema,
  applicant: ApplicantSchema,
  /** The materials of the item's guide the applicant holds. */
  materials: z.array(MaterialName).max(100, '材料最多 100 项 (at most 100 materials)').default([]),
}, { error: '请提交预审申请：事项、申请人和所持材料 (send the item, the applicant and the materials held)' })
export type PrereviewInput = z.infer<typeof PrereviewInputSchema>

/** The largest body the public route reads: a pre-review is a few hundred bytes; this is generous. */
export const PREREVIEW_MAX_BODY = 16_384

/** `POST /api/prereviews/:no/answer`: staff's answer, given at once. */
export const PrereviewAnswerSchema = z.discriminatedUnion('result', [
  z.object({ result: z.literal('passed'), note: z.string().trim().max(500, '说明不超过 500 字 (a note has at most 500 characters)').optional() }),
  z.object({
    result: z.literal('correction'),
    missing: z.array(MaterialName).min(1, '需补正须列出所缺材料 (name the materials missing)').max(100),
    note: z.string().trim().max(500, '说明不超过 500 字 (a note has at most 500 characters)').optional(),
  }),
], { error: '请选择预审结果：通过或需补正 (result: passed or correction)' })
export type PrereviewAnswer = z.infer<typeof PrereviewAnswerSchema>

/** `GET /api/public/prereviews/:no?phone=`. */
export const PrereviewLookupSchema = z.object({
  no: PrereviewNoSchema,
  phone: z.string().trim().regex(/^(?=(?:\D*\d){5})[0-9+\- ]{5,20}$/, '请填写申请时留的手机号 (the phone given with the pre-review)'),
})

/** What the applicant sees: the answer, and what to bring — nothing of their own details. */
export interface PublicPrereview {
  no: string
  itemCode: string
  itemName: string
  status: PrereviewStatus
  createdAt: string
  answeredAt: string | null
  /** 需补正: every material still to bring (一次性告知). */
  missing: string[]
  note: string | null
  /** 已受理: the case it became. */
  caseId: string | null
  /** The day it expires unless taken in (YYYY-MM-DD, China time). */
  validUntil: string
}

/** What staff see. */
export interface Prereview extends PublicPrereview {
  applicant: z.infer<typeof ApplicantSchema>
  materials: string[]
  answeredBy: string | null
  acceptedAt: string | null
}

/**
 * The answer's check against the item's guide and what the applicant holds: a correction names
 * only materials of the guide and every required one not held (一次性告知: all at once, never
 * one more next time); a pass needs every required material held, or deferrable (容缺).
 * Returns what is wrong, in words for the window, or null.
 */
export function answerProblem(
  item: { materials: readonly { name: string; required: boolean; deferrable?: boolean }[] },
  held: readonly string[],
  answer: PrereviewAnswer,
): string | null {
  const notHeld = item.materials.filter((m) => m.required && !held.includes(m.name))
  if (answer.result === 'passed') {
    const blocking = notHeld.filter((m) => !m.deferrable).map((m) => m.name)
    return blocking.length ? `申请人未持有必需材料，不能预审通过，请选择“需补正”并列明：${blocking.join('、')} (required materials not held: answer 需补正)` : null
  }
  const known = new Set(item.materials.map((m) => m.name))
  const unknown = answer.missing.filter((m) => !known.has(m))
  if (unknown.length) return `这些材料不在本事项的办事指南中：${unknown.join('、')} (not in the item's guide)`
  const left = notHeld.filter((m) => !m.deferrable && !answer.missing.includes(m.name)).map((m) => m.name)
  if (left.length) return `一次性告知须列出全部所缺必需材料，还缺：${left.join('、')} (name every missing required material at once)`
  return null
}
