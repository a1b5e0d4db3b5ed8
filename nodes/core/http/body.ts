/**
 * Reading request bodies with errors a person can act on, and with the size limit enforced
 * while reading: a Content-Length is not required (a chunked request has none), so the bytes
 * are counted as they arrive and keeping them stops at the limit. The 413 carries
 * `Connection: close`; what the client still sends is read and dropped while the close lingers
 * (linger.ts: until the client closes, 5 s quiet, 30 s or 64 MiB), so an unauthenticated client
 * cannot make the node hold 256 MB, nor read more than 64 MiB past the limit.
 */
import type { Context } from 'hono'
import { ApiError } from '../errors.ts'
import { LINGER_MAX_BYTES } from './linger.ts'

/** The largest request body any route takes (a catalogue CSV is the biggest: well under this). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

export async function jsonBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const text = await textBody(c, maxBytes)
  if (text.trim() === '') throw new ApiError('bad_request', 'the request body is empty: send JSON')
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new ApiError('bad_request', `the request body is not valid JSON: ${(e as Error).message}`)
  }
}

export async function textBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<string> {
  return new TextDecoder().decode(await limitedBody(c, maxBytes))
}

/** The body's bytes, at most `maxBytes`: past it, 413 without keeping any more. */
export async function limitedBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = c.req.header('content-length')
  const body = c.req.raw.body
  if (declared !== undefined && Number(declared) > maxBytes) {
    if (body) dropRest(body.getReader())
    tooLarge(c, `the body is ${declared} bytes; the limit is ${maxBytes}`)
  }
  if (!body) return new Uint8Array(0)
  const reader = body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  let refused = false
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      // Stop keeping at the limit: the 413 goes out at once, and its close lingers (linger.ts).
      if (total > maxBytes) {
        refused = true
        tooLarge(c, `the body is over ${maxBytes} bytes`)
      }
      parts.push(value)
    }
  } finally {
    if (refused) dropRest(reader)
    else reader.releaseLock()
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/**
 * Reads and drops what the client still sends after a 413, up to LINGER_MAX_BYTES. Left unread,
 * the body would back up into the socket, Node's HTTP server would stop reading it, and the
 * lingering close would end in the reset it is there to avoid. The reads end with the socket.
 */
function dropRest(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  let dropped = 0
  const next = (): void => {
    reader.read().then(({ done, value }) => {
      if (done) return
      dropped += value.byteLength
      if (dropped <= LINGER_MAX_BYTES) next()
    }, () => {})
  }
  next()
}

function tooLarge(c: Context, message: string): never {
  c.header('Connection', 'close')
  throw new ApiError('payload_too_large', message)
}
