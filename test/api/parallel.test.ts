/**
 * 并联审批 (联办) at a township's API (issue 9, practice 3): an item naming two departments; staff
 * of each department (set by the administrator, `tongban user add --department`, or a user
 * request file) give its opinion; the approval waits for both to agree; one 不同意 leaves only a
 * denial; each department's queue lists the cases awaiting its opinion.
 * (The whole practice in the browser: test/ui/parallel.test.ts.)
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../nodes/core/services/users.ts'
import { awaitUserAnswer, leaveUserRequest, watchUserRequests } from '../../nodes/core/services/user-requests.ts'
import { CITY, FIXTURE, FIXTURE_CATALOGUE, TOWNSHIP } from '../fixtures/catalogue.ts'
import { applicant, request, TEST_PASSWORD, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { tempDir } from '../helpers/template.ts'

const ITEM = {
  code: 'T-PAR1', name: '乡村建设规划许可', department: '乡镇人民政府(村镇建设办)', level: 'township' as const, kind: 'promised' as const,
  legalDays: 20, promisedDays: 10, materials: [{ name: '申请表', required: true }, { name: '居民身份证', required: true }],
  fee: '不收费', online: false, maxVisits: 1, pinyin: 'xcjsghxk', version: 1, retired: false,
  parallel: [{ department: '自然资源所', days: 3 }, { department: '农业农村办', days: 5 }],
}

let t: TestNode
let tmp: { dir: string; cleanup(): void }
let admin: Client
let clerk: Client
let zr: Client
let ny: Client

async function login(name: string, role: 'staff' | 'agent' | 'admin', department?: string): Promise<Client> {
  const r = await admin('POST', '/api/users', { name, role, password: TEST_PASSWORD, department })
  expect(r.status).toBe(201)
  expect(r.body.department).toBe(department ?? null)
  const { token } = await t.node.users.login({ name, password: TEST_PASSWORD })
  return request(t.app, token)
}

beforeAll(async () => {
  tmp = tempDir('p1-parallel-')
  const file = join(tmp.dir, 'catalogue.json')
  writeFileSync(file, JSON.stringify({ items: [...FIXTURE.items, ITEM], calendars: FIXTURE.calendars }))
  t = await testNode({ level: 'township', code: TOWNSHIP, catalogue: file })
  admin = await t.as('admin', 'admin')
  clerk = await login('clerk', 'staff')
  zr = await login('zr', 'staff', '自然资源所')
  ny = await login('ny', 'staff', '农业农村办')
}, 300_000)
afterAll(async () => {
  await t?.close()
  tmp?.cleanup()
})

const act = (who: Client, id: string, body: unknown) => who('POST', `/api/cases/${id}/events`, body)
const intake = async () => {
  const r = await clerk('POST', '/api/cases', { itemCode: 'T-PAR1', applicant, materials: ['申请表', '居民身份证'] })
  expect(r.status).toBe(201)
  return r.body.id as string
}

describe('并联审批 at the API', () => {
  it('the case carries both departments, each pending with its own due date from acceptance', async () => {
    const id = await intake()
    const view = (await clerk('GET', `/api/cases/${id}`)).body
    expect(view.status).toBe('accepted')
    expect(view.parallel).toEqual(ITEM.parallel)
    expect(view.opinions.map((o: any) => [o.department, o.days, o.opinion])).toEqual([['自然资源所', 3, null], ['农业农村办', 5, null]])
    expect(view.opinions[0].dueDate < view.opinions[1].dueDate).toBe(true)
    expect(view.opinions[1].dueDate <= view.dueDate).toBe(true)
  })

  it('only staff of the department give its opinion (403 in words the user reads); a 不同意 needs its reason', async () => {
    const id = await intake()
    const none = await act(clerk, id, { type: 'opinion', department: '自然资源所', agree: true })
    expect(none.status).toBe(403)
    expect(none.body.error.message).toContain('未设部门')
    const other = await act(ny, id, { type: 'opinion', department: '自然资源所', agree: true })
    expect(other.status).toBe(403)
    expect(other.body.error.message).toContain('您属于农业农村办，不能出具自然资源所的意见')
    const admins = await act(admin, id, { type: 'opinion', department: '自然资源所', agree: true })
    expect(admins.status).toBe(403)
    const noReason = await act(zr, id, { type: 'opinion', department: '自然资源所', agree: false })
    expect(noReason.status).toBe(400)
    expect(noReason.body.error.message).toContain('不同意须写明理由')
    const view = (await clerk('GET', `/api/cases/${id}`)).body
    expect(view.events.filter((e: any) => e.type === 'opinion')).toEqual([])
  })

  it('the approval waits for both opinions; one opinion per department; both agree → approved', async () => {
    const id = await intake()
    const early = await act(clerk, id, { type: 'approved' })
    expect(early.status).toBe(409)
    expect(early.body.error.message).toContain('待自然资源所、农业农村办出具意见后方可准予')
    const yes = await act(zr, id, { type: 'opinion', department: '自然资源所', agree: true })
    expect(yes.status).toBe(200)
    expect(yes.body.opinions[0].opinion).toMatchObject({ agree: true, reason: null, user: 'zr' })
    const twice = await act(zr, id, { type: 'opinion', department: '自然资源所', agree: false, reason: '改变主意' })
    expect(twice.status).toBe(409)
    expect(twice.body.error.message).toContain('已经出具')
    expect((await act(ny, id, { type: 'opinion', department: '农业农村办', agree: true })).status).toBe(200)
    const ok = await act(clerk, id, { type: 'approved' })
    expect(ok.status).toBe(200)
    expect(ok.body.status).toBe('approved')
    // Signed by the node like every event.
    const opinion = ok.body.events.find((e: any) => e.type === 'opinion')
    expect(opinion).toMatchObject({ author: TOWNSHIP, department: '自然资源所', agree: true })
    expect(opinion.sig).toMatch(/^[A-Za-z0-9_-]{40,}$/)
  })

  it('one 不同意: approval refused, the case denied with that department\'s reason', async () => {
    const id = await intake()
    expect((await act(zr, id, { type: 'opinion', department: '自然资源所', agree: true })).status).toBe(200)
    const no = await act(ny, id, { type: 'opinion', department: '农业农村办', agree: false, reason: '宅基地面积超过标准' })
    expect(no.status).toBe(200)
    expect(no.body.status).toBe('accepted')
    const approve = await act(clerk, id, { type: 'approved' })
    expect(approve.status).toBe(409)
    expect(approve.body.error.message).toContain('农业农村办不同意（宅基地面积超过标准），只能作出不予决定')
    const denied = await act(clerk, id, { type: 'denied', reason: '农业农村办：宅基地面积超过标准' })
    expect(denied.status).toBe(200)
    expect(denied.body.status).toBe('denied')
    const after = await act(zr, id, { type: 'opinion', department: '农业农村办', agree: true })
    expect(after.status).toBe(403) // zr is not of 农业农村办, before the state machine is asked
  })

  it('each department\'s queue lists the accepted cases awaiting its opinion, with its due date', async () => {
    const a = await intake()
    const b = await intake()
    expect((await act(zr, a, { type: 'opinion', department: '自然资源所', agree: true })).status).toBe(200)
    const zrQueue = (await zr('GET', '/api/cases?awaiting=' + encodeURIComponent('自然资源所') + '&limit=1000')).body.cases.map((c: any) => c.id)
    expect(zrQueue).toContain(b)
    expect(zrQueue).not.toContain(a)
    const nyQueue = (await ny('GET', '/api/cases?awaiting=' + encodeURIComponent('农业农村办'))).body.cases
    const row = nyQueue.find((c: any) => c.id === a)
    const view = (await clerk('GET', `/api/cases/${a}`)).body
    expect(row.opinionDue).toBe(view.opinions[1].dueDate)
    // A decided case leaves the queue.
    expect((await act(clerk, b, { type: 'denied', reason: '申请人撤回建房计划' })).status).toBe(200)
    expect((await zr('GET', '/api/cases?awaiting=' + encodeURIComponent('自然资源所'))).body.cases.map((c: any) => c.id)).not.toContain(b)
    expect((await zr('GET', '/api/cases?awaiting=' + 'x'.repeat(41))).status).toBe(400)
  })
})

describe('staff departments', () => {
  it('an administrator sets and clears a department; a user cannot set their own', async () => {
    const set = await admin('PATCH', '/api/users/clerk', { department: '自然资源所' })
    expect(set.status).toBe(200)
    expect(set.body.department).toBe('自然资源所')
    expect((await clerk('GET', '/api/users/me')).body.department).toBe('自然资源所')
    expect((await admin('PATCH', '/api/users/clerk', { department: '' })).body.department).toBeNull()
    const own = await ny('PATCH', '/api/users/me', { department: '自然资源所', displayName: '农办小李' })
    expect(own.status).toBe(200)
    expect(own.body.department).toBe('农业农村办')
    expect((await admin('PATCH', '/api/users/ny', { department: 'x'.repeat(41) })).status).toBe(400)
  })

  it('a user request file (tongban user add while the node runs) carries the department', async () => {
    const stop = watchUserRequests(t.dataDir, t.node.users, () => {})
    try {
      const file = leaveUserRequest(t.dataDir, { name: 'gh', role: 'staff', passwordHash: await hashPassword(TEST_PASSWORD), department: '规划建设办' })
      expect(await awaitUserAnswer(file, 60_000)).toEqual({ ok: true })
    } finally {
      stop()
    }
    const gh = (await admin('GET', '/api/users')).body.users.find((u: any) => u.name === 'gh')
    expect(gh.department).toBe('规划建设办')
  })
})

describe('并联 items in the city\'s catalogue', () => {
  it('are checked (two departments or more, each named once, each limit within the promised days) and may lose their departments', async () => {
    const city = await testNode({ level: 'city', code: CITY, catalogue: FIXTURE_CATALOGUE })
    try {
      const cityAdmin = await city.as('admin', 'admin')
      const item = { ...ITEM, code: 'S-PAR1', level: 'city' as const, version: undefined, retired: undefined }
      const tooLong = await cityAdmin('POST', '/api/catalogue/items', { ...item, parallel: [{ department: '自然资源所', days: 12 }, { department: '农业农村办', days: 5 }] })
      expect(tooLong.status).toBe(400)
      expect(tooLong.body.error.details.issues).toEqual([{ field: 'parallel.0.days', message: expect.stringContaining('超过了事项的承诺时限') }])
      const one = await cityAdmin('POST', '/api/catalogue/items', { ...item, parallel: [{ department: '自然资源所', days: 3 }] })
      expect(one.status).toBe(400)
      expect(one.body.error.message).toContain('至少需要两个部门')
      const made = await cityAdmin('POST', '/api/catalogue/items', item)
      expect(made.status).toBe(201)
      expect(made.body.parallel).toEqual(ITEM.parallel)
      const twice = await cityAdmin('PATCH', '/api/catalogue/items/S-PAR1', { parallel: [{ department: '自然资源所', days: 3 }, { department: '自然资源所', days: 2 }] })
      expect(twice.status).toBe(400)
      expect(twice.body.error.message).toContain('重复')
      const none = await cityAdmin('PATCH', '/api/catalogue/items/S-PAR1', { parallel: [] })
      expect(none.status).toBe(200)
      expect(none.body.parallel).toEqual([])
      // A change like any other: a new version.
      const plain = await cityAdmin('GET', '/api/catalogue/items/S-PAR1')
      expect(plain.body.version).toBe(2)
      // CSV: an optional parallel column, departments and days separated by ; (or ；) and : (or ：).
      const { token } = await city.node.users.login({ name: 'admin', password: TEST_PASSWORD })
      const csv = async (rows: string[]) => {
        const res = await city.app.request('/api/catalogue/import', {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv; charset=utf-8' },
          body: ['code,name,department,level,kind,legalDays,promisedDays,materials,fee,online,maxVisits,pinyin,resultKind,parallel', ...rows].join('\r\n'),
        })
        return { status: res.status, body: (await res.json()) as any }
      }
      const imported = await csv(['S-PAR2,建设项目联合审批,市政务服务中心,city,promised,20,10,申请表*,不收费,false,1,,licence,自然资源和规划局:5；住房和城乡建设局：3'])
      expect(imported).toEqual({ status: 200, body: { added: 1, changed: 0, unchanged: 0 } })
      expect((await cityAdmin('GET', '/api/catalogue/items/S-PAR2')).body.parallel).toEqual([
        { department: '自然资源和规划局', days: 5 }, { department: '住房和城乡建设局', days: 3 },
      ])
      const bad = await csv(['S-PAR3,建设项目联合审批,市政务服务中心,city,promised,20,10,申请表*,不收费,false,1,,licence,自然资源和规划局;住房和城乡建设局:3'])
      expect(bad.status).toBe(400)
      expect(bad.body.error.message).toMatch(/row 2: parallel\.0\.days/)
    } finally {
      await city.close()
    }
  }, 300_000)
})
