/**
 * The layout of a case document: the application, written once at intake, as one JSON value
 * in map `case`; and the events, appended in any order by any node on the case's path, as JSON
 * values in array `events`. JSON values, not nested Y.Maps: ~1 KB of heap per case, not 5.
 */
import * as Y from 'yjs'
import type { Application, CaseEvent } from '../../../protocol/index.ts'

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
