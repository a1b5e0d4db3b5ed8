/**
 * The Hono app factory: the same routes at every level. It speaks web Request/Response only;
 * serving it on a port is server.ts's job.
 */
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ApiErrorBody } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import type { TongbanNode } from '../node.ts'
import { requireUser } from './auth.ts'
import { refuseNul, storageFault } from './guards.ts'
import type { AppEnv } from './env.ts'
import { casesRoutes } from './routes-cases.ts'
import { attachmentRoutes } from './routes-attachments.ts'
import { catalogueRoutes } from './routes-catalogue.ts'
import { loginRoute, logoutRoute, statsRoutes, unitsRoutes, usersRoutes } from './routes-misc.ts'
import { publicRoutes } from './routes-public.ts'
import { prereviewRoutes, publicPrereviewRoutes } from './routes-prereview.ts'
import { uiRoutes } from './routes-ui.ts'
import { provinceRoutes } from '../province/routes.ts'
import { noticesRoutes, supervisionRoutes } from './routes-supervision.ts'

export interface AppExtras {
  /** Routes a preset or the tree adds (mounted before the 404). */
  extend?: (app: Hono<AppEnv>) => void
  /** Extra fields for /healthz (the tree adds its link summary). */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>
}

export function createApp(node: TongbanNode, extras: AppExtras = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    c.set('node', node)
    await next()
  })
  app.use('*', refuseNul)
  app.get('/healthz', async (c) =>
    c.json({ level: node.config.level, code: node.config.code, name: node.config.name, parent: node.parent, ...(await extras.health?.()) }),
  )
  app.route('/api/login', loginRoute)
  app.route('/api/public', publicRoutes())
  app.route('/api/public', publicPrereviewRoutes())
  app.use('/api/*', requireUser)
  app.route('/api/logout', logoutRoute)
  app.route('/api/catalogue', catalogueRoutes)
  app.route('/api/cases', casesRoutes)
  app.route('/api/cases', attachmentRoutes)
  app.route('/api/stats', statsRoutes)
  app.route('/api/users', usersRoutes)
  app.route('/api/units', unitsRoutes)
  app.route('/api/province', provinceRoutes)
  app.route('/api/supervision', supervisionRoutes)
  app.route('/api/notices', noticesRoutes)
  app.route('/api/prereviews', prereviewRoutes)
  app.route('/', uiRoutes)
  extras.extend?.(app)

  app.notFound((c) => c.json<ApiErrorBody>({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404))
  app.onError((err, c) => {
    const fault = storageFault(err, c)
    if (fault) return fault
    if (err instanceof ApiError) {
      return c.json<ApiErrorBody>({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } }, err.status as 400)
    }
    if (err instanceof HTTPException) {
      return c.json<ApiErrorBody>({ error: { code: err.status === 401 ? 'unauthenticated' : 'bad_request', message: err.message } }, err.status)
    }
    console.error(`[${node.config.code}] ${c.req.method} ${c.req.path} failed:`, err)
    return c.json<ApiErrorBody>({ error: { code: 'internal', message: 'the node failed to handle this request; it has been logged' } }, 500)
  })
  return app
}
