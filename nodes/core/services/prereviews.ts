/**
 * 网上预审 (protocol/prereview.ts): pre-reviews in this node's own store — a table, never a
 * document, so nothing of them is replicated. Made from the public page, answered by window
 * staff, and turned into a case at the window through the ordinary intake (CaseService.intake):
 * the case is signed and routed exactly as any other.
 */
import { randomInt } from 'node:crypto'
import {
  actorLabel, handlerFor, localDate, mayTakeIn,
  type CaseStatus, type CatalogueItem,
} from '../../../protocol/index.ts'
import {
  answerProblem, PREREVIEW_ALPHABET, PREREVIEW_KEEP_DAYS, PREREVIEW_RANDOM_LENGTH, PREREVIEW_VALID_DAYS, PrereviewAnswerSchema, PrereviewInputSchema,
  type Prereview, type PrereviewStatus, type PublicPrereview,
} from '../../../protocol/prereview.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { TongbanNode } from '../node.ts'
import type { Actor } from './cases.ts'
import { findRequest, isDuplicateKey, type RequestKey } from './request-keys.ts'

/** What a list row shows: no details beyond the applicant's name. */
export interface PrereviewSummary {
  no: string
  itemCode: string
  itemName: string
  applicantName: string
  status: PrereviewStatus
  createdAt: string
  caseId: string | null
}

type IntakeResult = { id: string; status: CaseStatus; handlerCode: string; dueDate: string | null }

const DAY_MS = 86_400_000

/** Intakes in progress by pre-review number: a double click waits for the first and gets its case. */
const taking = new Map<string, Promise<IntakeResult>>()

export class PrereviewService {
  constructor(private readonly node: TongbanNode, private readonly now: () => Date = node.config.now ?? (() => new Date())) {}

  /** Items an applicant may pre-review here: in the catalogue, not retired, taken in at this node. */
  async items(): Promise<CatalogueItem[]> {
    const all = await this.node.catalogue.list()
    return all.filter((i) => typeof handlerFor(this.node.config.code, i) === 'string')
  }

  /** Stores a new pre-review; answers its number. */
  async create(input: unknown): Promise<PublicPrereview> {
    const body = parseOr400(PrereviewInputSchema, input, '预审申请 (pre-review)')
    const item = await this.node.catalogue.get(body.itemCode)
    if (!item || item.retired || typeof handlerFor(this.node.config.code, item) !== 'string') {
      throw new ApiError('invalid_input', `本窗口不受理事项 ${body.itemCode}，请从列表中选择事项 (this window takes no item ${body.itemCode})`, { issues: [{ field: 'itemCode', message: 'not taken in here' }] })
    }
    const known = new Set(item.materials.map((m) => m.name))
    const unknown = body.materials.filter((m) => !known.has(m))
    if (unknown.length) throw new ApiError('invalid_input', `这些材料不在 ${item.name} 的办事指南中：${unknown.join('、')} (not in the item's guide)`, { issues: [{ field: 'materials', message: 'not in the guide' }] })
    const at = this.now().toISOString()
    // Each new pre-review clears those past keeping: the table holds 90 days of them at most.
    await this.node.db.query(`DELETE FROM prereviews WHERE created_at < $1`, [new Date(Date.parse(at) - PREREVIEW_KEEP_DAYS * DAY_MS).toISOString()])
    for (let attempt = 0; ; attempt++) {
      const no = this.newNumber()
      try {
        await this.node.db.query(
          `INSERT INTO prereviews (no, item_code, item_name, applicant, materials, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [no, item.code, item.name, JSON.stringify(body.applicant), JSON.stringify([...new Set(body.materials)]), at],
        )
        // Not journaled (only documents are): make the acknowledged pre-review durable now.
        await this.node.db.checkpoint()
        return publicOf((await this.get(no))!)
      } catch (e) {
        if (!isDuplicateKey(e) || attempt >= 3) throw e // 50 random bits: a clash is all but impossible
      }
    }
  }

  /** The applicant's view, when the phone matches; null for an unknown number or another phone alike. */
  async lookup(no: string, phoneMatches: (stored: string) => boolean): Promise<PublicPrereview | null> {
    const p = await this.get(no)
    return p && phoneMatches(p.applicant.phone) ? publicOf(p) : null
  }

  async get(no: string): Promise<Prereview | null> {
    const [row] = await this.node.db.query<Row>(`SELECT * FROM prereviews WHERE no = $1`, [no])
    return row ? this.toPrereview(row) : null
  }

  /** Newest first; `status` filters by the status as read (已过期 included). */
  async list(q: { status?: PrereviewStatus[]; limit?: number } = {}): Promise<PrereviewSummary[]> {
    const rows = await this.node.db.query<Row>(`SELECT * FROM prereviews ORDER BY created_at DESC LIMIT $1`, [Math.min(q.limit ?? 500, 1000)])
    return rows.map((r) => this.toPrereview(r))
      .filter((p) => !q.status || q.status.includes(p.status))
      .map((p) => ({ no: p.no, itemCode: p.itemCode, itemName: p.itemName, applicantName: p.applicant.name, status: p.status, createdAt: p.createdAt, caseId: p.caseId }))
  }

  /** Staff's answer, once: 预审通过, or 需补正 naming every missing material at once. */
  async answer(no: string, input: unknown, actor: Actor): Promise<Prereview> {
    mayHandle(actor)
    const body = parseOr400(PrereviewAnswerSchema, input, '预审答复 (answer)')
    const p = await this.must(no)
    if (p.status !== 'pending') throw new ApiError('conflict', `此预审已${statusZh(p.status)}，不能再答复 (pre-review ${no} is ${p.status}: it has been answered)`, { status: p.status })
    const item = await this.node.catalogue.get(p.itemCode)
    if (!item) throw new ApiError('not_found', `事项 ${p.itemName} 已不在本节点的目录中 (item ${p.itemCode} is no longer in this node's catalogue)`)
    const why = answerProblem(item, p.materials, body)
    if (why) throw new ApiError('invalid_input', why, { issues: [{ field: 'missing', message: why }] })
    const missing = body.result === 'correction' ? [...new Set(body.missing)] : []
    const rows = await this.node.db.query(
      `UPDATE prereviews SET status = $2, missing = $3, note = $4, answered_by = $5, answered_at = $6 WHERE no = $1 AND status = 'pending' RETURNING no`,
      [no, body.result, JSON.stringify(missing), body.note || null, actorLabel(actor.name, actor.displayName), this.now().toISOString()],
    )
    if (!rows.length) throw new ApiError('conflict', `此预审刚刚已被答复 (pre-review ${no} was answered just now)`)
    await this.node.db.checkpoint()
    return (await this.get(no))!
  }

  /**
   * Intake from a pre-review: the ordinary intake (the body is a case intake, filled from the
   * pre-review and checked by the window), then the pre-review reads 已受理 with the case number.
   * Exactly once: the case is created under an idempotency key named by the pre-review number,
   * recorded in the case's own transaction, so a retry, a double click or a crash between the
   * two steps answers the same case instead of making a second.
   */
  async intake(no: string, input: unknown, actor: Actor): Promise<IntakeResult & { prereview: string }> {
    mayHandle(actor)
    const run = taking.get(no) ?? this.intakeOnce(no, input, actor).finally(() => taking.delete(no))
    taking.set(no, run)
    return { ...(await run), prereview: no }
  }

  private async intakeOnce(no: string, input: unknown, actor: Actor): Promise<IntakeResult> {
    const p = await this.must(no)
    const key: RequestKey = { user: KEY_USER, key: no, fingerprint: `prereview ${no}` }
    const done = await findRequest<IntakeResult>(this.node.db, key)
    if (done) return this.markAccepted(no, done)
    if (p.status === 'accepted' && p.caseId) return this.caseResult(p.caseId)
    if (p.status === 'expired') throw new ApiError('conflict', `此预审已过期（超过 ${PREREVIEW_VALID_DAYS} 天），请按普通受理办理 (pre-review ${no} has expired: take the application in as usual)`, { status: p.status })
    const itemCode = (input as { itemCode?: unknown } | null)?.itemCode
    if (itemCode !== p.itemCode) throw new ApiError('invalid_input', `预审的事项是 ${p.itemName}，受理的事项须相同 (the pre-review is for ${p.itemCode})`, { issues: [{ field: 'itemCode', message: 'not the pre-review\'s item' }] })
    let made: IntakeResult
    try {
      made = await this.node.cases.intake(input, actor, { request: key })
    } catch (e) {
      if (!isDuplicateKey(e)) throw e
      // Another process sharing this store took it in first: its case is the one.
      const won = await findRequest<IntakeResult>(this.node.db, key)
      if (!won) throw e
      made = won
    }
    return this.markAccepted(no, made)
  }

  private async markAccepted(no: string, made: IntakeResult): Promise<IntakeResult> {
    const rows = await this.node.db.query(
      `UPDATE prereviews SET status = 'accepted', case_id = $2, accepted_at = $3 WHERE no = $1 AND case_id IS NULL RETURNING no`,
      [no, made.id, this.now().toISOString()],
    )
    if (rows.length) await this.node.db.checkpoint()
    return made
  }

  private async caseResult(id: string): Promise<IntakeResult> {
    const c = await this.node.cases.get(id)
    if (!c) throw new ApiError('not_found', `预审已受理为办件 ${id}，但本节点找不到该办件 (case ${id} is not held here)`)
    return { id, status: c.status, handlerCode: c.currentHandlerCode, dueDate: c.dueDate }
  }

  private async must(no: string): Promise<Prereview> {
    const p = await this.get(no)
    if (!p) throw new ApiError('not_found', `本节点没有预审编号 ${no} (no pre-review ${no} at this node)`)
    return p
  }

  /** `<node code>-YS` and 10 characters drawn with a CSPRNG. */
  private newNumber(): string {
    let s = ''
    for (let i = 0; i < PREREVIEW_RANDOM_LENGTH; i++) s += PREREVIEW_ALPHABET[randomInt(PREREVIEW_ALPHABET.length)]
    return `${this.node.config.code}-YS${s}`
  }

  private toPrereview(r: Row): Prereview {
    const createdAt = iso(r.created_at)!
    const until = new Date(Date.parse(createdAt) + PREREVIEW_VALID_DAYS * DAY_MS)
    const open = r.status === 'pending' || r.status === 'passed' || r.status === 'correction'
    const status: PrereviewStatus = open && this.now() > until ? 'expired' : r.status
    return {
      no: r.no, itemCode: r.item_code, itemName: r.item_name, status, createdAt, answeredAt: iso(r.answered_at),
      missing: json<string[]>(r.missing), note: r.note, caseId: r.case_id, validUntil: localDate(until),
      applicant: json(r.applicant), materials: json<string[]>(r.materials), answeredBy: r.answered_by, acceptedAt: iso(r.accepted_at),
    }
  }
}

/**
 * The idempotency-key "user" intakes from pre-reviews are recorded under, the key being the
 * pre-review number. A login of this very name sending such a key would only get a 409 (the
 * fingerprint differs), never another's case.
 */
const KEY_USER = '(网上预审)'

interface Row {
  no: string
  item_code: string
  item_name: string
  applicant: unknown
  materials: unknown
  status: Exclude<PrereviewStatus, 'expired'>
  missing: unknown
  note: string | null
  answered_by: string | null
  answered_at: unknown
  case_id: string | null
  accepted_at: unknown
  created_at: unknown
}

export function publicOf(p: Prereview): PublicPrereview {
  return {
    no: p.no, itemCode: p.itemCode, itemName: p.itemName, status: p.status, createdAt: p.createdAt, answeredAt: p.answeredAt,
    missing: p.missing, note: p.note, caseId: p.caseId, validUntil: p.validUntil,
  }
}

function mayHandle(actor: Actor): void {
  if (!mayTakeIn(actor.role)) throw new ApiError('forbidden', `预审由窗口工作人员或代办员办理 (a ${actor.role} does not handle pre-reviews; window staff and village agents do)`)
}

const statusZh = (s: PrereviewStatus) => ({ pending: '待预审', passed: '预审通过', correction: '告知补正', accepted: '受理', expired: '过期' })[s]
const iso = (v: unknown): string | null => (v == null ? null : new Date(v as string).toISOString())
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T
