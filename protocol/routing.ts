/**
 * Routing (一窗受理): an item taken in at any window is decided by the node at the item's level
 * on the way up from that window — the ancestor-or-self of the origin at the item's level —
 * unless the window names the deciding unit (通办: 异地办理 / 代收代办), which may be any unit of
 * the item's level anywhere in the tree (the case then travels by case-path.ts).
 */
import type { CatalogueItem } from './catalogue.ts'
import { lowestCommonAncestor } from './case-path.ts'
import { codeAtLevel, levelOfCode, levelRank, LEVEL_NAMES_ZH, type Level } from './division.ts'

/** Does a node at `nodeLevel` take this item in (is it handled at this level or above)? */
export function takesIn(nodeLevel: Level, item: Pick<CatalogueItem, 'level'>): boolean {
  return levelRank(item.level) <= levelRank(nodeLevel)
}

/**
 * The code of the node that decides an item taken in at `originCode`, or an error message:
 * `chosen` when the window named one (it must be a unit of the item's level in the same city),
 * else the window's own ancestor-or-self at the item's level.
 */
export function handlerFor(originCode: string, item: Pick<CatalogueItem, 'level' | 'code' | 'name'>, chosen?: string): string | { error: string } {
  const level = levelOfCode(originCode)
  if (typeof level !== 'string') return level
  if (chosen !== undefined) {
    const at = levelOfCode(chosen)
    if (typeof at !== 'string') return at
    if (at !== item.level) return { error: `${item.name} (${item.code}) is decided at ${LEVEL_NAMES_ZH[item.level]} level: ${chosen} is a ${LEVEL_NAMES_ZH[at]} unit` }
    if (!lowestCommonAncestor(originCode, chosen)) return { error: `${chosen} is not in this city's tree` }
    return chosen
  }
  if (!takesIn(level, item)) {
    return { error: `${item.name} (${item.code}) is decided at ${LEVEL_NAMES_ZH[item.level]} level and cannot be taken in at a ${level} window above it` }
  }
  return codeAtLevel(originCode, item.level)
}
