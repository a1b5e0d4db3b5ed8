/**
 * The path of a case (通办: 就近能办、同城通办、异地可办). A case is taken in at any window
 * (its origin) and decided by the competent unit (its handler), which may sit in another
 * subtree. It travels from the origin up to the lowest common ancestor of the two, then down to
 * the handler, and the decision comes back the same way (统一窗口出件). A transfer (转办) names
 * a new handler; the path is then the union of the routes to every handler the case has had,
 * so the first handler keeps its (read-only) copy and no node that held the case loses sight of
 * it. The nodes in between (the ancestor and those below it on the way) only relay: permissions
 * let them author nothing on the case.
 *
 * One pure function set, used by the sender (what to stream), the receiver (what to refuse), the
 * store (which peers are owed a document) and the UI (the route box).
 */
import type { Application, CaseEvent } from './case.ts'
import { codeAtLevel, isInSubtree, LEVELS, levelOfCode, levelRank, parentCode, type Level } from './division.ts'

/** Where a case was taken in, and every unit that has been its handler (the first from the application, then each transfer's target). */
export interface CaseRoute {
  originCode: string
  handlers: readonly string[]
}

/** The route of a case as its application alone gives it (before any transfer). */
export const routeOfApplication = (app: Pick<Application, 'originCode' | 'handlerCode'>): CaseRoute => ({ originCode: app.originCode, handlers: [app.handlerCode] })

/** The lowest unit that has both `a` and `b` in its subtree, or null when they are in different cities (or a code is invalid). */
export function lowestCommonAncestor(a: string, b: string): string | null {
  const la = levelOfCode(a)
  const lb = levelOfCode(b)
  if (typeof la !== 'string' || typeof lb !== 'string') return null
  const deepest = Math.min(levelRank(la), levelRank(lb))
  for (let r = deepest; r >= 0; r--) {
    const level: Level = LEVELS[r]
    if (codeAtLevel(a, level) === codeAtLevel(b, level)) return codeAtLevel(a, level)
  }
  return null
}

/** The units from `origin` up to the common ancestor and down to `handler`, in travel order. Empty when no path joins them. */
export function routeBetween(origin: string, handler: string): string[] {
  const top = lowestCommonAncestor(origin, handler)
  if (!top) return []
  const up: string[] = []
  for (let c: string | null = origin; c && c !== top; c = parentCode(c)) up.push(c)
  const down: string[] = []
  for (let c: string | null = handler; c && c !== top; c = parentCode(c)) down.unshift(c)
  return [...up, top, ...down]
}

/** Every unit on the case's path: the union of the routes from its origin to each of its handlers, in first-visited order. */
export function casePathOf(route: CaseRoute): string[] {
  const out = new Set<string>()
  for (const h of route.handlers) for (const c of routeBetween(route.originCode, h)) out.add(c)
  return [...out]
}

/** Is `code` on the route between `origin` and `handler`? (An ancestor-or-self of either, inside their common ancestor's subtree.) */
function onRoute(code: string, origin: string, handler: string): boolean {
  const top = lowestCommonAncestor(origin, handler)
  if (!top || !isInSubtree(code, top)) return false
  return isInSubtree(origin, code) || isInSubtree(handler, code)
}

/** Is `code` on the path of the case? */
export function onCasePath(code: string, route: CaseRoute): boolean {
  return route.handlers.some((h) => onRoute(code, route.originCode, h))
}

/**
 * The route the events give a case: its first handler and every unit a transfer named, where
 * the transfer was signed by a unit already among its handlers and names a unit of the right level. (Which of them is the handler
 * now is the fold's business — `foldCase` — since it depends on the order of events; the path
 * only grows, so every replica that holds the same events routes the case the same way.)
 * `events` must already be the verified ones (signatures checked).
 */
export function routeOf(app: Pick<Application, 'originCode' | 'handlerCode'>, events: readonly Pick<CaseEvent, 'type' | 'author'>[]): CaseRoute {
  const handlers = [app.handlerCode]
  const transfers = events.filter((e): e is Pick<CaseEvent, 'author'> & { type: 'transferred'; to: string } => e.type === 'transferred')
  for (let grew = true; grew; ) {
    grew = false
    for (const t of transfers) {
      if (handlers.includes(t.author) && !handlers.includes(t.to) && !checkHandlerLevel(t.to, app.handlerCode)) {
        handlers.push(t.to)
        grew = true
      }
    }
  }
  return { originCode: app.originCode, handlers }
}

/**
 * Why a unit at `handler` cannot decide this case, or null. A transfer's target, like a handler
 * picked at intake, must be a unit at the same level as the case's first handler: the item's
 * level does not change with the unit that decides it.
 */
export function checkHandlerLevel(handler: string, firstHandler: string): string | null {
  const want = levelOfCode(firstHandler)
  const got = levelOfCode(handler)
  if (typeof got !== 'string') return got.error
  if (typeof want !== 'string') return want.error
  return got === want ? null : `${handler} is a ${got} unit: this case is decided at ${want} level`
}
