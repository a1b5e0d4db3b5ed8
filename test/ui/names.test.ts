/**
 * Names, not codes (issue 9), across a tree of four real node processes: city 南充市, county
 * 顺庆区, township 潆溪镇, village 长青村. The county publishes an item of its own local list
 * (which the city's catalogue does not hold); the village agent, who has a display name and a
 * phone, takes in that item and a township matter. The receipt names the deciding unit, the
 * agent and the agent's phone, and no loopback address; the timeline names the agent; the
 * county's and the city's dashboards (tables, ranking, charts, CSV) name every unit and item —
 * the local item at the city by the name its statistics carried up — and a drill-down scopes
 * the daily and by-item figures. The county admin is offered 修改/停用 only for its own items.
 */
import { readFileSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptAndApprove, apiAs, fillIntake, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const LOCAL = {
  code: 'SQ-901', name: '顺庆区高龄津贴申领', department: '顺庆区民政局', level: 'county', kind: 'promised',
  legalDays: 20, promisedDays: 5, materials: [{ name: '申请人居民身份证', required: true }], fee: '不收费', online: false, maxVisits: 1, pinyin: 'sqqgljtsl',
}
/** What must never be shown where a name exists: a unit as level and code, or an item's code. */
const CODES = /县\(区\)\s*\d{12}|乡镇\(街道\)\s*\d{12}|\b\d{12}\b(?!-)|\b(?:[CTV]-\d{3}|SQ-901)\b/

const tmp = tempDir('tongban-ui-names-')
let city: UiNode, county: UiNode, township: UiNode, village: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []
let localCase = ''
let townshipCase = ''

function linkedChildren(node: UiNode, n: number) {
  return eventually(async () => (await (await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(120_000) })).json()).sync?.children?.connected >= n,
    120_000, `${n} children linked to ${node.code}`)
}

beforeAll(async () => {
  browser = await launchBrowser()
  city = await startUiNode(tmp.dir, { level: 'city', code: CITY, name: '南充市', catalogue: 'sample', users: [{ name: '市监督', role: 'supervisor' }] })
  county = await startUiNode(tmp.dir, {
    level: 'county', code: COUNTY, name: '顺庆区', catalogue: 'sample', parent: city,
    users: [{ name: '区管理员', role: 'admin' }, { name: '区窗口', role: 'staff', displayName: '王晓燕' }, { name: '区监督', role: 'supervisor' }],
  })
  await linkedChildren(city, 1)
  township = await startUiNode(tmp.dir, { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', parent: county, users: [{ name: '镇窗口', role: 'staff' }] })
  await linkedChildren(county, 1)
  village = await startUiNode(tmp.dir, {
    level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: township,
    users: [{ name: 'agent7', role: 'agent', displayName: '李秀兰', phone: '13981712345' }],
  })
}, 400_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  for (const n of [village, township, county, city]) await n?.stop()
  tmp.cleanup()
})

async function page(base: string, hash?: string) {
  const p = await openPage(browser, base, hash)
  opened.push(p.context)
  return p
}

/** The visible text of the page's main area. */
const mainText = (p: Page) => p.locator('main').innerText()

describe('names, not codes', () => {
  it('the county publishes a local item; the village agent takes it in and prints a receipt naming unit, agent and phone, and no loopback address', async () => {
    const countyAdmin = await apiAs(county.url, '区管理员')
    await countyAdmin('POST', '/api/catalogue/items', LOCAL)
    const as = await apiAs(village.url, 'agent7')
    await eventually(async () => (await as('GET', '/api/catalogue')).items.some((i: any) => i.code === LOCAL.code), 120_000, 'the local item at the village', 500)

    const agent = await page(village.url)
    await uiLogin(agent.page, 'agent7')
    // A resident id number with a wrong check character is refused before it is sent.
    await fillIntake(agent.page, village.url, LOCAL.code, { name: '郑大妈', phone: '13700000021', idNumber: '511302194001011234' })
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('#ap-idNumber[aria-invalid=true]', { timeout: 60_000 })
    expect(await agent.page.locator('main').innerText()).toContain('校验位')
    await agent.page.fill('#ap-idNumber', '511302194001011237')
    await agent.page.click('[data-action=submit-intake]')
    // Bounded generously: four node processes and a browser share a loaded machine.
    await agent.page.waitForSelector('.receipt [data-field=case-id]', { timeout: 120_000 })
    localCase = (await agent.page.locator('.receipt [data-field=case-id]').textContent())!
    const receipt = await agent.page.locator('.receipt').innerText()
    expect(receipt).toContain(LOCAL.name)
    expect(await agent.page.locator('.receipt [data-field=decided-by]').innerText()).toContain('顺庆区')
    expect(await agent.page.locator('.receipt [data-field=agent]').innerText()).toMatch(/李秀兰.*13981712345/)
    expect(receipt).toContain('13981712345')
    expect(receipt).not.toMatch(/127\.0\.0\.1|localhost|agent7/)
    expect(receipt).not.toMatch(CODES)
    await shot(agent.page, 'names-01-village-receipt')

    // With a public address (`tongban start --public-url`, in /healthz) the receipt prints it.
    const pub = await page(village.url)
    await pub.page.route('**/healthz', async (route) => {
      const res = await route.fetch()
      await route.fulfill({ response: res, json: { ...(await res.json()), publicUrl: 'https://zwfw.example.gov.cn' } })
    })
    await pub.page.reload()
    await uiLogin(pub.page, 'agent7')
    await pub.page.goto(`${village.url}/#/receipt/${localCase}`)
    await pub.page.waitForSelector('.receipt [data-field=lookup-url]', { timeout: 60_000 })
    expect(await pub.page.locator('.receipt [data-field=lookup-url]').textContent()).toBe('https://zwfw.example.gov.cn/#/progress')
    await shot(pub.page, 'names-01b-village-receipt-public-url')

    // A township matter by the API, for the statistics below.
    const t = await as('POST', '/api/cases', {
      itemCode: 'T-002', materials: (await as('GET', '/api/catalogue/items/T-002')).materials.filter((m: any) => m.required).map((m: any) => m.name),
      applicant: { name: '钱大爷', idType: 'resident-id', idNumber: '11010519491231002X', phone: '0817-2221234' },
    })
    expect(t.id, JSON.stringify(t)).toBeTruthy()
    townshipCase = t.id

    // The timeline names the person who acted, not the login.
    await agent.page.goto(`${village.url}/#/case/${localCase}`)
    await agent.page.waitForSelector('[data-timeline] li', { timeout: 60_000 })
    const timeline = await agent.page.locator('[data-timeline]').innerText()
    expect(timeline).toContain('李秀兰')
    expect(timeline).not.toContain('agent7')
    expect(timeline).not.toMatch(CODES)
    expect(agent.errors).toEqual([])
  }, 300_000)

  it('the county accepts and decides; the timeline names its staff by display name', async () => {
    const staff = await page(county.url)
    await uiLogin(staff.page, '区窗口')
    const as = await apiAs(county.url, '区窗口')
    await eventually(async () => (await as('GET', `/api/cases/${localCase}`)).id, 120_000, 'the case at the county', 500)
    await staff.page.goto(`${county.url}/#/case/${localCase}`)
    await staff.page.waitForSelector('[data-action=accepted]', { timeout: 60_000 })
    await acceptAndApprove(staff.page, '符合条件')
    const timeline = await staff.page.locator('[data-timeline]').innerText()
    expect(timeline).toContain('王晓燕')
    expect(timeline).toContain('李秀兰')
    expect(timeline).not.toMatch(CODES)
    await shot(staff.page, 'names-02-county-case-timeline')
    expect(staff.errors).toEqual([])
  }, 300_000)

  it('the county admin is offered 修改/停用 for its own items only', async () => {
    const admin = await page(county.url)
    await uiLogin(admin.page, '区管理员')
    await admin.page.goto(`${county.url}/#/catalogue`)
    await admin.page.waitForSelector(`tr[data-code="${LOCAL.code}"]`)
    expect(await admin.page.locator(`tr[data-code="${LOCAL.code}"] [data-action=retire]`).count()).toBe(1)
    expect(await admin.page.locator('tr[data-code="C-001"] [data-action=retire]').count()).toBe(0)
    expect(await admin.page.locator('tr[data-code="C-001"]').innerText()).toContain('由南充市发布')
    // A message the node writes in English alone reaches the page with a Chinese text first.
    const shown = await admin.page.evaluate(`import('/ui/lib/api.js').then((m) => m.localized('forbidden', 'this needs the role admin; you are staff'))`)
    expect(shown).toMatch(/^您的岗位或本节点不能办理此操作/)
    await shot(admin.page, 'names-03-county-catalogue')
    expect(admin.errors).toEqual([])
  }, 300_000)

  for (const at of ['county', 'city'] as const) {
    it(`the ${at} dashboard names every unit and item, in tables, charts and CSV; a drill-down scopes every figure`, async () => {
      const node = at === 'city' ? city : county
      const user = at === 'city' ? '市监督' : '区监督'
      const as = await apiAs(node.url, user)
      // Both cases are counted here once the statistics have come up, with their items' names.
      const byItem = await eventually(async () => {
        const r = await as('GET', '/api/stats?groupBy=item')
        return r.rows.some((x: any) => x.key === LOCAL.code) && r.rows.some((x: any) => x.key === 'T-002') ? r : null
      }, 180_000, `both items counted at the ${at}`, 1000)
      expect(byItem.itemNames[LOCAL.code]).toBe(LOCAL.name)

      const p = await page(node.url)
      await uiLogin(p.page, user)
      await p.page.goto(`${node.url}/#/dashboard`)
      await p.page.waitForSelector('[data-table=stats-child] tbody tr', { timeout: 60_000 })
      const child = at === 'city' ? '顺庆区' : '潆溪镇'
      expect(await p.page.locator('[data-table=stats-child] tbody').innerText()).toContain(child)
      await p.page.click('[data-tab=item]')
      const items = await p.page.locator('[data-table=stats-item] tbody').innerText()
      expect(items).toContain(LOCAL.name)
      expect(await p.page.locator('[data-table=stats-item] tbody').innerText()).not.toMatch(CODES)
      const text = await mainText(p.page)
      expect(text).not.toMatch(CODES)
      await shot(p.page, `names-04-${at}-dashboard`)

      // The chart of the top items labels them by name (ECharts draws on canvas: read its option).
      const labels = await p.page.evaluate(`(() => {
        const el = document.querySelector('.chart[aria-label="受理量前十的事项"]')
        const chart = el && window.echarts && window.echarts.getInstanceByDom(el)
        return chart ? chart.getOption().yAxis[0].data : null
      })()`) as string[] | null
      if (labels) {
        expect(labels).toContain(LOCAL.name)
        for (const l of labels) expect(l).not.toMatch(CODES)
      }

      const [download] = await Promise.all([p.page.waitForEvent('download'), p.page.click('[data-action=export-csv]')])
      const csv = readFileSync((await download.path())!, 'utf8')
      expect(csv).toContain(LOCAL.name)
      expect(csv).not.toMatch(CODES)

      // Drill into the child: the daily and by-item figures follow.
      await p.page.click('[data-tab=child]')
      await p.page.click(`[data-table=stats-child] tbody tr[data-key="${at === 'city' ? COUNTY : TOWNSHIP}"] button`)
      await p.page.waitForSelector('.page-head .sub button')
      const under = at === 'city' ? COUNTY : TOWNSHIP
      const scoped = await as('GET', `/api/stats?groupBy=item&under=${under}`)
      await p.page.click('[data-tab=item]')
      await expect.poll(async () => p.page.locator('[data-table=stats-item] tbody tr').count(), { timeout: 60_000 }).toBe(scoped.rows.length)
      expect(await mainText(p.page)).not.toMatch(CODES)
      await shot(p.page, `names-05-${at}-dashboard-drilled`)
      expect(p.errors).toEqual([])
    }, 300_000)
  }
})
