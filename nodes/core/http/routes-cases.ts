/** /api/cases: intake, reads, and actions. */
import { Hono } from 'hono'
import { CaseIdSchema } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'

export const casesRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const out = await c.var.node.cases.intake(await jsonBody(c), c.var.user)
    return c.json(out, 201)
  })
  .get('/', async (c) => {
    const q = c.req.query()
    const num = (v: string | undefined, name: string) => {
      if (v === undefined) return undefined
      if (!/^\d+$/.test(v)) throw new ApiError('invalid_input', `${name} must be a whole number`)
      return Number(v)
    }
    if (q.overdue !== undefined && !['true', 'false', '1', '0'].includes(q.overdue)) throw new ApiError('invalid_input', 'overdue is true or false')
    if (q.handler !== undefined && !/^\d{12}$/.test(q.handler)) throw new ApiError('invalid_input', 'handler is a 12-digit division code')
    const page = await c.var.node.cases.list({
      status: q.status, handler: q.handler, origin: q.origin,
      overdue: q.overdue === 'true' || q.overdue === '1', limit: num(q.limit, 'limit'), offset: num(q.offset, 'offset'),
    })
    return c.json(page)
  })
  .get('/:id', async (c) => {
    const id = c.req.param('id')
    if (!CaseIdSchema.safeParse(id).success) throw new ApiError('invalid_input', `"${id}" is not a case number (<origin code>-<YYYYMMDD>-<sequence>)`)
    const view = await c.var.node.cases.get(id)
    if (!view) throw new ApiError('not_found', `case ${id} is not held at this node`)
    return c.json(view)
  })
  .post('/:id/events', async (c) => {
    const view = await c.var.node.cases.act(c.req.param('id'), await jsonBody(c), c.var.user)
    return c.json(view, 200)
  })
