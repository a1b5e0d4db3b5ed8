/** Bearer-token authentication and role checks for /api routes. */
import { createMiddleware } from 'hono/factory'
import type { Role } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import type { AppEnv } from './env.ts'

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization') ?? ''
  const m = /^Bearer\s+(\S+)$/i.exec(header)
  if (!m) throw new ApiError('unauthenticated', 'log in first: send Authorization: Bearer <token> (POST /api/login gives one)')
  const user = await c.var.node.users.authenticate(m[1])
  if (!user) throw new ApiError('unauthenticated', 'the token is unknown or expired: log in again')
  c.set('user', user)
  await next()
})

/** Refuses the request unless the user holds one of `roles`. */
export function requireRole(...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.includes(c.var.user.role)) {
      throw new ApiError('forbidden', `this needs the role ${roles.join(' or ')}; you are ${c.var.user.role}`)
    }
    await next()
  })
}
