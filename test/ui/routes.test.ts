/**
 * The UI's server side without a browser: static files with their types and caching, the
 * bundles the node makes, the public progress lookup; and the UI sources themselves — every
 * module parses, every string the pages ask for exists in both languages.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { transform } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CASE_STATUSES, EVENT_TYPES, ID_TYPES, LEVELS, ROLES } from '../../protocol/index.ts'
import { AttemptLimiter } from '../../nodes/core/http/routes-public.ts'
import { PROJECT_ROOT } from '../../nodes/core/node.ts'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'

const UI = join(PROJECT_ROOT, 'nodes/core/ui')
const sources = ['app.js', ...['lib', 'pages'].flatMap((d) => readdirSync(join(UI, d)).filter((f) => f.endsWith('.js')).map((f) => `${d}/${f}`))]

let t: TestNode
let agent: Client

beforeAll(async () => {
  t = await testNode({ level: 'village', code: '511302101201', name: '长青村', catalogue: 'sample' })
  agent = await t.as('agent', 'agent')
}, 300_000)
afterAll(() => t?.close())

const get = (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers })

describe('UI static files', () => {
  it('serves index.html at / with a strict content security policy and revalidation', async () => {
    const res = await get('/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await res.text()).toContain('<script type="module" src="/ui/app.js">')
    const again = await get('/', { 'if-none-match': res.headers.get('etag')! })
    expect(again.status).toBe(304)
  })

  it('serves scripts, styles and images with their types, and nothing outside ui/', async () => {
    expect((await get('/ui/app.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect((await get('/ui/styles.css')).headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect((await get('/ui/favicon.svg')).headers.get('content-type')).toBe('image/svg+xml')
    for (const bad of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/%2e%2e%2fpackage.json', '/ui/lib/../../http/app.ts', '/ui/nope.js']) {
      expect((await get(bad)).status, bad).toBe(404)
    }
    // A malformed %-escape is bad input: refused with 400 before any route (issue 7, class 8).
    expect((await get('/ui/%E0%A4%A')).status).toBe(400)
  })

  it('serves ECharts from node_modules, gzipped when asked, cached for a day', async () => {
    const res = await get('/ui/vendor/echarts.min.js', { 'accept-encoding': 'gzip, deflate' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(res.headers.get('cache-control')).toBe('public, max-age=86400')
  })

  it('bundles the protocol for the browser: the same rules the node enforces', async () => {
    const res = await get('/ui/gen/protocol.js')
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const code = await res.text()
    for (const name of ['mayAct', 'allowedNext', 'WorkingDays', 'ApplicantSchema', 'STATUS_NAMES_ZH', 'handlerFor']) expect(code).toMatch(new RegExp(`\\b${name}\\b`))
    expect(code).not.toMatch(/node:|require\(/)
    expect((await get('/ui/gen/live.js')).status).toBe(200)
    expect((await get('/ui/gen/other.js')).status).toBe(404)
  }, 300_000)
})

describe('UI sources', () => {
  it('every module parses as a browser ES module and uses no innerHTML', async () => {
    for (const f of sources) {
      const code = readFileSync(join(UI, f), 'utf8')
      await expect(transform(code, { loader: 'js', format: 'esm', sourcefile: f }), f).resolves.toBeTruthy()
      expect(code, f).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/)
    }
  })

  it('has every string a page asks for, in Chinese and in English', async () => {
    const { STRINGS } = (await import(pathToFileURL(join(UI, 'lib/strings.js')).href)) as { STRINGS: Record<'zh' | 'en', Record<string, string>> }
    const used = new Set<string>()
    for (const f of sources) for (const m of readFileSync(join(UI, f), 'utf8').matchAll(/\bt\('([^']+)'[,)]/g)) used.add(m[1])
    for (const e of EVENT_TYPES) used.add(`event.${e}`).add(`action.${e}`).add(`action.help.${e}`).add(`action.confirm.${e}`)
    for (const l of LEVELS) used.add(`unit.${l}`).add(`levelShort.${l}`)
    for (const i of ID_TYPES) used.add(`idType.${i}`)
    const enOnly = [...CASE_STATUSES.map((s) => `status.${s}`), ...ROLES.map((r) => `role.${r}`), ...LEVELS.map((l) => `level.${l}`), ...[1, 2, 3, 4, 5].map((n) => `rating.${n}`)]
    expect([...used].filter((k) => !(k in STRINGS.zh))).toEqual([])
    expect(Object.keys(STRINGS.zh).filter((k) => !(k in STRINGS.en))).toEqual([])
    expect(enOnly.filter((k) => !(k in STRINGS.en))).toEqual([])
  })
})

describe('public progress lookup', () => {
  it('shows status and due date for the right case number and phone, without login', async () => {
    const made = await agent('POST', '/api/cases', { itemCode: 'V-001', applicant, materials: ['居民身份证', '户口簿'] })
    const res = await get(`/api/public/progress?id=${made.body.id}&phone=138%200000-0000`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({
      id: made.body.id, itemName: '居住证明', status: 'accepted', dueDate: made.body.dueDate, resultKind: 'certificate', rated: false, ratable: false,
      // Issue 9, item 7: who decides it, what to bring, what is owed, why refused — none here — and who answered.
      handlerName: '长青村', correction: null, owed: null, reason: null, answeredBy: '511302101201',
    })
  })

  it('answers a wrong phone exactly as an unknown case, so it cannot be probed', async () => {
    const made = await agent('POST', '/api/cases', { itemCode: 'V-001', applicant, materials: ['居民身份证', '户口簿'] })
    const wrong = await get(`/api/public/progress?id=${made.body.id}&phone=13900000000`)
    const unknown = await get(`/api/public/progress?id=511302101201-20200101-9999&phone=${applicant.phone}`)
    expect(wrong.status).toBe(404)
    expect(unknown.status).toBe(404)
    expect(await wrong.json()).toEqual(await unknown.json())
  })

  it('refuses malformed input with 400, naming the field', async () => {
    const res = await get('/api/public/progress?id=abc')
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; details: { issues: { field: string }[] } } }
    expect(body.error.code).toBe('invalid_input')
    expect(body.error.details.issues.map((i) => i.field).sort()).toEqual(['id', 'phone'])
  })

  it('limits lookups per address and window', () => {
    let now = 0
    const l = new AttemptLimiter(2, 1000, () => now)
    expect([l.take('a'), l.take('a'), l.take('a'), l.take('b')]).toEqual([true, true, false, true])
    now = 1000
    expect(l.take('a')).toBe(true)
  })
})
