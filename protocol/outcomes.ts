/**
 * The words a case's outcome is told in, by the kind of result its item gives (办结的表述): a
 * licence is 准予许可 / 不予许可, a certificate 已出具 / 不予出具, a benefit or public service
 * 已办结 / 不予办理. 不予受理 (refused before acceptance) is the same for every kind. The one
 * table of these words: the UI, the receipt and the public lookup read it.
 */
import { z } from 'zod'
import type { CaseStatus } from './case.ts'

/** What the item gives: a licence (行政许可), a certificate (证明), a benefit or service (公共服务/给付). */
export const RESULT_KINDS = ['licence', 'certificate', 'benefit'] as const
export type ResultKind = (typeof RESULT_KINDS)[number]
/** A catalogue field; absent (as on items written before it): a licence. */
export const ResultKindSchema = z.enum(RESULT_KINDS).optional()

export const RESULT_KIND_NAMES_ZH: Record<ResultKind, string> = { licence: '行政许可', certificate: '证明', benefit: '公共服务' }

type Words = Record<CaseStatus, { zh: string; en: string }>
const COMMON = {
  submitted: { zh: '已提交', en: 'Submitted' },
  accepted: { zh: '已受理', en: 'Accepted' },
  correction: { zh: '待补正', en: 'Awaiting correction' },
  withdrawn: { zh: '已撤回', en: 'Withdrawn' },
  refused: { zh: '不予受理', en: 'Not accepted' },
} as const

export const OUTCOME_WORDS: Record<ResultKind, Words> = {
  licence: { ...COMMON, approved: { zh: '准予许可', en: 'Approved' }, denied: { zh: '不予许可', en: 'Denied' }, delivered: { zh: '已出件', en: 'Delivered' } },
  certificate: { ...COMMON, approved: { zh: '已出具', en: 'Issued' }, denied: { zh: '不予出具', en: 'Not issued' }, delivered: { zh: '已领取', en: 'Collected' } },
  benefit: { ...COMMON, approved: { zh: '已办结', en: 'Done' }, denied: { zh: '不予办理', en: 'Not granted' }, delivered: { zh: '已送达', en: 'Delivered' } },
}

/** The status in the words of the item's kind of result (a licence when the kind is unknown). */
export function outcomeWords(status: CaseStatus, kind: ResultKind | undefined, lang: 'zh' | 'en' = 'zh'): string {
  const w = OUTCOME_WORDS[kind ?? 'licence'] ?? OUTCOME_WORDS.licence
  return w[status]?.[lang] ?? status
}
