/**
 * One scripted day (and a week later) at a county window, through the HTTP API only, recorded
 * step by step. The backend tests run it on PGlite and on PostgreSQL and compare the records:
 * the same SQL must give the same answers on both. The clock is the node's `now`, moved by the
 * script, so even the timestamps agree; only random ids (event ids, tokens) are normalised.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hono } from 'hono'
import { request, type Client } from '../helpers/node.ts'
import { residentIdCheck } from '../../protocol/people.ts'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)

/**
 * The bound on one test of this folder: each starts a PostgreSQL server, PGlite stores or node
 * processes, which under load (another test run on the same 2 cores, load average 10–30) took
 * longer than vitest's 60 s default. A bound for a hang, not a speed requirement.
 */
export const PG_TEST_TIMEOUT_MS = 300_000

export const COUNTY = '511302000000'
export const CITY = '511300000000'
export const START = '2026-03-30T01:30:00.000Z' // Monday 09:30 in China

/** A clock the script moves; give `now` to the node. */
export class Clock {
  private t = Date.parse(START)
  now = (): Date => new Date(this.t)
  set(iso: string): void {
    this.t = Date.parse(iso)
  }
}

const material = (name: string, required = true) => ({ name, required })

/** A small catalogue with a 2026 calendar: county instant and promised items, and a city item. */
export const CATALOGUE = {
  items: [
    { code: 'XS-HY-001', name: '结婚登记', department: '县民政局', level: 'county', kind: 'instant', legalDays: 0, promisedDays: 0,
      materials: [material('居民身份证'), material('户口簿'), material('近期半身免冠合影照片', false)] },
    { code: 'XS-SC-002', name: '食品经营许可', department: '县市场监督管理局', level: 'county', kind: 'promised', legalDays: 20, promisedDays: 3,
      materials: [material('食品经营许可申请书'), material('营业执照'), material('食品安全管理制度', false)] },
    { code: 'XS-GT-003', name: '个体工商户登记', department: '县市场监督管理局', level: 'county', kind: 'promised', legalDays: 15, promisedDays: 1,
      materials: [material('个体工商户登记申请书'), material('经营者身份证明')] },
    { code: 'SS-JT-001', name: '道路客运班线经营许可', department: '市交通运输局', level: 'city', kind: 'promised', legalDays: 20, promisedDays: 20,
      materials: [material('道路客运班线经营申请表'), material('可行性报告')] },
  ],
  calendars: [
    { year: 2026, holidays: [{ date: '2026-04-04', name: '清明节' }, { date: '2026-04-05', name: '清明节' }, { date: '2026-04-06', name: '清明节' }], workdays: [] },
  ],
}

/** Writes the catalogue file a node is seeded from (`catalogue: path`). */
export function writeCatalogue(dir: string): string {
  const path = join(dir, 'catalogue.json')
  writeFileSync(path, JSON.stringify(CATALOGUE))
  return path
}

export interface Step {
  step: string
  status: number
  body: unknown
}

const applicant = (n: number) => ({ name: `申请人${n}`, idType: 'resident-id', idNumber: withCheck(`5113021980010${String(n).padStart(4, '0')}`), phone: `1380000${String(n).padStart(4, '0')}` })

/**
 * Runs the script against `app` (a county node whose catalogue is CATALOGUE and which has an
 * `admin` user with password `password10`), moving `clock`. Returns every response, in order.
 */
export async function runScenario(app: Hono<any>, clock: Clock): Promise<Step[]> {
  const steps: Step[] = []
  const record = async (step: string, c: Client, method: string, path: string, body?: unknown) => {
    const r = await c(method, path, body)
    steps.push({ step, status: r.status, body: r.body })
    return r
  }
  const anon = request(app)
  const login = async (name: string) => {
    const r = await record(`login ${name}`, anon, 'POST', '/api/login', { name, password: 'password10' })
    if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${JSON.stringify(r.body)}`)
    return request(app, r.body.token)
  }

  const admin = await login('admin')
  await record('add staff', admin, 'POST', '/api/users', { name: '窗口甲', role: 'staff', password: 'password10' })
  await record('add supervisor', admin, 'POST', '/api/users', { name: '监督乙', role: 'supervisor', password: 'password10' })
  await record('add duplicate user', admin, 'POST', '/api/users', { name: '窗口甲', role: 'staff', password: 'password10' })
  await record('list users', admin, 'GET', '/api/users')
  await record('catalogue', admin, 'GET', '/api/catalogue')
  await record('calendars', admin, 'GET', '/api/catalogue/calendars')
  await record('add local item', admin, 'POST', '/api/catalogue/items', {
    code: 'XS-LOCAL-9', name: '农村宅基地审批', department: '县自然资源局', level: 'county', kind: 'promised', legalDays: 20, promisedDays: 5,
    materials: [material('宅基地申请表'), material('户口簿')],
  })
  await record('add invalid item', admin, 'POST', '/api/catalogue/items', { code: 'XS-BAD', name: '', level: 'county', kind: 'instant', legalDays: 0, promisedDays: 2, materials: [] })
  await record('patch local item', admin, 'PATCH', '/api/catalogue/items/XS-LOCAL-9', { promisedDays: 4 })
  await record('item after patch', admin, 'GET', '/api/catalogue/items/XS-LOCAL-9')

  let staff = await login('窗口甲')
  let supervisor = await login('监督乙')
  const intake = async (step: string, itemCode: string, n: number, materials: string[]) =>
    (await record(step, staff, 'POST', '/api/cases', { itemCode, applicant: applicant(n), materials })).body as { id: string }
  // `who` defaults to whoever `staff` is logged in as at the time of the call.
  const act = (step: string, id: string, body: unknown, who: Client = staff) => record(step, who, 'POST', `/api/cases/${id}/events`, body)

  // Day 1, Monday 30 March.
  const marriage = await intake('intake instant', 'XS-HY-001', 1, ['居民身份证', '户口簿'])
  await act('approve instant', marriage.id, { type: 'approved' })
  await act('deliver instant', marriage.id, { type: 'delivered' })
  await act('rate instant', marriage.id, { type: 'rated', rating: 5, comment: '很快' })
  await act('approve delivered (refused)', marriage.id, { type: 'approved' })

  const food = await intake('intake promised', 'XS-SC-002', 2, ['食品经营许可申请书', '营业执照', '食品安全管理制度'])
  clock.set('2026-03-30T03:00:00.000Z')
  await act('request correction', food.id, { type: 'correction-requested', materials: ['营业执照'], note: '复印件不清' })

  clock.set('2026-03-30T05:00:00.000Z')
  const denied = await intake('intake to deny', 'XS-SC-002', 3, ['食品经营许可申请书', '营业执照'])
  await act('deny without reason', denied.id, { type: 'denied' })
  await act('deny', denied.id, { type: 'denied', reason: '经营场所不符合要求' })
  await act('rate denied before delivery (refused)', denied.id, { type: 'rated', rating: 3 })
  await act('deliver denied', denied.id, { type: 'delivered' })
  await act('rate denied', denied.id, { type: 'rated', rating: 3 })

  const open = await intake('intake left open', 'XS-GT-003', 4, ['个体工商户登记申请书', '经营者身份证明'])
  const withdrawn = await intake('intake to withdraw', 'XS-SC-002', 5, ['食品经营许可申请书', '营业执照'])
  await act('withdraw', withdrawn.id, { type: 'withdrawn', reason: '申请人撤回' })
  const local = await intake('intake local item', 'XS-LOCAL-9', 6, ['宅基地申请表', '户口簿'])

  const cityCase = await intake('intake city item', 'SS-JT-001', 7, ['道路客运班线经营申请表', '可行性报告'])
  await act('approve city case here (forbidden)', cityCase.id, { type: 'approved' })
  await act('supervisor acts (forbidden)', open.id, { type: 'approved' }, supervisor)
  await record('missing materials', staff, 'POST', '/api/cases', { itemCode: 'XS-SC-002', applicant: applicant(8), materials: [] })
  await record('unknown material', staff, 'POST', '/api/cases', { itemCode: 'XS-HY-001', applicant: applicant(8), materials: ['居民身份证', '户口簿', '介绍信'] })
  await record('unknown item', staff, 'POST', '/api/cases', { itemCode: 'NO-SUCH-1', applicant: applicant(8), materials: [] })
  await record('bad applicant', staff, 'POST', '/api/cases', { itemCode: 'XS-HY-001', applicant: { ...applicant(8), idNumber: '123' }, materials: ['居民身份证', '户口簿'] })
  await record('supervisor takes in (forbidden)', supervisor, 'POST', '/api/cases', { itemCode: 'XS-HY-001', applicant: applicant(8), materials: ['居民身份证', '户口簿'] })

  // Next morning the applicant brings the corrected material; two days on the licence is issued.
  clock.set('2026-03-31T02:00:00.000Z')
  staff = await login('窗口甲')
  await act('resume', food.id, { type: 'resumed' })
  clock.set('2026-04-01T06:00:00.000Z')
  staff = await login('窗口甲')
  await act('approve promised', food.id, { type: 'approved', note: '准予许可' })
  await act('deliver promised', food.id, { type: 'delivered' })
  await act('rate promised', food.id, { type: 'rated', rating: 2 })

  // A week on, after the Qingming holiday: one case overdue, one due soon. Tokens last 12 hours.
  clock.set('2026-04-07T02:00:00.000Z')
  await record('expired token', staff, 'GET', '/api/cases')
  staff = await login('窗口甲')
  supervisor = await login('监督乙')
  const soon = await intake('intake due soon', 'XS-GT-003', 9, ['个体工商户登记申请书', '经营者身份证明'])
  await act('correction on local', local.id, { type: 'correction-requested', materials: ['户口簿'] })

  await record('list all', supervisor, 'GET', '/api/cases')
  await record('list accepted', supervisor, 'GET', '/api/cases?status=accepted')
  await record('list open statuses', supervisor, 'GET', '/api/cases?status=accepted,correction,submitted')
  await record('list handled at the city', supervisor, 'GET', `/api/cases?handler=${CITY}`)
  await record('list overdue', supervisor, 'GET', '/api/cases?overdue=true')
  await record('list page 2', supervisor, 'GET', '/api/cases?limit=3&offset=3')
  await record('list bad handler', supervisor, 'GET', '/api/cases?handler=12')
  for (const c of [marriage, food, denied, open, withdrawn, local, cityCase, soon]) await record(`get ${c.id}`, supervisor, 'GET', `/api/cases/${c.id}`)
  await record('get missing case', supervisor, 'GET', `/api/cases/${COUNTY}-20260330-9999`)
  await record('stats by item', supervisor, 'GET', '/api/stats')
  await record('stats by day', supervisor, 'GET', '/api/stats?groupBy=day')
  await record('stats for day 1', supervisor, 'GET', '/api/stats?from=2026-03-30&to=2026-03-30')
  await record('stats bad query', supervisor, 'GET', '/api/stats?groupBy=month')
  await record('no token', anon, 'GET', '/api/cases')
  return steps
}

/**
 * Replaces what is random by design with stable placeholders: event ids (`<code>-<time>-<hex>`)
 * by their order of first appearance, login tokens, and signatures (each node has its own key;
 * event ids are content hashes now, equal wherever the content is).
 */
export function normalise(steps: Step[]): Step[] {
  const ids = new Map<string, string>()
  const text = JSON.stringify(steps, (k, v) => (k === 'token' && typeof v === 'string' ? '<token>' : k === 'sig' && typeof v === 'string' ? '<sig>' : v))
  return JSON.parse(text.replace(/\b\d{12}-[0-9a-z]{6,12}-[0-9a-f]{8}\b/g, (id) => {
    if (!ids.has(id)) ids.set(id, `<event ${ids.size + 1}>`)
    return ids.get(id)!
  })) as Step[]
}
