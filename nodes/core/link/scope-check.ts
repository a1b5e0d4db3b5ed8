/**
 * The receiver's side of the scopes: every update arriving on a link is inspected before it
 * touches a document — without applying it — and refused (and logged) when its sender may not
 * write it. Case documents are append-only, so a child's update may only add events authored
 * in its own subtree, and the application once.
 */
import * as Y from 'yjs'
import {
  ApplicationSchema, CalendarSchema, CaseEventSchema, CatalogueItemSchema, childMayWrite, mayAuthorFrom, parentMayWrite,
  StatsCountsSchema, type Application, type CaseEvent, type DocRef,
} from '../../../protocol/index.ts'
import type { Queryable } from '../store/db.ts'

/** The JSON values an update inserts (application and events of a case, counts of statistics). */
export function insertedValues(update: Uint8Array): unknown[] {
  const out: unknown[] = []
  for (const s of Y.decodeUpdate(update).structs) {
    if (s instanceof Y.Item && s.content instanceof Y.ContentAny) out.push(...s.content.arr)
  }
  return out
}

const isApplication = (v: unknown): v is Application => !!v && typeof v === 'object' && 'originCode' in v && 'handlerCode' in v
const isEvent = (v: unknown): v is CaseEvent => !!v && typeof v === 'object' && 'lamport' in v && 'author' in v

/** Builds the check for updates arriving from `peer` at `self`. */
export function makeRefuse(self: string, peer: string, peerIsChild: boolean) {
  return async (e: { docId: string; update: Uint8Array }, tx: Queryable): Promise<string | null> => {
    const [kind, rest] = [e.docId.slice(0, e.docId.indexOf(':')), e.docId.slice(e.docId.indexOf(':') + 1)]
    let ref: DocRef
    let values: unknown[]
    try {
      values = insertedValues(e.update)
    } catch {
      return 'not a Yjs update'
    }
    // Every value a peer inserts must be what that document holds, checked by protocol's schemas:
    // one malformed event would otherwise stop the case folding on every replica.
    const valid = kind === 'case' ? (v: unknown) => ApplicationSchema.safeParse(v).success || CaseEventSchema.safeParse(v).success
      : kind === 'stats' ? (v: unknown) => StatsCountsSchema.safeParse(v).success || (typeof v === 'string' && v.length <= 100)
      : (v: unknown) => CatalogueItemSchema.safeParse(v).success || CalendarSchema.safeParse(v).success
    const bad = values.find((v) => !valid(v))
    if (bad !== undefined) return `a malformed value in ${e.docId}: ${JSON.stringify(bad).slice(0, 80)}`
    if (kind === 'catalogue') ref = { kind, scope: rest }
    else if (kind === 'stats') ref = { kind, nodeCode: rest.slice(0, 12) }
    else if (kind === 'case') {
      const apps = values.filter(isApplication)
      const [held] = await tx.query<{ origin_code: string; handler_code: string }>('SELECT origin_code, handler_code FROM doc_routes WHERE doc_id = $1', [e.docId])
      if (held && apps.length) return 'the application of a case is written once'
      const route = held ? { originCode: held.origin_code, handlerCode: held.handler_code } : apps[0]
      if (!route) return 'events for a case whose application has not arrived'
      if (apps.some((a) => `case:${a.id}` !== e.docId)) return 'the application does not match its document'
      ref = { kind, originCode: route.originCode, handlerCode: route.handlerCode }
      if (peerIsChild) {
        if (Y.decodeUpdate(e.update).ds.clients.size > 0) return 'a case is append-only: a child may not delete from it'
        const stranger = values.filter(isEvent).find((ev) => !mayAuthorFrom(peer, ev.author))
        if (stranger) return `event ${stranger.id} was authored at ${stranger.author}, outside ${peer}'s subtree`
      }
    } else return `unknown document kind "${kind}"`
    return peerIsChild ? childMayWrite(self, peer, ref) : parentMayWrite(self, ref)
  }
}
