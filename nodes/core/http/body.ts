/** Reading request bodies with errors a person can act on. */
import type { Context } from 'hono'
import { ApiError } from '../errors.ts'

const MAX_BODY = 4 * 1024 * 1024

export async function jsonBody(c: Context): Promise<unknown> {
  const text = await textBody(c)
  if (text.trim() === '') throw new ApiError('bad_request', 'the request body is empty: send JSON')
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new ApiError('bad_request', `the request body is not valid JSON: ${(e as Error).message}`)
  }
}

export async function textBody(c: Context): Promise<string> {
  const len = Number(c.req.header('content-length') ?? 0)
  if (len > MAX_BODY) throw new ApiError('payload_too_large', `the body is ${len} bytes; the limit is ${MAX_BODY}`)
  const text = await c.req.text()
  if (text.length > MAX_BODY) throw new ApiError('payload_too_large', `the body is over ${MAX_BODY} bytes`)
  return text
}
