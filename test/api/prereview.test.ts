/**
 * 网上预审 at one node's API (issue 9, practice 4), on a village node with the fixture catalogue:
 * the applicant makes a pre-review on the public route (no login) and reads the answer with the
 * phone given; staff answer at once (通过, or 需补正 naming every missing material); intake from
 * the pre-review makes an ordinary signed case, once, and the pre-review reads 已受理 with its
 * number. The public routes refuse oversized (413) and malformed (400) input in Chinese, answer
 * a wrong phone exactly as an unknown number, and are limited per address and per number. A
 * pre-review is never in a replicated document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../nodes/core/http/app.ts'
import { publicPrereviewRoutes } from '../../nodes/core/http/routes-prereview.ts'
import { Throttle } from '../../nodes/core/services/throttle.ts'
import { PrereviewService } from '../../nodes/core/services/prereviews.ts'
import { caseDocId } from '../../nodes/core/docs/case-doc.ts'
import { PREREVIEW_STATUS_NAMES_ZH, PrereviewNoSchema } from '../../protocol/prereview.ts'
import { applicant, request, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
let admin: Client
let anon: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, name: '长青村', catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
  admin = await t.as('admin', 'admin')
  anon = request(t.app)
}, 300_000)
afterAll(async () => t?.close())

/** A second applicant, so what is searched for in documents is not also on a case. */
const other = { name: '王五', idType: 'resident-id' as const, idNumber: '511302199003070022', phone: '139 1234-5678' }

const make = (body: object) => anon('POST', '/api/public/prereviews', body)
/** Made through the service, for a test's setup: the public route's per-address limit (all of this file is one address) is kept for what it tests. */
const viaService = (body: object) => new PrereviewService(t.node).create(body)
const look = (no: string, phone: string) => anon('GET', `/api/public/prereviews/${encodeURIComponent(no)}?phone=${encodeURIComponent(phone)}`)

describe('the applicant makes a pre-review', () => {
  it('lists the items this window takes in, with their materials, without login', async () => {
    const r = await anon('GET', '/api/public/prereview-items')
    expect(r.status).toBe(200)
    const codes = r.body.items.map((i: { code: string }) => i.code)
    expect(codes).toContain('V-P01')
    expect(codes).not.toContain('V-R01') // retired
    expect(codes).toContain('C-P01') // decided at the county, taken in here (代收代办)
    expect(r.body.items.find((i: { code: string }) => i.code === 'V-P01').materials.map((m: { name: string }) => m.name)).toEqual(['申请书', '居民身份证', '房屋现状照片'])
  })

  it('gets an unguessable number beginning with the node code, and reads 待预审 with its phone', async () => {
    const r = await make({ itemCode: 'V-P01', applicant: other, materials: ['居民身份证'] })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body.no).toMatch(new RegExp(`^${VILLAGE}-YS[0-9A-HJKMNP-TV-Z]{10}$`))
    expect(r.body).toMatchObject({ itemName: '农村危房改造申请', status: 'pending', missing: [], caseId: null })
    expect(r.body).not.toHaveProperty('applicant')
    const again = await make({ itemCode: 'V-P01', applicant: other, materials: ['居民身份证'] })
    expect(again.body.no).not.toBe(r.body.no)
    const seen = await look(r.body.no.toLowerCase(), '13912345678') // any case, any grouping of the digits
    expect(seen.status).toBe(200)
    expect(seen.body).toMatchObject({ no: r.body.no, status: 'pending' })
    expect(JSON.stringify(seen.body)).not.toContain(other.idNumber)
  })

  it('answers a wrong phone exactly as an unknown number', async () => {
    const r = await make({ itemCode: 'V-I01', applicant: other, materials: ['居民身份证', '户口簿'] })
    const wrong = await look(r.body.no, '13800000000')
    const unknown = await look(`${VILLAGE}-YS0000000000`, other.phone)
    expect(wrong.status).toBe(404)
    expect(unknown.status).toBe(404)
    expect(wrong.body).toEqual(unknown.body)
    expect(wrong.body.error.message).toContain('没有找到')
  })

  it('refuses malformed input with 400 and a Chinese message, storing nothing', async () => {
    const before = (await agent('GET', '/api/prereviews')).body.prereviews.length
    const bad: [unknown, RegExp][] = [
      ['{not json', /提交的内容无法识别/],
      [{ itemCode: 'V-P01', applicant: { ...other, idNumber: '000000000000000000' }, materials: [] }, /校验位/],
      [{ itemCode: 'V-P01', applicant: { ...other, phone: '12345' }, materials: [] }, /手机号/],
      [{ itemCode: 'V-P01', applicant: other, materials: ['不存在的材料'] }, /不在.*办事指南/],
      [{ itemCode: 'X-404', applicant: other, materials: [] }, /本窗口不受理/],
      [{ itemCode: 'V-R01', applicant: other, materials: [] }, /本窗口不受理/],
      [[1, 2], /预审申请/],
    ]
    for (const [body, message] of bad) {
      const r = await make(body as object)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message)
    }
    const badNo = await look('12345', other.phone)
    expect(badNo.status).toBe(400)
    expect(badNo.body.error.message).toContain('预审编号格式不对')
    expect((await agent('GET', '/api/prereviews')).body.prereviews.length).toBe(before)
  })

  it('refuses an oversized body with 413 and a Chinese message', async () => {
    const r = await make({ itemCode: 'V-P01', applicant: { ...other, name: '张'.repeat(20_000) }, materials: [] })
    expect(r.status).toBe(413)
    expect(r.body.error.message).toContain('提交的内容太大')
  })
})

describe('staff answer at once', () => {
  it('需补正 names every missing material (一次性告知), once; the applicant sees the list and the note', async () => {
    const { body: made } = await make({ itemCode: 'V-I01', applicant: other, materials: ['居民身份证'] })
    const queue = (await agent('GET', '/api/prereviews?status=pending')).body.prereviews
    expect(queue.find((p: { no: string }) => p.no === made.no)).toMatchObject({ applicantName: '王五', itemName: '居住证明', status: 'pending' })
    const full = (await agent('GET', `/api/prereviews/${made.no}`)).body
    expect(full).toMatchObject({ applicant: { name: '王五', idNumber: other.idNumber }, materials: ['居民身份证'] })

    // A correction that leaves out a required material not held is not 一次性告知.
    const partial = await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'correction', missing: ['房屋租赁合同'] })
    expect(partial.status).toBe(400)
    expect(partial.body.error.message).toMatch(/一次性告知.*户口簿/)
    const pass = await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'passed' })
    expect(pass.status).toBe(400)
    expect(pass.body.error.message).toMatch(/不能预审通过.*户口簿/)

    const answered = await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'correction', missing: ['户口簿', '房屋租赁合同'], note: '户口簿须带原件' })
    expect(answered.status, JSON.stringify(answered.body)).toBe(200)
    expect(answered.body).toMatchObject({ status: 'correction', missing: ['户口簿', '房屋租赁合同'], note: '户口簿须带原件', answeredBy: 'agent' })
    const twice = await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'passed' })
    expect(twice.status).toBe(409)

    const seen = (await look(made.no, other.phone)).body
    expect(seen).toMatchObject({ status: 'correction', missing: ['户口簿', '房屋租赁合同'], note: '户口簿须带原件' })
    expect(PREREVIEW_STATUS_NAMES_ZH[seen.status as 'correction']).toBe('需补正')
  })

  it('an administrator does not see pre-reviews (personal data), and nobody without a login does', async () => {
    expect((await admin('GET', '/api/prereviews')).status).toBe(403)
    expect((await anon('GET', '/api/prereviews')).status).toBe(401)
  })
})

describe('intake from a pre-review', () => {
  it('makes an ordinary signed case once; the pre-review reads 已受理 with the case number', async () => {
    const { body: made } = await make({ itemCode: 'V-I01', applicant, materials: ['居民身份证', '户口簿'] })
    expect((await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'passed', note: '材料齐全，请带原件到村便民服务代办点' })).body.status).toBe('passed')
    const full = (await agent('GET', `/api/prereviews/${made.no}`)).body
    // What the intake page sends: the pre-review's own applicant, item and materials — nothing typed again.
    const intake = { itemCode: full.itemCode, applicant: full.applicant, materials: full.materials }
    const wrongItem = await agent('POST', `/api/prereviews/${made.no}/intake`, { ...intake, itemCode: 'V-P01' })
    expect(wrongItem.status).toBe(400)
    const [a, b] = await Promise.all([agent('POST', `/api/prereviews/${made.no}/intake`, intake), agent('POST', `/api/prereviews/${made.no}/intake`, intake)])
    expect(a.status, JSON.stringify(a.body)).toBe(201)
    expect(b.status).toBe(201)
    expect(b.body.id).toBe(a.body.id) // a double click makes one case
    const retry = await agent('POST', `/api/prereviews/${made.no}/intake`, intake)
    expect(retry.body.id).toBe(a.body.id)

    const view = (await agent('GET', `/api/cases/${a.body.id}`)).body
    expect(view).toMatchObject({ itemCode: 'V-I01', applicant: { name: applicant.name, idNumber: applicant.idNumber }, materials: ['居民身份证', '户口簿'], originCode: VILLAGE, createdBy: 'agent', status: 'accepted' })
    expect(view.sig).toBeTruthy()
    const cases = (await agent('GET', '/api/cases')).body.cases.filter((c: { applicantName: string }) => c.applicantName === applicant.name)
    expect(cases).toHaveLength(1)

    const after = (await agent('GET', `/api/prereviews/${made.no}`)).body
    expect(after).toMatchObject({ status: 'accepted', caseId: a.body.id })
    expect((await look(made.no, applicant.phone)).body).toMatchObject({ status: 'accepted', caseId: a.body.id })
    // Nothing of the pre-review is in the case it became (its number stays on this node's table).
    expect(JSON.stringify(view)).not.toContain(made.no)
  })

  it('missing materials at the window are refused as in any intake, and the pre-review stays open', async () => {
    const { body: made } = await make({ itemCode: 'V-I01', applicant: other, materials: ['居民身份证'] })
    const r = await agent('POST', `/api/prereviews/${made.no}/intake`, { itemCode: 'V-I01', applicant: other, materials: ['居民身份证'] })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'missing_materials', details: { missing: ['户口簿'] } })
    expect((await agent('GET', `/api/prereviews/${made.no}`)).body.status).toBe('pending')
  })
})

describe('personal data stays here', () => {
  it('no replicated document holds a pre-review: not its number, not the applicant', async () => {
    const { body: made } = await make({ itemCode: 'V-P01', applicant: other, materials: ['居民身份证'] })
    await agent('POST', `/api/prereviews/${made.no}/answer`, { result: 'correction', missing: ['申请书'] })
    const rows = await t.node.db.query<{ doc_id: string; update: Uint8Array }>('SELECT doc_id, update FROM doc_updates')
    expect(rows.length).toBeGreaterThan(0)
    const text = rows.map((r) => r.doc_id + '\n' + Buffer.from(r.update).toString('utf8')).join('\n')
    for (const secret of [made.no, other.idNumber, other.name, '1391234']) expect(text).not.toContain(secret)
    expect(rows.some((r) => r.doc_id === caseDocId(made.no))).toBe(false)
    expect(PrereviewNoSchema.parse(made.no)).toBe(made.no)
  })
})

describe('age', () => {
  /** A pre-review made `days` ago (written straight to the table: the clock cannot be moved back). */
  async function madeAgo(days: number): Promise<string> {
    const body = await viaService({ itemCode: 'V-I01', applicant: other, materials: ['居民身份证', '户口簿'] })
    await t.node.db.query(`UPDATE prereviews SET created_at = $2 WHERE no = $1`, [body.no, new Date(Date.now() - days * 86_400_000).toISOString()])
    return body.no
  }

  it('reads 已过期 after 30 days: no answer, no intake from it', async () => {
    const no = await madeAgo(31)
    expect((await agent('GET', `/api/prereviews/${no}`)).body.status).toBe('expired')
    expect((await look(no, other.phone)).body.status).toBe('expired')
    expect((await agent('POST', `/api/prereviews/${no}/answer`, { result: 'passed' })).status).toBe(409)
    const r = await agent('POST', `/api/prereviews/${no}/intake`, { itemCode: 'V-I01', applicant: other, materials: ['居民身份证', '户口簿'] })
    expect(r.status).toBe(409)
    expect(r.body.error.message).toContain('已过期')
  })

  it('is deleted, applicant and all, after 90 days', async () => {
    const old = await madeAgo(91)
    const young = await madeAgo(89)
    await viaService({ itemCode: 'V-I01', applicant: other, materials: [] })
    expect((await agent('GET', `/api/prereviews/${old}`)).status).toBe(404)
    expect((await agent('GET', `/api/prereviews/${young}`)).status).toBe(200)
  })
})

describe('limits', () => {
  /** The same node with tiny limits (the app's own are too large to reach in a test). */
  function limitedApp(): Client {
    const limits = { create: new Throttle(2, 3_600_000), lookup: new Throttle(3, 600_000), perNumber: new Throttle(2, 3_600_000) }
    const app = createApp(t.node, { extend: (a) => a.route('/t', publicPrereviewRoutes(limits)) })
    return request(app)
  }

  it('limits pre-reviews per address, with Retry-After', async () => {
    const c = limitedApp()
    const body = { itemCode: 'V-I01', applicant: other, materials: ['居民身份证', '户口簿'] }
    expect((await c('POST', '/t/prereviews', body)).status).toBe(201)
    expect((await c('POST', '/t/prereviews', 'oops')).status).toBe(400) // a bad attempt counts too
    const third = await c('POST', '/t/prereviews', body)
    expect(third.status).toBe(429)
    expect(third.body.error.message).toContain('提交过于频繁')
  })

  it('limits lookups per address, and failed lookups per number (the right phone then waits too)', async () => {
    const c = limitedApp()
    const { no } = await viaService({ itemCode: 'V-I01', applicant: other, materials: ['居民身份证', '户口簿'] })
    const path = (phone: string) => `/t/prereviews/${no}?phone=${encodeURIComponent(phone)}`
    expect((await c('GET', path('13000000001'))).status).toBe(404)
    expect((await c('GET', path('13000000002'))).status).toBe(404)
    const blocked = await c('GET', path(other.phone))
    expect(blocked.status).toBe(429)
    expect(blocked.body.error.message).toContain('失败次数过多')
    const over = await c('GET', path(other.phone))
    expect(over.status).toBe(429)
    expect(over.body.error.message).toContain('查询过于频繁')
  })
})
