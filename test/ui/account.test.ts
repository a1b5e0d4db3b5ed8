/**
 * Accounts in the browser (issue 7, class 5): a staff member changes their password and logs
 * out (the token is dead at the node, not only forgotten by the tab); an administrator disables
 * a colleague — whose open page is sent back to the login — enables them again and resets a
 * password. Headless chromium against a real township node.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPage, PASSWORD, shot, startUiNode, uiLogin, type UiNode } from '../helpers/browser.ts'
import { tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-ui-account-')
let town: UiNode
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  ;[town, browser] = await Promise.all([
    startUiNode(tmp.dir, {
      level: 'township', code: '511302101000', name: '青山镇',
      users: [{ name: '孙管理', role: 'admin' }, { name: '周窗口', role: 'staff' }, { name: '吴窗口', role: 'staff' }],
    }),
    launchBrowser(),
  ])
}, 300_000)

afterAll(async () => {
  for (const o of opened) await o.close().catch(() => {})
  await browser?.close()
  await town?.stop()
  tmp.cleanup()
})

async function page(hash?: string) {
  const p = await openPage(browser, town.url, hash)
  opened.push(p.context)
  return p
}

const tokenIn = (p: import('playwright-core').Page) => p.evaluate(() => JSON.parse(sessionStorage.getItem('tongban.session') ?? 'null')?.token as string)
const me = async (token: string) => (await fetch(`${town.url}/api/users/me`, { headers: { authorization: `Bearer ${token}` } })).status

describe('accounts in the browser', () => {
  it('a staff member changes their password, then logs out, and the token is dead at the node', async () => {
    const { page: p, errors } = await page()
    await uiLogin(p, '周窗口')
    await p.click('a[data-nav=password]')
    await p.waitForSelector('#pw-current')
    await p.fill('#pw-current', 'not-my-password')
    await p.fill('#pw-new', 'new-password-1')
    await p.fill('#pw-again', 'new-password-1')
    await p.click('form button[type=submit]')
    await p.waitForSelector('.notice.error:not([hidden]):has-text("当前密码不对")')
    await p.fill('#pw-current', PASSWORD)
    await p.fill('#pw-again', 'new-password-2')
    await p.click('form button[type=submit]')
    await p.waitForSelector('.notice.error:not([hidden]):has-text("不一致")')
    await p.fill('#pw-again', 'new-password-1')
    await p.click('form button[type=submit]')
    await p.waitForSelector('.toast:has-text("密码已修改")')
    await shot(p, 'account-01-password')

    const token = await tokenIn(p)
    expect(await me(token)).toBe(200)
    await p.click('[data-action=logout]')
    await p.waitForSelector('#login-name')
    expect(await me(token)).toBe(401)

    // The new password works in the login form; the old one is refused.
    await p.fill('#login-name', '周窗口')
    await p.fill('#login-password', PASSWORD)
    await p.click('.login-form button[type=submit]')
    await p.waitForSelector('.notice.error:not([hidden])')
    await p.fill('#login-password', 'new-password-1')
    await p.click('.login-form button[type=submit]')
    await p.waitForSelector('nav.nav')
    expect(errors).toEqual([])
  }, 300_000)

  it('an administrator disables a colleague (whose page goes back to login), enables them and resets a password', async () => {
    const staff = await page()
    await uiLogin(staff.page, '吴窗口')
    const { page: p, errors } = await page()
    await uiLogin(p, '孙管理')
    await p.click('nav a[data-nav=users]')
    await p.waitForSelector('tr[data-user="吴窗口"] [data-action=disable]')
    // No button to disable yourself.
    expect(await p.locator('tr[data-user="孙管理"] [data-action]').count()).toBe(0)
    await p.click('tr[data-user="吴窗口"] [data-action=disable]')
    await p.click('dialog .btn.danger')
    await p.waitForSelector('tr[data-user="吴窗口"] [data-action=enable]')
    expect(await p.locator('tr[data-user="吴窗口"] .pill').textContent()).toBe('已停用')
    await shot(p, 'account-02-users-disabled')

    // The colleague's next step finds the session ended.
    await staff.page.click('nav a[data-nav=cases]')
    await staff.page.waitForSelector('#login-name')
    await staff.page.fill('#login-name', '吴窗口')
    await staff.page.fill('#login-password', PASSWORD)
    await staff.page.click('.login-form button[type=submit]')
    await staff.page.waitForSelector('.notice.error:not([hidden]):has-text("已停用")')

    await p.click('tr[data-user="吴窗口"] [data-action=enable]')
    await p.waitForSelector('tr[data-user="吴窗口"] [data-action=disable]')

    // Reset 吴窗口's password: an administrator's own rule shows as a message when too short.
    await p.selectOption('#r-name', '吴窗口')
    await p.fill('#r-pw', 'reset-pass-1')
    await p.click('form[data-form=reset] button[type=submit]')
    await p.waitForSelector('.toast:has-text("已重置")')
    await p.selectOption('#r-name', '孙管理')
    await p.fill('#r-pw', 'short-pw1')
    await p.click('form[data-form=reset] button[type=submit]')
    await p.waitForSelector('.notice.error:not([hidden]):has-text("10")')

    await staff.page.fill('#login-password', 'reset-pass-1')
    await staff.page.click('.login-form button[type=submit]')
    await staff.page.waitForSelector('nav.nav')
    expect(errors).toEqual([])
    expect(staff.errors).toEqual([])
  }, 300_000)
})
