/**
 * 网上预审 over HTTP (protocol/prereview.ts, services/prereviews.ts).
 *
 * Public, no login (mounted before the login check): the items an applicant may pre-review here,
 * `POST /api/public/prereviews` to make one, `GET /api/public/prereviews/:no?phone=` to read the
 * answer. Every attempt counts against a per-address limit (made ones per hour, lookups per ten
 * minutes), failed lookups also against the number, from all addresses together; the body is
 * read up to 16 KB (413 past it). A wrong phone and an unknown number answer alike (404, same
 * words), so the lookup tells nothing about which numbers exist. Messages are in Chinese first:
 * the applicant reads them.
 *
 * Staff (after the login check): the queue, one pre-review, the answer, and intake from it.
 */
import { Hono, type Context } from 'hono'
import { PrereviewAnswerSchema, PrereviewLookupSchema, PrereviewNoSchema, PREREVIEW_MAX_BODY, PREREVIEW_STATUSES, type PrereviewStatus } from '../../../protocol/prereview.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { PrereviewService } from '../services/prereviews.ts'
import { minutesOf, Throttle } from '../services/throttle.ts'
import { clientAddress } from './address.ts'
import { requireRole } from './auth.ts'
import { jsonBody } from './body.ts'
import { samePhone } from '../services/progress.ts'
import type { AppEnv } from './env.ts'

export interface PrereviewLimits {
  /** Pre-reviews made per address per hour. */
  create: Throttle
  /** Lookups per address per ten minutes. */
  lookup: Throttle
  /** Failed lookups per pre-review number per hour, from all addresses. */
  perNumber: Throttle
}

export const defaultPrereviewLimits = (): PrereviewLimits => ({
  create: new Throttle(20, 60 * 60_000),
  lookup: new Throttle(30, 10 * 60_000),
  perNumber: new Throttle(10, 60 * 60_000),
})

const NOT_FOUND = '没有找到与此手机号对应的预审，请核对预审编号和手机号 (no pre-review with this number and phone)'

const service = (c: Context<AppEnv>) => new PrereviewService(c.var.node)


function limited(c: Context, waitMs: number, message: string): never {
  const s = Math.ceil(waitMs / 1000)
  c.header('Retry-After', String(s))
  throw new ApiError('rate_limited', message, { retryAfterSeconds: s })
}

/** Counts one attempt of `key` against `t`; 429 once over. */
function take(c: Context, t: Throttle, key: string, message: (min: number) => string): void {
  const wait = t.blockedFor(key)
  if (wait) limited(c, wait, message(minutesOf(wait)))
  t.hit(key)
}

/** The JSON body, up to PREREVIEW_MAX_BODY, with the applicant's words for what is wrong with it. */
async function body(c: Context): Promise<unknown> {
  try {
    return await jsonBody(c, PREREVIEW_MAX_BODY)
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    if (e.code === 'payload_too_large') throw new ApiError('payload_too_large', `提交的内容太大（上限 ${PREREVIEW_MAX_BODY / 1024} KB），请只填写表单中的内容 (the body is over ${PREREVIEW_MAX_BODY} bytes)`)
    throw new ApiError('bad_request', `提交的内容无法识别，请在预审页面填写后提交 (${e.message})`)
  }
}

export function publicPrereviewRoutes(limits: PrereviewLimits = defaultPrereviewLimits()) {
  return new Hono<AppEnv>()
    .get('/prereview-items', async (c) => {
      const items = (await service(c).items()).map((i) => ({
        code: i.code, name: i.name, department: i.department, level: i.level, kind: i.kind, promisedDays: i.promisedDays, fee: i.fee,
        materials: i.materials,
      }))
      return c.json({ items })
    })
    .post('/prereviews', async (c) => {
      take(c, limits.create, clientAddress(c.env), (min) => `提交过于频繁，请 ${min} 分钟后再试 (too many pre-reviews from this address: try again in ${min} min)`)
      const made = await service(c).create(await body(c))
      c.header('cache-control', 'no-store')
      return c.json(made, 201)
    })
    .get('/prereviews/:no', async (c) => {
      take(c, limits.lookup, clientAddress(c.env), (min) => `查询过于频繁，请 ${min} 分钟后再试 (too many lookups from this address: try again in ${min} min)`)
      const q = parseOr400(PrereviewLookupSchema, { no: c.req.param('no'), phone: c.req.query('phone') }, '预审查询 (pre-review lookup)')
      const wait = limits.perNumber.blockedFor(q.no)
      if (wait) limited(c, wait, `此预审查询失败次数过多，请 ${minutesOf(wait)} 分钟后再试 (too many failed lookups of this number)`)
      const found = await service(c).lookup(q.no, (stored) => samePhone(stored, q.phone))
      if (!found) {
        limits.perNumber.hit(q.no)
        throw new ApiError('not_found', NOT_FOUND)
      }
      c.header('cache-control', 'no-store')
      return c.json(found)
    })
}

function number(c: Context): string {
  return parseOr400(PrereviewNoSchema, c.req.param('no'), '预审编号 (pre-review number)')
}

const statusList = (s: string | undefined): PrereviewStatus[] | undefined => {
  if (!s) return undefined
  const list = s.split(',')
  const bad = list.filter((x) => !(PREREVIEW_STATUSES as readonly string[]).includes(x))
  if (bad.length) throw new ApiError('invalid_input', `status: ${PREREVIEW_STATUSES.join(', ')} 之一或以逗号分隔 (unknown status ${bad.join(', ').slice(0, 60)})`)
  return list as PrereviewStatus[]
}

/** `/api/prereviews` for staff and agents (supervisors may read). */
export const prereviewRoutes = new Hono<AppEnv>()
  // Personal data: the roles that take applications in, and supervisors, see it; administrators do not.
  .use('*', requireRole('staff', 'agent', 'supervisor'))
  .get('/', async (c) => c.json({ prereviews: await service(c).list({ status: statusList(c.req.query('status')) }) }))
  .get('/:no', async (c) => {
    const p = await service(c).get(number(c))
    if (!p) throw new ApiError('not_found', `本节点没有预审编号 ${c.req.param('no')} (no such pre-review at this node)`)
    return c.json(p)
  })
  .post('/:no/answer', async (c) => {
    const no = number(c)
    const input = parseOr400(PrereviewAnswerSchema, await jsonBody(c), '预审答复 (answer)')
    return c.json(await service(c).answer(no, input, c.var.user))
  })
  .post('/:no/intake', async (c) => {
    const no = number(c)
    return c.json(await service(c).intake(no, await jsonBody(c), c.var.user), 201)
  })
