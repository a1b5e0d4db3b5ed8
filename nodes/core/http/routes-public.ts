/**
 * The public progress lookup (办件进度查询), no login: an applicant gives the case number from
 * the acceptance receipt and the phone number given at intake, and learns the status and due
 * date — nothing else, no name, no materials. A wrong phone and an unknown case answer with the
 * same 404 and the same message, so the lookup cannot be used to learn which numbers exist; a
 * per-address limit keeps anyone from trying many lookups, and a per-case limit keeps anyone
 * (from however many addresses) from trying phone numbers against one case.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { CaseIdSchema, type CaseStatus, type ResultKind } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { minutesOf, Throttle } from '../services/throttle.ts'
import { clientAddress } from './address.ts'
import type { AppEnv } from './env.ts'

export const ProgressQuerySchema = z.object({
  id: CaseIdSchema,
  phone: z.string().trim().regex(/^(?=(?:\D*\d){5})[0-9+\- ]{5,20}$/, '手机号至少 5 位数字 (a phone number has at least 5 digits; 5–20 characters of digits, +, - and spaces)'),
})

/** What the lookup shows: the case number, the item, its status and due date. */
export interface PublicProgress {
  id: string
  itemName: string
  status: CaseStatus
  dueDate: string | null
  /** The item's kind of result, for the words of its outcome (protocol/outcomes.ts). */
  resultKind: ResultKind
}

const NOT_FOUND = '没有找到与此手机号对应的办件，请核对办件编号和手机号 (no case with this number and phone)'

/** Digits only: "138 0000-0000" and "13800000000" are the same phone. */
export const phoneDigits = (s: string) => s.replace(/\D/g, '')
const MIN_DIGITS = 5
/**
 * The same phone, compared by digits in constant time. A phone with fewer than 5 digits matches
 * nothing (a case stored before intake required them, "- - -", must not match "+++++").
 */
export function samePhone(stored: string, given: string): boolean {
  const a = phoneDigits(stored)
  const b = phoneDigits(given)
  const same = timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
  return same && a.length >= MIN_DIGITS
}

/** Lookups allowed per client address per window. */
const LIMIT = 30
const WINDOW_MS = 10 * 60_000
/** Failed lookups (wrong phone) allowed per case number per window, from all addresses together. */
const CASE_LIMIT = 10
const CASE_WINDOW_MS = 60 * 60_000

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
 * `limiter` counts every lookup per client address; `perCase` counts failed lookups per case
 * number, so rotating addresses does not buy more guesses at one case's phone. Once a case is
 * over its limit even the right phone waits (else the guessing would go on), and an unknown case
 * number is counted just like a known one (so the 429 tells nothing about which numbers exist).
 */
export function publicRoutes(limiter = new AttemptLimiter(), perCase = new Throttle(CASE_LIMIT, CASE_WINDOW_MS)) {
  return new Hono<AppEnv>().get('/progress', async (c) => {
    const from = clientAddress(c.env)
    if (!limiter.take(from)) {
      limited(c, limiter.throttle.blockedFor(from), '查询过于频繁，请十分钟后再试 (too many lookups from this address: try again in ten minutes)')
    }
    const q = parseOr400(ProgressQuerySchema, c.req.query(), 'progress lookup')
    const wait = perCase.blockedFor(q.id)
    if (wait) {
      const min = minutesOf(wait)
      limited(c, wait, `此办件查询失败次数过多，请 ${min} 分钟后再试，或携带受理回执到窗口查询 (too many failed lookups of this case: try again in ${min} min, or ask at the window with your receipt)`)
    }
    const view = await c.var.node.cases.get(q.id)
    if (!view || !samePhone(view.applicant.phone, q.phone)) {
      perCase.hit(q.id)
      throw new ApiError('not_found', NOT_FOUND)
    }
    const item = await c.var.node.catalogue.get(view.itemCode)
    const out: PublicProgress = { id: view.id, itemName: item?.name ?? view.itemCode, status: view.status, dueDate: view.dueDate, resultKind: item?.resultKind ?? 'licence' }
    c.header('cache-control', 'no-store')
    return c.json(out)
  })
}
