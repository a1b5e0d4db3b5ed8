import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { closeReason, cutUtf8, MAX_CLOSE_REASON_BYTES, utf8Length } from './utf8.ts'

const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

describe('cutting text by UTF-8 bytes', () => {
  it('keeps short text as it is', () => {
    expect(closeReason('malformed frame')).toBe('malformed frame')
  })

  it('cuts Chinese, emoji and lone surrogates within the close-reason limit, never mid-character', () => {
    for (const s of ['文'.repeat(200), '😀'.repeat(100), 'a' + '文'.repeat(60), '\uD800'.repeat(80)]) {
      const r = closeReason(s)
      expect(bytes(r)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES)
      expect(r.endsWith('…')).toBe(true)
      expect(Buffer.from(r, 'utf8').toString('utf8')).toBe(r) // round-trips: no split character
    }
  })

  it('measures as Node does, and never exceeds the limit (any string)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 0, max: 200 }), (s, n) => {
      const cut = cutUtf8(s, n)
      expect(bytes(cut)).toBeLessThanOrEqual(n)
      expect(utf8Length(cut)).toBe(bytes(cut))
    }))
  })
})
