/** Login, users and statistics. */
import { Hono } from 'hono'
import { requireRole } from './auth.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'

export const loginRoute = new Hono<AppEnv>().post('/', async (c) => c.json(await c.var.node.users.login(await jsonBody(c))))

export const usersRoutes = new Hono<AppEnv>()
  .get('/me', (c) => c.json(c.var.user))
  .get('/', requireRole('admin'), async (c) => c.json({ users: await c.var.node.users.list() }))
  .post('/', requireRole('admin'), async (c) => c.json(await c.var.node.users.add(await jsonBody(c)), 201))

export const statsRoutes = new Hono<AppEnv>().get('/', async (c) => c.json(await c.var.node.stats.query(c.req.query())))
