/**
 * The unit directory (单位目录) as the pages use it: codes and names of every unit of the tree
 * (GET /api/units; no personal data), so a route, a timeline or a table names 顺庆区 rather than
 * 县(区) 511302000000.
 */
import { api, unitNames } from './api.js'

/** Re-read the directory after this long anyway (units are added and renamed rarely). */
const FRESH_MS = 5 * 60_000
/** A page that meets an unknown code asks again, but not more often than this. */
const RETRY_MS = 10_000

let loadedAt = 0
let loading = null

/**
 * Loads the directory into `unitNames` once, again when it is stale or
 * when `need` names a code not known yet. Never throws: offline, names stay codes.
 */
export async function loadUnits({ need = [] } = {}) {
  const age = Date.now() - loadedAt
  const missing = need.some((c) => c && !unitNames.has(c))
  if (loadedAt && age < FRESH_MS && !(missing && age > RETRY_MS)) return
  loading ??= api('GET', '/api/units').then((res) => {
    learnNames(res.units)
    loadedAt = Date.now()
  }, (e) => {
    console.warn('unit directory unavailable:', e.message)
    loadedAt = Date.now() - FRESH_MS + RETRY_MS // try again soon, not on every render
  }).finally(() => {
    loading = null
  })
  await loading
}

/**
 * Keeps the names of units the directory listed. A unit it holds without a name (a root that
 * vouched for no entry of its own) is listed under its code: its level and code say more
 * (县(区) 511302000000), so that is not kept.
 */
export function learnNames(units) {
  for (const u of units) if (u.name !== u.code) unitNames.set(u.code, u.name)
}

/** Every code a case names: where it was taken in, every handler, every event's author and a transfer's target. */
export function codesOfCase(c) {
  return [c.originCode, ...(c.handlers ?? [c.handlerCode]), ...(c.events ?? []).flatMap((e) => [e.author, e.to])]
}

