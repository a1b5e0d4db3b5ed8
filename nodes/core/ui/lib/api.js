/**
 * Talking to this node's JSON API. The session (token, name, role) lives in sessionStorage:
 * it ends with the browser tab, so a shared village laptop does not stay logged in.
 */
import { lang, t } from './i18n.js'

const KEY = 'tongban.session'

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) ?? 'null')
    } catch {
      return null
    }
  },
  set(s) {
    sessionStorage.setItem(KEY, JSON.stringify(s))
  },
  clear() {
    sessionStorage.removeItem(KEY)
  },
}

/** An error the API answered with (`{error: {code, message, details}}`), or a network failure (status 0). */
export class ApiFailure extends Error {
  constructor(status, code, message, details) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

let onUnauthenticated = () => {}
/** What to do when the token is refused (the app goes to the login page). */
export function whenLoggedOut(fn) {
  onUnauthenticated = fn
}

/**
 * Calls the API; resolves with the parsed JSON, throws ApiFailure. `opts.idempotencyKey` names a
 * write: sent again with the same key (after a lost reply, a network failure, a 503), the node
 * answers the first result and stores nothing twice.
 */
export async function api(method, path, body, opts = {}) {
  const headers = {}
  const s = session.get()
  if (s?.token && opts.auth !== false) headers.authorization = `Bearer ${s.token}`
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
  let payload
  if (body !== undefined) {
    if (typeof body === 'string') {
      headers['content-type'] = opts.type ?? 'text/plain'
      payload = body
    } else {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body)
    }
  }
  let res
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store' })
  } catch {
    throw new ApiFailure(0, 'network', t('err.network'))
  }
  const text = await res.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    throw new ApiFailure(res.status, 'bad_response', t('err.badResponse'))
  }
  if (!res.ok) {
    const e = data?.error ?? {}
    if (res.status === 401 && opts.auth !== false && path !== '/api/login') {
      session.clear()
      onUnauthenticated()
    }
    const code = e.code ?? 'http_' + res.status
    throw new ApiFailure(res.status, code, localized(code, e.message ?? `HTTP ${res.status}`), e.details)
  }
  // Statistics carry the names of the units below (they travel up with their figures).
  if (data && typeof data.names === 'object' && data.names) for (const [code, name] of Object.entries(data.names)) unitNames.set(code, String(name))
  return data
}

/** Any Chinese character: a server message that has one already speaks Chinese (most say 中文 (English)). */
const CJK = /[\u3400-\u9fff]/

/**
 * What a person reads of a server message. Every API error has a code (protocol/codes.ts); in
 * Chinese, a message the node wrote in English alone gets the Chinese text of its code first,
 * with the node's own words after it (what to quote to an administrator).
 */
export function localized(code, message) {
  if (lang() !== 'zh' || CJK.test(message)) return message
  const key = 'err.code.' + code
  const zh = t(key)
  return zh === key ? `${t('err.code.other')}（${message}）` : `${zh}（${message}）`
}

/** Names of units by division code, learnt from statistics replies. */
export const unitNames = new Map()

/** Builds a query string from the defined values of `params`. */
export function qs(params) {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? '?' + s : ''
}

/** A fresh Idempotency-Key for one submission. */
export function newRequestKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

/**
 * Sends a keyed write, retrying (a bounded few times) while the network is down or the node
 * answers 503: the same key each time, so a retry of something that did arrive stores nothing twice.
 */
export async function apiRetrying(method, path, body, key, tries = 3) {
  for (let i = 0; ; i++) {
    try {
      return await api(method, path, body, { idempotencyKey: key })
    } catch (x) {
      const again = x instanceof ApiFailure && (x.status === 0 || x.status === 503)
      if (!again || i + 1 >= tries) throw x
      await new Promise((r) => setTimeout(r, 1000 * 2 ** i))
    }
  }
}
