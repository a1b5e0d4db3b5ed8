/**
 * The link's check run once at start, on a case made up and signed by this node (issue 11,
 * goal 1): a township's first frame from a village paid for it — zod building its parsers, Yjs
 * decoding, the signing texts, Ed25519 on libuv's pool (its threads started, the key imported)
 * and the check's own code running for the first time (BENCHMARKS.md, "Session 10: the first
 * frame's check, warm"). The same path as an `updates` frame: the body encoded, deflated and
 * inflated, decoded, the check's `prepare`, the check, and the value handed over as applied.
 * Nothing is stored, journaled or announced: the check's store handle refuses any query, and the
 * document the update is applied to is a throwaway. DocStore.warm does the same for the store.
 */
import * as Y from 'yjs'
import { decodeUpdatesBody, encodeUpdatesBody, MAX_MESSAGE_BYTES, type Application } from '../../../protocol/index.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Queryable } from '../store/db.ts'
import type { Trust, UnsignedEvent } from '../trust/trust.ts'
import { compress, decompress } from './compress.ts'
import { makeRefuse } from './scope-check.ts'

/** The check may not touch the store while warming: every query is refused (a made-up case is never stored). */
const NO_STORE: Queryable = {
  query: () => Promise.reject(new Error('the link check warm-up does not use the store')),
} as unknown as Queryable

/**
 * Returns why the made-up case was refused (null: let through), for the test; the node only
 * waits for it. Its values are made here, so a refusal is this code's bug, not a peer's: logged
 * by the caller, never thrown into a start.
 */
export async function warmCheck(trust: Trust, docs: DocStore): Promise<string | null> {
  const code = trust.self.code
  const app = trust.signApplication({
    id: `${code}-20000101-000001`, itemCode: 'WARM-UP', itemVersion: 1, materials: [],
    applicant: { name: '预热', idType: 'resident-id', idNumber: '11010519491231002X', phone: '13800000000' },
    originCode: code, handlerCode: code, createdAt: new Date().toISOString(), createdBy: 'warm-up', kind: 'promised', promisedDays: 5,
  } as Omit<Application, 'sig'>)
  const event = trust.signEvent({ type: 'accepted', lamport: 1, author: code, user: 'warm-up', at: new Date().toISOString(), case: app.id } as UnsignedEvent)
  const made = new Y.Doc({ gc: true, guid: `case:${app.id}` })
  const doc = new Y.Doc({ gc: true, guid: `case:${app.id}` })
  try {
    made.getMap('case').set('application', app)
    made.getArray('events').push([event])
    // The frame's body as a sender packs it and a receiver unpacks it (session.ts readFrame / 'updates').
    const body = decompress(compress(encodeUpdatesBody([{ seq: 1, docId: `case:${app.id}`, update: Y.encodeStateAsUpdate(made) }])), MAX_MESSAGE_BYTES)
    const entries = decodeUpdatesBody(body)
    // As the township checks a village's case: this node as the child too, so the case is in its subtree.
    const refuse = makeRefuse(code, code, true, trust, docs)
    refuse.prepare(entries)
    const why = await refuse(entries[0], NO_STORE, null)
    if (!why) {
      Y.applyUpdate(doc, entries[0].update, 'replay')
      refuse.applied(entries[0], doc, new Map())
    }
    return why
  } finally {
    made.destroy()
    doc.destroy()
  }
}
