/**
 * `tongban user add` while the node runs: the store is locked by the running process, so the
 * command checks the user, hashes the password itself and leaves the request as a file in
 * `DIR/user-requests/` (mode 0600; a hash, never the password). The running node picks it up
 * within a second, adds the user and answers in `<request>.done`, which the command reads.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { ApiError, parseOr400 } from '../errors.ts'
import { DepartmentFieldSchema, NewUserSchema, PASSWORD_HASH_RE, ProfileSchema, type UserService } from './users.ts'

/** A request file, checked like any body: the node reads it from disk, not from `tongban user add` directly. */
const UserRequestSchema = z.object({
  name: NewUserSchema.shape.name,
  role: NewUserSchema.shape.role,
  passwordHash: z.string().regex(PASSWORD_HASH_RE, 'not a password hash this node makes'),
}).extend(ProfileSchema.shape).extend(DepartmentFieldSchema.shape)
export type UserRequest = z.input<typeof UserRequestSchema>

/** What the node answered: the user added, or the message why not. */
export type UserRequestAnswer = { ok: true } | { ok: false; message: string }

const POLL_MS = 1_000

export const userRequestsDir = (dataDir: string) => join(dataDir, 'user-requests')

/** Leaves `req` for the running node; returns the file whose `.done` answer to wait for. */
export function leaveUserRequest(dataDir: string, req: UserRequest): string {
  const dir = userRequestsDir(dataDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, `${Date.now()}-${process.pid}.json`)
  // Written under another name and renamed: the node never reads half a file.
  writeFileSync(file + '.tmp', JSON.stringify(req), { mode: 0o600 })
  renameSync(file + '.tmp', file)
  return file
}

/** Waits (at most `timeoutMs`) for the node's answer to the request in `file`; null if none came. */
export async function awaitUserAnswer(file: string, timeoutMs: number): Promise<UserRequestAnswer | null> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (existsSync(file + '.done')) {
      const answer = JSON.parse(readFileSync(file + '.done', 'utf8')) as UserRequestAnswer
      rmSync(file + '.done', { force: true })
      return answer
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  rmSync(file, { force: true }) // not picked up: withdraw it, so it is not added later unseen
  return null
}

/** Adds the users requested in the data dir, now and every second, until stopped. */
export function watchUserRequests(dataDir: string, users: UserService, log: (line: string) => void): () => void {
  const dir = userRequestsDir(dataDir)
  let busy = false
  const tick = async () => {
    if (busy || !existsSync(dir)) return
    busy = true
    try {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
        const file = join(dir, f)
        let answer: UserRequestAnswer
        try {
          const req = parseOr400(UserRequestSchema, JSON.parse(readFileSync(file, 'utf8')), 'user request')
          await users.insert(req)
          answer = { ok: true }
          log(`user ${req.name} (${req.role}) added by tongban user add`)
        } catch (e) {
          answer = { ok: false, message: e instanceof ApiError ? e.message : `the request could not be read: ${(e as Error).message}` }
        }
        writeFileSync(file + '.done', JSON.stringify(answer), { mode: 0o600 })
        rmSync(file, { force: true })
      }
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick().catch((e) => log(`user requests: ${(e as Error).message}`)), POLL_MS)
  timer.unref()
  void tick()
  return () => clearInterval(timer)
}
