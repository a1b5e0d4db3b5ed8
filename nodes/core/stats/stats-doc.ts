/**
 * Statistics documents: two per node per month (`stats:<code>:<YYYY-MM>` by where cases were
 * taken in, `stats:<code>:<YYYY-MM>:handled` by where they are decided), written by that
 * node alone from its own cases, sent up to every ancestor. Map `counts` holds, per
 * `<day>|<item code>`, the summable counts of the cases accepted (or taken in) that day. Counts
 * only: no personal data ever enters a statistics document. Monthly documents keep each one
 * small and let old months be archived (Yjs documents never shrink).
 */
import type * as Y from 'yjs'
import type { StatsCounts } from '../../../protocol/index.ts'

/** Which cases a document counts: those taken in here (受理地), or those decided here (办理地). */
export type StatsDim = 'origin' | 'handler'

/** `stats:<code>:<month>` counts by origin (as before 通办); `…:handled` by handler. */
export const statsDocId = (code: string, month: string, dim: StatsDim = 'origin'): string =>
  `stats:${code}:${month}${dim === 'handler' ? ':handled' : ''}`

export function parseStatsDocId(id: string): { nodeCode: string; month: string; dim: StatsDim } | null {
  const m = /^stats:(\d{12}):(\d{4}-\d{2})(:handled)?$/.exec(id)
  return m ? { nodeCode: m[1], month: m[2], dim: m[3] ? 'handler' : 'origin' } : null
}

export function readCounts(doc: Y.Doc): Map<string, StatsCounts> {
  return new Map(doc.getMap<StatsCounts>('counts').entries())
}

/** Writes the keys whose counts changed and deletes keys that no longer have cases. */
export function writeCounts(doc: Y.Doc, next: Map<string, StatsCounts>): void {
  const map = doc.getMap<StatsCounts>('counts')
  for (const [k, c] of next) {
    const old = map.get(k)
    if (!old || JSON.stringify(old) !== JSON.stringify(c)) map.set(k, c)
  }
  for (const k of [...map.keys()]) if (!next.has(k)) map.delete(k)
}

/** The unit's name travels with its statistics, so ancestors can label their dashboards. */
export function writeName(doc: Y.Doc, name: string): void {
  const meta = doc.getMap<string>('meta')
  if (meta.get('name') !== name) meta.set('name', name)
}

export function readName(doc: Y.Doc): string | undefined {
  return doc.getMap<string>('meta').get('name')
}

/**
 * The names of the items a document counts travel with it (map `items`: code → name), so an
 * ancestor names an item its own catalogue does not hold (a county's local list, seen from the
 * city). At most 100 characters each: what the link lets a string of a statistics document be.
 */
export function writeItemNames(doc: Y.Doc, names: Map<string, string>, mapName: 'items' | 'names' = 'items'): void {
  const map = doc.getMap<string>(mapName)
  for (const [code, name] of names) {
    const short = name.slice(0, 100)
    if (map.get(code) !== short) map.set(code, short)
  }
}
