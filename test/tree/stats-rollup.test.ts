/**
 * Statistics rolled up the tree (issue 11 goal 2), real processes and sockets: city – county –
 * township – village. A case the village takes in and completes shows in the city's figures
 * and in every drill-down the city's dashboard offers — the county, the township, the village
 * — though the city holds only its county's rollup, not the village's raw statistics.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest'
import { DEMO_TREE, startTree, stopTree, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { trustNode } from '../helpers/tls.ts'

const tmp = tempDir('tongban-rollup-')
const CITY = '511300000000'
const C1 = '511302000000'
const T1 = '511302101000'
const V1 = '511302101201'
let nodes: TreeNode[] = []
const remotes = new Map<string, Remote>()
const as = (code: string) => remotes.get(code)!

describe('statistics rolled up from a village to the city', () => {
  beforeAll(async () => {
    nodes = await startTree(tmp.dir, DEMO_TREE.filter((n) => [CITY, C1, T1, V1].includes(n.code)))
    nodes.forEach(trustNode)
    for (const n of nodes) remotes.set(n.code, await login(n.url, n.level === 'village' ? 'agent' : 'staff'))
  }, 400_000)

  beforeEach(() => onTestFailed(() => {
    for (const n of nodes) {
      const said = n.log.join('').split('\n').filter((l) => /refus|error|fail|stats/i.test(l)).slice(-15)
      if (said.length) console.error(`--- ${n.code} ${n.name}\n${said.join('\n')}`)
    }
  }))

  afterAll(async () => {
    await stopTree(nodes)
    tmp.cleanup()
  }, 300_000)

  it('a case completed at the village counts at the city and in each drill-down', async () => {
    const items = await eventually(async () => {
      const r = await as(V1)('GET', '/api/catalogue')
      return r.body.items?.length > 0 && r.body.items
    }, 120_000, 'the catalogue at the village')
    const item = items.find((i: any) => i.level === 'village' && i.kind === 'instant') ?? items.find((i: any) => i.level === 'village')
    const applicant = { name: '统计张某', idType: 'resident-id', idNumber: '51130219850715003X', phone: '13800001111' }
    const materials = item.materials.filter((m: any) => m.required).map((m: any) => m.name)
    const made = await as(V1)('POST', '/api/cases', { itemCode: item.code, applicant, materials })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    const id = made.body.id
    // Taken in where it is decided, the village accepts it on the spot (当场受理).
    if (made.body.status === 'submitted') expect((await as(V1)('POST', `/api/cases/${id}/events`, { type: 'accepted' })).status).toBe(200)
    expect((await as(V1)('POST', `/api/cases/${id}/events`, { type: 'approved' })).status).toBe(200)

    // City total, then each level the dashboard drills into: 县 → 乡镇 → 村.
    const city = await eventually(async () => {
      const r = await as(CITY)('GET', '/api/stats?groupBy=child')
      return r.body.totals.accepted >= 1 && r.body.totals.completed >= 1 && r.body
    }, 180_000, 'the village case in the city\'s figures (three rollups up)')
    expect(city.rows.find((r: any) => r.key === C1)).toMatchObject({ accepted: 1, completed: 1 })
    expect(city.skipped).toBe(0)
    const county = (await as(CITY)('GET', `/api/stats?groupBy=child&under=${C1}`)).body
    expect(county.rows.find((r: any) => r.key === T1)).toMatchObject({ accepted: 1, completed: 1 })
    expect(county.names[T1]).toBe('潆溪镇')
    const township = (await as(CITY)('GET', `/api/stats?groupBy=child&under=${T1}`)).body
    expect(township.rows.map((r: any) => [r.key, r.accepted])).toEqual([[V1, 1]])
    expect(township.names[V1]).toBe('长青村')
    const village = (await as(CITY)('GET', `/api/stats?groupBy=day&under=${V1}`)).body
    expect(village.totals).toMatchObject({ accepted: 1, completed: 1 })
    expect(village.rows).toHaveLength(1)
    // By item: the city has it for the whole city and its county; under the township, the county has it.
    const byItem = (await as(CITY)('GET', '/api/stats?groupBy=item')).body
    expect(byItem.rows.find((r: any) => r.key === item.code)).toMatchObject({ accepted: 1 })
    expect((await as(CITY)('GET', `/api/stats?groupBy=item&under=${C1}`)).body.rows.find((r: any) => r.key === item.code)).toMatchObject({ accepted: 1 })
    const below = (await as(CITY)('GET', `/api/stats?groupBy=item&under=${T1}`)).body
    expect(below).toMatchObject({ notHeld: 'item', rows: [], totals: { accepted: 1 } })
    expect((await as(C1)('GET', `/api/stats?groupBy=item&under=${T1}`)).body.rows.find((r: any) => r.key === item.code)).toMatchObject({ accepted: 1 })
    // 办理地 too: the village decided it.
    await eventually(async () => (await as(CITY)('GET', `/api/stats?by=handler&groupBy=child&under=${T1}`)).body.rows.some((r: any) => r.key === V1 && r.completed === 1), 60_000, 'by handler at the city')
  }, 400_000)
})
