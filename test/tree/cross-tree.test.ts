/**
 * 通办 on the 15-node demo tree (issue 8), real processes and sockets: a 高坪区 (county 2) matter
 * taken in at 长青村 (a village of 顺庆区, county 1) travels up to the city and down to 高坪区,
 * is decided there, and is delivered and rated at the village. The units between only relay it
 * (they may act on nothing), and no node off the path holds any part of it: HTTP 404 while the
 * tree runs, and no byte of the applicant in its data dir once it stops. A misrouted case is
 * transferred (转办) from 顺庆区 to 高坪区: both routes hold it, only the current handler may
 * transfer or decide. A city item goes only up. Statistics count each case where it was taken
 * in and where it was decided.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest'
import { DEMO_TREE, startTree, stopTree, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { casePathOf } from '../../protocol/index.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { trustNode } from '../helpers/tls.ts'

const tmp = tempDir('tongban-cross-')
let nodes: TreeNode[] = []
const at = (code: string) => nodes.find((n) => n.code === code)!
const CITY = '511300000000'
const C1 = '511302000000' // 顺庆区
const C2 = '511303000000' // 高坪区
const T1 = '511302101000' // 潆溪镇
const V1 = '511302101201' // 长青村

const required = (item: any) => item.materials.filter((m: any) => m.required).map((m: any) => m.name)

function filesUnder(dir: string): Buffer[] {
  const out: Buffer[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const s = statSync(p)
    if (s.isDirectory()) out.push(...filesUnder(p))
    else if (s.isFile()) out.push(readFileSync(p))
  }
  return out
}
const holds = (dir: string, text: string) => filesUnder(dir).some((b) => b.includes(Buffer.from(text)))

/** Every node as a logged-in remote: staff above the villages, agents at them. */
const remotes = new Map<string, Remote>()
const as = (code: string) => remotes.get(code)!

describe('通办 across the demo tree', () => {
  let items: any[]
  const secrets: { path: string[]; applicant: { name: string; idNumber: string; phone: string } }[] = []

  beforeAll(async () => {
    nodes = await startTree(tmp.dir)
    nodes.forEach(trustNode)
    for (const n of nodes) remotes.set(n.code, await login(n.url, n.level === 'village' ? 'agent' : 'staff'))
    items = await eventually(async () => {
      const r = await as(V1)('GET', '/api/catalogue')
      return r.body.items.length > 0 && r.body.items
    }, 60_000, 'the catalogue to reach the village')
    // The unit directory spreads over the tree like the catalogue: the village knows 高坪区 by name.
    await eventually(async () => {
      const r = await as(V1)('GET', '/api/units?level=county')
      return r.body.units.some((u: any) => u.code === C2 && u.name === '高坪区' && u.active)
    }, 60_000, 'the unit directory to name 高坪区 at the village')
  }, 400_000)

  // A failure shows what the nodes said (refusals, link trouble), not only what the test waited for.
  beforeEach(() => onTestFailed(() => {
    for (const n of nodes) {
      const said = n.log.join('').split('\n').filter((l) => /refus|error|fail|clos|4\d\d\d/i.test(l)).slice(-15)
      if (said.length) console.error(`--- ${n.code} ${n.name}\n${said.join('\n')}`)
    }
  }))

  afterAll(async () => {
    await stopTree(nodes)
    tmp.cleanup()
  }, 300_000)

  it('the unit picker finds a county by name, pinyin initials or code', async () => {
    for (const q of ['高坪', 'gpq', '511303']) {
      const r = await as(V1)('GET', `/api/units?level=county&q=${encodeURIComponent(q)}`)
      expect(r.status).toBe(200)
      expect(r.body.units[0]).toMatchObject({ code: C2, name: '高坪区', level: 'county', parentCode: CITY })
    }
    expect((await as(V1)('GET', '/api/units?level=town')).status).toBe(400)
  })

  it('a county-2 matter taken in at a village of county 1 is decided at county 2 and delivered at the village', async () => {
    const item = items.find((i) => i.level === 'county' && i.kind === 'promised')
    const applicant = { name: '异地办周某', idType: 'resident-id', idNumber: '511303199202020024', phone: '13811112222' }
    const t0 = Date.now()
    const made = await as(V1)('POST', '/api/cases', { itemCode: item.code, applicant, materials: required(item), handlerCode: C2 })
    expect(made.status).toBe(201)
    expect(made.body.handlerCode).toBe(C2)
    const id = made.body.id
    const path = casePathOf({ originCode: V1, handlers: [C2] })
    expect(path).toEqual([V1, T1, C1, CITY, C2])
    secrets.push({ path, applicant })
    await eventually(async () => (await as(C2)('GET', `/api/cases/${id}`)).status === 200, 90_000, 'the case at 高坪区')
    console.log(`cross-county case at the handler ${Date.now() - t0} ms after the village's 201 (4 hops)`)

    // Every node on the path holds it; none off the path.
    for (const n of nodes) {
      const r = await as(n.code)('GET', `/api/cases/${id}`)
      expect(r.status, `${n.code} ${n.name}`).toBe(path.includes(n.code) ? 200 : 404)
    }
    // The relays (township, county 1, city) cannot act on it; nor can the origin decide.
    for (const relay of [T1, C1, CITY]) {
      const r = await as(relay)('POST', `/api/cases/${id}/events`, { type: 'accepted' })
      expect(r.status, relay).toBe(403)
      expect(r.body.error.message).toMatch(/handling node 511303000000/)
    }
    expect((await as(V1)('POST', `/api/cases/${id}/events`, { type: 'approved' })).status).toBe(403)

    expect((await as(C2)('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(200)
    expect((await as(C2)('POST', `/api/cases/${id}/events`, { type: 'approved' })).body.status).toBe('approved')
    await eventually(async () => (await as(V1)('GET', `/api/cases/${id}`)).body.status === 'approved', 90_000, 'the decision back at the village')
    expect((await as(V1)('POST', `/api/cases/${id}/events`, { type: 'delivered' })).body.status).toBe('delivered')
    expect((await as(V1)('POST', `/api/cases/${id}/events`, { type: 'rated', rating: 4 })).body.rating).toBe(4)
    await eventually(async () => (await as(C2)('GET', `/api/cases/${id}`)).body.rating === 4, 90_000, 'the rating at 高坪区')
    // The applicant's public progress lookup answers at the window and at the handler alike, and nowhere off the path.
    for (const code of [V1, C2, '511303101000']) {
      const r = await fetch(`${at(code).url}/api/public/progress?id=${id}&phone=${applicant.phone}`)
      expect(r.status, code).toBe(code === '511303101000' ? 404 : 200)
      if (r.status === 200) expect(await r.json()).toMatchObject({ id, status: 'delivered', itemName: item.name })
    }
    // The due-date clock is the handler's: the same on every replica of the path.
    const due = (await as(C2)('GET', `/api/cases/${id}`)).body.dueDate
    expect(due).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    for (const code of path) expect((await as(code)('GET', `/api/cases/${id}`)).body.dueDate).toBe(due)

    // 受理地 and 办理地: the village counts it where taken in, 高坪区 where decided, each as 异地件.
    const byOrigin = await eventually(async () => {
      const r = await as(V1)('GET', '/api/stats?by=origin')
      return r.body.totals.crossUnit >= 1 && r.body
    }, 120_000, 'the village counting the cross-unit case')
    expect(byOrigin.by).toBe('origin')
    const byHandler = await eventually(async () => {
      const r = await as(C2)('GET', '/api/stats?by=handler&groupBy=child')
      return r.body.totals.crossUnit >= 1 && r.body.totals.completed >= 1 && r.body
    }, 120_000, '高坪区 counting the case it decided')
    expect(byHandler.rows.map((r: any) => r.key)).toContain(C2)
    // At the city, by handler the case is 高坪区's; by origin it is 顺庆区's.
    await eventually(async () => {
      const h = (await as(CITY)('GET', '/api/stats?by=handler&groupBy=child')).body
      const o = (await as(CITY)('GET', '/api/stats?by=origin&groupBy=child')).body
      const row = (b: any, k: string) => b.rows.find((r: any) => r.key === k)
      return row(h, C2)?.crossUnit >= 1 && row(o, C1)?.crossUnit >= 1
    }, 60_000, 'the city counting the case by 受理地 and by 办理地')
  }, 300_000)

  it('a misrouted case is transferred to the competent county: both routes hold it, only the handler may transfer', async () => {
    const item = items.find((i) => i.level === 'county' && i.kind === 'promised')
    const applicant = { name: '转办吴某某', idType: 'resident-id', idNumber: '511303198811110039', phone: '13933334444' }
    const made = await as(V1)('POST', '/api/cases', { itemCode: item.code, applicant, materials: required(item) })
    expect(made.body.handlerCode).toBe(C1)
    const id = made.body.id
    await eventually(async () => (await as(C1)('GET', `/api/cases/${id}`)).status === 200, 90_000, 'the case at 顺庆区')
    expect((await as(CITY)('GET', `/api/cases/${id}`)).status).toBe(404) // not on its path yet

    // Nobody but the handler may transfer: not the origin, a relay, or the target.
    for (const code of [V1, T1, C2]) {
      const r = await as(code)('POST', `/api/cases/${id}/events`, { type: 'transferred', to: C2, reason: '户籍在高坪区' })
      expect(r.status, code).toBe(code === C2 ? 404 : 403)
    }
    const bad = await as(C1)('POST', `/api/cases/${id}/events`, { type: 'transferred', to: T1, reason: '错' })
    expect(bad.status).toBe(409) // a township cannot decide a county matter: the state machine refuses the transfer
    expect((await as(C1)('POST', `/api/cases/${id}/events`, { type: 'transferred', to: C2, reason: '' })).status).toBe(400)
    // 顺庆区 accepted it before it saw the household register: its 办理地 figures count it, until the transfer.
    expect((await as(C1)('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(200)
    await eventually(async () => (await as(C1)('GET', '/api/stats?by=handler')).body.totals.accepted === 1, 120_000, '顺庆区 counting the case it accepted')
    const moved = await as(C1)('POST', `/api/cases/${id}/events`, { type: 'transferred', to: C2, reason: '申请人户籍在高坪区，应由高坪区办理' })
    expect(moved.status).toBe(200)
    expect(moved.body.currentHandlerCode).toBe(C2)
    expect(moved.body.handlers).toEqual([C1, C2])
    expect(moved.body.status).toBe('submitted')

    const path = casePathOf({ originCode: V1, handlers: [C1, C2] })
    secrets.push({ path, applicant })
    await eventually(async () => (await as(C2)('GET', `/api/cases/${id}`)).status === 200, 90_000, 'the transferred case at 高坪区')
    // The first handler keeps a read-only copy; the new one decides.
    expect((await as(C1)('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(403)
    expect((await as(C2)('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(200)
    expect((await as(C2)('POST', `/api/cases/${id}/events`, { type: 'approved' })).status).toBe(200)
    for (const n of nodes) {
      const r = await eventually(async () => {
        const got = await as(n.code)('GET', `/api/cases/${id}`)
        return (!path.includes(n.code) || got.body.status === 'approved') && got
      }, 90_000, `the approval at ${n.code}`)
      expect(r.status, `${n.code} ${n.name}`).toBe(path.includes(n.code) ? 200 : 404)
    }
    const atVillage = (await as(V1)('GET', `/api/cases/${id}`)).body
    const transfer = atVillage.events.find((e: any) => e.type === 'transferred')
    expect(transfer).toMatchObject({ author: C1, to: C2, reason: '申请人户籍在高坪区，应由高坪区办理' })
    expect(atVillage.currentHandlerCode).toBe(C2)
    expect((await as(C1)('GET', `/api/cases/${id}`)).body.events.map((e: any) => e.type)).toEqual(['accepted', 'transferred', 'accepted', 'approved'])
    // By 办理地 the case is 高坪区's now, and 顺庆区's figures drop it (one case, counted once).
    await eventually(async () => (await as(C1)('GET', '/api/stats?by=handler')).body.totals.accepted === 0, 120_000, '顺庆区 dropping the transferred case')
    await eventually(async () => {
      const rows = (await as(CITY)('GET', '/api/stats?by=handler&groupBy=child')).body.rows
      return rows.find((r: any) => r.key === C2)?.transferred >= 1 && !rows.some((r: any) => r.key === C1 && r.accepted > 0)
    }, 60_000, 'the city counting the transferred case at 高坪区 only')
    // Counted as transferred where it was taken in.
    await eventually(async () => (await as(V1)('GET', '/api/stats')).body.totals.transferred >= 1, 120_000, 'the transfer in the village statistics')
  }, 300_000)

  it('a city item taken in at a village goes only up', async () => {
    const item = items.find((i) => i.level === 'city')
    const applicant = { name: '市级事项郑某', idType: 'resident-id', idNumber: '511302197707070048', phone: '13655556666' }
    const made = await as(V1)('POST', '/api/cases', { itemCode: item.code, applicant, materials: required(item) })
    expect(made.body.handlerCode).toBe(CITY)
    const id = made.body.id
    await eventually(async () => (await as(CITY)('GET', `/api/cases/${id}`)).status === 200, 90_000, 'the city item at the city')
    const path = [V1, T1, C1, CITY]
    secrets.push({ path, applicant })
    for (const n of nodes) expect((await as(n.code)('GET', `/api/cases/${id}`)).status, n.code).toBe(path.includes(n.code) ? 200 : 404)
  }, 300_000)

  it('a renamed unit keeps its code: `tongban child rename` at the parent reaches every node’s directory', async () => {
    const { execFileSync } = await import('node:child_process')
    execFileSync(process.execPath, [join(process.cwd(), 'bin/tongban.mjs'), 'child', 'rename', '--data', at(C2).dataDir, '--code', '511303101000', '--name', '东观街道'], { stdio: 'pipe' })
    for (const code of [V1, C2, '511303101201']) {
      await eventually(async () => {
        const u = (await as(code)('GET', '/api/units?q=511303101000')).body.units[0]
        return u?.name === '东观街道' && u.code === '511303101000' && u.active
      }, 90_000, `the new name at ${code}`)
    }
    // The unit still takes cases under its code: its link was not cut.
    const h = await eventually(async () => {
      const r = await (await fetch(`${at('511303101000').url}/healthz`)).json()
      return r.sync?.parent?.connected && r
    }, 120_000, 'the renamed township still linked')
    expect(h.code).toBe('511303101000')
  }, 300_000)

  it('no node off a case’s path holds any byte of its applicant', async () => {
    expect(secrets.length).toBe(3)
    await stopTree(nodes) // clean stop: every store checkpointed to its files
    for (const { path, applicant } of secrets) {
      // The check can fail: the handler's files hold the applicant.
      expect(holds(at(path[path.length - 1]).dataDir, applicant.idNumber)).toBe(true)
      for (const spec of DEMO_TREE.filter((s) => !path.includes(s.code))) {
        for (const secret of [applicant.name, applicant.idNumber, applicant.phone]) {
          expect(holds(at(spec.code).dataDir, secret), `${secret} found under ${spec.code} ${spec.name}`).toBe(false)
        }
      }
    }
  }, 300_000)
})
