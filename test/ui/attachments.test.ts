/**
 * 附件 in the browser, village and township as real node processes: the agent photographs a
 * material at intake (a 3000×2000 photo), the page shrinks it to 1600 px on its long side as a
 * JPEG before upload, and the case page lists it 已收到; the township's staff see the file on
 * their case page once its pieces have come up, and open it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiAs, fillIntake, shot, startUiSuite, uiLogin, type UiNode, type UiSuite } from '../helpers/browser.ts'
import { eventually } from '../helpers/remote.ts'

let suite: UiSuite
let township: UiNode
let village: UiNode

beforeAll(async () => {
  suite = await startUiSuite('tongban-ui-attach-', [
    { level: 'township', code: '511302101000', name: '潆溪镇', catalogue: 'sample', users: [{ name: '周窗口', role: 'staff' }] },
    { level: 'village', code: '511302101201', name: '长青村', catalogue: 'sample', parent: 0, users: [{ name: '李代办', role: 'agent' }] },
  ])
  ;[township, village] = suite.nodes
}, 300_000)

afterAll(() => suite?.close())

const page = (base: string, hash?: string) => suite.page(base, hash)

describe('attachments in the UI', () => {
  it('a photo taken at intake is shrunk, uploaded with the case, and opened at the township', async () => {
    const agent = await page(village.url)
    await uiLogin(agent.page, '李代办')
    await eventually(async () => (await (await apiAs(village.url, '李代办'))('GET', '/api/catalogue')).items.some((i: any) => i.code === 'T-002'), 60_000, 'the catalogue at the village', 250)
    await fillIntake(agent.page, village.url, 'T-002', { name: '陈附件', phone: '13600000002', idNumber: '511302195001011231' })
    // A camera's photo: 3000×2000, drawn in the page and taken as a PNG file.
    const png = await agent.page.evaluate(() => {
      const c = document.createElement('canvas')
      c.width = 3000
      c.height = 2000
      const g = c.getContext('2d')!
      for (let i = 0; i < 60; i++) {
        g.fillStyle = `hsl(${i * 6}, 70%, 50%)`
        g.fillRect((i * 50) % 3000, (i * 37) % 2000, 400, 300)
      }
      g.fillStyle = '#000'
      g.font = '120px sans-serif'
      g.fillText('户口簿 首页', 200, 1000)
      return c.toDataURL('image/png').split(',')[1]
    })
    const original = Buffer.from(png, 'base64')
    await agent.page.selectOption('#intake-file-mat', '户口簿')
    expect(await agent.page.getAttribute('#intake-file', 'accept')).toBe('image/*,application/pdf')
    expect(await agent.page.getAttribute('#intake-file', 'capture')).toBe('environment')
    await agent.page.setInputFiles('#intake-file', { name: '户口簿首页.png', mimeType: 'image/png', buffer: original })
    await agent.page.waitForSelector('[data-attach-pending] li')
    await shot(agent.page, 'attach-01-village-intake-with-photo')
    await agent.page.click('[data-action=submit-intake]')
    await agent.page.waitForSelector('.receipt [data-field=case-id]')
    const id = (await agent.page.locator('.receipt [data-field=case-id]').textContent())!

    // Shrunk before it left the page: a JPEG, 1600 px on its long side, smaller than the photo.
    const villageApi = await apiAs(village.url, '李代办')
    const [a] = (await villageApi('GET', `/api/cases/${id}/attachments`)).attachments
    expect(a).toMatchObject({ name: '户口簿首页.jpg', material: '户口簿', mime: 'image/jpeg', state: 'held' })
    expect(a.size).toBeLessThan(original.length)
    const dims = await agent.page.evaluate(async ([caseId, hash]) => {
      const s = JSON.parse(sessionStorage.getItem('tongban.session')!)
      const blob = await (await fetch(`/api/cases/${caseId}/attachments/${hash}`, { headers: { authorization: `Bearer ${s.token}` } })).blob()
      const b = await createImageBitmap(blob)
      return [b.width, b.height]
    }, [id, a.hash])
    expect(dims).toEqual([1600, 1067])

    await agent.page.goto(`${village.url}/#/case/${encodeURIComponent(id)}`)
    await agent.page.waitForSelector(`[data-attachment="${a.hash}"][data-state=held]`)
    expect(await agent.page.locator('[data-attachments]').textContent()).toContain('已收到')
    expect(await agent.page.locator('[data-timeline]').textContent()).toContain('上传附件')
    await shot(agent.page, 'attach-02-village-case-with-attachment')

    // The township: the case first, then the file; staff open it.
    const staffApi = await apiAs(township.url, '周窗口')
    await eventually(async () => (await staffApi('GET', `/api/cases/${id}/attachments`)).attachments[0]?.state === 'held', 120_000, 'the file at the township', 250)
    const staff = await page(township.url)
    await uiLogin(staff.page, '周窗口')
    await staff.page.goto(`${township.url}/#/case/${encodeURIComponent(id)}`)
    await staff.page.waitForSelector(`[data-attachment="${a.hash}"][data-state=held]`)
    const [popup] = await Promise.all([staff.page.context().waitForEvent('page'), staff.page.click(`[data-attach-open="${a.hash}"]`)])
    expect(popup.url()).toMatch(/^blob:/)
    await shot(staff.page, 'attach-03-township-case-with-attachment')
    expect(agent.errors).toEqual([])
    expect(staff.errors).toEqual([])
  }, 300_000)
})
