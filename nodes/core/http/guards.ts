/**
 * Input no route should ever see, refused once for all routes (issue 7, class 8), and storage
 * faults answered for what they mean rather than as a bare 500.
 */
import type { Context, Next } from 'hono'
import type { ApiErrorBody } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import { JournalSyncError, JournalWriteError } from '../store/journal.ts'

/**
 * A NUL byte in the path or a query value: Postgres text cannot hold one, so it would reach the
 * store only to fail there (500). A malformed %-escape is refused here too. (Bodies are checked
 * by parseOr400, which every body passes through.)
 */
export async function refuseNul(c: Context, next: Next): Promise<void> {
  const url = new URL(c.req.url)
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    throw new ApiError('bad_request', 'the URL path has a malformed %-escape')
  }
  if (path.includes('\u0000')) throw new ApiError('bad_request', 'the URL path contains a NUL character (%00), which nothing here can hold; remove it')
  for (const [name, value] of url.searchParams) {
    if (name.includes('\u0000') || value.includes('\u0000')) {
      throw new ApiError('invalid_input', `query parameter ${JSON.stringify(name.replaceAll('\u0000', '\\0'))} contains a NUL character (%00), which nothing here can hold; remove it`)
    }
  }
  await next()
}

/**
 * The journal could not be written (a full disk): the transaction rolled back, nothing was
 * stored — 503, retry later. The journal could not be synced: the change is stored but not
 * known to be on disk — 503 saying so; a retry with the same Idempotency-Key answers the first
 * result once a sync succeeds.
 */
export function storageFault(err: unknown, c: Context): Response | null {
  if (err instanceof JournalWriteError) {
    console.error(`${c.req.method} ${c.req.path}: ${err.message}`)
    return c.json<ApiErrorBody>({ error: { code: 'unavailable', message: `the node could not write to its disk (${err.cause.code ?? 'I/O error'}): nothing was stored. Free space on the node's disk, then send it again.`, details: { stored: false } } }, 503)
  }
  if (err instanceof JournalSyncError) {
    console.error(`${c.req.method} ${c.req.path}: ${err.message}`)
    return c.json<ApiErrorBody>({ error: { code: 'unavailable', message: `the change was stored, but the node could not confirm it is on its disk (${err.cause.code ?? 'I/O error'}). Send it again with the same Idempotency-Key: the retry answers the first result and stores nothing twice.`, details: { stored: 'unconfirmed' } } }, 503)
  }
  return null
}
