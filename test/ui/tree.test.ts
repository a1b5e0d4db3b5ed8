/**
 * The UI across the link: a village agent point under a township, each a real node process.
 * The agent takes in a township matter (found by pinyin) and prints the receipt; township staff
 * find it in their queue, see a colleague on the same case, accept and approve it; the village
 * page shows the result live and the agent delivers it and records the rating; the township
 * dashboard shows exactly GET /api/stats; with the township down the banner says offline and
 * intake still works.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, fillIntake, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-ui-tree-')
let township: UiNode
let village: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  browser = await launchBrowser()
  township = await startUiNode(tmp.dir, {
    level: 'township', code: '511302101000', name: '潆溪镇', catalogue: 'sample',
    users: [{ name: '周窗口', role: 'staff' }, { name: '孙监督', role: 'supervisor' }],
  })
  village = await startUiNode(tmp.dir, {
    level: 'village', code: '511302101201', name: '长青村', catalogue: 'sample', parent: township,
    users: [{ name: '李代办', role: 'agent' }],
  })
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  await village?.stop()
  await township?.stop()
  tmp.cleanup()
})

async function page(base: string, hash?: string) {
  const p = await openPage(browser, base, hash)
  opened.push(p.context)
  return p
}

describe('village and township UI over the link', () => {
  it('escalates a case, decides it above, shows the result below live, and counts it on the township dashboard', async () => {
    const agent = await page(village.url)
    await uiLogin(agent.page, '李代办')
    await agent.page.waitForSelector('#banner[data-state=online]', { timeout: 120_000 })
    expect(await agent.page.locator('#banner').textContent()).toContain('已连接上级')

    // 最低生活保障 is decided at the township; the village takes it in for the villager.
    await agent.page.fill('#item-q', 'zdshbz')
    await expect.poll(() => agent.page.locator('a.result').first().getAttribute('data-code'), { timeout: 60_000 }).toBe('T-001')
    await agent.page.keyboard.press('Enter')
    await agent.page.click('[data-action=start-intake]')
    await agent.page.waitForSelector('#ap-name')
    await agent.page.fill('#ap-name', '刘桂兰')
    await agent.page.fill('#ap-phone', '13600000001')
    await agent.page.fill('#ap-idNumber', '511302195001011231')
    for (const m of ['最低生活保障申请书', '居民身份证', '户口簿', '家庭经济状况核对授权书', '家庭收入及财产状况申报表']) {
      await agent.page.check(`[data-material="${m}"] input`)
    }
    await shot(agent.page, 'tree-01-village-intake-escalated')
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('.receipt [data-field=case-id]')
    const id = (await agent.page.locator('.receipt [data-field=case-id]').textContent())!
    expect(await agent.page.locator('.receipt [data-field=decided-by]').textContent()).toContain('乡镇')
    expect(await agent.page.locator('.receipt [data-field=due]').textContent()).toContain('上级受理之日起 20 个工作日内')
    await shot(agent.page, 'tree-02-village-receipt-escalated')

    // The agent keeps the case open; it is decided above.
    await agent.page.click('text=查看办件')
    await agent.page.waitForSelector('[data-elsewhere]')
    expect(await agent.page.locator('[data-actions]').getAttribute('data-actions')).toBe('withdrawn')
    await shot(agent.page, 'tree-03-village-case-waiting')

    const staffApi = await apiAs(township.url, '周窗口')
    await eventually(() => staffApi('GET', `/api/cases/${id}`).catch(() => null), 120_000, `case ${id} at the township`)

    const staff = await page(township.url)
    await uiLogin(staff.page, '周窗口')
    await staff.page.waitForSelector(`tr[data-case="${id}"]`)
    await shot(staff.page, 'tree-04-township-queue')
    await staff.page.click(`tr[data-case="${id}"] a`)
    await staff.page.waitForSelector('[data-action=accepted]')

    // A second person on the same case: each sees the other (awareness).
    const sup = await page(township.url)
    await uiLogin(sup.page, '孙监督')
    await sup.page.goto(`${township.url}/#/case/${id}`)
    await sup.page.waitForSelector('[data-no-actions]')
    await staff.page.waitForSelector('[data-peer="孙监督"]', { timeout: 120_000 })
    await sup.page.waitForSelector('[data-peer="周窗口"]', { timeout: 120_000 })
    await shot(staff.page, 'tree-05-township-case-two-people')
    await shot(sup.page, 'tree-06-township-case-supervisor')

    await staff.page.click('[data-action=accepted]')
    await staff.page.click('[data-confirm=accepted]')
    await staff.page.waitForSelector('.pill.big[data-status=accepted]')
    await staff.page.click('[data-action=approved]')
    await staff.page.fill('#act-note', '经审核符合低保条件')
    await staff.page.click('[data-confirm=approved]')
    await staff.page.waitForSelector('.pill.big[data-status=approved]')
    // Decisions are the township's; delivery belongs to the village window.
    expect(await staff.page.locator('[data-actions]').getAttribute('data-actions')).toBe('')
    await shot(staff.page, 'tree-07-township-case-approved')
    // The supervisor's page follows live.
    await sup.page.waitForSelector('.pill.big[data-status=approved]', { timeout: 120_000 })

    // The village page changes by itself, then the agent hands the result over.
    await agent.page.waitForSelector('.pill.big[data-status=approved]', { timeout: 120_000 })
    await shot(agent.page, 'tree-08-village-case-approved-live')
    await agent.page.click('[data-action=delivered]')
    await agent.page.click('[data-confirm=delivered]')
    await agent.page.waitForSelector('.pill.big[data-status=delivered]')
    await agent.page.click('[data-action=rated]')
    await agent.page.click('[data-rating="4"]')
    await agent.page.click('[data-confirm=rated]')
    await agent.page.waitForSelector('[data-no-actions]')
    await shot(agent.page, 'tree-09-village-case-done')
    await eventually(async () => (await staffApi('GET', `/api/cases/${id}`)).rating === 4, 120_000, 'the rating at the township')

    // The township dashboard: its figures are its children's, exactly as the API gives them.
    const supApi = await apiAs(township.url, '孙监督')
    const stats = await eventually(async () => {
      const s = await supApi('GET', '/api/stats?groupBy=child')
      return s.rows.find((r: any) => r.key === village.code)?.ratings[3] === 1 ? s : null
    }, 120_000, 'village statistics at the township')
    await sup.page.click('nav a[data-nav=dashboard]')
    await sup.page.waitForSelector('[data-kpi=accepted]')
    for (const k of ['accepted', 'completionRate', 'onTimeRate', 'onSpotRate', 'earlyRate', 'satisfactionRate', 'overdue', 'dueSoon']) {
      expect(await sup.page.locator(`[data-kpi=${k}]`).getAttribute('data-value'), k).toBe(stats.totals[k] === null ? '' : String(stats.totals[k]))
    }
    const row = sup.page.locator(`table[data-table=stats-child] tr[data-key="${village.code}"]`)
    const vrow = stats.rows.find((r: any) => r.key === village.code)
    expect(await row.locator('[data-col=accepted]').textContent()).toBe(String(vrow.accepted))
    expect(await row.locator('[data-col=satisfactionRate]').textContent()).toBe('100.0%')
    await sup.page.waitForSelector('.chart canvas')
    await shot(sup.page, 'tree-10-township-dashboard')
    await sup.page.click('nav a[data-nav=queue]')
    await sup.page.waitForSelector('[data-kpi=queue-overdue]')
    await shot(sup.page, 'tree-11-township-warnings')

    for (const p of [agent, staff, sup]) expect(p.errors).toEqual([])
  }, 300_000)

  it('keeps taking in with the township down, and says so in the banner', async () => {
    const agent = await page(village.url)
    await uiLogin(agent.page, '李代办')
    await agent.page.waitForSelector('#banner[data-state=online]', { timeout: 120_000 })
    await township.stop()
    await agent.page.waitForSelector('#banner[data-state=offline]', { timeout: 120_000 })
    expect(await agent.page.locator('#banner').textContent()).toContain('离线')

    await fillIntake(agent.page, village.url, 'T-002', { name: '张大爷', phone: '13600000002', idNumber: '511302194001011237' })
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('.receipt [data-field=case-id]')
    // The new case waits to go up: the banner counts cases, and the list marks it not yet sent.
    const id = await agent.page.locator('.receipt [data-field=case-id]').textContent()
    await agent.page.waitForFunction(() => /[1-9] 件办件待上传/.test(document.getElementById('banner')?.textContent ?? ''), null, { timeout: 120_000 })
    await shot(agent.page, 'tree-12-village-offline-receipt')
    await agent.page.goto(`${village.url}/#/cases`)
    await agent.page.waitForSelector(`tr[data-case="${id}"] [data-tag=unsent]`, { timeout: 120_000 })
    expect(await agent.page.locator('[data-tag=unsent]').first().textContent()).toBe('未上传')
    await shot(agent.page, 'tree-13-village-offline-unsent')
    expect(agent.errors).toEqual([])
  }, 300_000)
})
