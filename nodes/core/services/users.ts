/**
 * Users and their sessions. Passwords are scrypt hashes (node:crypto, no native addon);
 * tokens are 32 random bytes handed out once and stored only as their SHA-256.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { z } from 'zod'
import { ROLES, type Role } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number }) => Promise<Buffer>
const PARAMS = { N: 16384, r: 8, p: 1 }
const TOKEN_HOURS = 12

export const NewUserSchema = z.object({
  name: z.string().trim().min(1, 'a user needs a name').max(60),
  role: z.enum(ROLES),
  password: z.string().min(6, 'a password has at least 6 characters').max(200),
})
export const LoginSchema = z.object({ name: z.string().min(1, 'name is required'), password: z.string().min(1, 'password is required') })

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, 32, PARAMS)
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt') return false
  const want = Buffer.from(key, 'base64')
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p) })
  return timingSafeEqual(want, got)
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

export class UserService {
  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  async add(input: unknown): Promise<{ name: string; role: Role }> {
    const u = parseOr400(NewUserSchema, input, 'user')
    const exists = await this.db.query('SELECT 1 FROM users WHERE name = $1', [u.name])
    if (exists.length) throw new ApiError('conflict', `a user named ${u.name} already exists`)
    await this.db.query('INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3)', [u.name, u.role, await hashPassword(u.password)])
    // Users are not journaled (only document updates are): make a new account durable now.
    // Rare, so the cost of a checkpoint is fine. (Sessions are not: a power cut means logging in again.)
    await this.db.checkpoint()
    return { name: u.name, role: u.role }
  }

  async list(): Promise<{ name: string; role: Role }[]> {
    return this.db.query('SELECT name, role FROM users ORDER BY name')
  }

  /** Checks the password and hands out a token; the same message for an unknown name and a wrong password. */
  async login(input: unknown): Promise<{ token: string; name: string; role: Role; expiresAt: string }> {
    const { name, password } = parseOr400(LoginSchema, input, 'login')
    const [u] = await this.db.query<{ name: string; role: Role; password_hash: string }>('SELECT name, role, password_hash FROM users WHERE name = $1', [name])
    if (!u || !(await verifyPassword(password, u.password_hash))) throw new ApiError('unauthenticated', '用户名或密码错误 (wrong name or password)')
    const token = randomBytes(32).toString('base64url')
    const expiresAt = new Date(this.now().getTime() + TOKEN_HOURS * 3_600_000).toISOString()
    await this.db.query('INSERT INTO tokens (token_hash, user_name, expires_at) VALUES ($1, $2, $3)', [sha256(token), u.name, expiresAt])
    return { token, name: u.name, role: u.role, expiresAt }
  }

  /** Tokens seen recently, so a request costs no query (every request carries one). */
  private readonly sessions = new Map<string, { user: { name: string; role: Role }; expiresAt: number }>()

  /** The user a bearer token belongs to, or null when it is unknown or expired. */
  async authenticate(token: string): Promise<{ name: string; role: Role } | null> {
    const hash = sha256(token)
    const now = this.now().getTime()
    const hit = this.sessions.get(hash)
    if (hit && hit.expiresAt > now) return hit.user
    const [row] = await this.db.query<{ name: string; role: Role; expires_at: string }>(
      'SELECT u.name, u.role, t.expires_at FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.token_hash = $1 AND t.expires_at > $2',
      [hash, this.now().toISOString()],
    )
    if (!row) return null
    if (this.sessions.size >= 1000) this.sessions.clear()
    const user = { name: row.name, role: row.role }
    this.sessions.set(hash, { user, expiresAt: new Date(row.expires_at).getTime() })
    return user
  }

  async logout(token: string): Promise<void> {
    this.sessions.delete(sha256(token))
    await this.db.query('DELETE FROM tokens WHERE token_hash = $1', [sha256(token)])
  }
}
