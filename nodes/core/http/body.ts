/**
 * Reading request bodies with errors a person can act on, and with the size limit enforced
 * while reading: a Content-Length is not required (a chunked request has none), so the bytes
 * are counted as they arrive and reading stops at the limit. The 413 carries
 * `Connection: close`, so the server stops taking the rest (node-server drains at most 500 ms
 * of it, then drops the socket) and an unauthenticated client cannot make the node hold, or
 * even read, 256 MB.
 */
import type { Context } from 'hono'
import { ApiError } from '../errors.ts'

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

/** The body's bytes, at most `maxBytes`: past it, 413 without reading further. */
export async function limitedBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > maxBytes) tooLarge(c, `the body is ${declared} bytes; the limit is ${maxBytes}`)
  const body = c.req.raw.body
  if (!body) return new Uint8Array(0)
  const reader = body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      // Stop at the limit: what is not read stays in the socket, and the 413 closes it.
      if (total > maxBytes) tooLarge(c, `the body is over ${maxBytes} bytes`)
      parts.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

function tooLarge(c: Context, message: string): never {
  c.header('Connection', 'close')
  throw new ApiError('payload_too_large', message)
}
