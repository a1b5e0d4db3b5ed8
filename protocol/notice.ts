/**
 * 督办 (a supervision notice): a supervisor at a unit tells a unit of its subtree to deal with a
 * case (or a violation the 电子监察 list shows) by a deadline, and the unit replies (回复).
 *
 * One document per notice, `notice:<issuer>-<target>-<nonce>`: its id names both ends, so every
 * link decides from the id alone that it travels only between the two — down from the issuer to
 * the target, and the reply back up — and that no node beside that line ever holds it. The
 * notice is signed by the issuer's node, each reply by the target's (protocol/trust.ts), so a
 * relaying node can neither forge an order nor answer for the unit. Nothing personal: a case is
 * named by its number.
 */
import { z } from 'zod'
import { InstantSchema } from './instant.ts'
import { CaseIdSchema } from './case.ts'
import { localDate } from './calendar.ts'
import { DivisionCodeSchema, isInSubtree } from './division.ts'
import { WarningTypeSchema } from './supervision.ts'
import { SignatureSchema } from './trust.ts'

const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, '期限的格式是 YYYY-MM-DD (a deadline is YYYY-MM-DD)')

export const NoticeIdSchema = z.string().regex(/^\d{12}-\d{12}-[A-Za-z0-9_-]{8,22}$/, 'a notice number is <issuer code>-<target code>-<8–22 letters>')

/** The two ends of a notice, from its id (null when it is none). */
export function noticeEnds(id: string): { issuer: string; target: string } | null {
  if (!NoticeIdSchema.safeParse(id).success) return null
  return { issuer: id.slice(0, 12), target: id.slice(13, 25) }
}

/** Why `issuer` may not send a notice to `target`, or null: only to a unit of its own subtree. */
export function checkNoticeTarget(issuer: string, target: string): string | null {
  return isInSubtree(target, issuer) ? null : `督办只能发给本级及下辖单位 (a notice goes to a unit of the issuer's subtree): ${target} is not under ${issuer}`
}

/** `POST /api/notices`: what the supervisor writes. */
export const NoticeInputSchema = z.object({
  target: DivisionCodeSchema,
  caseId: CaseIdSchema.optional(),
  type: WarningTypeSchema.optional(),
  text: z.string({ error: '请填写督办内容 (a notice needs its text)' }).trim().min(1, '请填写督办内容 (a notice needs its text)').max(1000),
  deadline: IsoDay,
})
export type NoticeInput = z.infer<typeof NoticeInputSchema>

/** The notice as its document holds it (map `notice`, key `notice`), signed by the issuer's node. */
export const NoticeSchema = z.strictObject({
  id: NoticeIdSchema,
  issuer: DivisionCodeSchema,
  target: DivisionCodeSchema,
  caseId: CaseIdSchema.optional(),
  type: WarningTypeSchema.optional(),
  text: z.string().min(1).max(1000),
  deadline: IsoDay,
  issuedAt: InstantSchema,
  issuedBy: z.string().max(100),
  /** The issuing unit's name, signed with the notice: the target names it even when its directory does not (a county run as its tree's root). */
  issuerName: z.string().max(100).optional(),
  sig: SignatureSchema,
}).refine((n) => n.id.startsWith(`${n.issuer}-${n.target}-`), { message: 'a notice number begins with its issuer and target codes', path: ['id'] })
export type Notice = z.infer<typeof NoticeSchema>

/** `POST /api/notices/:id/reply`. */
export const NoticeReplyInputSchema = z.object({
  text: z.string({ error: '请填写回复内容 (a reply needs its text)' }).trim().min(1, '请填写回复内容 (a reply needs its text)').max(1000),
})

/** A reply (array `replies`, appended), signed by the target's node. */
export const NoticeReplySchema = z.strictObject({
  noticeId: NoticeIdSchema,
  author: DivisionCodeSchema,
  user: z.string().max(100),
  text: z.string().min(1).max(1000),
  at: InstantSchema,
  sig: SignatureSchema,
})
export type NoticeReply = z.infer<typeof NoticeReplySchema>

/** Was the reply (or, without one, is the notice by `today`) past the deadline? */
export function noticeLate(notice: Pick<Notice, 'deadline'>, reply: Pick<NoticeReply, 'at'> | null, today: string): boolean {
  return reply ? localDate(reply.at) > notice.deadline : today > notice.deadline
}
