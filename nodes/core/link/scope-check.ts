/**
 * The receiver's side of the scopes and of the signatures: every update arriving on a link is
 * inspected before it touches a document — without applying it — and refused (and logged) when
 * its sender may not write it. What an update may carry, by document kind:
 *
 * - case: only JSON values (Yjs ContentAny, what our writers make: no ContentJSON, strings,
 *   nested types or deletions — a case is append-only); the application once, numbered under
 *   its origin's code and signed by the origin; events whose id is their content hash, signed
 *   for this case (protocol/event-binding.ts) by their author with a key the directory holds
 *   active, that the author may take on this case (permissions.ts `mayAuthor`), and whose
 *   Lamport clock is above the author's own earlier events on the case. From a child, only
 *   events authored in its subtree or by this node for this very case (handed back), and — for
 *   what it authored itself — a clock above every event this node had already delivered to it
 *   (the child acknowledged them: it saw them, so its event comes after; a village cannot slip
 *   a withdrawal in before a decision it has received).
 * - directory: only appended entries (no deletions); from a child only entries vouched for in
 *   its subtree; an entry whose voucher is known must carry the voucher's signature.
 * - stats (from a child, its subtree's only) and catalogue (from the parent): values that match
 *   protocol's schemas exactly.
 */
import * as Y from 'yjs'
import {
  ApplicationSchema, CalendarSchema, canonicalJson, CaseEventSchema, CatalogueItemSchema, childMayWrite, DirectoryEntrySchema, isInSubtree,
  checkHandlerLevel, foldCase, mayAuthorFrom, WorkingDays, mayAuthorOnRoute, parentMayWrite, routeOf, signingText, StatsCountsSchema,
  type Application, type CaseEvent, type DirectoryEntry, type DocRef,
} from '../../../protocol/index.ts'
import { readApplication, readEvents } from '../docs/case-doc.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Queryable } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'
import { checkEscrowUpdate } from '../escrow/scope.ts'
import { checkSupervisionUpdate } from '../supervision/scope.ts'

interface Inspected {
  values: unknown[]
  /** Where each run of values sits in the document once applied: the first one's Yjs id and the run. */
  runs: { client: number; clock: number; arr: unknown[] }[]
  /** Content other than JSON values (Yjs ContentAny), by class name. */
  foreign: string[]
  /** Garbage-collected (deleted) ranges the update carries. */
  gc: boolean
  deletes: boolean
}

/** What an update inserts, and whether it carries anything but JSON values. Throws on bytes that are not an update. */
export function inspectUpdate(update: Uint8Array): Inspected {
  const out: Inspected = { values: [], runs: [], foreign: [], gc: false, deletes: false }
  const decoded = Y.decodeUpdate(update)
  for (const s of decoded.structs) {
    if (s instanceof Y.Item) {
      if (s.content instanceof Y.ContentAny) {
        out.values.push(...s.content.arr)
        out.runs.push({ client: s.id.client, clock: s.id.clock, arr: s.content.arr })
      }
      else if (s.content instanceof Y.ContentDeleted) out.gc = true
      else out.foreign.push(s.content.constructor.name)
    } else if (s instanceof Y.GC) out.gc = true
  }
  out.deletes = decoded.ds.clients.size > 0
  return out
}

/** The JSON values an update inserts (application and events of a case, counts of statistics). */
export function insertedValues(update: Uint8Array): unknown[] {
  return inspectUpdate(update).values
}

/** The item of `doc` holding the id (client, clock), or null (not integrated: pending, or not there). */
function itemAt(doc: Y.Doc, client: number, clock: number): Y.Item | null {
  const structs = doc.store.clients.get(client)
  if (!structs?.length) return null
  const last = structs[structs.length - 1]
  if (clock >= last.id.clock + last.length) return null
  const s = Y.getItem(doc.store, Y.createID(client, clock))
  return s instanceof Y.Item ? s : null
}

/** Signatures a batch entry may send to the pool ahead of its check (`prepare`): a case update carries one or a few. */
const PREPARE_VALUES = 4

/** The document a case this node does not hold is checked against: empty, only read (never written). */
const NOT_HELD = new Y.Doc()

/** Authority does not depend on working days: the fold at the link needs no calendar. */
const NO_CALENDAR = new WorkingDays([])

const isApplication = (v: unknown): v is Application => !!v && typeof v === 'object' && 'originCode' in v && 'handlerCode' in v

/** Builds the check for updates arriving from `peer` at `self`. */
export function makeRefuse(self: string, peer: string, peerIsChild: boolean, trust: Trust, docs: DocStore) {
  /**
   * Whether a signature must be by a key active now: always, except for what this node itself
   * signed coming back from its parent — a laptop restored after a loss (re-enrolled with a new
   * key) gets its own earlier cases back, signed with the key that was retired when it was
   * replaced. The parent took them while that key was active (it refuses a retired key at the
   * link), and the restored node knows the old key from the entries its enrollment answer pins.
   */
  const activeOnly = (author: string): boolean => peerIsChild || author !== self

  /** The case updates let through, as decoded for the check (see `applied`). */
  const passed = new WeakMap<Uint8Array, Inspected>()
  /** Case updates of a batch as `prepare` decoded them (null: not an update), and the signature checks it started. */
  const prepared = new WeakMap<Uint8Array, { u: Inspected | null; verified?: Promise<unknown> }>()
  /** Values `prepare` found to match their schema (the check does not parse them again). */
  const wellFormed = new WeakSet<object>()

  /**
   * Runs before a batch's store transaction (DocStore.applyBatch `prepare`): decodes its case
   * updates, checks their values' schemas, and starts the check of each well-formed value's
   * signature on libuv's thread pool (Trust.verifyAhead), so the pool verifies them side by side
   * while this thread reads the held documents and checks the updates before. Each update's own
   * check (`refuse`) waits for its values' answers and decides as before; nothing is decided
   * here. Values of one update are looked at up to the first malformed one (where its check
   * stops), and at most PREPARE_VALUES a batch entry are sent to the pool.
   */
  const prepare = (entries: { docId: string; update: Uint8Array }[]): void => {
    let budget = entries.length * PREPARE_VALUES
    for (const e of entries) {
      if (!e.docId.startsWith('case:') || prepared.has(e.update)) continue
      let u: Inspected
      try {
        u = inspectUpdate(e.update)
      } catch {
        prepared.set(e.update, { u: null })
        continue
      }
      const started: Promise<unknown>[] = []
      if (!u.foreign.length && !u.deletes && !u.gc) {
        for (const v of u.values) {
          const app = isApplication(v)
          if (!(app ? ApplicationSchema : CaseEventSchema).safeParse(v).success) break
          wellFormed.add(v as object)
          if (budget <= 0) continue
          const s = v as { originCode: string; author: string; sig: string }
          const p = trust.verifyAhead(app ? 'application' : 'event', s, app ? s.originCode : s.author, s.sig)
          if (p) {
            started.push(p)
            budget--
          }
        }
      }
      prepared.set(e.update, { u, verified: started.length ? Promise.all(started) : undefined })
    }
  }

  /** `held`: the document as this node holds it (null: not held), from the store's batch. */
  const refuse = async (e: { docId: string; update: Uint8Array }, tx: Queryable, held: Y.Doc | null): Promise<string | null> => {
    const colon = e.docId.indexOf(':')
    const [kind, rest] = [e.docId.slice(0, colon), e.docId.slice(colon + 1)]
    const ready = prepared.get(e.update)
    prepared.delete(e.update)
    let u: Inspected
    if (ready) {
      if (!ready.u) return 'not a Yjs update'
      u = ready.u
      await ready.verified // never rejects (Trust.verifyAhead)
    } else {
      try {
        u = inspectUpdate(e.update)
      } catch {
        return 'not a Yjs update'
      }
    }
    // Our writers only ever insert JSON values: anything else (ContentJSON, strings, nested
    // types) is a way around the value checks below, so it is refused whatever it holds.
    if (u.foreign.length) return `${e.docId} holds only JSON values, not ${[...new Set(u.foreign)].join(', ')}`
    let ref: DocRef
    if (kind === 'case') {
      if (u.deletes || u.gc) return 'a case is append-only: nothing in it may be deleted'
      const why = await checkCase(e.docId, u.values, tx, held)
      if (!why) passed.set(e.update, u)
      return why
    }
    if (kind === 'directory') {
      if (e.docId !== 'directory:tree') return `unknown directory document ${e.docId}`
      if (u.deletes || u.gc) return 'the unit directory is append-only: a revocation is a new entry'
      return checkDirectory(u.values)
    }
    if (kind === 'stats') {
      const bad = u.values.find((v) => !(StatsCountsSchema.safeParse(v).success || (typeof v === 'string' && v.length <= 100)))
      if (bad !== undefined) return `a malformed value in ${e.docId}: ${JSON.stringify(bad).slice(0, 80)}`
      ref = { kind, nodeCode: rest.slice(0, 12), rollup: rest.endsWith(':sum') }
    } else if (kind === 'catalogue') {
      const bad = u.values.find((v) => !(CatalogueItemSchema.safeParse(v).success || CalendarSchema.safeParse(v).success))
      if (bad !== undefined) return `a malformed value in ${e.docId}: ${JSON.stringify(bad).slice(0, 80)}`
      ref = { kind, scope: rest }
    } else if (kind === 'watch' || kind === 'notice') {
      const got = await checkSupervisionUpdate(kind, { docId: e.docId, rest, values: u.values, deletes: u.deletes || u.gc, peerIsChild, trust, docs, tx, mayWrite: (r) => (peerIsChild ? childMayWrite(self, peer, r) : parentMayWrite(self, r)) })
      if (typeof got === 'string') return got
      ref = got
    } else if (kind === 'escrow') {
      const got = await checkEscrowUpdate({ docId: e.docId, update: e.update, values: u.values, deletes: u.deletes || u.gc }, tx)
      if (typeof got === 'string') return got
      ref = got
    } else return `unknown document kind "${kind}"`
    return peerIsChild ? childMayWrite(self, peer, ref) : parentMayWrite(self, ref)
  }

  /**
   * A case update let through is now in `doc`: its values there are other objects than the ones
   * checked (Yjs decodes the update again to apply it), so Trust is told they are the same, and
   * the projection's and the supervision pass's folds right after do not parse, hash and look up
   * the signature of each again. Found by Yjs id: each value is at its own id in the document —
   * only ids at or above `had`, the document's state vector before the update (what it brought): an id
   * the document held already keeps the value it held, whatever this update says is there.
   */
  const applied = (e: { docId: string; update: Uint8Array }, doc: Y.Doc, had: ReadonlyMap<number, number>): void => {
    const u = passed.get(e.update)
    if (!u) return
    passed.delete(e.update)
    for (const run of u.runs) {
      for (let k = 0; k < run.arr.length; k++) {
        if (run.clock + k < (had.get(run.client) ?? 0)) continue
        const item = itemAt(doc, run.client, run.clock + k)
        const content = item?.content
        if (!(content instanceof Y.ContentAny)) continue
        const mine = content.arr[run.clock + k - item!.id.clock]
        if (mine !== undefined) trust.sameAs(run.arr[k], mine)
      }
    }
  }

  return Object.assign(refuse, { applied, prepare })

  async function checkCase(docId: string, values: unknown[], tx: Queryable, heldDoc: Y.Doc | null): Promise<string | null> {
    // The store's batch says whether this node holds the document (it read them all in one
    // query); one it does not hold is looked at in a throwaway doc (a refused update must leave no trace).
    const doc = heldDoc ?? NOT_HELD
    const held = readApplication(doc)
    const apps: Application[] = []
    const events: CaseEvent[] = []
    for (const v of values) {
      // Parsed already by `prepare` when the batch came through it.
      const checked = typeof v === 'object' && v !== null && wellFormed.has(v)
      if (isApplication(v)) {
        const p = checked ? null : ApplicationSchema.safeParse(v)
        if (p && !p.success) return `a malformed application in ${docId}: ${p.error.issues[0]?.message}`
        apps.push(v)
      } else {
        const p = checked ? null : CaseEventSchema.safeParse(v)
        if (p && !p.success) return `a malformed event in ${docId}: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`
        events.push(v as CaseEvent)
      }
    }
    // A resend of what this node already holds (an ack lost on the way) is no news: Yjs skips it.
    const again = (a: Application) => !!held && canonicalJson(a) === canonicalJson(held)
    for (let i = apps.length - 1; i >= 0; i--) if (again(apps[i])) apps.splice(i, 1)
    if (apps.length > 1 || (held && apps.length)) return 'the application of a case is written once'
    const app = held ?? apps[0]
    if (!app) return 'events for a case whose application has not arrived'
    if (`case:${app.id}` !== docId) return 'the application does not match its document'
    if (apps.length) {
      // A case this node has not seen enters through a child only from the side it was taken
      // in; from the handler's side the application can only be a resend (held: skipped above).
      if (peerIsChild && !isInSubtree(app.originCode, peer)) return `case taken in at ${app.originCode}, outside ${peer}'s subtree`
      const why = trust.checkApplication(apps[0], activeOnly(apps[0].originCode), true) // parsed above
      if (why) return why
    }
    // Lamport clocks each author has used on this case, to refuse back-dating.
    const latest = new Map<string, number>()
    const heldIds = new Set<string>()
    const heldEvents = readEvents(doc)
    for (const ev of heldEvents) {
      latest.set(ev.author, Math.max(latest.get(ev.author) ?? 0, ev.lamport))
      heldIds.add(ev.id)
    }
    // The path with every transfer this update brings whose signature holds (routeOf follows a
    // transfer only from a unit already among the handlers): a decision by the new handler may
    // come in the same update as the transfer that made it the handler, in any order.
    const signedTransfers = events.filter((ev) => ev.type === 'transferred' && !trust.checkEventOf(ev, app))
    const route = routeOf(app, [...heldEvents, ...signedTransfers])
    const ref: DocRef = { kind: 'case', ...route }
    let seen: number | null = null
    for (const ev of events) {
      // Ids are content hashes: an id held is that very event, resent.
      if (heldIds.has(ev.id) && !trust.checkEventOf(ev, app)) continue
      // Signed for another case (a decision copied from one case into another), or naming none
      // outside the limits of protocol/event-binding.ts: whoever signed it, it does not stand here.
      const wrongCase = trust.caseProblem(ev, app)
      if (wrongCase) return wrongCase
      // From a child, events of its subtree — and this node's own signed for this very case: the
      // child hands back what this node wrote and lost (a store restored from a backup; the
      // repair pass asks for it). It can only replay them on the case they were given for, never
      // make one or move one. An own event that names no case could come from any case: refused.
      const ownBack = ev.author === self && ev.case === app.id
      if (peerIsChild && !ownBack && !mayAuthorFrom(peer, ev.author)) return `event ${ev.id} was authored at ${ev.author}, outside ${peer}'s subtree`
      if (peerIsChild && ev.author === peer) {
        // Nothing of a document not held here was ever delivered to the child.
        seen ??= heldDoc ? await deliveredLamport(docId, tx) : 0
        if (ev.lamport <= seen) return `event ${ev.id} has Lamport clock ${ev.lamport}, but ${peer} had already received events of this case up to ${seen}: it cannot come before them`
      }
      const why = trust.checkEvent(ev, activeOnly(ev.author)) ?? mayAuthorOnRoute(ev.type, ev.author, route)
      if (why) return why
      if (ev.type === 'transferred') {
        const bad = ev.to === ev.author ? `event ${ev.id} transfers the case to the unit that transfers it` : checkHandlerLevel(ev.to, app.handlerCode)
        if (bad) return bad
      }
      const before = latest.get(ev.author) ?? 0
      // This node's own events coming back may sit below ones it signed since: a store restored
      // from a backup lost them, and what it signed next on the case counted from what it still
      // held. It signed both, so neither back-dates anything: the fold orders them.
      if (ev.lamport <= before && !ownBack) return `event ${ev.id} has Lamport clock ${ev.lamport}, not above ${ev.author}'s earlier events on the case (${before})`
      latest.set(ev.author, Math.max(before, ev.lamport))
    }
    // Each event against the handler at its point in the order (after the transfers before it):
    // a handler that transferred the case away decides nothing on it any more.
    const fresh = events.filter((ev) => !heldIds.has(ev.id))
    if (fresh.length) {
      const folded = foldCase(app, [...heldEvents, ...fresh], NO_CALENDAR)
      const bad = fresh.find((ev) => folded.unauthorised.includes(ev.id))
      if (bad) return `event ${bad.id}: ${folded.flagged.find((f) => f.eventId === bad.id)?.reason}`
    }
    return peerIsChild ? childMayWrite(self, peer, ref) : parentMayWrite(self, ref)
  }

  /** The highest Lamport clock among the events of `docId` this node sent the child and it acknowledged. */
  async function deliveredLamport(docId: string, tx: Queryable): Promise<number> {
    const rows = await tx.query<{ update: Uint8Array }>(
      `SELECT u.update FROM doc_updates u, link_cursors c
       WHERE u.doc_id = $1 AND c.peer = $2 AND u.seq <= c.acked AND u.origin <> $3`, [docId, peer, `child:${peer}`])
    let max = 0
    for (const r of rows) {
      for (const v of inspectUpdate(r.update).values) {
        const lamport = (v as { lamport?: unknown })?.lamport
        if (typeof lamport === 'number' && lamport > max) max = lamport
      }
    }
    return max
  }

  function checkDirectory(values: unknown[]): string | null {
    const entries: DirectoryEntry[] = []
    for (const v of values) {
      const p = DirectoryEntrySchema.safeParse(v)
      if (!p.success) return `a malformed directory entry: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`
      entries.push(v as DirectoryEntry)
    }
    for (const en of entries) {
      if (peerIsChild && !isInSubtree(en.vouchedBy, peer)) return `an entry for ${en.code} vouched for by ${en.vouchedBy}, outside ${peer}'s subtree`
      const root = trust.rootKey
      if (root && en.code === root.code && en.status === 'active' && en.publicKey !== root.publicKey) return `an entry for the root ${en.code} with a key other than the pinned one`
      // A voucher we know must have signed it; one we don't know yet is held, not believed
      // (resolveDirectory leaves it out until the chain to the root is complete).
      const voucher = trust.unit(en.vouchedBy)
      if (voucher && trust.checkSigned(en.vouchedBy, signingText('directory', en), en.sig, true)) return `the entry for ${en.code} is not signed by ${en.vouchedBy}`
    }
    return null
  }
}
