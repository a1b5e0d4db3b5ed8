/**
 * The canonical encoding signatures and content ids are computed over: JSON with object keys
 * sorted (by UTF-16 code units, as Array.prototype.sort), no whitespace, `undefined` members
 * left out. The same value always gives the same string, whichever replica encodes it and in
 * whatever key order Yjs hands it back.
 *
 * Built as one string, without an array of parts per object or array: a township checks one
 * signed application per case it receives, and the parts were a tenth of what it allocated.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, null)
}

/**
 * The canonical JSON of `value` without its top-level members named in `omit` (the signature,
 * the id derived from the rest): the same string as `canonicalJson(without(value, ...omit))`,
 * without the copy. Like that copy, it also leaves out a top-level `__proto__` member (assigning
 * it to a plain object sets the prototype, not a member), so the text signed stays what it was.
 */
export function canonicalJsonWithout(value: object, omit: readonly string[]): string {
  // Anything but a plain object (an array, bytes, null from a hostile peer) goes the long way, as it always did.
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return canonicalJson(without(value, ...omit))
  return encode(value, omit)
}

function encode(value: unknown, omit: readonly string[] | null): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
    if (value === undefined) throw new TypeError('canonical JSON has no undefined')
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`canonical JSON has no ${typeof value}`)
    return JSON.stringify(value)
  }
  if (value instanceof Uint8Array) throw new TypeError('canonical JSON has no binary values')
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      // A hole is empty (as Array.prototype.map and join leave it); an undefined element is null.
      if (!(i in value)) continue
      const v: unknown = value[i]
      out += v === undefined ? 'null' : encode(v, null)
    }
    return out + ']'
  }
  const rec = value as Record<string, unknown>
  const keys = Object.keys(rec).sort()
  let out = '{'
  let first = true
  for (const k of keys) {
    const v = rec[k]
    if (v === undefined) continue
    if (omit !== null && (k === '__proto__' || omit.includes(k))) continue
    if (!first) out += ','
    first = false
    out += JSON.stringify(k) + ':' + encode(v, null)
  }
  return out + '}'
}

/** `value` without the named members (the signature, the id derived from the rest). */
export function without<T extends object>(value: T, ...keys: string[]): Omit<T, never> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (!keys.includes(k)) out[k] = v
  return out as T
}
