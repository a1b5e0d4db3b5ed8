/**
 * Finding an item at the window: by its name (居住), the pinyin initials of its name (jzzm), or
 * its code (V-001). The closest matches come first; among equals, items decided nearer to this
 * window (village before township …) come first, since those are asked for most.
 */
import { P } from './ctx.js'

/** Higher is better; 0 is no match. */
export function score(item, query) {
  const q = query.trim().toLowerCase()
  if (!q) return 1
  const code = item.code.toLowerCase()
  const py = (item.pinyin ?? '').toLowerCase()
  const name = item.name.toLowerCase()
  if (code === q) return 100
  if (py === q) return 95
  if (name === q) return 95
  if (code.startsWith(q)) return 85
  if (py.startsWith(q)) return 80
  if (name.startsWith(q)) return 78
  if (name.includes(q)) return 70
  if (py.includes(q)) return 55
  if (code.includes(q)) return 50
  if (item.department.toLowerCase().includes(q)) return 20
  return 0
}

/** The items matching `query`, best first; retired items never. */
export function searchItems(items, query, level = '') {
  return items
    .filter((i) => !i.retired && (!level || i.level === level))
    .map((i) => ({ item: i, s: score(i, query) }))
    .filter((r) => r.s > 0)
    .sort((a, b) => b.s - a.s || P.levelRank(b.item.level) - P.levelRank(a.item.level) || (a.item.code < b.item.code ? -1 : 1))
    .map((r) => r.item)
}

/** Which part of the item matched, for highlighting: 'name', 'pinyin' or 'code'. */
export function matchedField(item, query) {
  const q = query.trim().toLowerCase()
  if (!q) return null
  if (item.name.toLowerCase().includes(q)) return 'name'
  if ((item.pinyin ?? '').includes(q)) return 'pinyin'
  if (item.code.toLowerCase().includes(q)) return 'code'
  return null
}
