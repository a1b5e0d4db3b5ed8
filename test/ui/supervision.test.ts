/**
 * 电子监察 and 督办 in the browser (issue 9, practice 6), on real node processes: county 顺庆区
 * (a supervisor) and township 潆溪镇 under it (window staff). A township case goes overdue — the
 * township is restarted with its clock 30 days ahead (TONGBAN_CLOCK_OFFSET_DAYS), as if the days
 * had passed — and turns red on the county supervisor's 电子监察 list, named by case number, item
 * and unit, with none of the applicant's details (not in the county's answers, nor anywhere in
 * its data dir: the case's path is the township alone). The supervisor sends a 督办 to 潆溪镇; the
 * township staff see it with a count beside 督办, reply; the supervisor reads the reply. The
 * county's dashboard shows 日结率.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnNode, stopNode } from '../../nodes/core/cli/tree.ts'
import { apiAs, launchBrowser, openPage, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const tmp = tempDir('tongban-ui-supervision-')
let county: UiNode
let township: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []
const applicant = { name: '王秀英', idType: 'resident-id', idNumber: '511302195001011231', phone: '13600000031' }
let caseId = ''

/** Restarts the township's process on the same data dir, its clock `days` ahead. */
async function restartTownship(days: number): Promise<UiNode> {
  await township.stop()
  process.env.TONGBAN_CLOCK_OFFSET_DAYS = String(days)
  try {
    const n = await spawnNode({ level: 'township', code: TOWNSHIP, name: '潆溪镇', dataDir: township.dataDir, port: 0 }, 180_000)
    return Object.assign(n, { stop: () => stopNode(n) })
  } finally {
    delete process.env.TONGBAN_CLOCK_OFFSET_DAYS
  }
}

beforeAll(async () => {
  browser = await launchBrowser()
  county = await startUiNode(tmp.dir, { level: 'county', code: COUNTY, name: '顺庆区', catalogue: 'sample', users: [{ name: '钱监督', role: 'supervisor', displayName: '钱监督' }] })
  township = await startUiNode(tmp.dir, { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', parent: county, users: [{ name: '周窗口', role: 'staff', displayName: '周窗口' }] })
  const staff = await apiAs(township.url, '周窗口')
  const made = await staff('POST', '/api/cases', { itemCode: 'T-002', applicant, materials: ['高龄津贴申请表', '居民身份证', '户口簿', '惠农补贴一卡通或社会保障卡'] })
  caseId = made.id
  if (made.status !== 'accepted') await staff('POST', `/api/cases/${caseId}/events`, { type: 'accepted' })
  // 高龄津贴 is promised in 10 working days: 30 days on, it is overdue.
  township = await restartTownship(30)
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  for (const n of [township, county]) await n?.stop()
  tmp.cleanup()
})

async function page(node: UiNode, user: string) {
  const p = await openPage(browser, node.url)
  opened.push(p.context)
  await uiLogin(p.page, user)
  return p
}

/** Every file under `dir` holding `needle` (UTF-8). */
function filesHolding(dir: string, needle: string): string[] {
  const want = Buffer.from(needle, 'utf8')
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const s = statSync(p)
    if (s.isDirectory()) out.push(...filesHolding(p, needle))
    else if (s.size < 256 * 1024 * 1024 && readFileSync(p).includes(want)) out.push(p)
  }
  return out
}

describe('电子监察 and 督办 across county and township', () => {
  it('the overdue township case is red on the county supervisor\'s list, named, without the applicant', async () => {
    const jd = await apiAs(county.url, '钱监督')
    const list = await eventually(async () => {
      const r = await jd('GET', '/api/supervision')
      return r.warnings.some((w: { caseId: string; level: string }) => w.caseId === caseId && w.level === 'red') ? r : null
    }, 180_000, 'the red warning at the county')
    expect(list.warnings.find((w: { caseId: string }) => w.caseId === caseId)).toMatchObject({ unit: TOWNSHIP, unitName: '潆溪镇', itemName: '高龄津贴申请', type: 'overdue', typeName: '超期', level: 'red' })
    const said = JSON.stringify(list)
    for (const personal of [applicant.name, applicant.idNumber, applicant.phone]) expect(said).not.toContain(personal)
    // The county is not on the case's path: it holds no copy, and nothing personal anywhere in its store.
    await expect(jd('GET', `/api/cases/${caseId}`)).rejects.toThrow(/404/)
    for (const personal of [applicant.name, applicant.idNumber, applicant.phone]) expect(filesHolding(county.dataDir, personal)).toEqual([])

    const { page: p, errors } = await page(county, '钱监督')
    await p.click('nav [data-nav=supervision]')
    const row = p.locator(`tr[data-warning="${caseId}|overdue"]`)
    await row.waitFor()
    expect(await row.getAttribute('data-level')).toBe('red')
    const text = (await row.textContent()) ?? ''
    expect(text).toContain('潆溪镇')
    expect(text).toContain('高龄津贴申请')
    expect(text).toContain('超期')
    // The unit by name, never by code (the case number carries its window's code, as printed on the receipt).
    expect(await row.locator('[data-field=unit]').textContent()).toBe('潆溪镇')
    expect((await p.locator('main').textContent()) ?? '').not.toContain(applicant.name)
    // Filters: 超时未受理 has none; 超期 shows it.
    await p.click('[data-filter-type=not-accepted]')
    await p.waitForSelector('.card.empty')
    await p.click('[data-filter-type=overdue]')
    await row.waitFor()
    await shot(p, 'supervision-list')

    // 督办 to 潆溪镇, with a deadline (the township's clock runs 30 days ahead: give it 45).
    await row.locator('[data-action=issue-notice]').click()
    await p.waitForSelector('[data-form=notice]')
    expect(await p.textContent('[data-form=notice] [data-field=target]')).toBe('潆溪镇')
    const deadline = new Date(Date.now() + (45 + 0.34) * 86_400_000).toISOString().slice(0, 10)
    await p.fill('#notice-deadline', deadline)
    await p.fill('#notice-text', '该件已超期，请立即办结并回复原因。')
    await shot(p, 'supervision-notice-form')
    await p.click('[data-action=send-notice]')
    await p.waitForSelector(`[data-sent="${caseId}"]`)
    await p.waitForSelector(`tr[data-warning="${caseId}|overdue"] :text("已督办 1 次")`)
    expect(errors).toEqual([])
  })

  it('the township staff see the notice with a count beside 督办, and reply', async () => {
    const { page: p, errors } = await page(township, '周窗口')
    await eventually(async () => {
      await p.reload()
      await p.waitForSelector('nav.nav')
      return (await p.locator('nav [data-nav=notices] .count').count()) > 0
    }, 120_000, 'the notice at the township')
    expect(await p.textContent('nav [data-nav=notices] .count')).toBe('1')
    await p.click('nav [data-nav=notices]')
    const card = p.locator('[data-notice]').first()
    await card.waitFor()
    expect(await card.textContent()).toContain('该件已超期，请立即办结并回复原因。')
    expect(await card.textContent()).toContain('顺庆区')
    expect(await card.textContent()).toContain(caseId)
    await card.locator('textarea').fill('已核实：申请人补充材料耽误，今日已办结，并对窗口人员提醒谈话。')
    await shot(p, 'supervision-notice-inbox')
    await card.locator('[data-action=reply-notice]').click()
    await p.waitForSelector('[data-notice] [data-state=replied]')
    await shot(p, 'supervision-notice-replied')
    expect(errors).toEqual([])
  })

  it('the supervisor reads the reply, on time, and the dashboard shows 日结率', async () => {
    const { page: p, errors } = await page(county, '钱监督')
    await eventually(async () => {
      await p.goto(`${county.url}/#/notices`)
      await p.waitForSelector('[data-notice], .card.empty')
      return (await p.locator('[data-notice] [data-field=reply]').count()) > 0
    }, 120_000, 'the reply at the county')
    const card = p.locator('[data-notice]').first()
    expect(await card.textContent()).toContain('已核实：申请人补充材料耽误')
    expect(await card.textContent()).toContain('周窗口')
    expect(await card.locator('[data-state]').getAttribute('data-state')).toBe('replied')
    await shot(p, 'supervision-notice-reply-seen')
    await p.click('nav [data-nav=dashboard]')
    await p.waitForSelector('[data-kpi=dailyRate]')
    expect(await p.textContent('[data-kpi=dailyRate] .k')).toBe('日结率')
    expect(errors).toEqual([])
  })
})
