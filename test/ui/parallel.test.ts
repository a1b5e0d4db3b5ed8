/**
 * 并联审批 (联办) in the UI (issue 9, practice 3), on two real node processes: township 潆溪镇
 * decides 农村建房预审 (T-004 in the sample catalogue), which 自然资源所 and 农业农村办 review in
 * parallel; village 长青村 under it takes the application in. The administrator gives two staff
 * their departments; each sees the case in the department's share of the queue and gives its
 * opinion on the case page; 农业农村办 disagrees with a reason, so the window may only deny, with
 * that reason filled in; the timeline shows both opinions; the village sees the denial.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, PASSWORD, shot, startUiNode, startUiSuite, textOf, uiLogin, type UiNode, type UiSuite } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'

const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const REASON = '宅基地面积超过本省规定的标准'

let suite: UiSuite
let township: UiNode, village: UiNode

beforeAll(async () => {
  suite = await startUiSuite('tongban-ui-parallel-', [
    { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', users: [{ name: '周窗口', role: 'staff', displayName: '周敏' }, { name: '镇管理员', role: 'admin' }] },
    { level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: 0, users: [{ name: '李代办', role: 'agent' }] },
  ])
  ;[township, village] = suite.nodes
}, 300_000)

afterAll(() => suite?.close())

const page = (base: string) => suite.page(base)
const text = textOf
const actions = async (p: Page) => ((await p.getAttribute('[data-actions]', 'data-actions')) ?? '').split(' ').filter(Boolean)

async function openCase(node: UiNode, user: string, id: string) {
  const p = await page(node.url)
  await uiLogin(p.page, user)
  await p.page.goto(`${node.url}/#/case/${id}`)
  await p.page.waitForSelector(`[data-case="${id}"] [data-actions]`)
  return p
}

describe('并联审批: two departments, one disagrees', () => {
  it('the case waits for both opinions, each department gives its own, one 不同意 leaves only a denial with its reason', async () => {
    // The administrator gives 王自然 the department 自然资源所 on the users page; 赵农业 over the API.
    const admin = await page(township.url)
    await uiLogin(admin.page, '镇管理员')
    await admin.page.goto(`${township.url}/#/users`)
    await admin.page.waitForSelector('#u-department')
    await admin.page.fill('#u-name', '王自然')
    await admin.page.selectOption('#u-role', 'staff')
    await admin.page.fill('#u-display', '王自然')
    await admin.page.fill('#u-department', '自然资源所')
    await admin.page.fill('#u-pw', PASSWORD)
    await admin.page.click('form button[type=submit]')
    await admin.page.waitForSelector('[data-user="王自然"] [data-field=department]')
    expect(await text(admin.page, '[data-user="王自然"] [data-field=department]')).toBe('自然资源所')
    const adminApi = await apiAs(township.url, '镇管理员')
    await adminApi('POST', '/api/users', { name: '赵农业', role: 'staff', password: PASSWORD, displayName: '赵农业', department: '农业农村办' })
    await admin.page.reload()
    await admin.page.waitForSelector('[data-user="赵农业"] [data-field=department]')
    expect(await text(admin.page, '[data-user="赵农业"] [data-field=department]')).toBe('农业农村办')
    await shot(admin.page, 'parallel-01-users-departments')

    // The item's guide names the departments that review it.
    const guide = await page(township.url)
    await uiLogin(guide.page, '周窗口')
    await guide.page.goto(`${township.url}/#/items/T-004`)
    await guide.page.waitForSelector('[data-field=parallel]')
    expect(await text(guide.page, '[data-field=parallel]')).toBe('自然资源所（5 个工作日）、农业农村办（5 个工作日）')

    // The village takes in 农村建房预审 for the township.
    const agentApi = await apiAs(village.url, '李代办')
    const made = await agentApi('POST', '/api/cases', {
      itemCode: 'T-004', applicant: { name: '何建国', idType: 'resident-id', idNumber: '511302195001011231', phone: '13600000041' },
      materials: ['农村宅基地和建房(规划许可)申请表', '村级审查意见', '居民身份证', '户口簿', '建房设计图或通用图'],
    })
    const id = made.id as string
    const staffApi = await apiAs(township.url, '周窗口')
    await eventually(async () => !!(await staffApi('GET', `/api/cases/${id}`).catch(() => null)), 120_000, `case ${id} at the township`)

    // The window accepts it: both departments' opinions are awaited, each with its due date; no approval yet.
    const clerk = await openCase(township, '周窗口', id)
    await clerk.page.click('[data-action=accepted]')
    await clerk.page.click('[data-confirm=accepted]')
    await clerk.page.waitForSelector('.pill.big[data-status=accepted]')
    await clerk.page.waitForSelector('[data-opinions="自然资源所、农业农村办"]')
    expect(await clerk.page.locator('[data-opinions] li[data-opinion=pending] .due').count()).toBe(2)
    expect(await text(clerk.page, '[data-opinions-note]')).toContain('待 自然资源所、农业农村办 出具意见后')
    expect(await actions(clerk.page)).not.toContain('approved')
    expect(await actions(clerk.page)).not.toContain('opinion') // the window's clerk belongs to no department
    expect(await clerk.page.locator('.timeline [data-pending]').count()).toBe(2)
    await shot(clerk.page, 'parallel-02-accepted-awaiting-opinions')

    // 自然资源所: the case is in the department's share of the queue; it agrees.
    const zr = await page(township.url)
    await uiLogin(zr.page, '王自然')
    await zr.page.goto(`${township.url}/#/queue`)
    await zr.page.waitForSelector(`[data-share="自然资源所"] [data-case="${id}"]`)
    expect(await text(zr.page, `[data-share="自然资源所"] [data-case="${id}"]`)).toContain('农村建房预审')
    await shot(zr.page, 'parallel-03-queue-department-share')
    await zr.page.click(`[data-share="自然资源所"] a[href="#/case/${id}"]`)
    await zr.page.waitForSelector(`[data-case="${id}"] [data-action=opinion]`)
    expect(await actions(zr.page)).not.toContain('approved')
    await zr.page.click('[data-action=opinion]')
    expect(await text(zr.page, '[data-form=opinion] h3')).toContain('自然资源所')
    await zr.page.click('[data-opinion=agree]')
    await zr.page.waitForSelector('[data-department="自然资源所"][data-opinion=true]')
    expect(await actions(zr.page)).not.toContain('opinion') // the first opinion counts: given once
    await zr.page.goto(`${township.url}/#/queue`)
    await zr.page.waitForSelector('[data-share="自然资源所"]')
    expect(await zr.page.locator(`[data-share="自然资源所"] [data-case="${id}"]`).count()).toBe(0)

    // 农业农村办 disagrees: a 不同意 needs its reason.
    const ny = await openCase(township, '赵农业', id)
    await ny.page.click('[data-action=opinion]')
    await ny.page.click('[data-opinion=disagree]')
    await ny.page.waitForSelector('[data-form=opinion] .notice.error:not([hidden])')
    expect(await text(ny.page, '[data-form=opinion] .notice.error')).toContain('请写明不同意的理由')
    await ny.page.fill('#op-reason', REASON)
    await shot(ny.page, 'parallel-04-disagree-form')
    await ny.page.click('[data-opinion=disagree]')
    await ny.page.waitForSelector('[data-department="农业农村办"][data-opinion=false]')
    expect(await text(ny.page, '[data-department="农业农村办"]')).toContain(REASON)

    // The window sees it live: only a denial is possible, its reason filled in.
    await clerk.page.waitForSelector('[data-department="农业农村办"][data-opinion=false]', { timeout: 60_000 })
    expect(await text(clerk.page, '[data-opinions-note]')).toContain('农业农村办不同意')
    expect(await actions(clerk.page)).toContain('denied')
    expect(await actions(clerk.page)).not.toContain('approved')
    await clerk.page.click('[data-action=denied]')
    expect(await clerk.page.inputValue('#act-note')).toBe(`农业农村办：${REASON}`)
    await clerk.page.click('[data-confirm=denied]')
    await clerk.page.waitForSelector('.pill.big[data-status=denied]')
    const timeline = await text(clerk.page, '.timeline')
    expect(timeline).toContain('自然资源所意见：同意')
    expect(timeline).toContain('农业农村办意见：不同意')
    expect(await text(clerk.page, '.timeline .ev-opinion:nth-of-type(1) .when, .timeline .ev-opinion .when')).toContain('王自然')
    expect(await text(clerk.page, '.timeline .ev-denied .note')).toContain(REASON)
    expect(await clerk.page.locator('.timeline [data-pending]').count()).toBe(0)
    await shot(clerk.page, 'parallel-05-denied-with-reason')

    // The village window sees the denial and its reason (to hand over), and both opinions.
    const vg = await openCase(village, '李代办', id)
    await vg.page.waitForSelector('.pill.big[data-status=denied]', { timeout: 120_000 })
    expect(await text(vg.page, '.timeline .ev-denied .note')).toContain(REASON)
    expect(await vg.page.locator('.timeline .ev-opinion').count()).toBe(2)
    await shot(vg.page, 'parallel-06-village-denied')

    for (const p of [admin, guide, clerk, zr, ny, vg]) expect(p.errors).toEqual([])
  }, 600_000)
})

describe('并联审批 in the city\'s item editor', () => {
  it('names the departments and their limits, one a line; a limit past the promised days is refused at the field', async () => {
    const city = await startUiNode(suite.dir, { level: 'city', code: '511300000000', name: '南充市', catalogue: 'sample', users: [{ name: '市管理员', role: 'admin' }] })
    try {
      const a = await page(city.url)
      await uiLogin(a.page, '市管理员')
      await a.page.goto(`${city.url}/#/catalogue/edit/S-006`)
      await a.page.waitForSelector('#it-parallel')
      expect(await a.page.inputValue('#it-parallel')).toBe('')
      await a.page.fill('#it-parallel', '自然资源和规划局 3\n住房和城乡建设局 30')
      await a.page.click('[data-action=save-item]')
      await a.page.waitForSelector('#it-parallel-err:not([hidden])')
      expect(await text(a.page, '#it-parallel-err')).toContain('超过了事项的承诺时限')
      await shot(a.page, 'parallel-07-item-editor-refused')
      await a.page.fill('#it-parallel', '自然资源和规划局 3\n住房和城乡建设局 5')
      await a.page.click('[data-action=save-item]')
      await a.page.waitForSelector('tr[data-code="S-006"]')
      expect(await text(a.page, 'tr[data-code="S-006"]')).toContain('v2')
      await a.page.goto(`${city.url}/#/catalogue/edit/S-006`)
      await a.page.waitForSelector('#it-parallel')
      expect(await a.page.inputValue('#it-parallel')).toBe('自然资源和规划局 3\n住房和城乡建设局 5')
      expect(a.errors).toEqual([])
    } finally {
      await city.stop()
    }
  }, 600_000)
})
