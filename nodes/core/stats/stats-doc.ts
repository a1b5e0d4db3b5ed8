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

/**
 * Generations. A node restored from a backup lost the updates it made to its statistics since
 * the backup, and statistics never go down: its parent keeps them, and the restored node cannot
 * build on what it no longer holds. Its new writes would be concurrent with the lost ones, and
 * Yjs settles a key written concurrently by client id — the lost value could stay on top at the
 * parent for good — and a key only the lost updates held would never be deleted. So after a
 * restore a node writes its counts into a map of a new generation, `counts.<N>` (N: the
 * restore's Lamport floor, services/lamport-floor.ts, which only grows), and marks the
 * generation in `meta` (`generation.<N>`, also when it has no counts); a reader takes the
 * counts of the highest generation the document holds. Generation 0 is `counts`, as before.
 */
const COUNTS_OF = /^counts\.([1-9]\d{0,14})$/
const GENERATION_MARK = /^generation\.([1-9]\d{0,14})$/

/** The highest generation of `doc` (0: never written after a restore). */
export function docGeneration(doc: Y.Doc): number {
  let gen = 0
  for (const name of doc.share.keys()) {
    const m = COUNTS_OF.exec(name)
    if (m) gen = Math.max(gen, Number(m[1]))
  }
  let marks: string[] = []
  try {
    marks = [...doc.getMap<unknown>('meta').keys()]
  } catch {
    // `meta` made as another shared type by a hostile writer: no marks in it
  }
  for (const key of marks) {
    const m = GENERATION_MARK.exec(key)
    if (m) gen = Math.max(gen, Number(m[1]))
  }
  return gen
}

/** The counts map of generation `gen` (may throw when a hostile writer made it another type). */
export const countsMap = (doc: Y.Doc, gen: number): Y.Map<StatsCounts> => doc.getMap<StatsCounts>(gen ? `counts.${gen}` : 'counts')

/** The counts of the document's highest generation. */
export function readCounts(doc: Y.Doc): Map<string, StatsCounts> {
  return new Map(countsMap(doc, docGeneration(doc)).entries())
}

/**
 * Writes the keys whose counts changed and deletes keys that no longer have cases, in
 * generation `gen` (this node's, 0 until it is restored): a document of an older generation
 * gets the new one marked and every key written afresh in it.
 */
export function writeCounts(doc: Y.Doc, next: Map<string, StatsCounts>, gen = 0): void {
  const held = docGeneration(doc)
  if (gen > held) doc.getMap<string>('meta').set(`generation.${gen}`, 'restored')
  const map = countsMap(doc, Math.max(gen, held))
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
