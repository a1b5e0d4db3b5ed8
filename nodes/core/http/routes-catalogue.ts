/** /api/catalogue: read by everyone logged in; edited by admins of the publishing node. */
import { Hono } from 'hono'
import { ApiError } from '../errors.ts'
import { requireRole } from './auth.ts'
import { jsonBody, textBody } from './body.ts'
import type { AppEnv } from './env.ts'

/** Only the city publishes the catalogue (and counties their local lists, with the tree). */
const publishes = (level: string) => level === 'city' || level === 'county'

export const catalogueRoutes = new Hono<AppEnv>()
  .get('/', async (c) => c.json({
    items: await c.var.node.catalogue.list({ includeRetired: c.req.query('retired') === 'true', all: c.req.query('all') === 'true' }),
  }))
  .get('/calendars', async (c) => c.json({ calendars: await c.var.node.catalogue.calendars() }))
  .get('/items/:code', async (c) => {
    const item = await c.var.node.catalogue.get(c.req.param('code'))
    if (!item) throw new ApiError('not_found', `no item ${c.req.param('code')} in this node's catalogue`)
    return c.json(item)
  })
  .use('*', async (c, next) => {
    if (c.req.method !== 'GET' && !publishes(c.var.node.config.level)) {
      throw new ApiError('forbidden', `the catalogue is published by the city (and counties for their local lists); a ${c.var.node.config.level} node receives it`)
    }
    await next()
  })
  .post('/items', requireRole('admin'), async (c) => {
    const { item, created } = await c.var.node.catalogue.put(await jsonBody(c))
    return c.json(item, created ? 201 : 200)
  })
  .patch('/items/:code', requireRole('admin'), async (c) => c.json(await c.var.node.catalogue.patch(c.req.param('code'), await jsonBody(c))))
  .post('/items/:code/retire', requireRole('admin'), async (c) => c.json(await c.var.node.catalogue.patch(c.req.param('code'), { retired: true })))
  .post('/import', requireRole('admin'), async (c) => {
    const type = c.req.header('content-type') ?? ''
    const format = type.includes('csv') || c.req.query('format') === 'csv' ? 'csv' : 'json'
    return c.json(await c.var.node.catalogue.import(await textBody(c), format))
  })
  .put('/calendars', requireRole('admin'), async (c) => c.json(await c.var.node.catalogue.setCalendar(await jsonBody(c))))
