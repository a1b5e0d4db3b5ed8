/**
 * The public progress lookup (办件进度查询), no login: an applicant gives the case number from
 * the acceptance receipt and the phone number given at intake, and learns the status, the due
 * date, what to bring for a correction and the reason of a refusal — nothing personal, no name,
 * no materials held (protocol/progress.ts). Any node answers for any case of its subtree: one it
 * does not hold is asked of the child on the way to the window that took it in. A wrong phone and an unknown case answer with the
 * same 404 and the same message, so the lookup cannot be used to learn which numbers exist; a
 * per-address limit keeps anyone from trying many lookups, and a per-case limit keeps anyone
 * (from however many addresses) from trying phone numbers against one case.
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { CaseIdSchema, type CaseView, type LinkAnswer, type PublicProgress } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { phoneHash } from '../services/progress.ts'

export { samePhone } from '../services/progress.ts'
import { minutesOf, Throttle } from '../services/throttle.ts'
import { clientAddress } from './address.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'

export const ProgressQuerySchema = z.object({
  id: CaseIdSchema,
  phone: z.string().trim().regex(/^(?=(?:\D*\d){5})[0-9+\- ]{5,20}$/, '手机号至少 5 位数字 (a phone number has at least 5 digits; 5–20 characters of digits, +, - and spaces)'),
})

/** `POST /api/public/rating`: the applicant's own rating (好差评), given the case number and phone. */
export const PublicRatingSchema = ProgressQuerySchema.extend({
  rating: z.number({ error: '评价为 1–5 的整数 (rating: a whole number 1–5, 5 = 非常满意)' }).int('评价为 1–5 的整数 (rating: a whole number 1–5)').min(1, '评价为 1–5 的整数 (rating: 1–5)').max(5, '评价为 1–5 的整数 (rating: 1–5)'),
  comment: z.string().trim().max(500, '评价意见不超过 500 字 (a comment has at most 500 characters)').optional(),
})

/** Who a rating given on the public page is recorded as (the event's `user`): the applicant, not a clerk. */
export const APPLICANT_USER = '申请人（网上评价）'

const NOT_FOUND = '没有找到与此手机号对应的办件，请核对办件编号和手机号 (no case with this number and phone)'

/** Lookups allowed per client address per window. */
const LIMIT = 30
const WINDOW_MS = 10 * 60_000

/** Fixed-window counts by client address; an old window is dropped when touched. */
export class AttemptLimiter {
  readonly throttle: Throttle
  constructor(limit = LIMIT, windowMs = WINDOW_MS, now = () => Date.now()) {
    this.throttle = new Throttle(limit, windowMs, now)
  }

  /** Counts one attempt; false when the address is over its limit. */
  take(key: string): boolean {
    if (this.throttle.blockedFor(key)) return false
    this.throttle.hit(key)
    return true
  }
}

function limited(c: Context, waitMs: number, message: string): never {
  c.header('Retry-After', String(Math.ceil(waitMs / 1000)))
  throw new ApiError('rate_limited', message, { retryAfterSeconds: Math.ceil(waitMs / 1000) })
}

/**
 * `limiter` counts every lookup per client address; the node's progress lookup counts failed
 * lookups per case number (services/progress.ts), so rotating addresses does not buy more
 * guesses at one case's phone. Once a case is over its limit even the right phone waits (else
 * the guessing would go on), and an unknown case number is counted just like a known one (so the
 * 429 tells nothing about which numbers exist).
 */
export function publicRoutes(limiter = new AttemptLimiter()) {
  function perAddress(c: Context<AppEnv>): void {
    const from = clientAddress(c.env)
    if (!limiter.take(from)) {
      limited(c, limiter.throttle.blockedFor(from), '查询过于频繁，请十分钟后再试 (too many lookups from this address: try again in ten minutes)')
    }
  }

  /** The answer as the page reads it: found, or the one 404 for a wrong phone and an unknown number alike. */
  async function answered(c: Context<AppEnv>, a: LinkAnswer): Promise<PublicProgress> {
    if (a.outcome === 'found') return a.progress
    if (a.outcome === 'limited') {
      const min = minutesOf(a.retryAfterSeconds * 1000)
      limited(c, a.retryAfterSeconds * 1000, `此办件查询失败次数过多，请 ${min} 分钟后再试，或携带受理回执到窗口查询 (too many failed lookups of this case: try again in ${min} min, or ask at the window with your receipt)`)
    }
    if (a.outcome === 'unreachable') {
      const name = await c.var.node.progress.unitName(a.unit)
      throw new ApiError('unavailable', `暂时联系不上${name}，请稍后再试，或到受理窗口所在网站查询 (${name} cannot be reached now: try again later, or on the site of the window that took the case in)`, { unit: a.unit })
    }
    throw new ApiError('not_found', NOT_FOUND)
  }

  return new Hono<AppEnv>().get('/progress', async (c) => {
    perAddress(c)
    const q = parseOr400(ProgressQuerySchema, c.req.query(), 'progress lookup')
    const a = await c.var.node.progress.answer({ kind: 'progress', caseId: q.id, phoneHash: phoneHash(q.id, q.phone) })
    const out = await answered(c, a)
    c.header('cache-control', 'no-store')
    return c.json(out)
  }).post('/rating', async (c) => {
    perAddress(c)
    const body = parseOr400(PublicRatingSchema, await jsonBody(c, 16_384), 'rating')
    // Only the case held here (never asked below), after the same limits as the lookup: rating is no back door for guessing phones.
    const held = await c.var.node.progress.heldCase({ kind: 'progress', caseId: body.id, phoneHash: phoneHash(body.id, body.phone) })
    if ('outcome' in held) await answered(c, held) // throws: 404, 429
    const view = held as CaseView
    // The rating is the origin window's event (统一窗口出件: it was handed over there).
    if (view.originCode !== c.var.node.config.code) {
      throw new ApiError('forbidden', '请在受理此件的窗口网站评价（见受理回执） (rate this case on the site of the window that took it in, named on your receipt)')
    }
    if (view.rating !== null) throw new ApiError('conflict', '此办件已评价，谢谢 (this case has already been rated)')
    if (view.status !== 'delivered') throw new ApiError('transition_refused', '办件出件后才能评价 (a rating is given once the result has been handed over)', { status: view.status })
    const after = await c.var.node.cases.act(view.id, { type: 'rated', rating: body.rating, comment: body.comment }, { name: APPLICANT_USER, role: 'agent' })
    c.header('cache-control', 'no-store')
    return c.json({ id: after.id, rating: after.rating })
  })
}
