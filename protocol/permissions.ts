/**
 * Who may take which action on a case, from where. Decisions (受理, 补正, 办结) are taken at the
 * handler; the result is handed over at the window where the case began (统一窗口出件), so
 * delivery and the villager's rating happen at the origin. Pure: the node and the UI share it.
 */
import type { Application, EventType } from './case.ts'
import type { CaseRoute } from './case-path.ts'

export const ROLES = ['agent', 'staff', 'admin', 'supervisor'] as const
export type Role = (typeof ROLES)[number]

export const ROLE_NAMES_ZH: Record<Role, string> = { agent: '代办员', staff: '窗口工作人员', admin: '管理员', supervisor: '监督员' }

const DECISIONS: readonly EventType[] = ['accepted', 'refused', 'correction-requested', 'approved', 'denied', 'transferred', 'rectified', 'rectification-checked', 'opinion']
const AT_WINDOW: readonly EventType[] = ['delivered', 'rated']
const EITHER: readonly EventType[] = ['resumed', 'withdrawn', 'supplied', 'attached']

/**
 * Returns null when the node `author` may author an event of `type` on this case, else why not:
 * decisions (and a transfer) only at the handler, delivery and rating only at the origin, resume
 * and withdrawal at either. `handlerCode` is the handler *now* (after transfers: the fold's
 * `handlerCode`). Units between origin and handler only relay the case and may author nothing.
 * Checked when a user acts, at every link a signed event crosses, and in the fold.
 */
export function mayAuthor(type: EventType, author: string, app: Pick<Application, 'originCode' | 'handlerCode'>): string | null {
  const atHandler = author === app.handlerCode
  const atOrigin = author === app.originCode
  if (DECISIONS.includes(type)) return atHandler ? null : `${type} is decided at the handling node ${app.handlerCode}, not at ${author}`
  if (AT_WINDOW.includes(type)) return atOrigin ? null : `${type} happens at the window where the case was taken in (${app.originCode}), not at ${author}`
  if (EITHER.includes(type)) return atOrigin || atHandler ? null : `${type} is recorded at the origin window or the handling node, not at ${author}`
  return `unknown action ${type}`
}

/**
 * The link's looser form of `mayAuthor`, for events that may cross a transfer concurrently: null
 * when `author` may take `type` with one of the handlers the case has had. The fold then holds
 * each event to the handler at its point in the order.
 */
export function mayAuthorOnRoute(type: EventType, author: string, route: CaseRoute): string | null {
  let why: string | null = `unknown action ${type}`
  for (const h of route.handlers) {
    why = mayAuthor(type, author, { originCode: route.originCode, handlerCode: h })
    if (!why) return null
  }
  return route.handlers.length > 1 ? `${why} (nor at any earlier handler: ${route.handlers.join(', ')})` : why
}

/** Returns null when `role` at node `nodeCode` may record `type` on the case, else the reason it may not. */
export function mayAct(type: EventType, role: Role, nodeCode: string, app: Pick<Application, 'originCode' | 'handlerCode'>): string | null {
  if (role === 'admin') return 'administrators edit the catalogue and users; window staff act on cases'
  // 差评整改: the supervisor checks the handling unit's rectification; window staff do not check their own.
  if (type === 'rectification-checked') return role === 'supervisor' ? mayAuthor(type, nodeCode, app) : 'a rectification is checked by a supervisor (监督员)'
  if (role === 'supervisor') return 'supervisors (监督员) read but do not act on cases; they check rectifications (整改核查)'
  return mayAuthor(type, nodeCode, app)
}

/** May this role edit the catalogue or users? */
export const mayAdminister = (role: Role): boolean => role === 'admin'
/** May this role take in applications? */
export const mayTakeIn = (role: Role): boolean => role === 'agent' || role === 'staff'
