/**
 * The unit directory (单位目录) as the pages use it: codes and names of every unit of the tree
 * (GET /api/units; no personal data), so a route, a timeline or a table names 顺庆区 rather than
 * 县(区) 511302000000, and the unit picker can offer any unit of a level (异地办理).
 */
import { api, unitNames } from './api.js'
import { P } from './ctx.js'

/** Re-read the directory after this long anyway (units are added and renamed rarely). */
const FRESH_MS = 5 * 60_000
/** A page that meets an unknown code asks again, but not more often than this. */
const RETRY_MS = 10_000

let units = []
let loadedAt = 0
let loading = null

/**
 * Loads the directory into `unitNames` (and the picker's list) once, again when it is stale or
 * when `need` names a code not known yet. Never throws: offline, names stay codes.
 */
export async function loadUnits({ need = [] } = {}) {
  const age = Date.now() - loadedAt
  const missing = need.some((c) => c && !unitNames.has(c))
  if (loadedAt && age < FRESH_MS && !(missing && age > RETRY_MS)) return units
  loading ??= api('GET', '/api/units').then((res) => {
    units = res.units
    for (const u of units) unitNames.set(u.code, u.name)
    loadedAt = Date.now()
  }, (e) => {
    console.warn('unit directory unavailable:', e.message)
    loadedAt = Date.now() - FRESH_MS + RETRY_MS // try again soon, not on every render
  }).finally(() => {
    loading = null
  })
  await loading
  return units
}

/** Every code a case names: where it was taken in, every handler, every event's author and a transfer's target. */
export function codesOfCase(c) {
  return [c.originCode, ...(c.handlers ?? [c.handlerCode]), ...(c.events ?? []).flatMap((e) => [e.author, e.to])]
}

/**
 * How well `u` matches what was typed: its code, its name, part of its name, the pinyin
 * initials of its name (ljz → 李家镇), or the start of its code; 0 is no match.
 */
export function unitScore(u, query) {
  const q = query.trim().toLowerCase()
  if (!q) return 1
  if (u.code === q) return 100
  if (u.name === q) return 95
  if (u.name.includes(q)) return 70
  if (P.matchesInitials(u.name, q)) return 60
  return u.code.startsWith(q) ? 50 : 0
}
