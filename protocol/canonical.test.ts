/**
 * The canonical JSON signatures and event ids are computed over must not change by a byte:
 * the encoder built as one string (and `canonicalJsonWithout`, which skips the copy) against
 * the encoder it replaced, kept here as the reference, over hand-picked and random values.
 */
import { describe, expect, it } from 'vitest'
import { canonicalJson, canonicalJsonWithout, without } from './canonical.ts'
import { eventIdText, signingText } from './trust.ts'

/** The encoder as it was before (commit c6c2644): arrays of parts joined. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
    if (value === undefined) throw new TypeError('canonical JSON has no undefined')
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`canonical JSON has no ${typeof value}`)
    return JSON.stringify(value)
  }
  if (value instanceof Uint8Array) throw new TypeError('canonical JSON has no binary values')
  if (Array.isArray(value)) return '[' + value.map((v) => (v === undefined ? 'null' : reference(v))).join(',') + ']'
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort()
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + reference((value as Record<string, unknown>)[k])).join(',') + '}'
}

const outcome = (f: () => string): string => {
  try {
    return f()
  } catch (e) {
    return `threw ${(e as Error).constructor.name}: ${(e as Error).message}`
  }
}

// A deterministic generator of JSON-like values: nested objects and arrays, unicode and escaped
// keys, numbers of every kind JSON has, undefined members and elements, holes.
function random(seed: number) {
  let s = seed >>> 0
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  const keys = ['a', 'b', 'sig', 'id', 'Z', 'é', '中文', 'a"b', 'line\nbreak', '', '10', '9', '__proto__', 'constructor', 'toString']
  const leaf = (): unknown => [null, true, false, 0, -0, 1.5, -3e-7, 2 ** 53, 'text', '通办', 'quote"back\\slash', '\u2028', undefined][Math.floor(next() * 13)]
  const value = (depth: number): unknown => {
    const r = next()
    if (depth > 3 || r < 0.4) return leaf()
    if (r < 0.65) {
      const a: unknown[] = []
      const n = Math.floor(next() * 5)
      for (let i = 0; i < n; i++) if (next() < 0.9) a[i] = value(depth + 1)
      a.length = n // a skipped index stays a hole
      return a
    }
    const o: Record<string, unknown> = {}
    const n = Math.floor(next() * 6)
    for (let i = 0; i < n; i++) {
      const k = keys[Math.floor(next() * keys.length)]
      Object.defineProperty(o, k, { value: value(depth + 1), enumerable: true, writable: true, configurable: true }) // an own __proto__ member too, as JSON.parse makes
    }
    return o
  }
  return () => value(0)
}

describe('canonical JSON', () => {
  const picked: unknown[] = [
    null, 0, -0, 'x', [], {}, [1, undefined, 3], [, 2], { b: 1, a: [{ d: undefined, c: null }] }, { '10': 1, '9': 2, a: 3 },
    JSON.parse('{"__proto__": {"x": 1}, "sig": "s", "id": "i", "a": 1}'), JSON.parse('{"__proto__": 5, "b": 2}'),
    { sig: 'only' }, { a: new Date(0) }, { m: new Map([[1, 2]]) }, { s: Symbol('x') }, { n: NaN }, { f: () => 1 }, { big: 1n }, { u8: new Uint8Array([1]) },
  ]

  it('encodes every value as the encoder it replaced did, byte for byte (or refuses it the same way)', () => {
    for (const v of picked) expect(outcome(() => canonicalJson(v))).toBe(outcome(() => reference(v)))
    const next = random(11)
    for (let i = 0; i < 3000; i++) {
      const v = next()
      expect(outcome(() => canonicalJson(v))).toBe(outcome(() => reference(v)))
    }
  })

  it('the text signed and the event id text are what they were: the value without its signature (and id), as a copy would give', () => {
    const objects: unknown[] = [...picked, [1, 2], new Uint8Array([1, 2]), { a: 1, sig: 'x', id: 'y' }]
    const next = random(29)
    for (let i = 0; i < 3000; i++) objects.push(next())
    for (const v of objects) {
      if (v === null || typeof v !== 'object') continue
      expect(outcome(() => canonicalJsonWithout(v, ['sig']))).toBe(outcome(() => reference(without(v, 'sig'))))
      expect(outcome(() => signingText('application', v))).toBe(outcome(() => `tongban/application/v1\n${reference(without(v, 'sig'))}`))
      expect(outcome(() => eventIdText(v))).toBe(outcome(() => `tongban/event-id/v1\n${reference(without(v, 'id', 'sig'))}`))
    }
  })
})
