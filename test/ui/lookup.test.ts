/**
 * 办件进度查询 across the tree (issue 9, item 7), on three real node processes — county 顺庆区,
 * township 潆溪镇, village 长青村 — and a real browser at the county's public page. The county
 * holds none of these cases: the question goes down the links towards the window that took the
 * case in, and the first node on the case's path answers. The applicant sees what to bring for
 * a correction and the reason of a refusal, and no staff banner; a wrong phone finds nothing; a
 * window that cannot be reached is named in the answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, shot, startUiSuite, type UiNode, type UiSuite } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'

const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const PHONE = '13600000071'
const applicant = { name: '吴大妈', idType: 'resident-id', idNumber: '511302195001011231', phone: PHONE }

let suite: UiSuite
let county: UiNode, township: UiNode, village: UiNode
let correctionCase = ''
let refusedCase = ''

beforeAll(async () => {
  suite = await startUiSuite('tongban-ui-lookup-', [
    { level: 'county', code: COUNTY, name: '顺庆区', catalogue: 'sample', users: [{ name: '郑管理', role: 'admin' }] },
    { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', parent: 0, users: [{ name: '周窗口', role: 'staff' }] },
    { level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: 1, users: [{ name: '李代办', role: 'agent' }] },
  ])
  ;[county, township, village] = suite.nodes

  const agentApi = await apiAs(village.url, '李代办')
  // A township matter: the township asks for a correction (一次性告知).
  correctionCase = (await agentApi('POST', '/api/cases', { itemCode: 'T-002', applicant, materials: ['高龄津贴申请表', '居民身份证', '户口簿', '惠农补贴一卡通或社会保障卡'] })).id
  const staffApi = await apiAs(township.url, '周窗口')
  await eventually(async () => !!(await staffApi('GET', `/api/cases/${correctionCase}`).catch(() => null)), 120_000, `case ${correctionCase} at the township`)
  await staffApi('POST', `/api/cases/${correctionCase}/events`, { type: 'correction-requested', materials: ['户口簿', '高龄津贴申请表'], note: '户口簿须为最新版本' })
  // A village matter (accepted at intake: the window decides it), denied at the village: it never leaves the village.
  refusedCase = (await agentApi('POST', '/api/cases', { itemCode: 'V-010', applicant, materials: ['农村宅基地和建房(规划许可)申请表', '居民身份证', '户口簿', '宅基地使用承诺书'] })).id
  await agentApi('POST', `/api/cases/${refusedCase}/events`, { type: 'denied', reason: '申请人户籍不在本村' })
  // Both links up (the county asks the township, the township the village).
  const countyAdmin = await apiAs(county.url, '郑管理')
  await eventually(async () => (await countyAdmin('GET', '/api/sync')).children?.some((c: any) => c.peer === TOWNSHIP && c.connected), 120_000, 'the township linked to the county')
  const townAdmin = await apiAs(township.url, '周窗口')
  await eventually(async () => (await townAdmin('GET', '/api/sync')).children?.some((c: any) => c.peer === VILLAGE && c.connected), 120_000, 'the village linked to the township')
}, 400_000)

afterAll(() => suite?.close())

const lookupAt = (base: string, id: string, phone: string) => fetch(`${base}/api/public/progress?id=${encodeURIComponent(id)}&phone=${encodeURIComponent(phone)}`)

describe('progress lookup at the county for cases below it', () => {
  it('shows what to bring for a correction, answered by the township, with no banner and nothing personal', async () => {
    const countyAdmin = await apiAs(county.url, '郑管理')
    // The county does not hold the case (not on its path).
    await expect(countyAdmin('GET', `/api/cases/${correctionCase}`)).rejects.toThrow(/404/)
    const o = await suite.page(county.url, `#/progress?id=${correctionCase}`)
    const { page } = o
    await page.fill('#pg-phone', PHONE)
    await page.click('form button[type=submit]')
    await page.waitForSelector('[data-result=found]', { timeout: 60_000 })
    const bring = await page.textContent('[data-field=bring]')
    expect(bring).toContain('户口簿')
    expect(bring).toContain('高龄津贴申请表')
    expect(bring).toContain('户口簿须为最新版本')
    expect(await page.textContent('[data-field=handler]')).toBe('潆溪镇')
    expect(await page.isHidden('#banner')).toBe(true)
    const text = await page.textContent('main')
    expect(text).not.toContain('吴大妈')
    expect(text).not.toContain(applicant.idNumber)
    await shot(page, 'lookup-county-correction')
    expect(o.errors).toEqual([])
  })

  it('shows the reason of a denial at the village, asked through the township that does not hold it', async () => {
    const r = await lookupAt(county.url, refusedCase, PHONE)
    expect(r.status).toBe(200)
    const body = await r.json()
    expect(body).toMatchObject({ id: refusedCase, status: 'denied', reason: '申请人户籍不在本村', answeredBy: VILLAGE, handlerName: '长青村' })
    expect(JSON.stringify(body)).not.toContain('吴大妈')
    const o = await suite.page(county.url, `#/progress?id=${refusedCase}`)
    await o.page.fill('#pg-phone', PHONE)
    await o.page.click('form button[type=submit]')
    await o.page.waitForSelector('[data-field=reason]', { timeout: 60_000 })
    expect(await o.page.textContent('[data-field=reason]')).toBe('申请人户籍不在本村')
    await shot(o.page, 'lookup-county-denied')
  })

  it('a wrong phone finds nothing, with the same answer as an unknown number', async () => {
    const wrong = await lookupAt(county.url, correctionCase, '13600000072')
    const unknown = await lookupAt(county.url, `${VILLAGE}-20261130-9999`, PHONE)
    expect(wrong.status).toBe(404)
    expect(unknown.status).toBe(404)
    expect((await wrong.json()).error.message).toBe((await unknown.json()).error.message)
  })

  it('names the window when it cannot be reached, and answers again once it is back', async () => {
    await village.stop()
    // Bounded in count, not only in time: 30 lookups per address per 10 min, 6 of them this file's
    // others, so at most 22 polls here (every 5 s for 110 s) — 2 s polls met the limit at ~48 s.
    const r = await eventually(async () => {
      const res = await lookupAt(county.url, refusedCase, PHONE)
      return res.status === 503 ? res : null
    }, 110_000, 'the lookup answering 503 with the village stopped', 5_000)
    const body = await r.json()
    expect(body.error.message).toContain('长青村')
    // The township holds the T-002 case itself: its lookup still works without the village.
    expect((await lookupAt(county.url, correctionCase, PHONE)).status).toBe(200)
  })
})
