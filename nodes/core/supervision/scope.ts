/**
 * The link's checks of the two supervision documents (called from link/scope-check.ts before an
 * update touches anything):
 *
 * - `watch:<unit>`: only warnings of exactly WarningSchema (no personal field can ride along)
 *   naming that unit, and its name (a short string); the scopes then let a child write only the
 *   warnings of a unit of its own subtree.
 * - `notice:<issuer>-<target>-<nonce>`: append-only. The notice comes down from the issuer's
 *   side, signed by the issuer; replies come up from the target's side, signed by the target.
 *   Either may come back the other way only as a resend of what this node already holds (a
 *   repair pass), so a relaying node or a stolen laptop below can forge neither an order nor
 *   an answer.
 */
import * as Y from 'yjs'
import { canonicalJson, noticeEnds, WarningSchema, type DocRef } from '../../../protocol/index.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Queryable } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'
import { checkNotice, checkReply, readNotice, readReplies } from './notice-doc.ts'

const isNotice = (v: unknown): boolean => !!v && typeof v === 'object' && 'issuer' in v

export interface SupervisionCheck {
  docId: string
  rest: string
  values: unknown[]
  /** The update deletes something (or carries deleted ranges). */
  deletes: boolean
  peerIsChild: boolean
  trust: Trust
  docs: DocStore
  tx: Queryable
  /** The scopes' verdict on this link (protocol/scopes.ts), asked first: off the line, nothing else matters. */
  mayWrite: (ref: DocRef) => string | null
}

/** The document's scope reference, or why the update is refused. */
export async function checkSupervisionUpdate(kind: 'watch' | 'notice', c: SupervisionCheck): Promise<DocRef | string> {
  if (kind === 'watch') {
    if (!/^\d{12}$/.test(c.rest)) return `unknown warnings document ${c.docId}`
    const scope = c.mayWrite({ kind, nodeCode: c.rest })
    if (scope) return scope
    for (const v of c.values) {
      if (typeof v === 'string' && v.length <= 100) continue
      const p = WarningSchema.safeParse(v)
      if (!p.success) return `a malformed value in ${c.docId}: ${JSON.stringify(v)?.slice(0, 80)}`
      if (p.data.unit !== c.rest) return `a warning of ${p.data.unit} in the warnings document of ${c.rest}`
    }
    return { kind, nodeCode: c.rest }
  }
  const ends = noticeEnds(c.rest)
  if (!ends) return `unknown notice document ${c.docId}`
  const scope = c.mayWrite({ kind, ...ends })
  if (scope) return scope
  if (c.deletes) return 'a notice is append-only: nothing in it may be deleted'
  // Read without caching a document this node does not hold (a refused update must leave no trace).
  const [stored] = await c.tx.query('SELECT 1 FROM doc_updates WHERE doc_id = $1 LIMIT 1', [c.docId])
  const doc = stored ? await c.docs.get(c.docId, c.tx) : new Y.Doc()
  const heldNotice = readNotice(doc)
  const held = new Set([heldNotice, ...readReplies(doc)].filter(Boolean).map((v) => canonicalJson(v as object)))
  const resend = (v: unknown) => !!v && typeof v === 'object' && held.has(canonicalJson(v as object))
  for (const v of c.values) {
    if (resend(v)) continue
    if (isNotice(v)) {
      if (c.peerIsChild) return `a notice comes down from its issuer ${ends.issuer}, not up from below`
      if (heldNotice) return 'a notice is written once'
      const why = checkNotice(c.trust, v, true)
      if (why) return why
      if ((v as { id: string }).id !== c.rest) return `the notice does not match its document ${c.docId}`
    } else {
      if (!c.peerIsChild) return `a reply comes up from ${ends.target}, the unit the notice is addressed to, not down from above`
      if (!heldNotice) return `a reply to a notice this node does not hold (${c.rest})`
      const why = checkReply(c.trust, v, c.rest, ends.target, true)
      if (why) return why
    }
  }
  return { kind, ...ends }
}
