/**
 * 网上预审 in the browser (issue 9, practice 4), on a real township node process (潆溪镇, the
 * sample catalogue): an applicant, not logged in, fills the public page and gets a pre-review
 * number; the window answers 需补正 naming everything missing at once; the applicant reads the
 * list with the number and phone; at the window the staff open the pre-review by its number and
 * start intake from it — the applicant and the materials held come filled in, nothing is typed
 * again — and the case is created; the pre-review then reads 已受理 with the case number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, shot, startUiSuite, textOf, uiLogin, type UiNode, type UiSuite } from '../helpers/browser.ts'

const TOWNSHIP = '511302101000'
let suite: UiSuite
let township: UiNode

beforeAll(async () => {
  suite = await startUiSuite('tongban-ui-prereview-', [
    { level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: 'sample', users: [{ name: 'zhou', role: 'staff', displayName: '周窗口' }] },
  ])
  ;[township] = suite.nodes
}, 300_000)

afterAll(() => suite?.close())

const page = (hash: string) => suite.page(township.url, hash)
const text = textOf
const who = { name: '赵桂英', phone: '13700000041', idNumber: '511302195001011231' }
const ITEM = 'T-003' // 临时救助申请: four required materials

describe('网上预审 turned into a case with nothing retyped', () => {
  it('applicant applies online → staff answer 需补正 → applicant reads the list → intake from the number → case', async () => {
    // 1. The applicant, at home, on the public page.
    const applicant = await page('#/prereview')
    const ap = applicant.page
    await ap.waitForSelector('#pr-item')
    expect(await ap.locator('nav.nav').count()).toBe(0) // no staff navigation
    await ap.selectOption('#pr-item', ITEM)
    await ap.waitForSelector('[data-material="户口簿"]')
    // A mistyped id number is caught before anything is sent, in Chinese.
    await ap.fill('#pr-name', who.name)
    await ap.fill('#pr-phone', who.phone)
    await ap.fill('#pr-idNumber', '511302195001011230')
    await ap.click('[data-action=submit-prereview]')
    await ap.waitForSelector('#pr-idNumber-err:not([hidden])')
    await ap.fill('#pr-idNumber', who.idNumber)
    for (const m of ['临时救助申请书', '居民身份证']) await ap.check(`[data-material="${m}"] input`)
    await shot(ap, 'prereview-01-applicant-form')
    await ap.click('[data-action=submit-prereview]')
    await ap.waitForSelector('[data-prereview-made]')
    const no = (await text(ap, '[data-field=prereview-no]')).trim()
    expect(no).toMatch(new RegExp(`^${TOWNSHIP}-YS[0-9A-Z]{10}$`))
    expect(await text(ap, '[data-prereview-made]')).toContain('无需重新填写')
    await shot(ap, 'prereview-02-applicant-number')

    // 2. The window answers at once: every missing required material is ticked already (一次性告知).
    const staff = await page('#/login')
    const sp = staff.page
    await uiLogin(sp, 'zhou')
    await sp.click('nav a[data-nav=prereviews]')
    await sp.waitForSelector(`[data-prereview="${no}"]`)
    expect(await text(sp, `[data-prereview="${no}"]`)).toContain('赵桂英')
    expect(await text(sp, `[data-prereview="${no}"]`)).toContain('待预审')
    await shot(sp, 'prereview-03-staff-queue')
    await sp.click(`[data-prereview="${no}"] a`)
    await sp.waitForSelector('[data-answer-form]')
    const ticked = await sp.locator('[data-answer-form] .checklist input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))
    expect(ticked.sort()).toEqual(['户口簿', '遭遇困难的相关证明(医疗票据、事故证明等)'].sort())
    expect(await sp.isDisabled('[data-action=prereview-pass]')).toBe(true)
    await sp.fill('#prv-note', '医疗票据请带原件和复印件各一份')
    await shot(sp, 'prereview-04-staff-answer')
    await sp.click('[data-action=prereview-correction]')
    await sp.waitForSelector('[data-answered=correction]')
    expect(await text(sp, '[data-answered] [data-missing]')).toContain('户口簿')

    // 3. The applicant reads the answer: everything to bring, and the note.
    // The page before is #/prereview too, with a lookup form of its own: only a hash changes, so
    // wait for the new page's form — filling the old one just before the router replaced it
    // sent the lookup without a phone (CI at 0c855f9).
    await ap.evaluate(() => document.querySelectorAll('[data-prereview-lookup]').forEach((e) => e.setAttribute('data-stale', '')))
    await ap.goto(`${township.url}/#/prereview?no=${no}`)
    await ap.waitForSelector('[data-prereview-lookup]:not([data-stale]) #prq-phone')
    expect(await ap.inputValue('#prq-no')).toBe(no)
    await ap.fill('#prq-phone', '13700000000')
    await ap.click('[data-action=lookup-prereview]')
    await ap.waitForSelector('[data-result=error]')
    expect(await text(ap, '[data-result=error]')).toContain('没有找到')
    await ap.fill('#prq-phone', who.phone)
    await ap.click('[data-action=lookup-prereview]')
    await ap.waitForSelector('[data-result=correction]')
    const list = await ap.locator('[data-result=correction] [data-missing] li').allTextContents()
    expect(list).toEqual(['户口簿', '遭遇困难的相关证明(医疗票据、事故证明等)'])
    expect(await text(ap, '[data-result=correction] [data-field=note]')).toBe('医疗票据请带原件和复印件各一份')
    expect(await text(ap, '[data-result=correction]')).not.toContain(who.idNumber)
    await shot(ap, 'prereview-05-applicant-correction')

    // 4. At the window: the number the applicant gives opens it, and intake starts from it.
    await sp.click('nav a[data-nav=prereviews]')
    await sp.waitForSelector('#pr-open-no')
    await sp.fill('#pr-open-no', no.toLowerCase())
    await sp.click('[data-action=open-prereview]')
    await sp.waitForSelector('[data-action=intake-from-prereview]')
    await sp.click('[data-action=intake-from-prereview]')
    await sp.waitForSelector(`[data-from-prereview="${no}"]`)
    // Filled in from the pre-review: nothing typed again.
    expect(await sp.inputValue('#ap-name')).toBe(who.name)
    expect(await sp.inputValue('#ap-phone')).toBe(who.phone)
    expect(await sp.inputValue('#ap-idNumber')).toBe(who.idNumber)
    const held = await sp.locator('.checklist input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))
    expect(held.sort()).toEqual(['临时救助申请书', '居民身份证'].sort())
    // The applicant brought what the answer named: the clerk ticks it, and types nothing.
    for (const m of ['户口簿', '遭遇困难的相关证明(医疗票据、事故证明等)']) await sp.check(`[data-material="${m}"] input`)
    await shot(sp, 'prereview-06-intake-from-prereview')
    await sp.click('[data-action=submit-intake]')
    await sp.waitForSelector('.receipt [data-field=case-id]')
    const id = (await text(sp, '.receipt [data-field=case-id]')).trim()
    await shot(sp, 'prereview-07-receipt')

    // An ordinary case: signed application, accepted on the spot by the window that decides it.
    const api = await apiAs(township.url, 'zhou')
    const c = await api('GET', `/api/cases/${id}`)
    expect(c).toMatchObject({ itemCode: ITEM, originCode: TOWNSHIP, status: 'accepted', createdBy: '周窗口（zhou）', applicant: { name: who.name, phone: who.phone, idNumber: who.idNumber } })
    expect(c.materials.sort()).toEqual(['临时救助申请书', '居民身份证', '户口簿', '遭遇困难的相关证明(医疗票据、事故证明等)'].sort())
    expect(c.sig).toBeTruthy()
    expect(await api('GET', `/api/prereviews/${no}`)).toMatchObject({ status: 'accepted', caseId: id })

    // The pre-review now reads 已受理 with the case number, for staff and for the applicant.
    await sp.goto(`${township.url}/#/prereviews/${no}`)
    await sp.waitForSelector('[data-answered=accepted]')
    expect(await text(sp, '[data-answered=accepted] [data-field=case]')).toBe(id)
    await ap.click('[data-action=lookup-prereview]')
    await ap.waitForSelector('[data-result=accepted]')
    expect(await text(ap, '[data-result=accepted] [data-field=case]')).toBe(id)
    await shot(ap, 'prereview-08-applicant-accepted')
    for (const p of [applicant, staff]) expect(p.errors).toEqual([])
  }, 300_000)
})
