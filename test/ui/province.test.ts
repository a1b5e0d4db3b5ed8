/**
 * 省平台对接 in headless chromium: a county node (in this process, so msw can play the province)
 * pushes its cases; the province refuses one record; the administrator sees it under 失败 with
 * the province's reason, and 重新推送 sends it again once the province takes it. The supervisor
 * sees the page without the button; a county that does not push shows no such page.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProvinceCaseBatchSchema, ProvinceRatingBatchSchema } from '../../protocol/index.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { launchBrowser, openPage, PASSWORD, shot, uiLogin } from '../helpers/browser.ts'
import { applicant } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { COUNTY, FIXTURE_CATALOGUE, requiredOf } from '../fixtures/catalogue.ts'
import { waitFor } from '../attack/guard.ts'

const BASE = 'https://province.test/exchange/v1'
let refusing = true
const server = setupServer(
  http.post(`${BASE}/cases`, async ({ request }) => {
    const { records } = ProvinceCaseBatchSchema.parse(await request.json())
    return HttpResponse.json({ results: records.map((r) => (refusing && r.stage === 'decided'
      ? { key: r.key, status: 'rejected', code: 'E_ITEM', message: '事项编码未在省级事项目录中登记' }
      : { key: r.key, status: 'accepted' })) })
  }),
  http.post(`${BASE}/ratings`, async ({ request }) => {
    const { records } = ProvinceRatingBatchSchema.parse(await request.json())
    return HttpResponse.json({ results: records.map((r) => ({ key: r.key, status: 'accepted' })) })
  }),
)

const tmp = tempDir('p4-province-ui-')
let county: RunningNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  server.listen({ onUnhandledRequest: 'bypass' })
  const dataDir = join(tmp.dir, 'county')
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([
    { name: '王管理', role: 'admin', password: PASSWORD }, { name: '赵监督', role: 'supervisor', password: PASSWORD }, { name: '李窗口', role: 'staff', password: PASSWORD },
  ]))
  ;[county, browser] = await Promise.all([
    startNode({
      level: 'county', code: COUNTY, name: '顺庆区', dataDir, catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate(),
      province: { url: BASE, credentials: { clientId: 'sc-511302', clientSecret: 'ui-test-secret' }, backoff: { baseMs: 10, capMs: 100 }, pollMs: 50 },
    }),
    launchBrowser(),
  ])
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  await county?.stop()
  server.close()
  tmp.cleanup()
})

async function staffApi(): Promise<(method: string, path: string, body?: unknown) => Promise<any>> {
  const login = await (await fetch(`${county.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: '李窗口', password: PASSWORD }) })).json()
  return async (method, path, body) => {
    const res = await fetch(county.url + path, { method, headers: { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    return res.json()
  }
}

describe('省平台对接', { timeout: 300_000 }, () => {
  it('the administrator sees a refused record with the province\'s reason and sends it again', async () => {
    const staff = await staffApi()
    const made = await staff('POST', '/api/cases', { itemCode: 'C-I01', applicant, materials: requiredOf('C-I01') })
    expect(made.id).toEqual(expect.any(String))
    await staff('POST', `/api/cases/${made.id}/events`, { type: 'approved' })
    const key = `${made.id}:decided:${COUNTY}`
    const state = async () => (await county.node.db.query<{ state: string }>('SELECT state FROM province_outbox WHERE record_key = $1', [key]))[0]?.state
    await waitFor('the refused record failed', async () => (await state()) === 'failed', 120_000)

    const { page: p, errors } = await openPage(browser, county.url)
    opened.push(p.context())
    await uiLogin(p, '王管理')
    await p.click('nav a[data-nav=province]')
    await p.waitForSelector(`tr[data-key="${key}"]`)
    expect(await p.textContent('h1')).toBe('省平台对接')
    expect(await p.textContent(`tr[data-key="${key}"]`)).toContain('办件信息 · 办结')
    expect(await p.textContent(`tr[data-key="${key}"] [data-field=reason]`)).toBe('省平台退回 (E_ITEM): 事项编码未在省级事项目录中登记')
    expect(await p.textContent('[data-kpi=failed] .v')).toBe('1')
    expect(await p.textContent('[data-field=last-error]')).toContain('E_ITEM')
    await shot(p, 'province-01-failed')

    refusing = false
    await p.click(`tr[data-key="${key}"] [data-action=retry]`)
    await waitFor('the retried record acknowledged', async () => (await state()) === 'acked', 120_000)
    await p.click('[data-state=acked]')
    await p.waitForSelector(`tr[data-key="${key}"]`)
    await p.click('[data-state=failed]')
    await p.waitForSelector('text=没有记录')
    await shot(p, 'province-02-retried')
    expect(errors).toEqual([])
  })

  it('the supervisor sees the page without 重新推送; staff have no such page', async () => {
    const { page: p, errors } = await openPage(browser, county.url)
    opened.push(p.context())
    await uiLogin(p, '赵监督')
    await p.click('nav a[data-nav=province]')
    await p.waitForSelector('[data-kpi=acked]')
    expect(await p.locator('[data-action=retry-all], [data-action=retry]').count()).toBe(0)
    const s = await openPage(browser, county.url)
    opened.push(s.page.context())
    await uiLogin(s.page, '李窗口')
    expect(await s.page.locator('nav a[data-nav=province]').count()).toBe(0)
    expect([...errors, ...s.errors]).toEqual([])
  })
})
