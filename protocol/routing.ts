/**
 * Routing (一窗受理): an item taken in at any window is decided by the node at the item's level
 * on the way up from that window — the ancestor-or-self of the origin at the item's level.
 */
import type { CatalogueItem } from './catalogue.ts'
import { codeAtLevel, levelOfCode, levelRank, LEVEL_NAMES_ZH, type Level } from './division.ts'

/** Does a node at `nodeLevel` take this item in (is it handled at this level or above)? */
export function takesIn(nodeLevel: Level, item: Pick<CatalogueItem, 'level'>): boolean {
  return levelRank(item.level) <= levelRank(nodeLevel)
}

/** The code of the node that decides an item taken in at `originCode`, or an error message. */
export function handlerFor(originCode: string, item: Pick<CatalogueItem, 'level' | 'code' | 'name'>): string | { error: string } {
  const level = levelOfCode(originCode)
  if (typeof level !== 'string') return level
  if (!takesIn(level, item)) {
    return { error: `${item.name} (${item.code}) is decided at ${LEVEL_NAMES_ZH[item.level]} level and cannot be taken in at a ${level} window above it` }
  }
  return codeAtLevel(originCode, item.level)
}
