/**
 * 电子监察 and 督办 at one node: the supervisor's list of its subtree's warnings (from the watch
 * documents that came up, and its own), notices issued down with the replies that came back,
 * and the unit's inbox of notices addressed to it, with its reply.
 */
import { randomBytes } from 'node:crypto'
import {
  actorLabel, checkNoticeTarget, isInSubtree, localDate, NoticeInputSchema, NoticeReplyInputSchema, noticeLate,
  SupervisionQuerySchema, WARNING_NAMES_ZH, type Notice, type NoticeReply, type WarningType, type WorkingDays,
} from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { SessionUser } from '../services/users.ts'
import type { Db } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'
import { appendReply, noticeDocId, readVerifiedNotice, writeNotice } from './notice-doc.ts'
import { Watcher } from './watcher.ts'

interface NoticeRow {
  id: string; issuer: string; target: string; case_id: string | null; type: string | null; body: string; deadline: string
  issued_at: string; issued_by: string; replies: number; reply_text: string | null; reply_at: string | null; reply_by: string | null
  issuer_name: string | null; target_name: string | null
}

export class SupervisionService {
  /** Keeps this unit's warnings document current (started and closed with the node). */
  readonly watcher: Watcher

  constructor(
    private readonly db: Db,
    private readonly docs: DocStore,
    private readonly trust: Trust,
    days: () => WorkingDays,
    private readonly self: { code: string; name: string },
    private readonly now: () => Date,
  ) {
    this.watcher = new Watcher(db, docs, trust, days, self, now)
  }

  /** The directory's name of a unit; a pinned root it resolved without one is named by its code, so then the stored name (its statistics', its notice's). */
  private unitName(code: string, stored: string | null): string | null {
    if (code === this.self.code) return this.self.name
    const known = this.trust.unit(code)?.name
    return (known && known !== code ? known : null) ?? stored ?? null
  }

  /** The red and yellow cases and violations of this node's subtree, red first, oldest first. */
  async warnings(input: unknown) {
    const q = parseOr400(SupervisionQuerySchema, input, 'supervision query')
    const under = q.under ?? this.self.code
    if (!isInSubtree(under, this.self.code)) throw new ApiError('invalid_input', `under: ${under} 不在本单位辖区内 (is not in this node's subtree, ${this.self.code})`)
    const rows = await this.db.query<{ node_code: string; case_id: string; type: WarningType; item_code: string; item_name: string; level: string; since: string; detail: string | null; unit_name: string | null; notices: number }>(
      `SELECT w.*, u.name AS unit_name,
         (SELECT count(*)::int FROM notices n WHERE n.case_id = w.case_id AND n.issuer = $1) AS notices
       FROM watch_entries w LEFT JOIN units u ON u.code = w.node_code
       WHERE w.node_code LIKE $2 AND ($3::text IS NULL OR w.type = $3) AND ($4::text IS NULL OR w.level = $4)
       ORDER BY (w.level = 'red') DESC, w.since, w.case_id, w.type LIMIT 2000`,
      [this.self.code, prefixOf(under), q.type ?? null, q.level ?? null],
    )
    const warnings = rows.filter((r) => isInSubtree(r.node_code, under)).map((r) => ({
      caseId: r.case_id, itemCode: r.item_code, itemName: r.item_name, unit: r.node_code, unitName: this.unitName(r.node_code, r.unit_name),
      type: r.type, typeName: WARNING_NAMES_ZH[r.type] ?? r.type, level: r.level, since: r.since, detail: r.detail, notices: r.notices,
    }))
    return {
      under, warnings,
      red: warnings.filter((w) => w.level === 'red').length,
      yellow: warnings.filter((w) => w.level === 'yellow').length,
    }
  }

  /** 督办: a supervisor here sends a notice to a unit of this node's subtree. */
  async issue(input: unknown, user: SessionUser): Promise<ReturnType<SupervisionService['view']>> {
    const body = parseOr400(NoticeInputSchema, input, '督办通知 (notice)')
    const bad = checkNoticeTarget(this.self.code, body.target)
    if (bad) throw new ApiError('invalid_input', bad)
    if (!this.trust.unit(body.target) && body.target !== this.self.code) throw new ApiError('invalid_input', `单位 ${body.target} 不在单位目录中 (not a unit of the directory)`)
    const today = localDate(this.now())
    if (body.deadline < today) throw new ApiError('invalid_input', `办理期限不能早于今天 (the deadline ${body.deadline} is before today, ${today})`)
    const id = `${this.self.code}-${body.target}-${randomBytes(9).toString('base64url')}`
    const notice = this.trust.signAs('notice', {
      id, issuer: this.self.code, target: body.target, ...(body.caseId ? { caseId: body.caseId } : {}), ...(body.type ? { type: body.type } : {}),
      text: body.text, deadline: body.deadline, issuedAt: this.now().toISOString(), issuedBy: actorLabel(user.name, user.displayName),
      issuerName: this.self.name.slice(0, 100),
    }) as Notice
    await this.docs.change(noticeDocId(id), (doc) => writeNotice(doc, notice), 'local', { fresh: true })
    await this.docs.durable()
    return this.view(await this.row(id), today)
  }

  /** 回复: the unit a notice is addressed to answers it; the reply goes back up to the issuer. */
  async reply(id: string, input: unknown, user: SessionUser) {
    const body = parseOr400(NoticeReplyInputSchema, input, '督办回复 (reply)')
    const row = await this.row(id)
    if (row.target !== this.self.code) throw new ApiError('forbidden', `督办通知 ${id} 发给 ${this.unitName(row.target, row.target_name) ?? row.target}，由该单位回复 (only the unit it is addressed to replies)`)
    await this.docs.change(noticeDocId(id), (doc) => {
      const held = readVerifiedNotice(doc, this.trust)
      if (!held) throw new ApiError('not_found', `没有督办通知 ${id} (no such notice)`)
      const reply = this.trust.signAs('notice-reply', { noticeId: id, author: this.self.code, user: actorLabel(user.name, user.displayName), text: body.text, at: this.now().toISOString() }) as NoticeReply
      appendReply(doc, reply)
    })
    await this.docs.durable()
    return this.view(await this.row(id), localDate(this.now()))
  }

  /** Notices addressed to this unit (`in`) or issued here (`out`), newest first, with how many await a reply. */
  async list(box: string | undefined) {
    if (box !== undefined && box !== 'in' && box !== 'out') throw new ApiError('invalid_input', 'box 只能是 in（收到的督办）或 out（发出的督办） (box is in or out)')
    const column = box === 'out' ? 'issuer' : 'target'
    const rows = await this.db.query<NoticeRow>(`${SELECT} WHERE n.${column} = $1 ORDER BY n.issued_at DESC LIMIT 500`, [this.self.code])
    const today = localDate(this.now())
    const notices = rows.map((r) => this.view(r, today))
    return { box: box ?? 'in', notices, awaiting: notices.filter((n) => !n.reply).length }
  }

  private async row(id: string): Promise<NoticeRow> {
    const [r] = await this.db.query<NoticeRow>(`${SELECT} WHERE n.id = $1`, [id])
    if (!r) throw new ApiError('not_found', `没有督办通知 ${id} (no such notice at this node)`)
    return r
  }

  private view(r: NoticeRow, today: string) {
    const reply = r.reply_text ? { text: r.reply_text, at: new Date(r.reply_at!).toISOString(), user: r.reply_by } : null
    return {
      id: r.id, issuer: r.issuer, issuerName: this.unitName(r.issuer, r.issuer_name), target: r.target, targetName: this.unitName(r.target, r.target_name),
      caseId: r.case_id, type: r.type, typeName: r.type ? WARNING_NAMES_ZH[r.type as WarningType] ?? r.type : null, text: r.body, deadline: r.deadline,
      issuedAt: new Date(r.issued_at).toISOString(), issuedBy: r.issued_by, replies: r.replies, reply,
      late: noticeLate({ deadline: r.deadline }, reply, today),
    }
  }
}

const SELECT = `SELECT n.*, ui.name AS issuer_name, ut.name AS target_name FROM notices n
  LEFT JOIN units ui ON ui.code = n.issuer LEFT JOIN units ut ON ut.code = n.target`

/** A LIKE pattern narrowing to a subtree: the code up to its level's digits (isInSubtree decides). */
const prefixOf = (code: string): string => `${code.replace(/0+$/, '')}%`
