/**
 * What every page shares: this node (from /healthz), the user, the protocol — the same pure
 * module the server runs, bundled by the node — and the working-day calendar and catalogue.
 */
import * as P from '/ui/gen/protocol.js'
import { api } from './api.js'

export { P }

export const ctx = {
  /** `{level, code, name, parent}` from /healthz. */
  node: null,
  /** `{name, role}` once logged in. */
  user: null,
  days: new P.WorkingDays([]),
  calendars: [],
}

/** Today's date in China, YYYY-MM-DD (working days and due dates are China-local). */
export const today = () => P.localDate(new Date())

let catalogue = null
let loadedAt = 0

/** The catalogue this node takes in, retired items included (old cases still name them). Cached for a minute. */
export async function loadCatalogue(force = false) {
  if (!catalogue || force || Date.now() - loadedAt > 60_000) {
    const { items } = await api('GET', '/api/catalogue?retired=true')
    catalogue = new Map(items.map((i) => [i.code, i]))
    loadedAt = Date.now()
  }
  return catalogue
}

export function forgetCatalogue() {
  catalogue = null
}

/** Items that cases held here name but this node's windows do not take in (a township matter a county relays, 通办). */
const heldBelow = new Map()

/**
 * Makes `itemOf` answer for every code in `codes`: the catalogue this node takes in, and — when
 * a code is not in it — every item the node holds (`?all=true`), read then.
 */
export async function loadItems(codes) {
  const cat = await loadCatalogue()
  if (!codes.some((c) => c && !cat.has(c) && !heldBelow.has(c))) return
  const { items } = await api('GET', '/api/catalogue?all=true&retired=true')
  for (const i of items) if (!cat.has(i.code)) heldBelow.set(i.code, i)
}

/** The item, if loaded (loadCatalogue, loadItems), else null. */
export const itemOf = (code) => catalogue?.get(code) ?? heldBelow.get(code) ?? null

/** The item's name if loaded, else its code. */
export function itemName(code) {
  return itemOf(code)?.name ?? code
}

/** Loads the published calendars into the working-day lookup. */
export async function loadCalendars() {
  const { calendars } = await api('GET', '/api/catalogue/calendars')
  ctx.calendars = calendars
  ctx.days = new P.WorkingDays(calendars)
}

/**
 * May the user take `type` on case `c` here? The server's own rule: state machine, then `mayAct`
 * against the handler *now* (`currentHandlerCode`: a transfer moves the decisions; the
 * application's `handlerCode` stays the unit chosen at intake).
 */
export function allowedActions(c) {
  if (!ctx.user) return []
  const route = { originCode: c.originCode, handlerCode: c.currentHandlerCode ?? c.handlerCode }
  const next = P.allowedNext(c.status, c.rating !== null, c.owed?.length ?? 0, c.rectification?.status ?? null, c.opinions ?? [])
  // 并联审批: an opinion only for the user's own department, while it is still awaited.
  const mine = (type) => type !== 'opinion' || (!!ctx.user.department && P.pendingDepartments(c.opinions ?? []).includes(ctx.user.department) && P.mayGiveOpinion(ctx.user, ctx.user.department) === null)
  return next.filter((type) => mine(type) && P.mayAct(type, ctx.user.role, ctx.node.code, route) === null)
}

/** Which level a division code names ('village' …), or null. */
export function levelOf(code) {
  const l = P.levelOfCode(code)
  return typeof l === 'string' ? l : null
}
