/**
 * The two plain HTTP routes of the link, served before the WebSocket upgrade: enrollment (a
 * one-time token for the child's key) and the challenge a child answers to open `/link`. Both
 * are reachable without a session, so bodies are small and bounded.
 */
import { Hono } from 'hono'
import { jsonBody } from '../http/body.ts'
import type { AppEnv } from '../http/env.ts'
import type { LinkAuth } from './link-auth.ts'

const MAX_BODY = 4 * 1024

export function linkRoutes(auth: LinkAuth): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post('/enroll', async (c) => c.json(await auth.enroll(await jsonBody(c, MAX_BODY))))
    .post('/challenge', async (c) => c.json(auth.challenge(await jsonBody(c, MAX_BODY))))
}
