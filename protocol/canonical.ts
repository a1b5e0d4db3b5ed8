/**
 * The canonical encoding signatures and content ids are computed over: JSON with object keys
 * sorted (by UTF-16 code units, as Array.prototype.sort), no whitespace, `undefined` members
 * left out. The same value always gives the same string, whichever replica encodes it and in
 * whatever key order Yjs hands it back.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
    if (value === undefined) throw new TypeError('canonical JSON has no undefined')
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`canonical JSON has no ${typeof value}`)
    return JSON.stringify(value)
  }
  if (value instanceof Uint8Array) throw new TypeError('canonical JSON has no binary values')
  if (Array.isArray(value)) return '[' + value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',') + ']'
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort()
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((value as Record<string, unknown>)[k])).join(',') + '}'
}

/** `value` without the named members (the signature, the id derived from the rest). */
export function without<T extends object>(value: T, ...keys: string[]): Omit<T, never> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (!keys.includes(k)) out[k] = v
  return out as T
}
