/** 电子监察 (the supervisor's list of warnings) and 督办 (notices down, replies up). */
import { Hono } from 'hono'
import { requireRole } from './auth.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'

export const supervisionRoutes = new Hono<AppEnv>()
  .get('/', requireRole('supervisor'), async (c) => c.json(await c.var.node.supervision.warnings(c.req.query())))

export const noticesRoutes = new Hono<AppEnv>()
  .get('/', async (c) => c.json(await c.var.node.supervision.list(c.req.query('box'))))
  .post('/', requireRole('supervisor'), async (c) => c.json(await c.var.node.supervision.issue(await jsonBody(c, 64 * 1024), c.var.user), 201))
  // The unit's window staff, agent or administrator answers; a supervisor issues and reads.
  .post('/:id/reply', requireRole('staff', 'agent', 'admin'), async (c) => c.json(await c.var.node.supervision.reply(c.req.param('id'), await jsonBody(c, 64 * 1024), c.var.user)))
