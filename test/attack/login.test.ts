/**
 * A hostile HTTP client against login and sessions (issue 7, class 5): password guessing is
 * throttled per user and per address, an unknown name costs the same hash as a known one,
 * and a session can be ended — by logout, by disabling its user, by a password change or reset.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { UserService, kdf, LOGIN_LIMITS } from '../../nodes/core/services/users.ts'
import { openNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { runCli } from '../helpers/process.ts'
import { request, testNode, type TestNode } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP } from '../fixtures/catalogue.ts'

let t: TestNode
const ADMIN_PW = 'admin-password-1'

beforeAll(async () => {
  t = await testNode({ level: 'township', code: TOWNSHIP, name: '青山镇', catalogue: FIXTURE_CATALOGUE })
  await t.node.users.add({ name: '管理员', role: 'admin', password: ADMIN_PW })
  for (const name of ['victim', 'bystander', 'leaver', '窗口乙', '窗口丙', 'changer', 'reset-me']) await t.node.users.add({ name, role: 'staff', password: 'right-password' })
}, 300_000)
afterAll(async () => t?.close())

/** POST /api/login through the app, with the response's Retry-After header. */
async function login(name: string, password: string) {
  const res = await t.app.request('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) })
  return { status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after') }
}

const adminClient = async () => request(t.app, (await login('管理员', ADMIN_PW)).body.token)

describe('password guessing', () => {
  it('60 wrong passwords for one user: 401 up to the limit, then 429 with Retry-After and a message to act on', async () => {
    const statuses: number[] = []
    let last: Awaited<ReturnType<typeof login>> | undefined
    for (let i = 0; i < 60; i++) {
      last = await login('victim', `guess-${i}`)
      statuses.push(last.status)
    }
    expect(statuses.slice(0, LOGIN_LIMITS.perUser)).toEqual(Array(LOGIN_LIMITS.perUser).fill(401))
    expect(statuses.slice(LOGIN_LIMITS.perUser)).toEqual(Array(60 - LOGIN_LIMITS.perUser).fill(429))
    expect(last!.body.error.code).toBe('rate_limited')
    expect(last!.body.error.message).toMatch(/分钟后再试/)
    expect(last!.body.error.message).toMatch(/administrator/)
    const seconds = Number(last!.retryAfter)
    expect(Number.isInteger(seconds)).toBe(true)
    expect(seconds).toBeGreaterThan(0)
    expect(seconds).toBeLessThanOrEqual(LOGIN_LIMITS.windowMs / 1000)
    // While throttled even the right password waits: else the guessing would simply go on.
    expect((await login('victim', 'right-password')).status).toBe(429)
    // Another user at the same address is not locked out by someone else's guesses.
    expect((await login('bystander', 'right-password')).status).toBe(200)
  })

  it('an unknown name is throttled just like a known one (the 429 does not tell which names exist)', async () => {
    const statuses: number[] = []
    for (let i = 0; i < LOGIN_LIMITS.perUser + 2; i++) statuses.push((await login('no-such-user', `guess-${i}`)).status)
    expect(statuses.slice(-2)).toEqual([429, 429])
  })

  it('per address: failures under many names from one address stop that address, not others', async () => {
    let clock = Date.parse('2026-03-02T08:00:00Z')
    const users = new UserService(t.node.db, () => new Date(clock))
    const from = '203.0.113.9'
    const seen: number[] = []
    for (let i = 0; i < LOGIN_LIMITS.perAddress + 5; i++) {
      seen.push(await users.login({ name: `sprayed-${i}`, password: 'password' }, from).then(() => 200, (e) => e.status))
    }
    expect(seen.slice(0, LOGIN_LIMITS.perAddress)).toEqual(Array(LOGIN_LIMITS.perAddress).fill(401))
    expect(seen.slice(LOGIN_LIMITS.perAddress)).toEqual(Array(5).fill(429))
    const refused = await users.login({ name: 'bystander', password: 'right-password' }, from).catch((e) => e)
    expect(refused.code).toBe('rate_limited')
    expect(refused.message).toMatch(/此地址/)
    expect((await users.login({ name: 'bystander', password: 'right-password' }, '203.0.113.10')).name).toBe('bystander')
    // The window passes: the address may try again.
    clock += LOGIN_LIMITS.windowMs
    expect((await users.login({ name: 'bystander', password: 'right-password' }, from)).name).toBe('bystander')
  })

  it('after the window, or after an administrator resets the password, the user can log in again', async () => {
    let clock = Date.parse('2026-03-02T08:00:00Z')
    const users = new UserService(t.node.db, () => new Date(clock))
    for (let i = 0; i < LOGIN_LIMITS.perUser; i++) await expect(users.login({ name: '窗口乙', password: 'x' }, `198.51.100.${i}`)).rejects.toMatchObject({ status: 401 })
    await expect(users.login({ name: '窗口乙', password: 'right-password' }, '198.51.100.200')).rejects.toMatchObject({ status: 429 })
    clock += LOGIN_LIMITS.windowMs - 1000
    await expect(users.login({ name: '窗口乙', password: 'right-password' }, '198.51.100.200')).rejects.toMatchObject({ status: 429 })
    clock += 1000
    expect((await users.login({ name: '窗口乙', password: 'right-password' }, '198.51.100.200')).name).toBe('窗口乙')

    for (let i = 0; i < LOGIN_LIMITS.perUser; i++) await expect(users.login({ name: '窗口乙', password: 'x' }, `198.51.100.${i}`)).rejects.toMatchObject({ status: 401 })
    await expect(users.login({ name: '窗口乙', password: 'right-password' })).rejects.toMatchObject({ status: 429 })
    await users.resetPassword('窗口乙', { password: 'a-new-password' })
    expect((await users.login({ name: '窗口乙', password: 'a-new-password' })).name).toBe('窗口乙')
  })
})

describe('timing: an unknown name runs the same hash as a known one', () => {
  it('runs scrypt once, with the same parameters, for an unknown name and for a wrong password', async () => {
    const users = new UserService(t.node.db)
    const spy = vi.spyOn(kdf, 'scrypt')
    try {
      await expect(users.login({ name: 'nobody-here', password: 'whatever-1' }, '192.0.2.1')).rejects.toMatchObject({ status: 401 })
      const unknown = spy.mock.calls.map(([, salt, len, opts]) => ({ salt: salt.length, len, opts }))
      spy.mockClear()
      await expect(users.login({ name: 'bystander', password: 'whatever-1' }, '192.0.2.1')).rejects.toMatchObject({ status: 401 })
      const known = spy.mock.calls.map(([, salt, len, opts]) => ({ salt: salt.length, len, opts }))
      expect(unknown).toHaveLength(1)
      expect(unknown).toEqual(known)
      // Both answers are the same, word for word.
      const a = await users.login({ name: 'nobody-here', password: 'x' }, '192.0.2.1').catch((e) => e.message)
      const b = await users.login({ name: 'bystander', password: 'x' }, '192.0.2.1').catch((e) => e.message)
      expect(a).toBe(b)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('ending sessions', () => {
  it('logout ends the token at the node, not only in the browser', async () => {
    const { token } = (await login('leaver', 'right-password')).body
    const as = request(t.app, token)
    expect((await as('GET', '/api/users/me')).status).toBe(200)
    const out = await as('POST', '/api/logout')
    expect(out.status).toBe(204)
    const after = await as('GET', '/api/users/me')
    expect(after.status).toBe(401)
    expect(after.body.error.message).toMatch(/log in again/)
    expect((await as('POST', '/api/logout')).status).toBe(401)
    expect((await t.node.db.query('SELECT 1 FROM tokens t WHERE t.user_name = $1', ['leaver'])).length).toBe(0)
  })

  it('disabling a user ends their sessions at once; they cannot log in until enabled', async () => {
    const admin = await adminClient()
    const staff = request(t.app, (await login('窗口丙', 'right-password')).body.token)
    expect((await staff('GET', '/api/cases')).status).toBe(200) // the session is cached now
    const off = await admin('POST', `/api/users/${encodeURIComponent('窗口丙')}/disable`)
    expect(off.status).toBe(200)
    expect(off.body).toMatchObject({ name: '窗口丙', disabled: true })
    expect((await staff('GET', '/api/cases')).status).toBe(401)
    // The right password says why; a wrong one says nothing more than for anyone.
    const right = await login('窗口丙', 'right-password')
    expect(right.status).toBe(403)
    expect(right.body.error.message).toMatch(/停用/)
    expect((await login('窗口丙', 'wrong-password')).body.error.message).toBe((await login('nobody-else', 'wrong-password')).body.error.message)
    const list = (await admin('GET', '/api/users')).body.users
    expect(list.find((u: any) => u.name === '窗口丙')).toMatchObject({ disabled: true })

    const on = await admin('POST', `/api/users/${encodeURIComponent('窗口丙')}/enable`)
    expect(on.body).toMatchObject({ disabled: false })
    expect((await login('窗口丙', 'right-password')).status).toBe(200)
  })

  it('refuses to disable yourself, an unknown user, or for someone who is not an administrator', async () => {
    const admin = await adminClient()
    const self = await admin('POST', `/api/users/${encodeURIComponent('管理员')}/disable`)
    expect(self.status).toBe(409)
    expect(self.body.error.message).toMatch(/自己/)
    expect((await admin('POST', '/api/users/ghost/disable')).status).toBe(404)
    const staff = request(t.app, (await login('bystander', 'right-password')).body.token)
    expect((await staff('POST', '/api/users/changer/disable')).status).toBe(403)
    expect((await staff('PUT', '/api/users/changer/password', { password: 'taken-over-1' })).status).toBe(403)
  })
})

describe('passwords', () => {
  it('a user changes their own password with the current one; their other sessions end, this one stays', async () => {
    const here = (await login('changer', 'right-password')).body.token
    const elsewhere = request(t.app, (await login('changer', 'right-password')).body.token)
    const me = request(t.app, here)
    const wrong = await me('PUT', '/api/users/me/password', { current: 'not-it', password: 'brand-new-pw' })
    expect(wrong.status).toBe(403)
    expect(wrong.body.error.message).toMatch(/当前密码/)
    const short = await me('PUT', '/api/users/me/password', { current: 'right-password', password: '12345' })
    expect(short.status).toBe(400)
    expect(short.body.error.message).toMatch(/6/)
    const missing = await me('PUT', '/api/users/me/password', { password: 'brand-new-pw' })
    expect(missing.status).toBe(400)
    expect(missing.body.error.message).toMatch(/current/)

    expect((await me('PUT', '/api/users/me/password', { current: 'right-password', password: 'brand-new-pw' })).status).toBe(204)
    expect((await me('GET', '/api/users/me')).status).toBe(200)
    expect((await elsewhere('GET', '/api/users/me')).status).toBe(401)
    expect((await login('changer', 'right-password')).status).toBe(401)
    expect((await login('changer', 'brand-new-pw')).status).toBe(200)
  })

  it('an administrator resets a password: every session of that user ends', async () => {
    const admin = await adminClient()
    const victim = request(t.app, (await login('reset-me', 'right-password')).body.token)
    expect((await victim('GET', '/api/users/me')).status).toBe(200)
    const r = await admin('PUT', '/api/users/reset-me/password', { password: 'fresh-pass' })
    expect(r.status).toBe(200)
    expect(r.body.passwordChangedAt).toMatch(/^\d{4}-/)
    expect((await victim('GET', '/api/users/me')).status).toBe(401)
    expect((await login('reset-me', 'fresh-pass')).status).toBe(200)
    expect((await admin('PUT', '/api/users/ghost/password', { password: 'fresh-pass' })).status).toBe(404)
  })

  it('an administrator\'s password has at least 10 characters (others keep 6)', async () => {
    const admin = await adminClient()
    const add = await admin('POST', '/api/users', { name: '新管理员', role: 'admin', password: '123456789' })
    expect(add.status).toBe(400)
    expect(add.body.error.code).toBe('invalid_input')
    expect(add.body.error.message).toMatch(/10/)
    expect((await admin('POST', '/api/users', { name: '新管理员', role: 'admin', password: '1234567890' })).status).toBe(201)
    expect((await admin('POST', '/api/users', { name: '新窗口', role: 'staff', password: '123456' })).status).toBe(201)
    const reset = await admin('PUT', `/api/users/${encodeURIComponent('新管理员')}/password`, { password: 'short-pw1' })
    expect(reset.status).toBe(400)
    expect(reset.body.error.message).toMatch(/10/)
    const self = await admin('PUT', '/api/users/me/password', { current: ADMIN_PW, password: 'short-pw1' })
    expect(self.status).toBe(400)
    expect(self.body.error.message).toMatch(/10/)
  })
})

describe('tongban user add', () => {
  it('refuses a short administrator password with exit 2 and says why; a long one works', async () => {
    const tmp = tempDir('tongban-attack-cli-')
    try {
      const node = await openNode({ ...PRESETS.township.defaults, level: 'township', code: TOWNSHIP, name: '青山镇', dataDir: tmp.dir, loadDataDir: await pgliteTemplate() })
      await node.close()
      const short = await runCli(['user', 'add', '--data', tmp.dir, '--name', 'root', '--role', 'admin', '--password', 'short-pw1'])
      expect(short.code).toBe(2)
      expect(short.stderr).toMatch(/at least 10 characters/)
      const ok = await runCli(['user', 'add', '--data', tmp.dir, '--name', 'root', '--role', 'admin', '--password', 'long-enough-1'])
      expect(ok.code, ok.stderr).toBe(0)
      expect(ok.stdout).toMatch(/user root \(admin\) added/)
    } finally {
      tmp.cleanup()
    }
  }, 300_000)
})
