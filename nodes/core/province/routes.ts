/**
 * `GET /api/province` (administrator, supervisor): what is pending, failed and acknowledged at
 * the province, the last success and error, and one page of records. `POST /api/province/retry`
 * (administrator): failed records go back to pending.
 */
import { Hono } from 'hono'
import { ProvinceListQuerySchema, ProvinceRetrySchema } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { requireRole } from '../http/auth.ts'
import { textBody } from '../http/body.ts'
import type { AppEnv } from '../http/env.ts'

export const provinceRoutes = new Hono<AppEnv>()
  .get('/', requireRole('admin', 'supervisor'), async (c) => {
    const province = c.var.node.province
    if (!province) return c.json({ configured: false })
    return c.json(await province.view(parseOr400(ProvinceListQuerySchema, c.req.query(), 'query')))
  })
  .post('/retry', requireRole('admin'), async (c) => {
    const province = c.var.node.province
    if (!province) throw new ApiError('conflict', '本节点未配置省平台对接 (this node does not push to the province: start it with --province-url and --province-credentials)')
    // No body: every failed record.
    const text = await textBody(c)
    let body: unknown = {}
    try {
      if (text.trim()) body = JSON.parse(text)
    } catch {
      throw new ApiError('bad_request', 'the request body is not valid JSON: send {"keys": [...]} or nothing')
    }
    const { keys } = parseOr400(ProvinceRetrySchema, body, 'retry request')
    return c.json({ retried: await province.retry(keys) })
  })
