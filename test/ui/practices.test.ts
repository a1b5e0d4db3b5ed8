/**
 * Service practices in the UI (issue 9), on two real node processes: township 潆溪镇 (which
 * decides township matters) and village 长青村 under it (the window). 不予受理 at the township,
 * seen at the village; (more practices below as they land).
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'

const tmp = tempDir('tongban-ui-practices-')
let township: UiNode, village: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  browser = await launchBrowser()
  township = await startUiNode(tmp.dir, {
    level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample',
    users: [{ name: '周窗口', role: 'staff' }, { name: '钱监督', role: 'supervisor' }],
  })
  village = await startUiNode(tmp.dir, {
    level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: township,
    users: [{ name: '李代办', role: 'agent' }],
  })
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  for (const n of [village, township]) await n?.stop()
  tmp.cleanup()
})

async function page(base: string) {
  const p = await openPage(browser, base)
  opened.push(p.context)
  return p
}

const text = async (p: Page, selector: string) => (await p.locator(selector).first().textContent()) ?? ''
const applicant = (name: string, phone: string) => ({ name, idType: 'resident-id', idNumber: '511302195001011231', phone })

/** The village agent takes in a township item over the API; resolves once the township holds it as `ready` wants. */
async function takeInForTownship(itemCode: string, materials: string[], who: ReturnType<typeof applicant>, ready: (c: any) => boolean = () => true, extra: object = {}) {
  const agentApi = await apiAs(village.url, '李代办')
  const made = await agentApi('POST', '/api/cases', { itemCode, applicant: who, materials, ...extra })
  const staffApi = await apiAs(township.url, '周窗口')
  await eventually(async () => {
    const c = await staffApi('GET', `/api/cases/${made.id}`).catch(() => null)
    return c && ready(c)
  }, 120_000, `case ${made.id} at the township`)
  return made.id as string
}

/** Logs in at `node` as `user` and opens the case page. */
async function openCase(node: UiNode, user: string, id: string) {
  const p = await page(node.url)
  await uiLogin(p.page, user)
  await p.page.goto(`${node.url}/#/case/${id}`)
  await p.page.waitForSelector(`[data-case="${id}"] [data-actions]`)
  return p
}

describe('不予受理 at the township, seen at the village', () => {
  it('refuses a case not yet accepted, with the reason; the village sees it, nothing follows, statistics count it', async () => {
    const id = await takeInForTownship('T-002', ['高龄津贴申请表', '居民身份证', '户口簿', '惠农补贴一卡通或社会保障卡'], applicant('王大爷', '13600000021'))
    const tw = await openCase(township, '周窗口', id)
    expect(await tw.page.getAttribute('[data-actions]', 'data-actions')).toContain('refused')
    // 不予许可 is a decision after acceptance: not offered before it.
    expect((await tw.page.getAttribute('[data-actions]', 'data-actions'))!.split(' ')).not.toContain('denied')
    await tw.page.click('[data-action=refused]')
    await tw.page.click('[data-confirm=refused]')
    await tw.page.waitForSelector('.action-form .notice.error:not([hidden])')
    expect(await text(tw.page, '.action-form .notice.error')).toContain('不予受理的理由')
    await tw.page.fill('#act-note', '申请人未满 80 周岁，不属于高龄津贴发放对象')
    await shot(tw.page, 'practices-01-township-refuse-form')
    await tw.page.click('[data-confirm=refused]')
    await tw.page.waitForSelector('.pill.big[data-status=refused]')
    expect(await text(tw.page, '.pill.big')).toBe('不予受理')
    expect(await text(tw.page, '[data-refused]')).toContain('不属于高龄津贴发放对象')
    expect(await tw.page.getAttribute('[data-actions]', 'data-actions')).toBe('')
    await shot(tw.page, 'practices-02-township-refused')

    const vg = await openCase(village, '李代办', id)
    await vg.page.waitForSelector('.pill.big[data-status=refused]', { timeout: 60_000 })
    expect(await text(vg.page, '.timeline .ev-refused .note')).toContain('不属于高龄津贴发放对象')
    expect(await vg.page.getAttribute('[data-actions]', 'data-actions')).toBe('')
    await shot(vg.page, 'practices-03-village-refused')

    const stats = await (await apiAs(village.url, '李代办'))('GET', '/api/stats')
    expect(stats.totals).toMatchObject({ refused: 1, accepted: 0 })
    for (const p of [tw, vg]) expect(p.errors).toEqual([])
  }, 300_000)
})
