/** Login and logout, users and passwords, and statistics. */
import { Hono } from 'hono'
import { clientAddress } from './address.ts'
import { bearerToken, requireRole, withRetryAfter } from './auth.ts'
import { jsonBody } from './body.ts'
import type { AppEnv } from './env.ts'
import { listUnits } from '../services/units.ts'

export const loginRoute = new Hono<AppEnv>().post('/', async (c) => {
  const body = await jsonBody(c)
  return c.json(await withRetryAfter(c, () => c.var.node.users.login(body, clientAddress(c.env))))
})

/** Ends the session of the token it is called with (behind requireUser). */
export const logoutRoute = new Hono<AppEnv>().post('/', async (c) => {
  await c.var.node.users.logout(bearerToken(c)!)
  return c.body(null, 204)
})

export const usersRoutes = new Hono<AppEnv>()
  .get('/me', async (c) => c.json({ ...c.var.user, ...(await c.var.node.users.card(c.var.user.name)) }))
  .patch('/me', async (c) => c.json(await c.var.node.users.setProfile(c.var.user.name, await jsonBody(c))))
  .put('/me/password', async (c) => {
    const body = await jsonBody(c)
    await withRetryAfter(c, () => c.var.node.users.changeOwnPassword(c.var.user, body, bearerToken(c)!, clientAddress(c.env)))
    return c.body(null, 204)
  })
  .get('/', requireRole('admin'), async (c) => c.json({ users: await c.var.node.users.list() }))
  .post('/', requireRole('admin'), async (c) => c.json(await c.var.node.users.add(await jsonBody(c)), 201))
  .post('/:name/disable', requireRole('admin'), async (c) => c.json(await c.var.node.users.setDisabled(c.req.param('name'), true, c.var.user.name)))
  .post('/:name/enable', requireRole('admin'), async (c) => c.json(await c.var.node.users.setDisabled(c.req.param('name'), false, c.var.user.name)))
  .put('/:name/password', requireRole('admin'), async (c) => c.json(await c.var.node.users.resetPassword(c.req.param('name'), await jsonBody(c))))
  .patch('/:name', requireRole('admin'), async (c) => c.json(await c.var.node.users.setProfile(c.req.param('name'), await jsonBody(c), true)))
  /** Any user of this node: the display name and phone a receipt prints for the agent who took a case in. */
  .get('/:name/card', async (c) => c.json(await c.var.node.users.card(c.req.param('name'))))

export const statsRoutes = new Hono<AppEnv>().get('/', async (c) => c.json(await c.var.node.stats.query(c.req.query())))

/** The unit directory: every unit of the tree by code and name (for the unit picker). */
export const unitsRoutes = new Hono<AppEnv>().get('/', (c) => c.json(listUnits(c.var.node.trust, c.req.query())))
