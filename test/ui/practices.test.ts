/**
 * Service practices in the UI (issue 9), on two real node processes: township 潆溪镇 (which
 * decides township matters) and village 长青村 under it (the window). 不予受理 at the township,
 * seen at the village; a 容缺 case taken in without a deferrable material, supplied later at the
 * village and only then approved at the township; a 差评 given by the applicant on the screen the
 * agent turns to them, rectified at the township and closed by its supervisor, on the dashboard;
 * a rating given by the applicant on the public page.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, shot, startUiSuite, textOf, uiLogin, type UiNode, type UiSuite } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'

const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'

let suite: UiSuite
let township: UiNode, village: UiNode

beforeAll(async () => {
  suite = await startUiSuite('tongban-ui-practices-', [
    { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', users: [{ name: '周窗口', role: 'staff' }, { name: '钱监督', role: 'supervisor' }] },
    { level: 'village', code: VILLAGE, name: '长青村', catalogue: 'sample', parent: 0, users: [{ name: '李代办', role: 'agent' }] },
  ])
  ;[township, village] = suite.nodes
}, 300_000)

afterAll(() => suite?.close())

const page = (base: string) => suite.page(base)
const text = textOf
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

/** On an open case page: opens the form of `type`, lets `fill` complete it, and confirms it. */
async function record(p: Page, type: string, fill: () => Promise<unknown> = async () => {}) {
  await p.click(`[data-action=${type}]`)
  await fill()
  await p.click(`[data-confirm=${type}]`)
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

describe('容缺受理: taken in without a deferrable material, completed later', () => {
  it('the village takes it in on a commitment; the township may not approve until the village records the material supplied', async () => {
    const agent = await page(village.url)
    await uiLogin(agent.page, '李代办')
    await agent.page.goto(`${village.url}/#/intake/T-002`)
    await agent.page.waitForSelector('#ap-name')
    await agent.page.fill('#ap-name', '陈奶奶')
    await agent.page.fill('#ap-phone', '13600000031')
    await agent.page.fill('#ap-idNumber', '511302193801011230')
    for (const m of ['高龄津贴申请表', '居民身份证', '户口簿']) await agent.page.check(`[data-material="${m}"] input`)
    // The card is not brought: it may be deferred (容缺), on a commitment and a deadline.
    await agent.page.waitForSelector('[data-deferral]:not([hidden])')
    expect(await text(agent.page, '[data-deferrable]')).toBe('惠农补贴一卡通或社会保障卡')
    await agent.page.check('#defer-on')
    await agent.page.fill('#defer-commitment', '本人承诺五个工作日内补交社会保障卡复印件')
    // Not missing, but named as deferred.
    expect(await text(agent.page, '#mat-tally')).toBe('3 项必需材料已收齐 · 容缺：惠农补贴一卡通或社会保障卡')
    await shot(agent.page, 'practices-04-village-intake-deferred')
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('.receipt [data-field=case-id]')
    const id = (await text(agent.page, '.receipt [data-field=case-id]')).trim()
    // The receipt names what is owed, by when, and the commitment the applicant signs.
    expect(await text(agent.page, '.receipt [data-field=deferred]')).toContain('惠农补贴一卡通或社会保障卡')
    expect(await text(agent.page, '.receipt [data-field=deferred]')).toContain('本人承诺五个工作日内补交社会保障卡复印件')
    await shot(agent.page, 'practices-04b-village-receipt-deferred')

    const staffApi = await apiAs(township.url, '周窗口')
    await eventually(async () => !!(await staffApi('GET', `/api/cases/${id}`).catch(() => null)), 120_000, `case ${id} at the township`)
    const tw = await openCase(township, '周窗口', id)
    expect(await text(tw.page, '[data-owed]')).toContain('尚欠 惠农补贴一卡通或社会保障卡')
    expect(await text(tw.page, '[data-owed]')).toContain('本人承诺五个工作日内补交社会保障卡复印件')
    await record(tw.page, 'accepted')
    await tw.page.waitForSelector('.pill.big[data-status=accepted]')
    // Accepted, but the approval waits for what is owed.
    expect((await tw.page.getAttribute('[data-actions]', 'data-actions'))!.split(' ')).not.toContain('approved')
    expect(await tw.page.locator('.mat-status li.owed').count()).toBe(1)
    await shot(tw.page, 'practices-05-township-owed')

    // The applicant brings the card to the village; the agent records it.
    await agent.page.goto(`${village.url}/#/case/${id}`)
    await agent.page.waitForSelector('.pill.big[data-status=accepted]', { timeout: 60_000 })
    await agent.page.click('[data-action=supplied]')
    await agent.page.click('[data-confirm=supplied]')
    await agent.page.waitForSelector('.action-form .notice.error:not([hidden])')
    await agent.page.check('[data-supplied="惠农补贴一卡通或社会保障卡"]')
    await agent.page.click('[data-confirm=supplied]')
    await agent.page.waitForSelector('.timeline .ev-supplied')
    await shot(agent.page, 'practices-06-village-supplied')

    // Back at the township, the approval is offered now.
    await tw.page.waitForSelector('[data-actions~=approved]', { timeout: 60_000 })
    await record(tw.page, 'approved')
    await tw.page.waitForSelector('.pill.big[data-status=approved]')
    // A benefit's words: 已办结, not 准予许可.
    expect(await text(tw.page, '.pill.big')).toBe('已办结')
    await shot(tw.page, 'practices-07-township-approved-after-supply')
    await eventually(async () => (await (await apiAs(village.url, '李代办'))('GET', '/api/stats')).totals.deferred === 1, 60_000, '容缺件 in the village statistics')
    for (const p of [agent, tw]) expect(p.errors).toEqual([])
  }, 300_000)
})

describe('差评整改: a bad rating, rectified at the handling unit, closed by a supervisor', () => {
  it('the applicant taps 不满意 after delivery; the township replies; its supervisor checks; the dashboard counts it', async () => {
    const id = await takeInForTownship('T-002', ['高龄津贴申请表', '居民身份证', '户口簿', '惠农补贴一卡通或社会保障卡'], applicant('赵大伯', '13600000041'))
    const staffApi = await apiAs(township.url, '周窗口')
    await staffApi('POST', `/api/cases/${id}/events`, { type: 'accepted' })
    await staffApi('POST', `/api/cases/${id}/events`, { type: 'approved' })
    const agentApi = await apiAs(village.url, '李代办')
    await eventually(async () => (await agentApi('GET', `/api/cases/${id}`)).status === 'approved', 60_000, 'the approval at the village')

    const vg = await openCase(village, '李代办', id)
    // No rating before delivery.
    expect((await vg.page.getAttribute('[data-actions]', 'data-actions'))!.split(' ')).not.toContain('rated')
    await record(vg.page, 'delivered')
    await vg.page.waitForSelector('.pill.big[data-status=delivered]')
    // The agent turns the screen: the applicant taps a face.
    await vg.page.click('[data-action=rated]')
    await vg.page.waitForSelector('[data-rate-screen] .face-btn')
    await vg.page.click('[data-rate-screen] [data-rating="2"]')
    await vg.page.fill('#rate-comment', '来回跑了两趟')
    await shot(vg.page, 'practices-08-village-rate-screen')
    await vg.page.click('[data-rate-screen] [data-confirm=rated]')
    await vg.page.waitForSelector('[data-rate-thanks="2"]')
    await vg.page.waitForSelector('[data-rectification=open]')
    await vg.page.waitForSelector('[data-rate-screen]', { state: 'detached' })
    await shot(vg.page, 'practices-09-village-rated')

    // The handling unit rectifies and replies.
    await eventually(async () => (await staffApi('GET', `/api/cases/${id}`)).rectification?.status === 'open', 60_000, 'the rectification at the township')
    const tw = await openCase(township, '周窗口', id)
    expect(await text(tw.page, '[data-rectification=open]')).toContain('请于')
    await record(tw.page, 'rectified', () => tw.page.fill('#act-note', '已核实：材料一次性告知不到位。已对窗口人员批评教育，并电话向申请人致歉。'))
    await tw.page.waitForSelector('[data-rectification=replied]')
    // Staff do not check their own rectification.
    expect(await tw.page.getAttribute('[data-actions]', 'data-actions')).toBe('')
    await shot(tw.page, 'practices-10-township-rectified')

    // The supervisor checks it.
    const sup = await openCase(township, '钱监督', id)
    await record(sup.page, 'rectification-checked', () => sup.page.check('[data-passed=true]'))
    await sup.page.waitForSelector('[data-rectification=closed]')
    await shot(sup.page, 'practices-11-supervisor-closed')

    // 差评数 and 整改率 on the township's dashboard (its village's cases, by 受理地).
    await eventually(async () => {
      const s = await staffApi('GET', '/api/stats')
      return s.totals.badRatings === 1 && s.totals.rectified === 1
    }, 120_000, 'the rectification in the township statistics')
    await sup.page.goto(`${township.url}/#/dashboard`)
    await sup.page.waitForSelector('tfoot [data-col=badRatings]')
    expect(await text(sup.page, 'tfoot [data-col=badRatings]')).toBe('1')
    expect(await text(sup.page, 'tfoot [data-col=rectificationRate]')).toBe('100.0%')
    expect(await sup.page.getAttribute('[data-kpi=badRatings]', 'data-value')).toBe('1')
    expect(await sup.page.getAttribute('[data-kpi=rectificationRate]', 'data-value')).toBe('1')
    expect(await sup.page.getAttribute('[data-kpi=rectOverdue]', 'data-value')).toBe('0')
    await shot(sup.page, 'practices-12-township-dashboard')
    for (const p of [vg, tw, sup]) expect(p.errors).toEqual([])
  }, 300_000)
})

describe('好差评 on the public page', () => {
  it('the applicant looks up the delivered case by number and phone and taps a face; the window records it in their name', async () => {
    const agentApi = await apiAs(village.url, '李代办')
    const made = await agentApi('POST', '/api/cases', { itemCode: 'V-001', applicant: applicant('孙阿姨', '13600000051'), materials: ['居民身份证', '户口簿'] })
    await agentApi('POST', `/api/cases/${made.id}/events`, { type: 'approved' })
    await agentApi('POST', `/api/cases/${made.id}/events`, { type: 'delivered' })
    const pub = await suite.page(village.url, `#/progress?id=${made.id}`)
    await pub.page.waitForSelector('#pg-phone')
    await pub.page.fill('#pg-phone', '136 0000 0051')
    await pub.page.click('form button[type=submit]')
    await pub.page.waitForSelector('[data-public-rating] .face-btn')
    // A certificate's words: 已领取 once handed over.
    expect(await text(pub.page, '[data-result=found] .pill')).toBe('已领取')
    await pub.page.click('[data-public-rating] [data-rating="5"]')
    await shot(pub.page, 'practices-13-public-rating')
    await pub.page.click('[data-public-rating] [data-confirm=rated]')
    await pub.page.waitForSelector('[data-rate-thanks="5"]')
    const c = await agentApi('GET', `/api/cases/${made.id}`)
    expect(c.rating).toBe(5)
    expect(c.events.at(-1)).toMatchObject({ type: 'rated', author: VILLAGE, user: '申请人（网上评价）' })
    expect(pub.errors).toEqual([])
  }, 300_000)
})
