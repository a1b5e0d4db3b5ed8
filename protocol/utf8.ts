/**
 * Cutting text by its UTF-8 length. Limits on the wire are in bytes (a WebSocket close reason
 * is at most 123), and a peer chooses the text we echo back (a document id, an error message),
 * so `s.slice(0, n)` — which counts UTF-16 units — is not a bound: 120 Chinese characters are
 * 360 bytes, and `ws` throws on a close reason over 123.
 */

/** The largest close reason a WebSocket close frame may carry (RFC 6455: 125 − the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123

const encoder = new TextEncoder()

/** How many bytes `s` takes in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes, as it is sent). */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/**
 * The longest prefix of `s` of whole code points within `maxBytes` of UTF-8, ending in "…"
 * when it was cut (the ellipsis counted in the limit). Lone surrogates become U+FFFD, so what
 * is measured is what gets sent.
 */
export function cutUtf8(s: string, maxBytes: number): string {
  const text = String(s).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  if (utf8Length(text) <= maxBytes) return text
  const room = maxBytes - 3 // "…" is 3 bytes
  let out = ''
  let bytes = 0
  for (const p of text) {
    const b = encoder.encode(p).length
    if (bytes + b > room) break
    out += p
    bytes += b
  }
  return room >= 0 ? `${out}…` : ''
}

/** A WebSocket close reason: `s` cut to MAX_CLOSE_REASON_BYTES of UTF-8. */
export function closeReason(s: string): string {
  return cutUtf8(s, MAX_CLOSE_REASON_BYTES)
}
