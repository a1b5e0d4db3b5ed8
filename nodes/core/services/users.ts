/**
 * Users and their sessions. Passwords are scrypt hashes (node:crypto, no native addon);
 * tokens are 32 random bytes handed out once and stored only as their SHA-256.
 *
 * Guessing is slowed and leaks nothing: failed logins are counted per user name and per client
 * address (429 with the wait, before any hash is computed), and an unknown name is checked
 * against a dummy hash, so the answer takes as long as for a real user. A session ends at
 * logout, when its user is disabled, and when its user's password is reset or changed (the
 * session that changed it stays).
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { z } from 'zod'
import { DepartmentNameSchema, DISPLAY_NAME_MAX, PHONE_MESSAGE, phoneOk, ROLES, type Role } from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { minutesOf, Throttle } from './throttle.ts'

const scryptAsync = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number }) => Promise<Buffer>
/** The key derivation every password check goes through (an object, so a test can count calls). */
export const kdf = { scrypt: (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number }) => scryptAsync(pw, salt, len, opts) }
const PARAMS = { N: 16384, r: 8, p: 1 }
const TOKEN_HOURS = 12
/** A cached session is re-read from the store after this long (other processes on one PostgreSQL may have revoked it). */
const SESSION_RECHECK_MS = 10_000

/** Failed logins allowed per user name, and per client address, in a window. */
export const LOGIN_LIMITS = { perUser: 10, perAddress: 30, windowMs: 15 * 60_000 }

export const MIN_PASSWORD = 6
export const MIN_ADMIN_PASSWORD = 10
const PasswordSchema = z.string().min(MIN_PASSWORD, `密码至少 ${MIN_PASSWORD} 位 (a password has at least ${MIN_PASSWORD} characters)`).max(200, 'a password has at most 200 characters')
const ADMIN_SHORT = `管理员密码至少 ${MIN_ADMIN_PASSWORD} 位 (an administrator's password has at least ${MIN_ADMIN_PASSWORD} characters)`

/** What people read beside the login: a display name (显示名) and a work phone, both optional. */
export const ProfileSchema = z.object({
  displayName: z.string().trim().max(DISPLAY_NAME_MAX, `显示名最多 ${DISPLAY_NAME_MAX} 个字 (a display name has at most ${DISPLAY_NAME_MAX} characters)`)
    .refine((n) => !/[（）\u0000-\u001f]/.test(n), '显示名不能含全角括号 (a display name cannot hold （ or ）)').nullish(),
  phone: z.string().trim().refine((p) => p === '' || phoneOk(p), PHONE_MESSAGE).nullish(),
})
export type Profile = { displayName: string | null; phone: string | null }

/**
 * 并联审批: a staff user's department (部门), set by an administrator only — it decides whose
 * opinions the user may give, so a user may not set their own. '' or null: none.
 */
export const DepartmentFieldSchema = z.object({ department: z.union([z.literal(''), DepartmentNameSchema]).nullish() })

export const NewUserSchema = z
  .object({
    name: z.string().trim().min(1, 'a user needs a name').max(60),
    role: z.enum(ROLES),
    password: PasswordSchema,
  })
  .extend(ProfileSchema.shape)
  .extend(DepartmentFieldSchema.shape)
  .superRefine((u, ctx) => {
    if (u.role === 'admin' && u.password.length < MIN_ADMIN_PASSWORD) ctx.addIssue({ code: 'custom', path: ['password'], message: ADMIN_SHORT })
  })
export const LoginSchema = z.object({
  name: z.string().min(1, 'name is required').max(200),
  password: z.string().min(1, 'password is required').max(200),
})
export const OwnPasswordSchema = z.object({
  current: z.string().min(1, '请输入当前密码 (the current password is required)').max(200),
  password: PasswordSchema,
})
export const ResetPasswordSchema = z.object({ password: PasswordSchema })

/** Who a session belongs to: the login, the role and the display name events record. */
export interface SessionUser {
  name: string
  role: Role
  displayName?: string | null
  /** 并联审批: the department whose opinions the user gives (null: none). */
  department?: string | null
}

export interface UserRow extends Profile {
  name: string
  role: Role
  department: string | null
  disabled: boolean
  passwordChangedAt: string | null
}

/** A hash `hashPassword` makes, with this node's parameters (a hash from a file is checked against it: a huge N would make every login exhaust memory). */
export const PASSWORD_HASH_RE = new RegExp(`^scrypt\\$${PARAMS.N}\\$${PARAMS.r}\\$${PARAMS.p}\\$[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}=$`)

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await kdf.scrypt(password, salt, 32, PARAMS)
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt') return false
  const want = Buffer.from(key, 'base64')
  const got = await kdf.scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p) })
  return timingSafeEqual(want, got)
}

/** What an unknown name is checked against: the same parameters as a real hash, matching no password. */
const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex')

const WRONG = '用户名或密码错误 (wrong name or password)'

/** A session ended: every session of `user`, or the one whose token hashes to `tokenHash`. */
export type Revocation = { user: string; except?: string } | { tokenHash: string }

export class UserService {
  private readonly perUser: Throttle
  private readonly perAddress: Throttle
  private readonly revokeListeners = new Set<(r: Revocation) => void>()

  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {
    const clock = () => this.now().getTime()
    this.perUser = new Throttle(LOGIN_LIMITS.perUser, LOGIN_LIMITS.windowMs, clock)
    this.perAddress = new Throttle(LOGIN_LIMITS.perAddress, LOGIN_LIMITS.windowMs, clock)
  }

  async add(input: unknown): Promise<UserRow> {
    const u = parseOr400(NewUserSchema, input, 'user')
    return this.insert({ ...u, passwordHash: await hashPassword(u.password) })
  }

  /**
   * Adds a user whose password was checked and hashed elsewhere: `tongban user add` on a running
   * node hands it over this way (services/user-requests.ts), so the password never travels.
   */
  async insert(u: { name: string; role: Role; passwordHash: string; displayName?: string | null; phone?: string | null; department?: string | null }): Promise<UserRow> {
    const exists = await this.db.query('SELECT 1 FROM users WHERE name = $1', [u.name])
    if (exists.length) throw new ApiError('conflict', `用户名 ${u.name} 已存在 (a user named ${u.name} already exists)`)
    await this.db.query('INSERT INTO users (name, role, password_hash, display_name, phone, department) VALUES ($1, $2, $3, $4, $5, $6)',
      [u.name, u.role, u.passwordHash, u.displayName || null, u.phone || null, u.department || null])
    // Users are not journaled (only document updates are): make a new account durable now.
    // Rare, so the cost of a checkpoint is fine. (Sessions are not: a power cut means logging in again.)
    await this.db.checkpoint()
    return this.row(u.name)
  }

  /** Sets `name`'s display name and phone (an administrator, or the user on their own); an administrator also the department. */
  async setProfile(name: string, input: unknown, byAdmin = false): Promise<UserRow> {
    const p = parseOr400(ProfileSchema, input, 'profile')
    await this.mustExist(name)
    if (byAdmin) {
      const { department } = parseOr400(DepartmentFieldSchema, input, 'profile')
      if (department !== undefined) await this.db.query('UPDATE users SET department = $2 WHERE name = $1', [name, department || null])
    }
    if (p.displayName !== undefined) await this.db.query('UPDATE users SET display_name = $2 WHERE name = $1', [name, p.displayName || null])
    if (p.phone !== undefined) await this.db.query('UPDATE users SET phone = $2 WHERE name = $1', [name, p.phone || null])
    for (const [hash, s] of this.sessions) if (s.user.name === name) this.sessions.delete(hash)
    await this.db.checkpoint()
    return this.row(name)
  }

  /** What a receipt or timeline shows of a user of this node: login, display name, phone (no role, no password facts). */
  async card(name: string): Promise<{ name: string } & Profile> {
    const [r] = await this.db.query<{ display_name: string | null; phone: string | null }>('SELECT display_name, phone FROM users WHERE name = $1', [name])
    if (!r) throw new ApiError('not_found', `本节点没有用户 ${name} (no user ${name} at this node)`)
    return { name, displayName: r.display_name, phone: r.phone }
  }

  async list(): Promise<UserRow[]> {
    const rows = await this.db.query<DbUser>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`)
    return rows.map(toRow)
  }

  /**
   * Checks the password and hands out a token; the same message for an unknown name and a wrong
   * password, and the same work (one scrypt). `from` is the client's address, for the throttle.
   */
  async login(input: unknown, from = 'local'): Promise<{ token: string; name: string; role: Role; displayName: string | null; department: string | null; expiresAt: string }> {
    const { name, password } = parseOr400(LoginSchema, input, 'login')
    this.checkThrottle(name, from)
    const [u] = await this.db.query<{ name: string; role: Role; password_hash: string; disabled_at: unknown; display_name: string | null; department: string | null }>(
      'SELECT name, role, password_hash, disabled_at, display_name, department FROM users WHERE name = $1', [name],
    )
    const ok = await verifyPassword(password, u?.password_hash ?? DUMMY_HASH)
    if (!u || !ok) {
      this.perUser.hit(name)
      this.perAddress.hit(from)
      throw new ApiError('unauthenticated', WRONG)
    }
    // Told only to someone who knows the password.
    if (u.disabled_at != null) throw new ApiError('forbidden', '此账号已停用，请联系本节点管理员 (this account is disabled: ask an administrator of this node)')
    this.perUser.clear(name)
    const token = randomBytes(32).toString('base64url')
    const expiresAt = new Date(this.now().getTime() + TOKEN_HOURS * 3_600_000).toISOString()
    await this.db.query('INSERT INTO tokens (token_hash, user_name, expires_at) VALUES ($1, $2, $3)', [tokenHash(token), u.name, expiresAt])
    return { token, name: u.name, role: u.role, displayName: u.display_name, department: u.department, expiresAt }
  }

  /** Throws 429 when the name or the address has failed too often; counts nothing. */
  private checkThrottle(name: string, from: string): void {
    const user = this.perUser.blockedFor(name)
    const addr = this.perAddress.blockedFor(from)
    const wait = Math.max(user, addr)
    if (!wait) return
    const min = minutesOf(wait)
    const who = user ? `此账号登录失败次数过多 (too many failed logins for this account)` : `此地址登录失败次数过多 (too many failed logins from this address)`
    throw new ApiError('rate_limited', `${who}：请 ${min} 分钟后再试；忘记密码请联系本节点管理员重置 (try again in ${min} min, or ask an administrator to reset the password)`, {
      retryAfterSeconds: Math.ceil(wait / 1000),
    })
  }

  /** Tokens seen recently, so a request costs no query (every request carries one). */
  private readonly sessions = new Map<string, { user: SessionUser; expiresAt: number; checkedAt: number }>()

  /** The user a bearer token belongs to, or null when it is unknown, expired, revoked or its user disabled. */
  async authenticate(token: string): Promise<SessionUser | null> {
    const hash = tokenHash(token)
    const now = this.now().getTime()
    const hit = this.sessions.get(hash)
    if (hit && hit.expiresAt > now && now - hit.checkedAt < SESSION_RECHECK_MS) return hit.user
    this.sessions.delete(hash)
    const [row] = await this.db.query<{ name: string; role: Role; expires_at: string; display_name: string | null; department: string | null }>(
      `SELECT u.name, u.role, u.display_name, u.department, t.expires_at FROM tokens t JOIN users u ON u.name = t.user_name
        WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL`,
      [hash, this.now().toISOString()],
    )
    if (!row) return null
    if (this.sessions.size >= 1000) this.sessions.clear()
    const user = { name: row.name, role: row.role, displayName: row.display_name, department: row.department }
    this.sessions.set(hash, { user, expiresAt: new Date(row.expires_at).getTime(), checkedAt: now })
    return user
  }

  /** Ends the session of `token` (the token is refused from now on). */
  async logout(token: string): Promise<void> {
    const hash = tokenHash(token)
    this.sessions.delete(hash)
    await this.db.query('DELETE FROM tokens WHERE token_hash = $1', [hash])
    this.emit({ tokenHash: hash })
  }

  /** Disables or enables `name` (an administrator, `by`); disabling ends every session of theirs. */
  async setDisabled(name: string, disabled: boolean, by: string): Promise<UserRow> {
    if (disabled && name === by) throw new ApiError('conflict', '不能停用自己的账号 (you cannot disable your own account)')
    await this.mustExist(name)
    await this.db.query(`UPDATE users SET disabled_at = ${disabled ? 'COALESCE(disabled_at, $2)' : 'NULL'} WHERE name = $1`, disabled ? [name, this.now().toISOString()] : [name])
    if (disabled) await this.revokeAll(name)
    else this.perUser.clear(name)
    await this.db.checkpoint()
    return this.row(name)
  }

  /**
   * The user's own password: needs the current one (a guess counts toward the login throttle).
   * Every other session of theirs ends; the one that changed it (`keepToken`) stays.
   */
  async changeOwnPassword(user: { name: string; role: Role }, input: unknown, keepToken: string, from = 'local'): Promise<void> {
    const p = parseOr400(OwnPasswordSchema, input, 'password change')
    this.checkPolicy(user.role, p.password)
    this.checkThrottle(user.name, from)
    const [u] = await this.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE name = $1', [user.name])
    if (!u || !(await verifyPassword(p.current, u.password_hash))) {
      this.perUser.hit(user.name)
      this.perAddress.hit(from)
      throw new ApiError('forbidden', '当前密码不对，请重新输入 (the current password is wrong)')
    }
    await this.setPassword(user.name, p.password)
    await this.revokeAll(user.name, tokenHash(keepToken))
  }

  /** An administrator sets `name`'s password; every session of `name` ends and its failed-login count is forgotten. */
  async resetPassword(name: string, input: unknown): Promise<UserRow> {
    const p = parseOr400(ResetPasswordSchema, input, 'password reset')
    const target = await this.mustExist(name)
    this.checkPolicy(target.role, p.password)
    await this.setPassword(name, p.password)
    await this.revokeAll(name)
    this.perUser.clear(name)
    return this.row(name)
  }

  /** Called when a session ends (live views close their sockets). Returns the unsubscribe. */
  onRevoke(fn: (r: Revocation) => void): () => void {
    this.revokeListeners.add(fn)
    return () => this.revokeListeners.delete(fn)
  }

  private checkPolicy(role: Role, password: string): void {
    if (role === 'admin' && password.length < MIN_ADMIN_PASSWORD) {
      throw new ApiError('invalid_input', `invalid password — password: ${ADMIN_SHORT}`, { issues: [{ field: 'password', message: ADMIN_SHORT }] })
    }
  }

  private async setPassword(name: string, password: string): Promise<void> {
    await this.db.query('UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE name = $1', [name, await hashPassword(password), this.now().toISOString()])
    await this.db.checkpoint()
  }

  private async revokeAll(name: string, except?: string): Promise<void> {
    if (except) await this.db.query('DELETE FROM tokens WHERE user_name = $1 AND token_hash <> $2', [name, except])
    else await this.db.query('DELETE FROM tokens WHERE user_name = $1', [name])
    for (const [hash, s] of this.sessions) if (s.user.name === name && hash !== except) this.sessions.delete(hash)
    this.emit({ user: name, except })
  }

  private emit(r: Revocation): void {
    for (const fn of this.revokeListeners) {
      try {
        fn(r)
      } catch (e) {
        console.error('a session-revocation listener failed:', e)
      }
    }
  }

  private async mustExist(name: string): Promise<{ role: Role }> {
    const [u] = await this.db.query<{ role: Role }>('SELECT role FROM users WHERE name = $1', [name])
    if (!u) throw new ApiError('not_found', `没有名为 ${name} 的用户 (no user named ${name} at this node)`)
    return u
  }

  private async row(name: string): Promise<UserRow> {
    const [r] = await this.db.query<DbUser>(`SELECT ${USER_COLUMNS} FROM users WHERE name = $1`, [name])
    return toRow(r)
  }
}

const USER_COLUMNS = 'name, role, disabled_at, password_changed_at, display_name, phone, department'
interface DbUser { name: string; role: Role; disabled_at: unknown; password_changed_at: unknown; display_name: string | null; phone: string | null; department: string | null }
const toRow = (r: DbUser): UserRow => ({
  name: r.name, role: r.role, disabled: r.disabled_at != null, passwordChangedAt: iso(r.password_changed_at), displayName: r.display_name, phone: r.phone,
  department: r.department,
})

function iso(v: unknown): string | null {
  if (v == null) return null
  const d = v instanceof Date ? v : new Date(String(v))
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}
