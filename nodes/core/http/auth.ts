/** Bearer-token authentication and role checks for /api routes. */
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { Role } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import type { AppEnv } from './env.ts'

/** The bearer token of a request, or null. */
export function bearerToken(c: Context): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')
  return m ? m[1] : null
}

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c)
  if (!token) throw new ApiError('unauthenticated', 'log in first: send Authorization: Bearer <token> (POST /api/login gives one)')
  const user = await c.var.node.users.authenticate(token)
  if (!user) throw new ApiError('unauthenticated', 'the token is unknown, expired or ended (logged out, password changed, or user disabled): log in again')
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

/** Sets Retry-After on a 429 thrown by `fn` (the seconds are in the error's details). */
export async function withRetryAfter<T>(c: Context, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    const s = e instanceof ApiError && e.code === 'rate_limited' ? (e.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds : undefined
    if (s) c.header('Retry-After', String(s))
    throw e
  }
}
