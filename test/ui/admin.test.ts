/**
 * The city administrator's pages, in headless chromium against a real city node: the catalogue
 * editor (add with a field the node refuses named in place, change, retire, import CSV), the
 * holiday calendar, and users; the supervisor's dashboard and warnings.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-ui-city-')
let city: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  ;[city, browser] = await Promise.all([
    startUiNode(tmp.dir, {
      level: 'city', code: '511300000000', name: '南充市', catalogue: 'sample',
      users: [{ name: '王管理', role: 'admin' }, { name: '赵监督', role: 'supervisor' }],
    }),
    launchBrowser(),
  ])
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  await city?.stop()
  tmp.cleanup()
})

async function page(hash?: string) {
  const p = await openPage(browser, city.url, hash)
  opened.push(p.context)
  return p
}

describe('city administrator UI', () => {
  it('adds, changes, retires and imports catalogue items', async () => {
    const { page: p, errors } = await page()
    await uiLogin(p, '王管理')
    await p.waitForSelector('[data-kpi=accepted]')
    await p.click('nav a[data-nav=catalogue]')
    await p.waitForSelector('table[data-table=catalogue] tr[data-code="S-001"]')
    await shot(p, 'city-01-catalogue')

    await p.click('[data-action=new-item]')
    await p.waitForSelector('#it-code')
    await p.fill('#it-code', 'S-011')
    await p.fill('#it-name', '城市道路占用挖掘许可')
    await p.fill('#it-pinyin', 'csdlzywjxk')
    await p.fill('#it-department', '市城市管理局')
    await p.selectOption('#it-level', 'city')
    await p.selectOption('#it-kind', 'promised')
    await p.fill('#it-promisedDays', '30')
    await p.fill('#it-legalDays', '20')
    await p.locator('.mat-editor .mrow input[type=text]').first().fill('占用挖掘申请书')
    await p.click('text=+ 添加材料')
    await p.locator('.mat-editor .mrow input[type=text]').nth(1).fill('施工方案')
    await p.click('text=+ 添加材料')
    await p.locator('.mat-editor .mrow input[type=text]').nth(2).fill('交通组织方案')
    await p.locator('.mat-editor .mrow input[type=checkbox]').nth(2).uncheck()
    // The node refuses a promised time above the legal one, and the page says so at the field.
    await p.click('[data-action=save-item]')
    await p.waitForSelector('#it-promisedDays-err:not([hidden])')
    expect(await p.locator('#it-promisedDays-err').textContent()).toContain('legal')
    await shot(p, 'city-02-item-refused')
    await p.fill('#it-promisedDays', '5')
    await p.click('[data-action=save-item]')
    await p.waitForSelector('tr[data-code="S-011"]')
    expect(await p.locator('tr[data-code="S-011"]').textContent()).toContain('v1')

    await p.click('tr[data-code="S-011"] >> text=修改')
    await p.waitForSelector('#it-promisedDays')
    await p.fill('#it-promisedDays', '3')
    await shot(p, 'city-03-item-edit')
    await p.click('[data-action=save-item]')
    await p.waitForSelector('tr[data-code="S-011"]')
    expect(await p.locator('tr[data-code="S-011"]').textContent()).toContain('v2')

    await p.click('tr[data-code="S-011"] [data-action=retire]')
    await p.waitForSelector('dialog[open]')
    await shot(p, 'city-04-retire-confirm')
    await p.click('dialog .btn.danger')
    await p.waitForSelector('tr[data-code="S-011"]', { state: 'detached' })
    await p.check('text=显示已停用')
    expect(await p.locator('tr[data-code="S-011"]').textContent()).toContain('已停用')

    const csv = [
      'code,name,department,level,kind,legalDays,promisedDays,materials,fee,online,maxVisits,pinyin',
      'S-012,户外广告设置许可,市城市管理局,city,promised,20,10,申请书*;设计图*;产权证明,不收费,true,1,hwggszxk',
      'T-013,"农机购置补贴申请",乡镇农业服务中心,township,promised,15,10,申请表*;购机发票*,不收费,false,1,njgzbtsq',
    ].join('\n')
    await p.setInputFiles('#cat-import', { name: 'new-items.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await p.waitForSelector('.notice.ok')
    expect(await p.locator('.notice.ok').textContent()).toContain('新增 2')
    await p.waitForSelector('tr[data-code="S-012"]')
    await shot(p, 'city-05-catalogue-imported')

    await p.setInputFiles('#cat-import', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('code,name,department,level,kind,legalDays,promisedDays,materials,fee,online,maxVisits\nX,,d,moon,instant,0,0,,,,\n') })
    await p.waitForSelector('.notice.error')
    expect(await p.locator('.notice.error').textContent()).toContain('bad.csv')

    const api = await apiAs(city.url, '王管理')
    const item = await api('GET', '/api/catalogue/items/S-011')
    expect(item).toMatchObject({ version: 3, retired: true, promisedDays: 3 })
    expect((await api('GET', '/api/catalogue/items/T-013')).name).toBe('农机购置补贴申请')
    expect((await api('GET', '/api/catalogue/items/S-012')).materials).toEqual([
      { name: '申请书', required: true }, { name: '设计图', required: true }, { name: '产权证明', required: false },
    ])
    expect(errors).toEqual([])
  }, 300_000)

  it('marks a holiday on the calendar and publishes it', async () => {
    const { page: p, errors } = await page()
    await uiLogin(p, '王管理')
    await p.goto(`${city.url}/#/calendar?year=2026`)
    await p.waitForSelector('[data-date="2026-12-31"]')
    expect(await p.locator('[data-date="2026-10-01"]').getAttribute('class')).toBe('holiday')
    await p.fill('#cal-name', '测试假日')
    await p.click('[data-date="2026-12-31"]')
    expect(await p.locator('[data-date="2026-12-31"]').getAttribute('class')).toBe('holiday')
    await p.click('[data-date="2026-12-26"]') // a Saturday: worked
    expect(await p.locator('[data-date="2026-12-26"]').getAttribute('class')).toBe('workday')
    await shot(p, 'city-06-calendar')
    await p.click('[data-action=save-calendar]')
    await p.waitForSelector('[data-action=save-calendar]:disabled')
    const api = await apiAs(city.url, '王管理')
    const { calendars } = await api('GET', '/api/catalogue/calendars')
    const y = calendars.find((c: { year: number }) => c.year === 2026)
    expect(y.holidays).toContainEqual({ date: '2026-12-31', name: '测试假日' })
    expect(y.workdays).toContainEqual({ date: '2026-12-26', name: '测试假日' })

    await p.click('nav a[data-nav=users]')
    await p.waitForSelector('#u-name')
    await p.fill('#u-name', '钱窗口')
    await p.selectOption('#u-role', 'staff')
    await p.fill('#u-pw', 'window-123')
    await p.click('form button[type=submit]')
    await p.waitForSelector('td:text("钱窗口")')
    await shot(p, 'city-07-users')
    expect(errors).toEqual([])
  }, 300_000)

  it('gives the supervisor the dashboard and the warnings, read-only', async () => {
    const { page: p, errors } = await page()
    await uiLogin(p, '赵监督')
    await p.waitForSelector('[data-kpi=accepted]')
    expect(await p.locator('nav a').allTextContents()).toEqual(['统计分析', '电子监察', '督办', '预警监督', '办件'])
    await shot(p, 'city-08-supervisor-dashboard')
    await p.click('nav a[data-nav=queue]')
    await p.waitForSelector('[data-kpi=queue-overdue]')
    await shot(p, 'city-09-supervisor-warnings')
    expect(errors).toEqual([])
  }, 300_000)
})
