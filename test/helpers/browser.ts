/**
 * The UI tests' tools: headless Debian chromium driven by playwright-core, real node processes
 * (`tongban start`, the way people run them) to point it at, screenshots of every page for
 * people to look at, and a keyboard helper that proves a control can be reached with Tab.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { Level } from '../../protocol/index.ts'
import { spawnNode, stopNode, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { PROJECT_ROOT } from '../../nodes/core/node.ts'
import { START_TIMEOUT_MS } from './process.ts'
import { trustNode } from './tls.ts'

/** Debian's chromium (`apt-get install chromium fonts-noto-cjk`); never a downloaded browser. */
export const CHROMIUM = process.env.TONGBAN_CHROMIUM ?? '/usr/bin/chromium'
export const SCREENSHOTS = join(PROJECT_ROOT, 'test-artifacts/screenshots')
export const PASSWORD = 'tongban-ui-test'
/**
 * Every wait of a page (waitForSelector, click, goto, waitForEvent) unless a test gives its own:
 * playwright's 30 s is too short for a page whose answer crosses a link on a loaded machine.
 */
export const UI_WAIT_MS = 120_000

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

export interface UiNode extends TreeNode {
  stop(): Promise<void>
}

export interface UiNodeSpec {
  level: Level
  code: string
  name: string
  /** Users provisioned on first start (all with PASSWORD). */
  users: { name: string; role: 'agent' | 'staff' | 'admin' | 'supervisor'; displayName?: string; phone?: string }[]
  /** A running node to enrol under (its data dir gets the child's token). */
  parent?: UiNode
  catalogue?: string
}

/**
 * Starts a node process in `<root>/<code>` and resolves once it prints its listening line
 * (spawnNode polls with a deadline). Port 0: the OS picks one.
 */
export async function startUiNode(root: string, spec: UiNodeSpec): Promise<UiNode> {
  const dataDir = join(root, spec.code)
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify(spec.users.map((u) => ({ ...u, password: PASSWORD }))))
  const token = spec.parent ? pinToken(enrollChild(spec.parent.dataDir, spec.parent.code, spec.code), spec.parent.dataDir) : undefined
  const n = await spawnNode({
    level: spec.level, code: spec.code, name: spec.name, dataDir, port: 0, catalogue: spec.catalogue,
    parentUrl: spec.parent?.url, token,
  }, START_TIMEOUT_MS)
  trustNode(dataDir)
  return Object.assign(n, { stop: () => stopNode(n) })
}

export interface OpenedPage {
  page: Page
  context: BrowserContext
  /** Script errors and console errors seen so far (a test ends by expecting none). */
  errors: string[]
}

/**
 * A fresh browser context at 1366×768 — the screen of an old village laptop — in Chinese and
 * China time. Uncaught exceptions, console errors and CSP violations are collected; the
 * browser's own "Failed to load resource" lines for 4xx answers the page expects are not.
 */
export async function openPage(browser: Browser, base: string, hash = '#/login'): Promise<OpenedPage> {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true,
    // The nodes serve https with self-signed certificates (a person accepts the browser's warning once).
    ignoreHTTPSErrors: true,
  })
  context.setDefaultTimeout(UI_WAIT_MS)
  context.setDefaultNavigationTimeout(UI_WAIT_MS)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`)
  })
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.type()} ${d.message()}`)
    void d.dismiss()
  })
  await page.goto(base + '/' + hash)
  return { page, context, errors }
}

/** Logs in through the login page and waits for the app's navigation. */
export async function uiLogin(page: Page, name: string): Promise<void> {
  await page.waitForSelector('#login-name')
  await page.fill('#login-name', name)
  await page.fill('#login-password', PASSWORD)
  await page.click('.login-form button[type=submit]')
  await page.waitForSelector('nav.nav')
}

/** Opens the intake page of `item` and fills in the applicant and every material (not yet submitted). */
export async function fillIntake(page: Page, base: string, item: string, a: { name: string; phone: string; idNumber: string }): Promise<void> {
  await page.goto(`${base}/#/intake/${item}`)
  await page.waitForSelector('#ap-name')
  await page.fill('#ap-name', a.name)
  await page.fill('#ap-phone', a.phone)
  await page.fill('#ap-idNumber', a.idNumber)
  for (const box of await page.locator('.checklist li input').all()) await box.check()
}

/** On an open case page, the handler's staff accepts the case, then approves it with `note`. */
export async function acceptAndApprove(page: Page, note: string): Promise<void> {
  await page.click('[data-action=accepted]')
  await page.click('[data-confirm=accepted]')
  await page.waitForSelector('.pill.big[data-status=accepted]')
  await page.click('[data-action=approved]')
  await page.fill('#act-note', note)
  await page.click('[data-confirm=approved]')
  await page.waitForSelector('.pill.big[data-status=approved]')
}

/** Saves a full-page screenshot as test-artifacts/screenshots/<name>.png (CI keeps them as artifacts). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  // Let charts and fonts settle: wait for the page's own work, not a fixed sleep.
  await page.waitForLoadState('networkidle').catch(() => {})
  await page.evaluate(() => {
    window.scrollTo(0, 0)
    return document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Presses Tab until `selector` has focus; throws when `max` presses do not reach it. */
export async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return
    await page.keyboard.press('Tab')
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))
  throw new Error(`${max} presses of Tab did not reach ${selector}; focus is on ${at}`)
}

/** A JSON client for a node over HTTP, logged in as `name`. */
export async function apiAs(base: string, name: string): Promise<(method: string, path: string, body?: unknown) => Promise<any>> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: PASSWORD }) })
  if (!res.ok) throw new Error(`login ${name} at ${base}: ${res.status} ${await res.text()}`)
  const { token } = (await res.json()) as { token: string }
  return async (method, path, body) => {
    const r = await fetch(`${base}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
}

/** The first element matching `selector`, as text ('' when it has none). */
export const textOf = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().textContent()) ?? ''

export interface UiSuite {
  /** The temp dir the nodes' data dirs are in (start more nodes there: it goes with the suite). */
  dir: string
  browser: Browser
  /** The nodes started, in the order of their specs. */
  nodes: UiNode[]
  /** A fresh browser context at `base` (+ `hash`), closed with the suite. */
  page(base: string, hash?: string): Promise<OpenedPage>
  /** Closes the pages, the browser and the nodes (children first), and removes the temp dir. */
  close(): Promise<void>
}

/**
 * What a browser test of a small tree starts from: a browser and real node processes in a new
 * temp dir, each spec enrolled under the node at index `parent` (an earlier spec).
 */
export async function startUiSuite(prefix: string, specs: (Omit<UiNodeSpec, 'parent'> & { parent?: number })[]): Promise<UiSuite> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const opened: OpenedPage[] = []
  const nodes: UiNode[] = []
  const browser = await launchBrowser()
  const suite: UiSuite = {
    dir, browser, nodes,
    async page(base, hash) {
      const p = await openPage(browser, base, hash)
      opened.push(p)
      return p
    },
    async close() {
      for (const o of opened) await o.context.close().catch(() => {})
      await browser.close().catch(() => {})
      for (const n of [...nodes].reverse()) await n.stop().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    for (const s of specs) nodes.push(await startUiNode(dir, { ...s, parent: s.parent === undefined ? undefined : nodes[s.parent] }))
  } catch (e) {
    await suite.close()
    throw e
  }
  return suite
}
