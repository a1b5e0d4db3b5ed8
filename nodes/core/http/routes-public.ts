/**
 * The public progress lookup (办件进度查询), no login: an applicant gives the case number from
 * the acceptance receipt and the phone number given at intake, and learns the status and due
 * date — nothing else, no name, no materials. A wrong phone and an unknown case answer with the
 * same 404 and the same message, so the lookup cannot be used to learn which numbers exist; a
 * per-address limit keeps anyone from trying phone numbers against one case.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Hono } from 'hono'
import { z } from 'zod'
import { CaseIdSchema, type CaseStatus } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { AppEnv } from './env.ts'

export const ProgressQuerySchema = z.object({
  id: CaseIdSchema,
  phone: z.string().trim().regex(/^[0-9+\- ]{5,20}$/, 'a phone number is 5–20 digits'),
})

/** What the lookup shows: the case number, the item, its status and due date. */
export interface PublicProgress {
  id: string
  itemName: string
  status: CaseStatus
  dueDate: string | null
}

const NOT_FOUND = '没有找到与此手机号对应的办件，请核对办件编号和手机号 (no case with this number and phone)'

/** Digits only: "138 0000-0000" and "13800000000" are the same phone. */
const digits = (s: string) => s.replace(/\D/g, '')
const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())

/** Lookups allowed per client address per window. */
const LIMIT = 30
const WINDOW_MS = 10 * 60_000

/** Fixed-window counts by client address; an old window is dropped when touched. */
export class AttemptLimiter {
  private readonly windows = new Map<string, { start: number; n: number }>()
  constructor(private readonly limit = LIMIT, private readonly windowMs = WINDOW_MS, private readonly now = () => Date.now()) {}

  /** Counts one attempt; false when the address is over its limit. */
  take(key: string): boolean {
    const t = this.now()
    if (this.windows.size > 10_000) for (const [k, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(k)
    let w = this.windows.get(key)
    if (!w || t - w.start >= this.windowMs) this.windows.set(key, (w = { start: t, n: 0 }))
    return ++w.n <= this.limit
  }
}

/** The address of the client, from the Node server's socket (absent under `app.request`). */
function clientAddress(env: unknown): string {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress ?? 'local'
}

export function publicRoutes(limiter = new AttemptLimiter()) {
  return new Hono<AppEnv>().get('/progress', async (c) => {
    if (!limiter.take(clientAddress(c.env))) {
      throw new ApiError('rate_limited', '查询过于频繁，请十分钟后再试 (too many lookups: try again in ten minutes)')
    }
    const q = parseOr400(ProgressQuerySchema, c.req.query(), 'progress lookup')
    const view = await c.var.node.cases.get(q.id)
    if (!view || !sameSecret(digits(view.applicant.phone), digits(q.phone))) throw new ApiError('not_found', NOT_FOUND)
    const item = await c.var.node.catalogue.get(view.itemCode)
    const out: PublicProgress = { id: view.id, itemName: item?.name ?? view.itemCode, status: view.status, dueDate: view.dueDate }
    c.header('cache-control', 'no-store')
    return c.json(out)
  })
}
