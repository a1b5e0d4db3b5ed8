/**
 * /api/cases: intake, reads, and actions.
 *
 * Writes take an optional `Idempotency-Key` header (README, HTTP API): the key is recorded in
 * the same transaction as the change, so a retry with the same key answers the first result
 * (once it is known to be on disk) and stores nothing twice. Query strings are checked by
 * protocol's CaseListQuerySchema: a bad one answers 400 naming the parameter.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { CaseIdSchema, CaseListQuerySchema, IdempotencyKeySchema } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { findRequest, isDuplicateKey, requestKey, type RequestKey } from '../services/request-keys.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'

/** The request's idempotency key, if it sent one (400 if malformed). */
function keyOf(c: Context<AppEnv>, body: unknown): RequestKey | undefined {
  const raw = c.req.header('idempotency-key')
  if (raw === undefined) return undefined
  const key = parseOr400(IdempotencyKeySchema, raw, 'Idempotency-Key header')
  return requestKey(c.var.user.name, key, c.req.method, c.req.path, body)
}

/**
 * Runs a keyed write once: a key already recorded answers what it answered first (after making
 * sure that is on disk: the first attempt may have ended in an unconfirmed sync); a twin that
 * lost the race to the same key answers the winner's result.
 */
async function once<T>(c: Context<AppEnv>, key: RequestKey | undefined, write: () => Promise<T>, replay: (first: unknown) => Promise<T>): Promise<{ out: T; replayed: boolean }> {
  if (!key) return { out: await write(), replayed: false }
  const db = c.var.node.db
  const first = await findRequest(db, key)
  if (first !== null) {
    await c.var.node.docs.durable()
    return { out: await replay(first), replayed: true }
  }
  try {
    return { out: await write(), replayed: false }
  } catch (e) {
    if (!isDuplicateKey(e)) throw e
    const won = await findRequest(db, key)
    if (won === null) throw e
    await c.var.node.docs.durable()
    return { out: await replay(won), replayed: true }
  }
}

export const casesRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await jsonBody(c)
    const key = keyOf(c, body)
    const { out, replayed } = await once(c, key, () => c.var.node.cases.intake(body, c.var.user, { request: key }), async (first) => first as Awaited<ReturnType<typeof c.var.node.cases.intake>>)
    if (replayed) c.header('idempotent-replayed', 'true')
    return c.json(out, 201)
  })
  .get('/', async (c) => {
    const q = parseOr400(CaseListQuerySchema, c.req.query(), 'case list query')
    return c.json(await c.var.node.cases.list(q))
  })
  .get('/:id', async (c) => {
    const id = c.req.param('id')
    if (!CaseIdSchema.safeParse(id).success) throw new ApiError('invalid_input', `"${id}" is not a case number (<origin code>-<YYYYMMDD>-<sequence>)`)
    const view = await c.var.node.cases.get(id)
    if (!view) throw new ApiError('not_found', `case ${id} is not held at this node`)
    return c.json(view)
  })
  .post('/:id/events', async (c) => {
    const id = c.req.param('id')
    if (!CaseIdSchema.safeParse(id).success) throw new ApiError('invalid_input', `"${id}" is not a case number (<origin code>-<YYYYMMDD>-<sequence>)`)
    const body = await jsonBody(c)
    const key = keyOf(c, body)
    const { out, replayed } = await once(c, key, () => c.var.node.cases.act(id, body, c.var.user, { request: key }), async () => (await c.var.node.cases.get(id))!)
    if (replayed) c.header('idempotent-replayed', 'true')
    return c.json(out, 200)
  })
