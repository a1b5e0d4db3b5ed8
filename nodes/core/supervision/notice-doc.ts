/**
 * The layout of a notice document (督办, protocol/notice.ts): the notice, written once by its
 * issuer, as one JSON value in map `notice`; the target's replies, appended, in array
 * `replies`. Append-only like a case: a reply is never changed, a later one follows it.
 */
import * as Y from 'yjs'
import { NoticeReplySchema, NoticeSchema, signingText, type Notice, type NoticeReply } from '../../../protocol/index.ts'
import type { Trust } from '../trust/trust.ts'

export const noticeDocId = (id: string): string => `notice:${id}`

export function writeNotice(doc: Y.Doc, n: Notice): void {
  doc.getMap('notice').set('notice', n)
}

export function appendReply(doc: Y.Doc, r: NoticeReply): void {
  doc.getArray<NoticeReply>('replies').push([r])
}

export function readNotice(doc: Y.Doc): unknown {
  return doc.getMap('notice').get('notice') ?? null
}

export function readReplies(doc: Y.Doc): unknown[] {
  return doc.getArray('replies').toArray()
}

/** Why `n` is not a notice signed by its issuer, or null. */
export function checkNotice(trust: Trust, n: unknown, activeOnly = false): string | null {
  const p = NoticeSchema.safeParse(n)
  if (!p.success) return `a malformed notice: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`
  const why = trust.checkSigned(p.data.issuer, signingText('notice', p.data), p.data.sig, activeOnly)
  return why && `notice ${p.data.id}: ${why}`
}

/** Why `r` is not a reply to `noticeId` signed by the notice's target, or null. */
export function checkReply(trust: Trust, r: unknown, noticeId: string, target: string, activeOnly = false): string | null {
  const p = NoticeReplySchema.safeParse(r)
  if (!p.success) return `a malformed reply: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`
  if (p.data.noticeId !== noticeId) return `a reply to ${p.data.noticeId} in the document of ${noticeId}`
  if (p.data.author !== target) return `only ${target}, the unit the notice is addressed to, replies to it (not ${p.data.author})`
  const why = trust.checkSigned(target, signingText('notice-reply', p.data), p.data.sig, activeOnly)
  return why && `reply to ${noticeId}: ${why}`
}

/** The notice and the replies this node believes (signatures checked), or null without a good notice. */
export function readVerifiedNotice(doc: Y.Doc, trust: Trust): { notice: Notice; replies: NoticeReply[] } | null {
  const n = readNotice(doc)
  if (!n || checkNotice(trust, n)) return null
  const notice = n as Notice
  const replies = readReplies(doc).filter((r) => !checkReply(trust, r, notice.id, notice.target)) as NoticeReply[]
  return { notice, replies: replies.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)) }
}
