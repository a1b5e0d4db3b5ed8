/**
 * 通办 in the UI, across a tree of four real node processes: county 顺庆区 with townships
 * 潆溪镇 and 李家镇, and village 长青村 under 潆溪镇. The village agent takes in a township
 * matter for 李家镇 (found by its pinyin initials in the unit picker) and sees the route through
 * the county; 李家镇 finds it in its queue as 异地件 and transfers it (转办) to 潆溪镇 with a
 * reason; 潆溪镇 accepts and approves; the village sees the result and the transfer by name; the
 * county, which only relays the case, sees it read-only; its dashboard counts by 办理地.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptAndApprove, apiAs, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const COUNTY = '511302000000'
const YINGXI = '511302101000'
const LIJIA = '511302102000'
const VILLAGE = '511302101201'

const tmp = tempDir('tongban-ui-cross-')
let county: UiNode, yingxi: UiNode, lijia: UiNode, village: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  browser = await launchBrowser()
  county = await startUiNode(tmp.dir, {
    level: 'county', code: COUNTY, name: '顺庆区', catalogue: 'sample',
    users: [{ name: '赵窗口', role: 'staff' }, { name: '钱监督', role: 'supervisor' }],
  })
  yingxi = await startUiNode(tmp.dir, {
    level: 'township', code: YINGXI, name: '潆溪镇', catalogue: 'sample', parent: county,
    users: [{ name: '周窗口', role: 'staff' }],
  })
  // One child at a time: the county records a child's first link in its enrollments, and a
  // second enrollment written at that moment from this process would race it.
  await linkedChildren(county, 1)
  lijia = await startUiNode(tmp.dir, {
    level: 'township', code: LIJIA, name: '李家镇', catalogue: 'sample', parent: county,
    users: [{ name: '吴窗口', role: 'staff' }],
  })
  await linkedChildren(county, 2)
  village = await startUiNode(tmp.dir, {
    level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: yingxi,
    users: [{ name: '李代办', role: 'agent' }],
  })
}, 300_000)

/** Waits until `n` children hold a link to `node` (its /healthz sync summary). */
function linkedChildren(node: UiNode, n: number) {
  return eventually(async () => {
    const health = await (await fetch(`${node.url}/healthz`)).json()
    return health.sync?.children?.connected >= n
  }, 120_000, `${n} children linked to ${node.code}`)
}

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  for (const n of [village, lijia, yingxi, county]) await n?.stop()
  tmp.cleanup()
})

/** A fresh browser context, closed after the suite. */
async function page(base: string) {
  const p = await openPage(browser, base)
  opened.push(p.context)
  return p
}

/**
 * Once the case is at `node` as `ready` wants it, `user` logs in there, finds it in the queue
 * (待办件, the staff's first page) with its tag (异地件 or 转办), and opens it.
 */
async function openFromQueue(node: UiNode, user: string, id: string, ready: (c: any) => boolean, tag: string, screenshot: string) {
  const as = await apiAs(node.url, user)
  await eventually(async () => {
    const c = await as('GET', `/api/cases/${id}`).catch(() => null)
    return c && ready(c)
  }, 60_000, `case ${id} at ${node.code}`)
  const p = await page(node.url)
  await uiLogin(p.page, user)
  await p.page.waitForSelector(`tr[data-case="${id}"] [data-tag=${tag}]`)
  await shot(p.page, screenshot)
  await p.page.click(`tr[data-case="${id}"] a`)
  return p
}

let countyLabel = ''
const text = async (p: Page, selector: string) => (await p.locator(selector).first().textContent()) ?? ''

describe('通办 in the UI: another subtree decides, a transfer, a relay', () => {
  it('takes in for 李家镇, transfers to 潆溪镇, decides there, and shows it all by name', async () => {
    // The directory spreads over the tree: the village must know its cousin township by name.
    const agentApi = await apiAs(village.url, '李代办')
    await eventually(async () => (await agentApi('GET', '/api/units?level=township')).units.some((u: any) => u.code === LIJIA && u.name === '李家镇'), 120_000, '李家镇 in the village’s unit directory')

    const agent = await page(village.url)
    await uiLogin(agent.page, '李代办')
    await agent.page.goto(`${village.url}/#/intake/T-001`)
    await agent.page.waitForSelector('#ap-name')
    // The default: the village's own township, on the old climbing route.
    expect(await agent.page.getAttribute('[data-field=handler]', 'data-code')).toBe(YINGXI)
    expect(await agent.page.getAttribute('ol.route', 'data-route')).toBe(`${VILLAGE} ${YINGXI} ${VILLAGE}`)
    await agent.page.fill('#ap-name', '刘桂兰')
    await agent.page.fill('#ap-phone', '13600000011')
    await agent.page.fill('#ap-idNumber', '511302195001011231')
    for (const m of ['最低生活保障申请书', '居民身份证', '户口簿', '家庭经济状况核对授权书', '家庭收入及财产状况申报表']) {
      await agent.page.check(`[data-material="${m}"] input`)
    }

    // 异地办理: the picker, by keyboard — open it, type the initials, Enter takes the best match.
    await agent.page.focus('[data-action=choose-handler]')
    await agent.page.keyboard.press('Enter')
    await agent.page.waitForSelector('#handler-q:focus')
    expect(await agent.page.getAttribute('[data-action=choose-handler]', 'aria-expanded')).toBe('true')
    await agent.page.keyboard.type('ljz')
    await agent.page.waitForSelector(`#handler-q-list [role=option][data-unit="${LIJIA}"][aria-selected=true]`)
    // The default (潆溪镇) is not offered again, and a village is not of the item's level.
    expect(await agent.page.locator(`#handler-q-list [data-unit="${YINGXI}"]`).count()).toBe(0)
    await shot(agent.page, 'cross-01-village-unit-picker')
    await agent.page.keyboard.press('Enter')
    await agent.page.waitForSelector(`[data-field=handler][data-code="${LIJIA}"]`)
    // 长青村 → 潆溪镇 → 顺庆区 (common ancestor) → 李家镇 decides → back to 长青村.
    expect(await agent.page.getAttribute('ol.route', 'data-route')).toBe(`${VILLAGE} ${YINGXI} ${COUNTY} ${LIJIA} ${VILLAGE}`)
    // Every stop by the name the village's unit directory gives it (a county at the top of its
    // tree is listed there without a name of its own: then by its level and code).
    const named = new Map((await agentApi('GET', '/api/units')).units.filter((u: any) => u.name !== u.code).map((u: any) => [u.code, u.name]))
    countyLabel = (named.get(COUNTY) as string | undefined) ?? `县(区) ${COUNTY}`
    expect(await agent.page.locator('ol.route .nm').allTextContents()).toEqual(['长青村', '潆溪镇', countyLabel, '李家镇', '长青村'])
    await shot(agent.page, 'cross-02-village-intake-route')
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('.receipt [data-field=case-id]')
    const id = await text(agent.page, '.receipt [data-field=case-id]')
    expect(await text(agent.page, '.receipt [data-field=decided-by]')).toContain('李家镇')
    await shot(agent.page, 'cross-03-village-receipt')
    expect((await agentApi('GET', `/api/cases/${id}`)).handlerCode).toBe(LIJIA)

    // 李家镇: the case in its queue, tagged 异地件; it is not theirs to decide, so they transfer it.
    const lj = await openFromQueue(lijia, '吴窗口', id, () => true, 'cross', 'cross-04-lijia-queue')
    await lj.page.waitForSelector('[data-action=transferred]')
    expect(await text(lj.page, '[data-field=route]')).toBe(`长青村 → 潆溪镇 → ${countyLabel} → 李家镇`)
    await lj.page.click('[data-action=transferred]')
    await lj.page.waitForSelector('#transfer-q:focus')
    // 李家镇 itself (the handler now) is not offered.
    expect(await lj.page.locator(`#transfer-q-list [data-unit="${LIJIA}"]`).count()).toBe(0)
    await lj.page.keyboard.type('yxz')
    await lj.page.waitForSelector(`#transfer-q-list [data-unit="${YINGXI}"][aria-selected=true]`)
    await lj.page.keyboard.press('Enter')
    await lj.page.waitForSelector(`[data-field=transfer-to][data-code="${YINGXI}"]`)
    // The reason is required.
    await lj.page.click('[data-confirm=transferred]')
    await lj.page.waitForSelector('.action-form .notice.error:not([hidden])')
    await lj.page.fill('#act-note', '申请人户籍在潆溪镇，应由潆溪镇办理')
    await shot(lj.page, 'cross-05-lijia-transfer-form')
    await lj.page.click('[data-confirm=transferred]')
    await lj.page.waitForSelector('.timeline .ev-transferred')
    expect(await text(lj.page, '.timeline .ev-transferred .what')).toBe('转办至 潆溪镇')
    // A former handler keeps a read-only copy.
    await lj.page.waitForSelector('[data-no-actions]')
    expect(await lj.page.getAttribute('[data-actions]', 'data-actions')).toBe('')
    expect(await text(lj.page, '[data-no-actions]')).toContain('已转办至 潆溪镇')
    await shot(lj.page, 'cross-06-lijia-after-transfer')

    // 潆溪镇 decides now: accept and approve.
    const yx = await openFromQueue(yingxi, '周窗口', id, (c) => c.currentHandlerCode === YINGXI, 'transfer', 'cross-07-yingxi-queue')
    await yx.page.waitForSelector('[data-action=accepted]')
    expect(await text(yx.page, '[data-field=handler]')).toBe('潆溪镇（由 李家镇 转办）')
    await acceptAndApprove(yx.page, '经审核符合低保条件')
    await shot(yx.page, 'cross-08-yingxi-approved')

    // The village sees the result and the transfer, by name, with its reason.
    await agent.page.goto(`${village.url}/#/case/${id}`)
    await agent.page.waitForSelector('.pill.big[data-status=approved]', { timeout: 60_000 })
    await agent.page.waitForSelector('.timeline .ev-transferred')
    expect(await text(agent.page, '.timeline .ev-transferred .what')).toBe('转办至 潆溪镇')
    expect(await text(agent.page, '.timeline .ev-transferred .note')).toContain('申请人户籍在潆溪镇')
    expect(await text(agent.page, '.timeline .ev-transferred .when')).toContain('李家镇')
    expect(await text(agent.page, '[data-field=handler]')).toBe('潆溪镇（由 李家镇 转办）')
    expect(await agent.page.getAttribute('[data-actions]', 'data-actions')).toContain('delivered')
    await shot(agent.page, 'cross-09-village-result')

    // The county only relays the case: it holds it, read-only, and says so.
    const countyApi = await apiAs(county.url, '赵窗口')
    await eventually(async () => (await countyApi('GET', `/api/cases/${id}`).catch(() => null))?.status === 'approved', 60_000, `${id} approved at the county`)
    const ct = await page(county.url)
    await uiLogin(ct.page, '赵窗口')
    await ct.page.goto(`${county.url}/#/case/${id}`)
    await ct.page.waitForSelector('[data-no-actions][data-relay=true]')
    expect(await ct.page.getAttribute('[data-actions]', 'data-actions')).toBe('')
    expect(await text(ct.page, '[data-no-actions]')).toContain('途经')
    // A township matter is not in a county window's catalogue; the page still names it.
    expect(await text(ct.page, 'h1')).toBe('最低生活保障')
    expect(await text(ct.page, '.timeline .ev-transferred .what')).toBe('转办至 潆溪镇')
    await shot(ct.page, 'cross-10-county-relay')

    for (const p of [agent, lj, yx, ct]) expect(p.errors).toEqual([])
  }, 300_000)

  it('counts the case on the county dashboard by 办理地, with its transfer', async () => {
    const supApi = await apiAs(county.url, '钱监督')
    const stats = await eventually(async () => {
      const s = await supApi('GET', '/api/stats?groupBy=child&by=handler')
      return s.totals.transferred === 1 && s.totals.completed === 1 ? s : null
    }, 120_000, 'the transfer in the county’s statistics by 办理地')
    const sup = await page(county.url)
    await uiLogin(sup.page, '钱监督')
    await sup.page.waitForSelector('[data-kpi=accepted]')
    await sup.page.click('[data-by=handler]')
    await sup.page.waitForSelector('[data-by=handler][aria-pressed=true]')
    await sup.page.waitForSelector('[data-dim=handler]')
    const row = sup.page.locator(`table[data-table=stats-child] tr[data-key="${YINGXI}"]`)
    expect(await row.locator('th').textContent()).toContain('潆溪镇')
    const yrow = stats.rows.find((r: any) => r.key === YINGXI)
    expect(await row.locator('[data-col=transferred]').textContent()).toBe(String(yrow.transferred))
    expect(await sup.page.locator('tfoot [data-col=transferred]').textContent()).toBe(String(stats.totals.transferred))
    expect(await sup.page.locator('tfoot [data-col=crossUnit]').textContent()).toBe(String(stats.totals.crossUnit))
    await shot(sup.page, 'cross-11-county-dashboard-by-handler')
    expect(sup.errors).toEqual([])
  }, 300_000)
})
