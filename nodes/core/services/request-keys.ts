/**
 * Idempotency keys: a client names a write (`Idempotency-Key` header) and a retry with the same
 * name gets the first answer instead of a second case. The key is recorded by the service in the
 * same transaction as the change (`record`), so "the key is known" and "the change is stored"
 * are one fact: a reply lost on the way, a 503 from a full disk or an unconfirmed sync, a
 * double click — the retry is safe. Keys are per user (two agents may both pick "1"), and bound
 * to the request they first named: the same key on a different request is refused.
 */
import { createHash } from 'node:crypto'
import type { Queryable } from '../store/db.ts'
import { ApiError } from '../errors.ts'

export interface RequestKey {
  user: string
  key: string
  /** A hash of what was asked (method, path, body): the same key may not name another request. */
  fingerprint: string
}

export function requestKey(user: string, key: string, method: string, path: string, body: unknown): RequestKey {
  const fingerprint = createHash('sha256').update(`${method} ${path}\n${JSON.stringify(body)}`).digest('base64url')
  return { user, key, fingerprint }
}

/** Records the answer a key gave; inside the change's transaction. A concurrent twin fails on the primary key and rolls back. */
export async function recordRequest(tx: Queryable, k: RequestKey, response: unknown): Promise<void> {
  await tx.query('INSERT INTO request_keys (user_name, key, fingerprint, response) VALUES ($1, $2, $3, $4)', [k.user, k.key, k.fingerprint, JSON.stringify(response)])
}

/** The first answer of this key, or null when it names nothing yet; 409 when it named a different request. */
export async function findRequest<T>(q: Queryable, k: RequestKey): Promise<T | null> {
  const [row] = await q.query<{ fingerprint: string; response: T | string }>('SELECT fingerprint, response FROM request_keys WHERE user_name = $1 AND key = $2', [k.user, k.key])
  if (!row) return null
  if (row.fingerprint !== k.fingerprint) {
    throw new ApiError('conflict', `Idempotency-Key "${k.key}" already named a different request; send a new key for a new request`)
  }
  return typeof row.response === 'string' ? (JSON.parse(row.response) as T) : row.response
}

/** A unique violation: the twin of this request committed first. */
export function isDuplicateKey(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === '23505'
}

/** How long a key is remembered: far longer than any client retries (an offline village laptop included). */
export const KEY_DAYS = 30

/** Forgets keys older than KEY_DAYS (at start; the table stays small). */
export async function purgeRequestKeys(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM request_keys WHERE created_at < now() - make_interval(days => $1)`, [KEY_DAYS])
}
