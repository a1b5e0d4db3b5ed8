/**
 * The web UI of one village agent point, in headless chromium against a real node process:
 * the agent finds an item by its pinyin initials, takes in an application (hearing every
 * missing material at once), prints the receipt, decides, delivers and records the rating;
 * the dashboard shows exactly GET /api/stats; the intake works by keyboard alone; an
 * applicant's name made of HTML stays text; the public lookup shows status and due date only.
 */
import { readFileSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, launchBrowser, openPage, shot, startUiNode, tabTo, uiLogin, type UiNode } from '../helpers/browser.ts'
import { tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-ui-village-')
let village: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  ;[village, browser] = await Promise.all([
    startUiNode(tmp.dir, { level: 'village', code: '511302101201', name: '长青村', catalogue: 'sample', users: [{ name: '李代办', role: 'agent' }] }),
    launchBrowser(),
  ])
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  await village?.stop()
  tmp.cleanup()
})

async function page(hash?: string) {
  const p = await openPage(browser, village.url, hash)
  opened.push(p.context)
  return p
}

/** Fills the applicant part of the intake form. */
async function fillApplicant(p: Page, name: string, phone = '13912345678') {
  await p.fill('#ap-name', name)
  await p.fill('#ap-phone', phone)
  await p.fill('#ap-idNumber', '511302198001011235')
}

describe('village agent point UI', () => {
  it('takes in a case found by pinyin initials, prints the receipt, approves, delivers and records the rating', async () => {
    const { page: p, errors } = await page()
    await shot(p, 'village-01-login')
    await uiLogin(p, '李代办')

    // Find 居住证明 by its initials.
    await p.waitForSelector('#item-q')
    await shot(p, 'village-02-items')
    await p.fill('#item-q', 'jzzm')
    const first = p.locator('a.result').first()
    await expect.poll(() => first.getAttribute('data-code'), { timeout: 60_000 }).toBe('V-001')
    await shot(p, 'village-03-items-search')
    await first.click()
    await p.waitForSelector('[data-action=start-intake]')
    expect(await p.locator('h1').textContent()).toBe('居住证明')
    await shot(p, 'village-04-guide')

    // Intake with nothing ticked: both required materials are named at once.
    await p.click('[data-action=start-intake]')
    await p.waitForSelector('#ap-name')
    await fillApplicant(p, '王秀英')
    await p.click('[data-action=submit-intake]')
    await p.waitForSelector('#intake-notice:not([hidden])')
    expect(await p.locator('[data-missing=list] li').allTextContents()).toEqual(['居民身份证', '户口簿'])
    await shot(p, 'village-05-intake-missing')

    await p.check('[data-material="居民身份证"] input')
    await p.check('[data-material="户口簿"] input')
    await shot(p, 'village-06-intake-ready')
    await p.click('[data-action=submit-intake]')

    // The receipt: case number, item, due date, where decided, how to check progress.
    await p.waitForSelector('.receipt [data-field=case-id]')
    const id = (await p.locator('.receipt [data-field=case-id]').textContent())!
    expect(id).toMatch(/^511302101201-\d{8}-\d{4}$/)
    const receipt = (await p.locator('.receipt').textContent())!
    expect(receipt).toContain('居住证明')
    expect(receipt).toContain('受理回执')
    // How to check progress — but never at a loopback address (this node has no --public-url).
    expect(receipt).toContain('如何查询办理进度')
    expect(receipt).not.toMatch(/127\.0\.0\.1|localhost/)
    expect(await p.locator('.receipt [data-field=due]').textContent()).toMatch(/\d{4}-\d{2}-\d{2}/)
    expect(await p.locator('.receipt [data-field=decided-by]').textContent()).toContain('长青村')
    await shot(p, 'village-07-receipt')
    await p.emulateMedia({ media: 'print' })
    expect(await p.locator('#top').isVisible()).toBe(false)
    expect(await p.locator('.receipt-actions').isVisible()).toBe(false)
    await shot(p, 'village-08-receipt-print')
    await p.emulateMedia({ media: 'screen' })

    // Decide, deliver, rate on the case page.
    await p.click('text=查看办件')
    await p.waitForSelector('[data-action=approved]')
    await shot(p, 'village-09-case-accepted')
    await p.click('[data-action=approved]')
    await shot(p, 'village-10-case-approve-form')
    await p.click('[data-confirm=approved]')
    await p.waitForSelector('.pill.big[data-status=approved]')
    await p.click('[data-action=delivered]')
    await p.click('[data-confirm=delivered]')
    await p.waitForSelector('.pill.big[data-status=delivered]')
    await p.click('[data-action=rated]')
    await p.click('[data-rating="5"]')
    await p.waitForSelector('[data-rate-screen]')
    await p.fill('#rate-comment', '办得快，不用跑镇上')
    await shot(p, 'village-11-case-rating-form')
    await p.click('[data-confirm=rated]')
    await p.waitForSelector('[data-no-actions]')
    expect(await p.locator('.timeline').textContent()).toContain('非常满意')
    await shot(p, 'village-12-case-done')

    const api = await apiAs(village.url, '李代办')
    const c = await api('GET', `/api/cases/${id}`)
    expect(c.status).toBe('delivered')
    expect(c.rating).toBe(5)
    expect(c.applicant.name).toBe('王秀英')

    await p.click('nav a[data-nav=cases]')
    await p.waitForSelector(`tr[data-case="${id}"]`)
    await shot(p, 'village-13-cases')

    // The public lookup, no login: status and due date only.
    const { page: pub, errors: pubErrors } = await page('#/progress')
    await pub.fill('#pg-id', id)
    await pub.fill('#pg-phone', '139 1234 5678')
    await pub.click('button[type=submit]')
    await pub.waitForSelector('[data-result=found]')
    const found = (await pub.locator('[data-result=found]').textContent())!
    // 居住证明 is a certificate (resultKind): handed over, it reads 已领取, and its applicant has rated it.
    expect(found).toContain('已领取')
    expect(found).toContain('已评价')
    expect(found).toContain('居住证明')
    expect(found).not.toContain('王秀英')
    await shot(pub, 'village-14-progress-found')
    await pub.fill('#pg-phone', '13900000000')
    await pub.click('button[type=submit]')
    await pub.waitForSelector('[data-result=error]')
    await shot(pub, 'village-15-progress-not-found')
    expect(pubErrors).toEqual([])
    expect(errors).toEqual([])
  }, 300_000)

  it('shows on the dashboard exactly the figures of GET /api/stats, and exports them as CSV', async () => {
    const api = await apiAs(village.url, '李代办')
    // A second case, taken in and left open, so not every rate is 100%.
    await api('POST', '/api/cases', { itemCode: 'V-002', applicant: { name: '赵四', idNumber: '511302199001010026', phone: '13800000002' }, materials: ['申请人居民身份证', '户口簿'] })
    const stats = await api('GET', '/api/stats?groupBy=child')
    const { page: p, errors } = await page()
    await uiLogin(p, '李代办')
    await p.click('nav a[data-nav=dashboard]')
    await p.waitForSelector('[data-kpi=accepted]')
    for (const k of ['accepted', 'completionRate', 'onTimeRate', 'onSpotRate', 'earlyRate', 'satisfactionRate', 'overdue', 'dueSoon']) {
      const v = await p.locator(`[data-kpi=${k}]`).getAttribute('data-value')
      expect(v, k).toBe(stats.totals[k] === null ? '' : String(stats.totals[k]))
    }
    const row = p.locator(`table[data-table=stats-child] tr[data-key="${village.code}"]`)
    expect(await row.locator('[data-col=accepted]').textContent()).toBe(String(stats.rows[0].accepted))
    expect(await row.locator('[data-col=completed]').textContent()).toBe(String(stats.rows[0].completed))
    await p.waitForSelector('.chart canvas')
    await shot(p, 'village-16-dashboard')

    const [download] = await Promise.all([p.waitForEvent('download'), p.click('[data-action=export-csv]')])
    const csv = readFileSync((await download.path())!, 'utf8')
    expect(csv.charCodeAt(0)).toBe(0xfeff)
    const lines = csv.trim().split('\r\n')
    expect(lines[0]).toContain('受理')
    expect(lines.at(-1)).toMatch(new RegExp(`^\\uFEFF?合计,${stats.totals.accepted},${stats.totals.completed},`))

    await p.click('[data-tab=item]')
    await p.waitForSelector('table[data-table=stats-item]')
    await shot(p, 'village-17-dashboard-by-item')
    expect(errors).toEqual([])
  }, 300_000)

  it('takes in an application with the keyboard alone', async () => {
    const { page: p, errors } = await page()
    await p.waitForSelector('#login-name:focus')
    await p.keyboard.type('李代办')
    await p.keyboard.press('Tab')
    await p.keyboard.type('tongban-ui-test')
    await p.keyboard.press('Enter')
    // The search box has focus on arrival; Enter opens the best match.
    await p.waitForSelector('#item-q:focus')
    await p.keyboard.type('dsznzm')
    await expect.poll(() => p.locator('a.result').first().getAttribute('data-code'), { timeout: 60_000 }).toBe('V-003')
    await p.keyboard.press('Enter')
    await p.waitForSelector('[data-action=start-intake]')
    await tabTo(p, '[data-action=start-intake]')
    await p.keyboard.press('Enter')
    await p.waitForSelector('#ap-name:focus')
    await p.keyboard.type('陈建国')
    await tabTo(p, '#ap-phone')
    await p.keyboard.type('13700000003')
    await tabTo(p, '#ap-idNumber')
    await p.keyboard.type('511302198001011235')
    for (const m of ['夫妻双方居民身份证', '户口簿', '结婚证']) {
      await tabTo(p, `[data-material="${m}"] input`)
      await p.keyboard.press('Space')
    }
    await p.waitForSelector('#mat-tally .done')
    await shot(p, 'village-18-intake-keyboard')
    await tabTo(p, '[data-action=submit-intake]')
    await p.keyboard.press('Enter')
    await p.waitForSelector('.receipt [data-field=case-id]')
    expect(await p.locator('.receipt [data-field=item]').textContent()).toContain('独生子女证明')
    // Focus landed on the receipt's print button, ready for Enter.
    expect(await p.evaluate(() => document.activeElement?.getAttribute('data-action'))).toBe('print')
    expect(errors).toEqual([])
  }, 300_000)

  it('shows an applicant name made of HTML as text, everywhere', async () => {
    const evil = '<img src=x onerror=alert(1)>'
    const { page: p, errors } = await page()
    await uiLogin(p, '李代办')
    await p.goto(`${village.url}/#/intake/V-001`)
    await p.waitForSelector('#ap-name')
    await fillApplicant(p, evil)
    await p.check('[data-material="居民身份证"] input')
    await p.check('[data-material="户口簿"] input')
    await p.click('[data-action=submit-intake]')
    await p.waitForSelector('.receipt [data-field=applicant]')
    expect(await p.locator('.receipt [data-field=applicant]').textContent()).toBe(evil)
    const id = (await p.locator('.receipt [data-field=case-id]').textContent())!
    await shot(p, 'village-19-receipt-html-name')
    await p.goto(`${village.url}/#/cases`)
    await p.waitForSelector(`tr[data-case="${id}"]`)
    expect(await p.locator(`tr[data-case="${id}"] [data-field=applicant]`).textContent()).toBe(evil)
    await p.goto(`${village.url}/#/case/${id}`)
    await p.waitForSelector('[data-field=applicant]')
    expect(await p.locator('dd[data-field=applicant]').textContent()).toBe(evil)
    expect(await p.locator('main img').count()).toBe(0)
    expect(errors).toEqual([]) // no alert() dialog, no error
  }, 300_000)

  it('requests a correction, stops the clock, and resumes', async () => {
    const api = await apiAs(village.url, '李代办')
    const made = await api('POST', '/api/cases', {
      itemCode: 'V-010', applicant: { name: '孙立平', idNumber: '511302197501011237', phone: '13500000005' },
      materials: (await api('GET', '/api/catalogue/items/V-010')).materials.filter((m: { required: boolean }) => m.required).map((m: { name: string }) => m.name),
    })
    const { page: p, errors } = await page()
    await uiLogin(p, '李代办')
    await p.goto(`${village.url}/#/case/${made.id}`)
    await p.click('[data-action=correction-requested]')
    await p.click('[data-confirm=correction-requested]')
    expect(await p.locator('[data-form=correction-requested] .notice.error').textContent()).toBe('请至少勾选一项需补正的材料')
    await p.locator('[data-form=correction-requested] .check input').first().check()
    await p.fill('#act-note', '请补充户口簿复印件')
    await shot(p, 'village-20-case-correction-form')
    await p.click('[data-confirm=correction-requested]')
    await p.waitForSelector('.pill.big[data-status=correction]')
    expect(await p.locator('.mat-status .fix').count()).toBe(1)
    await shot(p, 'village-21-case-in-correction')
    await p.click('[data-action=resumed]')
    await p.click('[data-confirm=resumed]')
    await p.waitForSelector('.pill.big[data-status=accepted]')
    expect((await api('GET', `/api/cases/${made.id}`)).events.map((e: { type: string }) => e.type)).toEqual(['accepted', 'correction-requested', 'resumed'])
    expect(errors).toEqual([])
  }, 300_000)

  it('switches to English and back', async () => {
    const { page: p, errors } = await page()
    await p.click('[data-lang=switch]')
    await p.waitForSelector('text=Staff login')
    expect(await p.evaluate(() => document.documentElement.lang)).toBe('en')
    await shot(p, 'village-22-login-en')
    await uiLogin(p, '李代办')
    await p.waitForSelector('#item-q')
    expect(await p.locator('h1').textContent()).toBe('Services')
    await p.goto(`${village.url}/#/intake/V-001`)
    await p.waitForSelector('#ap-name')
    await shot(p, 'village-23-intake-en')
    await p.click('[data-lang=switch]')
    await p.waitForSelector('text=申请人信息')
    expect(errors).toEqual([])
  }, 300_000)
})
