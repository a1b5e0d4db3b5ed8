/**
 * Cases (办件): intake at a window, actions along the path, reads. Every write is a change to
 * the case's Yjs document; rows in `cases` and `case_events` follow by projection.
 */
import {
  actorLabel,
  CaseIntakeSchema, MAX_LAMPORT, checkMaterials, EventInputSchema, foldCase, handlerFor, localDate, mayAct, mayGiveOpinion, mayTakeIn,
  type Application, type CaseEvent, type EventInput, type CaseStatus, type CaseView, type Level, type Role, type WorkingDays,
} from '../../../protocol/index.ts'
import { appendEvent, caseDocId, foldDoc, nextLamport, readEvents, readVerified, writeApplication } from '../docs/case-doc.ts'
import type { DocStore } from '../docs/doc-store.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db, Queryable } from '../store/db.ts'
import type { Trust, UnsignedEvent } from '../trust/trust.ts'
import type { CatalogueService } from './catalogue.ts'
import { recordRequest, type RequestKey } from './request-keys.ts'
import { lamportFloor } from './lamport-floor.ts'

export interface Actor {
  name: string
  role: Role
  /** Recorded with the login in the event's `user` (protocol/people.ts actorLabel). */
  displayName?: string | null
  /** 并联审批: the department a staff user belongs to (only its staff give its opinion). */
  department?: string | null
}

export interface CaseSummary {
  id: string
  itemCode: string
  originCode: string
  /** The handler now (after any transfer). */
  handlerCode: string
  /** The handler the window chose at intake. */
  firstHandlerCode: string
  /** 异地件: decided by a unit that is not the window's own ancestor-or-self. */
  crossUnit: boolean
  transfers: number
  status: CaseStatus
  kind: 'instant' | 'promised'
  applicantName: string
  createdAt: string
  acceptedAt: string | null
  completedAt: string | null
  dueDate: string | null
  rating: number | null
  flagged: number
  /** 并联审批: with `awaiting`, the day that department's opinion is due. */
  opinionDue?: string | null
}

export class CaseService {
  constructor(
    private readonly db: Db,
    private readonly docs: DocStore,
    private readonly catalogue: CatalogueService,
    private readonly self: { code: string; level: Level },
    private readonly days: () => WorkingDays,
    private readonly trust: Trust,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Read once: only `tongban restore` moves the floor, and never while a node runs on the store. */
  private floor: Promise<number> | null = null
  /** Read in the action's own transaction: on PGlite a query outside it would wait for it to end. */
  private floorIn(tx: Queryable): Promise<number> {
    return this.floor ??= lamportFloor(tx).catch((e: unknown) => { this.floor = null; throw e })
  }

  /** Takes in an application (受理/代办). Missing required materials are named all at once (一次性告知). */
  async intake(input: unknown, actor: Actor, opts?: { request?: RequestKey }): Promise<{ id: string; status: CaseStatus; handlerCode: string; dueDate: string | null }> {
    if (!mayTakeIn(actor.role)) throw new ApiError('forbidden', `a ${actor.role} does not take in applications; window staff and village agents do`)
    const body = parseOr400(CaseIntakeSchema, input, 'application')
    const item = await this.catalogue.get(body.itemCode)
    if (!item) throw new ApiError('not_found', `no item ${body.itemCode} in this node's catalogue`)
    if (item.retired) throw new ApiError('item_retired', `${item.name} (${item.code}) has been retired from the catalogue and takes no new applications`)
    const handler = handlerFor(this.self.code, item, body.handlerCode)
    if (typeof handler !== 'string') throw new ApiError('invalid_input', handler.error)
    if (body.handlerCode !== undefined) this.checkUnit(handler, 'handlerCode')
    const known = new Set(item.materials.map((m) => m.name))
    const unknown = body.materials.filter((m) => !known.has(m))
    if (unknown.length) throw new ApiError('invalid_input', `materials not in the guide of ${item.name}: ${unknown.join('、')}`, { unknown })
    // 容缺受理: deferrable materials may be left out on a written commitment (protocol/deferral.ts).
    const { missing, error } = checkMaterials(item, body.materials, body.deferred, localDate(this.now()))
    if (error) throw new ApiError('invalid_input', error, { field: 'deferred' })
    if (missing.length) {
      const deferrable = item.materials.filter((m) => missing.includes(m.name) && m.deferrable).map((m) => m.name)
      const may = deferrable.length ? `; 可容缺受理 (may be deferred on a commitment): ${deferrable.join('、')}` : ''
      throw new ApiError('missing_materials', `缺少必需材料 (missing required materials): ${missing.join('、')}${may}`, { missing, deferrable })
    }

    const at = this.now().toISOString()
    const id = await this.nextId(at)
    // Signed by this window: no other node can write an application under its numbers.
    const app: Application = this.trust.signApplication({
      id, itemCode: item.code, itemVersion: item.version, applicant: body.applicant, materials: [...new Set(body.materials)],
      originCode: this.self.code, handlerCode: handler, createdAt: at, createdBy: actorLabel(actor.name, actor.displayName),
      kind: item.kind, promisedDays: item.promisedDays,
      ...(body.deferred ? { deferred: { ...body.deferred, materials: [...new Set(body.deferred.materials)] } } : {}),
      // 并联审批: the departments and their limits, frozen like the promised days.
      ...(item.parallel?.length ? { parallel: item.parallel.map((d) => ({ department: d.department, days: d.days })) } : {}),
    })
    const { result } = await this.docs.change(caseDocId(id), async (doc, tx) => {
      writeApplication(doc, app)
      // Taken in where it is decided: the window accepts it on the spot (当场受理).
      if (handler === this.self.code) appendEvent(doc, this.event(id, { type: 'accepted' }, 1, actor, at))
      const folded = foldCase(app, readEvents(doc), this.days())
      // The client's idempotency key, in the same transaction: a retry answers this, stores nothing.
      if (opts?.request) await recordRequest(tx, opts.request, { id, status: folded.status, handlerCode: handler, dueDate: folded.dueDate })
      return folded
    }, 'local', { fresh: true })
    return { id, status: result.status, handlerCode: handler, dueDate: result.dueDate }
  }

  /** Records an action on a case; 409 when the state machine refuses it, 403 when this node or role may not. */
  async act(id: string, input: unknown, actor: Actor, opts?: { request?: RequestKey }): Promise<CaseView> {
    const docId = caseDocId(id)
    if (!(await this.docs.has(docId))) throw new ApiError('not_found', `case ${id} is not held at this node`)
    const body = parseOr400(EventInputSchema, input, 'action')
    await this.docs.change(docId, async (doc, tx) => {
      const held = readVerified(doc, this.trust)
      if (!held) throw new ApiError('conflict', `case ${id} has events but its application has not arrived yet (or is not its origin's)`)
      const { app, events } = held
      // Decisions belong to the handler now (a transfer moves them): the fold knows which unit that is.
      const now = foldCase(app, events, this.days())
      const why = mayAct(body.type, actor.role, this.self.code, { originCode: app.originCode, handlerCode: now.handlerCode ?? app.handlerCode })
      if (why) throw new ApiError('forbidden', why)
      // 并联审批: a department's opinion is its own staff's to give (checked here, where the user is known).
      const notTheirs = body.type === 'opinion' ? mayGiveOpinion(actor, body.department) : null
      if (notTheirs) throw new ApiError('forbidden', notTheirs)
      if (body.type === 'transferred') this.checkUnit(body.to, 'to')
      // Above every event of the case held here, and above the floor of a restore (lamport-floor.ts).
      const lamport = Math.max(nextLamport(doc), await this.floorIn(tx))
      if (lamport > MAX_LAMPORT) throw new ApiError('conflict', `case ${id} carries a Lamport clock at its limit (${MAX_LAMPORT}): no further event can be signed on it; report it to supervision`)
      const event = this.event(id, body, lamport, actor, this.now().toISOString())
      const folded = foldCase(app, [...events, event], this.days())
      const flag = folded.flagged.find((f) => f.eventId === event.id)
      if (flag) throw new ApiError('transition_refused', `cannot record ${body.type} on case ${id}: ${flag.reason}`, { status: now.status })
      appendEvent(doc, event)
      if (opts?.request) await recordRequest(tx, opts.request, { id }) // a retry answers the case as it is then
    })
    return (await this.get(id))!
  }

  /** The case with its events and folded status, or null where this node doesn't hold it. */
  async get(id: string): Promise<CaseView | null> {
    const docId = caseDocId(id)
    if (!(await this.docs.has(docId))) return null
    const held = foldDoc(await this.docs.get(docId), this.trust, this.days())
    if (!held) return null
    const { app, folded: f } = held
    return {
      ...app, events: f.events, status: f.status, dueDate: f.dueDate, flagged: f.flagged, rating: f.rating, acceptedAt: f.acceptedAt,
      completedAt: f.completedAt, currentHandlerCode: f.handlerCode ?? app.handlerCode, handlers: f.handlers, owed: f.owed, rectification: f.rectification,
      opinions: f.opinions,
    }
  }

  /** A deciding unit named by a person must be one the directory knows and believes (not retired): else the case would go nowhere. */
  private checkUnit(code: string, field: string): void {
    const u = this.trust.unit(code)
    if (!u) throw new ApiError('invalid_input', `${field}: no unit ${code} in the unit directory (单位目录) of this node`)
    if (!u.keys.some((k) => k.active)) throw new ApiError('invalid_input', `${field}: ${u.name} (${code}) has been retired and takes no cases`)
  }

  /** Cases held here, newest first, filtered by status, handler, origin and overdue. */
  async list(q: { status?: string; handler?: string; origin?: string; overdue?: boolean; awaiting?: string; limit?: number; offset?: number; cursor?: string }): Promise<{ cases: CaseSummary[]; total: number; next: string | null }> {
    const where: string[] = []
    const params: unknown[] = []
    const add = (sql: string, v: unknown) => {
      params.push(v)
      where.push(sql.replace('?', `$${params.length}`))
    }
    if (q.status) add('status = ANY(string_to_array(?, \',\'))', q.status)
    if (q.handler) add('handler_code = ?', q.handler)
    if (q.origin) add('origin_code = ?', q.origin)
    if (q.overdue) add(`status IN ('submitted','accepted') AND due_date < ?`, localDate(this.now()))
    // 并联审批: a department's share, cases accepted here and awaiting its opinion.
    let opinionDue = ''
    if (q.awaiting) {
      add(`id IN (SELECT case_id FROM case_opinions WHERE department = ? AND agree IS NULL AND open)`, q.awaiting)
      opinionDue = `, (SELECT o.due_date FROM case_opinions o WHERE o.case_id = cases.id AND o.department = $${params.length}) AS opinion_due`
    }
    const filter = where.length ? 'WHERE ' + where.join(' AND ') : ''
    // The total of status/handler/origin filters is a sum over the tally a trigger keeps
    // (migration 015; same column names): never count(*) over every case. The narrow filters
    // (overdue, a department's queue) count their own few rows.
    const tallied = !q.overdue && !q.awaiting
    const [{ n }] = await this.db.query<{ n: number }>(
      tallied ? `SELECT coalesce(sum(n), 0)::int AS n FROM case_tally ${filter}` : `SELECT count(*)::int AS n FROM cases ${filter}`, params)
    // Keyset pagination: `cursor` (the `next` of the page before) starts after that case, so
    // every page costs its own rows; `offset` still works for old clients (it reads what it skips).
    let page = filter
    if (q.cursor) {
      const [at, id] = parseCursor(q.cursor)
      params.push(at, id)
      page = (filter ? `${filter} AND ` : 'WHERE ') + `(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`
    }
    const limit = Math.min(q.limit ?? 200, 1000)
    params.push(limit, q.offset ?? 0)
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT id, item_code, origin_code, handler_code, first_handler_code, cross_unit, transfers, status, kind, applicant_name,
         created_at, accepted_at, completed_at, due_date, rating, flagged${opinionDue}
       FROM cases ${page}
       ORDER BY created_at DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    )
    const last = rows.length === limit && limit > 0 ? rows[rows.length - 1] : null
    return { cases: rows.map(toSummary), total: n, next: last ? caseCursor(iso(last.created_at)!, last.id as string) : null }
  }

  /** An event authored here on case `caseId`: its id is the hash of its content (its case included), and this node signs it. */
  private event(caseId: string, input: EventInput, lamport: number, actor: Actor, at: string): CaseEvent {
    return this.trust.signEvent({ ...input, lamport, author: this.self.code, user: actorLabel(actor.name, actor.displayName), at, case: caseId } as UnsignedEvent)
  }


  /**
   * `<origin>-<YYYYMMDD>-<seq>`: unique without coordination, since only this node takes in
   * under its code. (After a power cut the sequence may lag the replayed journal: start-up
   * realigns it with `realignSequence`, so a number is never reused.)
   */
  private async nextId(at: string): Promise<string> {
    const day = localDate(at).replaceAll('-', '')
    const [row] = await this.db.query<{ next: number }>(
      `INSERT INTO case_seq (day, next) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE SET next = case_seq.next + 1 RETURNING next`,
      [day],
    )
    return `${this.self.code}-${day}-${String(row.next).padStart(4, '0')}`
  }

  /**
   * Moves each recent day's sequence past the numbers its cases already use. A power cut loses
   * only what came after the last checkpoint (every 30 s), which the journal replays: the days
   * from two days back (midnight, a clock a day off) — not a year's (a county's hall holds
   * 100,000 cases of its own, and every start would read them all). By number, on the key.
   */
  async realignSequence(): Promise<void> {
    const from = localDate(new Date(this.now().getTime() - 2 * 86_400_000)).replaceAll('-', '')
    await this.db.query(
      `INSERT INTO case_seq (day, next)
         SELECT split_part(id, '-', 2), max(split_part(id, '-', 3)::int) FROM cases
         WHERE origin_code = $1 AND id >= $1 || '-' || $2 AND id < $1 || '-99999999' GROUP BY 1
       ON CONFLICT (day) DO UPDATE SET next = GREATEST(case_seq.next, EXCLUDED.next)`,
      [this.self.code, from],
    )
  }
}

const iso = (v: unknown): string | null => (v == null ? null : new Date(v as string).toISOString())

/** A list position: the intake time and number of the last case of a page (protocol/queries.ts checks its form). */
const caseCursor = (createdAt: string, id: string): string => `${createdAt}~${id}`
const parseCursor = (cursor: string): [string, string] => cursor.split('~') as [string, string]

function toSummary(r: Record<string, unknown>): CaseSummary {
  return {
    id: r.id as string, itemCode: r.item_code as string, originCode: r.origin_code as string, handlerCode: r.handler_code as string,
    firstHandlerCode: (r.first_handler_code as string | null) ?? (r.handler_code as string), crossUnit: Boolean(r.cross_unit), transfers: Number(r.transfers ?? 0),
    status: r.status as CaseStatus, kind: r.kind as 'instant' | 'promised', applicantName: r.applicant_name as string,
    createdAt: iso(r.created_at)!, acceptedAt: iso(r.accepted_at), completedAt: iso(r.completed_at),
    dueDate: (r.due_date as string | null) ?? null, rating: (r.rating as number | null) ?? null, flagged: Number(r.flagged),
    ...(r.opinion_due !== undefined ? { opinionDue: (r.opinion_due as string | null) ?? null } : {}),
  }
}
