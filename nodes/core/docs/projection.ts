/**
 * Projects documents into relational rows, inside the transaction that stores their update, so
 * lists, queues and dashboards are SQL and never disagree with the documents.
 */
import * as Y from 'yjs'
import { isInSubtree, localDate, routeOf, type Application, type Calendar, type CaseRoute, type DirectoryEntry, type Folded, type WorkingDays } from '../../../protocol/index.ts'
import { planOnce, type Queryable } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'
import { foldDoc } from './case-doc.ts'
import { readEntries } from './directory-doc.ts'
import { readCalendars, readItems } from './catalogue-doc.ts'
import type { Projector } from './doc-store.ts'
import { projectStats } from '../stats/project.ts'
import { projectNotice, projectWatch } from '../supervision/project.ts'

export interface ProjectionHooks {
  /** The working-day calendar in force (refreshed when a catalogue doc brings a new one). */
  days(): WorkingDays
  /** Called with the calendars a catalogue document publishes, once projected. */
  onCalendars(calendars: Calendar[]): void
  /** Whom this node believes: signatures are checked before a case is folded. */
  trust(): Trust
  /** Called with every case as just folded, in the transaction that stores it (the province outbox). */
  onCase?(app: Application, folded: Folded, route: CaseRoute, tx: Queryable): Promise<void>
}

export function makeProjector(hooks: ProjectionHooks): Projector {
  const one: Projector = async (docId, doc, tx) => {
    if (docId.startsWith('case:')) return projectCase(doc, tx, hooks.days(), hooks.trust(), hooks.onCase)
    if (docId.startsWith('directory:')) return projectDirectory(doc, tx, hooks.trust())
    if (docId.startsWith('stats:')) {
      await projectStats(docId, doc, tx) // checks every value; never throws on content
      return
    }
    if (docId.startsWith('watch:')) return projectWatch(docId, doc, tx)
    if (docId.startsWith('notice:')) return projectNotice(doc, tx, hooks.trust())
    if (docId.startsWith('catalogue:')) {
      await projectCatalogue(docId.slice('catalogue:'.length), doc, tx)
      const calendars = readCalendars(doc)
      if (calendars.length) hooks.onCalendars(calendars)
    }
  }
  // A link's batch: its case documents in one statement (projectCases).
  return Object.assign(one, {
    cases: (docs: Y.Doc[], tx: Queryable) => projectCases(docs, tx, hooks.days(), hooks.trust(), hooks.onCase),
    warm: (tx: Queryable) => warmCases(tx, hooks.days(), hooks.trust()),
  })
}

/**
 * Projects a case made up for the store's warm-up (DocStore.warm, in a transaction it rolls
 * back): taken in here, signed by this node, with a 并联 department, and read from an update as a
 * link's case is, so the projection runs every statement and trigger a link's new case does.
 * Not told to `onCase` (the province's outbox): it never existed.
 */
async function warmCases(tx: Queryable, days: WorkingDays, trust: Trust): Promise<void> {
  const code = trust.self.code
  const app = trust.signApplication({
    id: `${code}-20000101-000001`, itemCode: 'WARM-UP', itemVersion: 1, materials: [],
    applicant: { name: '预热', idType: 'resident-id', idNumber: '11010519491231002X', phone: '13800000000' },
    originCode: code, handlerCode: code, createdAt: new Date().toISOString(), createdBy: 'warm-up', kind: 'promised', promisedDays: 5,
    parallel: [{ department: '预热所', days: 5 }],
  } as Omit<Application, 'sig'>)
  const made = new Y.Doc({ gc: true })
  made.getMap('case').set('application', app)
  const doc = new Y.Doc({ gc: true, guid: `case:${app.id}` })
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(made), 'replay')
  try {
    await projectCases([doc], tx, days, trust, undefined)
  } finally {
    made.destroy()
    doc.destroy()
  }
}

/**
 * Returns `{ widened: true }` when the case's path grew (a transfer named a handler whose route
 * passes peers that were not on it): the store then re-sends the whole document, since those
 * peers were skipped for its earlier updates.
 */
async function projectCase(doc: Y.Doc, tx: Queryable, days: WorkingDays, trust: Trust, onCase: ProjectionHooks['onCase']): Promise<{ widened: boolean } | undefined> {
  const widened = await projectCases([doc], tx, days, trust, onCase)
  return widened.size ? { widened: true } : undefined
}

/**
 * The cases of a batch, their routes, attached events and 并联 opinions in one statement. Planned
 * once (`planOnce`): its plan does not depend on the values (the rows come from JSON, keys are
 * looked up in their indexes), and planning it was about a third of its CPU a frame.
 */
const PROJECT_CASES = planOnce(`WITH input AS (
     SELECT j.i::int AS i, j.x, jsonb_populate_record(NULL::cases, j.x) AS c FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(x, i)
   ), old AS (
     -- = ANY(ARRAY(…)): looked up in the key's index; as IN (SELECT …) it was planned as a hash
     -- join over a sequential scan of every route held (O(all cases) a batch at a county).
     SELECT r.doc_id, cardinality(r.handlers) AS n FROM doc_routes r WHERE r.doc_id = ANY(ARRAY(SELECT 'case:' || (c).id FROM input))
   ), route AS (
     INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers)
     SELECT 'case:' || (c).id, (c).origin_code, (c).first_handler_code, ARRAY(SELECT jsonb_array_elements_text(x->'handlers')) FROM input
     ON CONFLICT (doc_id) DO UPDATE SET handlers = EXCLUDED.handlers WHERE cardinality(doc_routes.handlers) < cardinality(EXCLUDED.handlers)
   ), row AS (
     INSERT INTO cases (id, item_code, item_version, origin_code, handler_code, kind, status, decision,
       applicant_name, applicant_phone, created_at, accepted_at, completed_at, delivered_at, due_date, rating, flagged, stat_day, updated_at,
       first_handler_code, cross_unit, transfers, deferred, owed, rect_status, rect_due)
     SELECT (c).id, (c).item_code, (c).item_version, (c).origin_code, (c).handler_code, (c).kind, (c).status, (c).decision,
       (c).applicant_name, (c).applicant_phone, (c).created_at, (c).accepted_at, (c).completed_at, (c).delivered_at, (c).due_date, (c).rating,
       (c).flagged, (c).stat_day, now(), (c).first_handler_code, (c).cross_unit, (c).transfers, (c).deferred, (c).owed, (c).rect_status, (c).rect_due
     FROM input
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, decision = EXCLUDED.decision, stat_day = EXCLUDED.stat_day,
       accepted_at = EXCLUDED.accepted_at, completed_at = EXCLUDED.completed_at, delivered_at = EXCLUDED.delivered_at,
       due_date = EXCLUDED.due_date, rating = EXCLUDED.rating, flagged = EXCLUDED.flagged, updated_at = now(),
       handler_code = EXCLUDED.handler_code, cross_unit = EXCLUDED.cross_unit, transfers = EXCLUDED.transfers,
       deferred = EXCLUDED.deferred, owed = EXCLUDED.owed, rect_status = EXCLUDED.rect_status, rect_due = EXCLUDED.rect_due
     RETURNING id
   ), ev AS (
     INSERT INTO case_events (case_id, event_id, type, lamport, author, user_name, at, body)
     SELECT row.id, e->>'id', e->>'type', (e->>'lamport')::int, e->>'author', e->>'user', (e->>'at')::timestamptz, e
     FROM input JOIN row ON row.id = (input.c).id, jsonb_array_elements(input.x->'events') AS e
     WHERE e->>'type' = 'attached' -- the only events a query reads here (migration 021); the rest are in the document
     ON CONFLICT DO NOTHING
   ), op AS (
     -- The case rows above are checked by the foreign key at the statement's end, so they count.
     INSERT INTO case_opinions (case_id, department, due_date, agree, open)
     SELECT o->>'caseId', o->>'department', o->>'dueDate', (o->>'agree')::boolean, (o->>'open')::boolean FROM jsonb_array_elements($2::jsonb) AS o
     ON CONFLICT (case_id, department) DO UPDATE SET due_date = EXCLUDED.due_date, agree = EXCLUDED.agree, open = EXCLUDED.open
   )
   SELECT input.i, old.n AS before FROM input LEFT JOIN old ON old.doc_id = 'case:' || (input.c).id`)

/**
 * Projects many case documents (each once: a link's batch) in one statement for the routes, the
 * case rows and their events — PGlite's cost is per statement, and a catch-up of thousands of
 * cases was a few statements each. Returns the indexes in `docs` whose path grew (see projectCase).
 */
export async function projectCases(docs: Y.Doc[], tx: Queryable, days: WorkingDays, trust: Trust, onCase: ProjectionHooks['onCase']): Promise<Set<number>> {
  const held: { at: number; app: Application; f: Folded; route: CaseRoute }[] = []
  const rows: Record<string, unknown>[] = []
  docs.forEach((doc, at) => {
    // No application yet (events arrived first: projected when it comes), or not the origin's.
    const h = foldDoc(doc, trust, days)
    if (!h) return
    const { app, folded: f } = h
    // The path (every handler a signed transfer named) routes the document; the fold's handler decides it.
    const route = routeOf(app, f.events)
    const handler = f.handlerCode ?? app.handlerCode
    held.push({ at, app, f, route })
    // Keys are the columns of `cases` (read with jsonb_populate_record), plus the route and events.
    rows.push({
      id: app.id, item_code: app.itemCode, item_version: app.itemVersion, origin_code: app.originCode, handler_code: handler,
      kind: app.kind, status: f.status, decision: f.decision, applicant_name: app.applicant.name, applicant_phone: app.applicant.phone,
      created_at: app.createdAt, accepted_at: f.acceptedAt, completed_at: f.completedAt, delivered_at: f.deliveredAt, due_date: f.dueDate,
      rating: f.rating, flagged: f.flagged.length, stat_day: localDate(f.acceptedAt ?? app.createdAt), first_handler_code: app.handlerCode,
      cross_unit: !isInSubtree(app.originCode, handler), transfers: f.handlers.length - 1, deferred: (app.deferred?.materials.length ?? 0) > 0,
      owed: f.owed.length, rect_status: f.rectification?.status ?? null, rect_due: f.rectification?.dueDate ?? null,
      handlers: route.handlers, events: f.events,
    })
  })
  const widened = new Set<number>()
  if (!rows.length) return widened
  // 并联审批: each department's opinion, for its queue, in the same statement (PGlite's cost is
  // per statement: one more a frame was ~0.5–1 ms, and one per case was ~1 ms each). Keyed by case
  // and department: an upsert may not touch one row twice.
  const opinions = new Map<string, { caseId: string; department: string; dueDate: string | null; agree: boolean | null; open: boolean }>()
  for (const { app, f } of held) {
    for (const o of f.opinions) {
      opinions.set(`${app.id}\n${o.department}`, { caseId: app.id, department: o.department, dueDate: o.dueDate ?? null, agree: o.opinion?.agree ?? null, open: f.status === 'accepted' })
    }
  }
  const out = await tx.query<{ i: number; before: number | null }>(
    PROJECT_CASES,
    [JSON.stringify(rows), JSON.stringify([...opinions.values()])],
  )
  for (const r of out) {
    const h = held[Number(r.i) - 1]
    if (r.before != null && Number(r.before) < h.route.handlers.length) widened.add(h.at)
  }
  if (onCase) for (const { app, f, route } of held) await onCase(app, f, route, tx)
  return widened
}

async function projectCatalogue(scope: string, doc: Y.Doc, tx: Queryable): Promise<void> {
  for (const item of readItems(doc)) {
    await tx.query(
      `INSERT INTO catalogue_items (code, scope, level, name, version, retired, body) VALUES ($1,$2,$3,$4,$5,$6,$7)
       ON CONFLICT (code) DO UPDATE SET scope = EXCLUDED.scope, level = EXCLUDED.level, name = EXCLUDED.name,
         version = EXCLUDED.version, retired = EXCLUDED.retired, body = EXCLUDED.body
       WHERE catalogue_items.version <= EXCLUDED.version`,
      [item.code, scope, item.level, item.name, item.version, item.retired, JSON.stringify(item)],
    )
  }
  for (const cal of readCalendars(doc)) {
    await tx.query('INSERT INTO calendars (year, body) VALUES ($1,$2) ON CONFLICT (year) DO UPDATE SET body = EXCLUDED.body', [cal.year, JSON.stringify(cal)])
  }
}

/** The directory changed: re-resolve whom to believe, and keep the names of units for display. */
async function projectDirectory(doc: Y.Doc, tx: Queryable, trust: Trust): Promise<void> {
  const entries: DirectoryEntry[] = readEntries(doc)
  trust.setEntries(entries)
  for (const e of entries) {
    const u = trust.unit(e.code)
    if (u) await tx.query('INSERT INTO units (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name', [u.code, u.name])
  }
}
