/**
 * A county's year at real size, filled in minutes: the bulk path for benchmarks (not the HTTP
 * loop, which takes in ~250 cases/s and would need hours for a year).
 *
 * The county (511302000000 顺庆区) holds the cases on its path: those it decides (county-level
 * items of the sample catalogue), taken in at its own hall or at any of its townships and
 * villages. For each case the fill writes what the node itself would hold:
 *  - the case document's updates in `doc_updates`, one row per write as the node stores them
 *    (the application, then each event), real Yjs updates of the real document layout
 *    (case-doc.ts), signed by the county's own key (so a case taken in below carries a
 *    signature its origin's key would not verify: GET /api/cases/:id answers only the county
 *    hall's own cases — the rows every list and dashboard reads are exact);
 *  - its projection: `doc_routes`, `cases` (through protocol's foldCase, the same fold the
 *    projection runs) and `case_events`.
 * Multi-row statements (one per table per batch, rows as a JSON parameter): PGlite's cost is
 * per statement. The node is opened through openNode (migrations, catalogue, users), so the
 * data dir starts like any county's.
 */
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { detectWarnings, foldCase, isInSubtree, localDate, routeOf, warningKey, type Application, type CaseEvent, type CatalogueItem, type Warning } from '../../protocol/index.ts'
import { appendEvent, writeApplication } from '../../nodes/core/docs/case-doc.ts'
import { watchDocId } from '../../nodes/core/supervision/watcher.ts'
import type { TongbanNode } from '../../nodes/core/node.ts'
import type { UnsignedEvent } from '../../nodes/core/trust/trust.ts'
import { mulberry32 } from '../../test/tools/link-emulator.ts'

export const COUNTY = { level: 'county' as const, code: '511302000000', name: '顺庆区' }
export const TOWNSHIPS = 20
export const VILLAGES_PER_TOWNSHIP = 15

/** Every unit of the county: its hall, its townships and their villages. */
export function countyUnits(): { code: string; name: string }[] {
  const out = [{ code: COUNTY.code, name: COUNTY.name }]
  for (let t = 1; t <= TOWNSHIPS; t++) {
    const tc = `511302${String(100 + t)}`
    out.push({ code: `${tc}000`, name: `第${t}镇` })
    for (let v = 1; v <= VILLAGES_PER_TOWNSHIP; v++) out.push({ code: `${tc}${200 + v}`, name: `第${t}镇${v}村` })
  }
  return out
}

/** A deterministic generator in [0, 1): the link emulator's (test/tools). */
export const rng = mulberry32

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭']
const GIVEN = ['秀英', '建华', '志强', '德明', '红', '伟', '芳', '敏', '静', '强', '军', '勇', '春梅', '海燕', '永福']

function residentId(r: () => number): string {
  const body = `511302${1940 + Math.floor(r() * 66)}${String(1 + Math.floor(r() * 12)).padStart(2, '0')}${String(1 + Math.floor(r() * 28)).padStart(2, '0')}${String(Math.floor(r() * 1000)).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * w[i]
  return body + '10X98765432'[sum % 11]
}

interface Row { docId: string; update: Uint8Array; origin: string; at: string }

/** One case's writes and projection, built as the node would hold them; `watch`: what 电子监察 found (supervision/watcher.ts). */
export interface FilledCase { updates: Row[]; app: Application; events: CaseEvent[]; row: Record<string, unknown>; watch: { warnings: Warning[]; nextCheck: string | null } }

const atChina = (day: string, minutes: number): string => new Date(Date.parse(`${day}T00:00:00+08:00`) + minutes * 60_000).toISOString()

/**
 * Builds case `seq` of `day` at `origin`: accepted at intake when the hall takes it in, else
 * within a working day; decided (approved, or 3% denied) within its promised days, or late for
 * 4%; delivered and rated (mostly 5) unless it is still open (cases of the last weeks); 1% refused.
 */
export function buildCase(node: TongbanNode, item: CatalogueItem, origin: string, day: string, seq: number, today: string, r: () => number): FilledCase {
  const days = node.days()
  const minute = 30 + Math.floor(r() * 540)
  const createdAt = atChina(day, minute)
  const name = SURNAMES[Math.floor(r() * SURNAMES.length)] + GIVEN[Math.floor(r() * GIVEN.length)]
  const app = node.trust.signApplication({
    id: `${origin}-${day.replaceAll('-', '')}-${String(seq).padStart(4, '0')}`, itemCode: item.code, itemVersion: item.version,
    applicant: { name, idType: 'resident-id', idNumber: residentId(r), phone: `139${String(Math.floor(r() * 1e8)).padStart(8, '0')}` },
    materials: item.materials.filter((m) => m.required).map((m) => m.name), originCode: origin, handlerCode: COUNTY.code,
    createdAt, createdBy: origin === COUNTY.code ? '窗口人员' : '代办员', kind: item.kind, promisedDays: item.promisedDays,
  })
  const events: CaseEvent[] = []
  let lamport = 0
  // Delivery and the rating happen at the window that took the case in (permissions.ts AT_WINDOW).
  const ev = (input: Record<string, unknown>, at: string, user = '县级窗口', author = COUNTY.code): CaseEvent => {
    const e = node.trust.signEvent({ ...input, lamport: ++lamport, author, user, at, case: app.id } as UnsignedEvent)
    events.push(e)
    return e
  }
  const doc = new Y.Doc({ gc: true })
  const updates: Row[] = []
  const write = (origin: string, at: string, f: () => void) => {
    const before = Y.encodeStateVector(doc)
    f()
    updates.push({ docId: `case:${app.id}`, update: Y.encodeStateAsUpdate(doc, before), origin, at })
  }
  const hall = origin === COUNTY.code
  const from = hall ? 'local' : `child:${origin.slice(0, 9)}000`
  const age = (Date.parse(today) - Date.parse(day)) / 86_400_000
  const refused = r() < 0.01
  if (hall) {
    write('local', createdAt, () => {
      writeApplication(doc, app)
      if (!refused) appendEvent(doc, ev({ type: 'accepted' }, createdAt))
    })
  } else {
    write(from, createdAt, () => writeApplication(doc, app))
    const acceptDay = age < 1 && r() < 0.5 ? null : days.add(day, Math.floor(r() * 2))
    if (acceptDay && !refused) {
      const at = atChina(acceptDay, 30 + Math.floor(r() * 300))
      write('local', at, () => appendEvent(doc, ev({ type: 'accepted' }, at)))
    }
  }
  if (refused) {
    const at = atChina(day, minute + 20)
    write('local', at, () => appendEvent(doc, ev({ type: 'refused', reason: '不属于本单位受理范围' }, at)))
  } else if (lamport > 0) {
    // Open for the last weeks: decided after its promised days (instant: the same day).
    const late = r() < 0.04
    const spent = item.kind === 'instant' ? 0 : Math.max(1, Math.floor(r() * item.promisedDays) + (late ? item.promisedDays : 0))
    const decideDay = days.add(day, spent + 1)
    if (decideDay < today || (item.kind === 'instant' && age >= 1)) {
      const at = atChina(item.kind === 'instant' ? day : decideDay, item.kind === 'instant' ? minute + 15 : 120 + Math.floor(r() * 360))
      write('local', at, () => appendEvent(doc, r() < 0.03 ? ev({ type: 'denied', reason: '不符合办理条件' }, at) : ev({ type: 'approved' }, at)))
      const deliverAt = new Date(Date.parse(at) + (1 + Math.floor(r() * 48)) * 3_600_000).toISOString()
      if (deliverAt < `${today}T00:00:00Z`) {
        write(from, deliverAt, () => appendEvent(doc, ev({ type: 'delivered' }, deliverAt, '窗口人员', origin)))
        if (r() < 0.8) {
          const x = r()
          const rating = x < 0.85 ? 5 : x < 0.95 ? 4 : x < 0.98 ? 3 : x < 0.99 ? 2 : 1
          const rateAt = new Date(Date.parse(deliverAt) + 600_000).toISOString()
          write(from, rateAt, () => appendEvent(doc, ev({ type: 'rated', rating }, rateAt, '申请人', origin)))
        }
      }
    }
  }
  const f = foldCase(app, events, days)
  const handler = f.handlerCode ?? app.handlerCode
  const row = {
    id: app.id, item_code: app.itemCode, item_version: app.itemVersion, origin_code: app.originCode, handler_code: handler, kind: app.kind,
    status: f.status, decision: f.decision, applicant_name: app.applicant.name, applicant_phone: app.applicant.phone, created_at: app.createdAt,
    accepted_at: f.acceptedAt, completed_at: f.completedAt, delivered_at: f.deliveredAt, due_date: f.dueDate, rating: f.rating,
    flagged: f.flagged.length, stat_day: localDate(f.acceptedAt ?? app.createdAt), updated_at: updates[updates.length - 1].at,
    first_handler_code: app.handlerCode, cross_unit: !isInSubtree(app.originCode, handler), transfers: f.handlers.length - 1,
    deferred: false, owed: f.owed.length, rect_status: f.rectification?.status ?? null, rect_due: f.rectification?.dueDate ?? null,
    handlers: routeOf(app, f.events).handlers,
  }
  // What the county's watcher would have found when the case last changed, as a county that ran
  // the year holds it: every case it handles checked (case_watch), the warnings in its document.
  const watch = detectWarnings({ app, folded: f, item, unit: COUNTY.code, today, days })
  return { updates, app, events: f.events, row, watch }
}

/** The warnings document (`watch:<county>`) with every warning the fill's cases carry, in one update. */
export async function writeWarnings(node: TongbanNode, warnings: Warning[]): Promise<void> {
  await node.docs.change(watchDocId(COUNTY.code), (doc) => {
    const map = doc.getMap<Warning>('warnings')
    for (const w of warnings) map.set(warningKey(w), w)
    doc.getMap<string>('meta').set('name', COUNTY.name)
  })
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** Writes a batch of built cases: one statement per table. */
export async function writeBatch(node: TongbanNode, batch: FilledCase[]): Promise<void> {
  const updates = batch.flatMap((c) => c.updates).map((u) => ({
    doc_id: u.docId, update: hex(u.update), origin: u.origin, at: u.at,
    uid: createHash('sha256').update(u.docId).update('\0').update(u.update).digest('base64url'),
  }))
  const events = batch.flatMap((c) => c.events.map((e) => ({ case_id: c.app.id, e })))
  await node.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO doc_updates (doc_id, update, origin, uid, created_at)
       SELECT doc_id, decode(update, 'hex'), origin, uid, at FROM jsonb_to_recordset($1::jsonb) AS x(doc_id text, update text, origin text, uid text, at timestamptz)`,
      [JSON.stringify(updates)],
    )
    await tx.query(
      `INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers)
       SELECT 'case:' || id, origin_code, first_handler_code, ARRAY(SELECT jsonb_array_elements_text(handlers))
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, origin_code text, first_handler_code text, handlers jsonb)`,
      [JSON.stringify(batch.map((c) => c.row))],
    )
    await tx.query(
      `INSERT INTO cases (id, item_code, item_version, origin_code, handler_code, kind, status, decision, applicant_name, applicant_phone,
         created_at, accepted_at, completed_at, delivered_at, due_date, rating, flagged, stat_day, updated_at,
         first_handler_code, cross_unit, transfers, deferred, owed, rect_status, rect_due)
       SELECT id, item_code, item_version, origin_code, handler_code, kind, status, decision, applicant_name, applicant_phone,
         created_at, accepted_at, completed_at, delivered_at, due_date, rating, flagged, stat_day, updated_at,
         first_handler_code, cross_unit, transfers, deferred, owed, rect_status, rect_due
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, item_code text, item_version int, origin_code text, handler_code text, kind text,
         status text, decision text, applicant_name text, applicant_phone text, created_at timestamptz, accepted_at timestamptz,
         completed_at timestamptz, delivered_at timestamptz, due_date text, rating int, flagged int, stat_day text, updated_at timestamptz,
         first_handler_code text, cross_unit boolean, transfers int, deferred boolean, owed int, rect_status text, rect_due text)`,
      [JSON.stringify(batch.map((c) => c.row))],
    )
    await tx.query(
      `INSERT INTO case_events (case_id, event_id, type, lamport, author, user_name, at, body)
       SELECT case_id, e->>'id', e->>'type', (e->>'lamport')::int, e->>'author', e->>'user', (e->>'at')::timestamptz, e
       FROM jsonb_to_recordset($1::jsonb) AS x(case_id text, e jsonb)`,
      [JSON.stringify(events)],
    )
    await tx.query(
      `INSERT INTO case_watch (case_id, next_check) SELECT c->>'id', c->>'next' FROM jsonb_array_elements($1::jsonb) AS c`,
      [JSON.stringify(batch.map((c) => ({ id: c.app.id, next: c.watch.nextCheck })))],
    )
  })
}
