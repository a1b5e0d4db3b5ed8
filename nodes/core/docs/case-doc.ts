/**
 * The layout of a case document: the application, written once at intake, as one JSON value
 * in map `case`; and the events, appended in any order by any node on the case's path, as JSON
 * values in array `events`. JSON values, not nested Y.Maps: ~1 KB of heap per case, not 5.
 */
import * as Y from 'yjs'
import { CaseEventSchema, foldCase, type Application, type CaseEvent, type Folded, type WorkingDays } from '../../../protocol/index.ts'
import type { Trust } from '../trust/trust.ts'

export const caseDocId = (caseId: string): string => `case:${caseId}`

export function writeApplication(doc: Y.Doc, app: Application): void {
  doc.getMap('case').set('application', app)
}

export function appendEvent(doc: Y.Doc, event: CaseEvent): void {
  doc.getArray<CaseEvent>('events').push([event])
}

export function readApplication(doc: Y.Doc): Application | null {
  return (doc.getMap('case').get('application') as Application | undefined) ?? null
}

export function readEvents(doc: Y.Doc): CaseEvent[] {
  return doc.getArray<CaseEvent>('events').toArray()
}

/** The next Lamport clock for an event authored on this replica. */
export function nextLamport(doc: Y.Doc): number {
  let max = 0
  for (const e of readEvents(doc)) max = Math.max(max, e.lamport)
  return max + 1
}

/**
 * The case as this node believes it: the application only if the origin signed it, and only
 * the events whose id is their content hash and whose author signed them. Whatever else the
 * document holds (a forged event a peer slipped in before the checks existed, a value written
 * by a compromised node) is left out of the fold and flagged for supervision.
 */
export function foldDoc(doc: Y.Doc, trust: Trust, days: WorkingDays): { app: Application; folded: Folded } | null {
  const held = readVerified(doc, trust)
  if (!held) return null
  const folded = foldCase(held.app, held.events, days)
  folded.flagged.unshift(...held.rejected)
  return { app: held.app, folded }
}

/** The origin-signed application and the events whose signatures hold; the rest, with why. Null without a good application. */
export function readVerified(doc: Y.Doc, trust: Trust): { app: Application; events: CaseEvent[]; rejected: { eventId: string; reason: string }[] } | null {
  const app = readApplication(doc)
  if (!app || trust.checkApplication(app)) return null
  const events: CaseEvent[] = []
  const rejected: { eventId: string; reason: string }[] = []
  for (const e of readEvents(doc)) {
    // An event the scope check (or an earlier fold) found good is not parsed and verified again;
    // its case is compared every time (protocol/event-binding.ts).
    const why = trust.knownGood(e, false) || CaseEventSchema.safeParse(e).success ? trust.checkEventOf(e, app) : 'the event does not match its schema'
    if (why) rejected.push({ eventId: String((e as { id?: unknown })?.id ?? '?'), reason: why })
    else events.push(e)
  }
  return { app, events, rejected }
}
