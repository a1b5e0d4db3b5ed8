/** /api/catalogue: what each level's windows see, and the city's editing (items, versions, retiring, CSV). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, TEST_PASSWORD, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { CITY, COUNTY, FIXTURE, FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

const nodes: TestNode[] = []
afterAll(async () => {
  for (const n of nodes) await n.close()
})
async function open(level: 'city' | 'county' | 'township' | 'village', code: string): Promise<TestNode> {
  const n = await testNode({ level, code, catalogue: FIXTURE_CATALOGUE })
  nodes.push(n)
  return n
}

let village: TestNode
beforeAll(async () => {
  village = await open('village', VILLAGE)
}, 300_000)
const live = FIXTURE.items.filter((i) => !i.retired)
const levelsOf = (items: { level: string }[]) => [...new Set(items.map((i) => i.level))].sort()

describe('GET /api/catalogue: the items handled at the node\'s level or above', { timeout: 180_000 }, () => {
  it('a village sees every level', async () => {
    const agent = await village.as('agent', 'agent')
    const r = await agent('GET', '/api/catalogue')
    expect(r.status).toBe(200)
    expect(levelsOf(r.body.items)).toEqual(['city', 'county', 'township', 'village'])
    expect(r.body.items.map((i: any) => i.code).sort()).toEqual(live.map((i) => i.code).sort())
  })

  it('a township sees township, county and city items', async () => {
    const staff = await (await open('township', TOWNSHIP)).as('staff', 'staff')
    const r = await staff('GET', '/api/catalogue')
    expect(levelsOf(r.body.items)).toEqual(['city', 'county', 'township'])
  })

  it('a county sees county and city items only', async () => {
    const staff = await (await open('county', COUNTY)).as('staff', 'staff')
    const r = await staff('GET', '/api/catalogue')
    expect(levelsOf(r.body.items)).toEqual(['city', 'county'])
    expect(r.body.items.map((i: any) => i.code).sort()).toEqual(live.filter((i) => i.level === 'county' || i.level === 'city').map((i) => i.code).sort())
  })

  it('retired items only on request', async () => {
    const agent = await village.as('agent', 'agent')
    const r = await agent('GET', '/api/catalogue?retired=true')
    expect(r.body.items.map((i: any) => i.code)).toContain('V-R01')
    expect((await agent('GET', '/api/catalogue')).body.items.map((i: any) => i.code)).not.toContain('V-R01')
  })
})

const newItem = {
  code: 'S-NEW1', name: '建筑工程施工许可', department: '市住房和城乡建设局', level: 'city', kind: 'promised',
  legalDays: 15, promisedDays: 3, materials: [{ name: '施工许可申请表', required: true }, { name: '施工合同', required: true }, { name: '质量安全监督手续', required: false }],
}

describe('editing the catalogue at the city', { timeout: 300_000 }, () => {
  let city: TestNode
  let admin: Client, staff: Client

  beforeAll(async () => {
    city = await open('city', CITY)
    admin = await city.as('admin', 'admin')
    staff = await city.as('staff', 'staff')
  }, 300_000)

  it('POST /api/catalogue/items by an admin → 201, version 1, listed', async () => {
    const r = await admin('POST', '/api/catalogue/items', newItem)
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ ...newItem, version: 1, retired: false, scope: CITY })
    const list = await staff('GET', '/api/catalogue')
    expect(list.body.items.find((i: any) => i.code === 'S-NEW1')).toMatchObject({ version: 1, promisedDays: 3 })
    // Posting the very same item again changes nothing.
    const again = await admin('POST', '/api/catalogue/items', newItem)
    expect(again.status).toBe(200)
    expect(again.body.version).toBe(1)
  })

  it('an invalid item → 400 naming the field at fault', async () => {
    const instantWithDays = await admin('POST', '/api/catalogue/items', { ...newItem, code: 'S-BAD1', kind: 'instant', promisedDays: 3 })
    expect(instantWithDays.status).toBe(400)
    expect(instantWithDays.body.error.code).toBe('invalid_input')
    expect(instantWithDays.body.error.message).toContain('promisedDays')

    const overLegal = await admin('POST', '/api/catalogue/items', { ...newItem, code: 'S-BAD2', promisedDays: 30 })
    expect(overLegal.status).toBe(400)
    expect(overLegal.body.error.message).toMatch(/promisedDays: the promised time limit may not exceed the legal one/)

    const { department: _d, ...noDepartment } = newItem
    const missing = await admin('POST', '/api/catalogue/items', { ...noDepartment, code: 'S-BAD3' })
    expect(missing.status).toBe(400)
    expect(missing.body.error.message).toContain('department')

    const badLevel = await admin('POST', '/api/catalogue/items', { ...newItem, code: 'S-BAD4', level: 'province' })
    expect(badLevel.status).toBe(400)
    expect(badLevel.body.error.message).toContain('level')
    // None of them was stored.
    const codes = (await staff('GET', '/api/catalogue?retired=true')).body.items.map((i: any) => i.code)
    expect(codes.filter((c: string) => c.startsWith('S-BAD'))).toEqual([])
  })

  it('a non-admin → 403', async () => {
    for (const role of ['staff', 'supervisor', 'agent'] as const) {
      const who = await city.as(`${role}-x`, role)
      const r = await who('POST', '/api/catalogue/items', { ...newItem, code: 'S-NEW9' })
      expect(r.status, role).toBe(403)
      expect(r.body.error.code).toBe('forbidden')
      expect((await who('PATCH', '/api/catalogue/items/S-P01', { promisedDays: 1 })).status, role).toBe(403)
    }
    expect((await staff('GET', '/api/catalogue/items/S-NEW9')).status).toBe(404)
  })

  it('an admin at a village → 403: the village receives the catalogue', async () => {
    const admin = await village.as('village-admin', 'admin')
    const r = await admin('POST', '/api/catalogue/items', { ...newItem, level: 'village', code: 'V-NEW1' })
    expect(r.status).toBe(403)
    expect(r.body.error.message).toMatch(/published by the city/)
    expect((await admin('POST', '/api/catalogue/items/V-I01/retire')).status).toBe(403)
    expect((await admin('GET', '/api/catalogue/items/V-NEW1')).status).toBe(404)
  })

  it('PATCH bumps the version and keeps the other fields', async () => {
    const before = (await staff('GET', '/api/catalogue/items/S-P01')).body
    const r = await admin('PATCH', '/api/catalogue/items/S-P01', { promisedDays: 7, fee: '不收费' })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ ...before, promisedDays: 7, version: before.version + 1 })
    const r2 = await admin('PATCH', '/api/catalogue/items/S-P01', { materials: [...before.materials, { name: '车辆清单', required: false }] })
    expect(r2.body.version).toBe(before.version + 2)
    expect(r2.body.promisedDays).toBe(7)
    expect((await staff('GET', '/api/catalogue/items/S-P01')).body.version).toBe(before.version + 2)

    const bad = await admin('PATCH', '/api/catalogue/items/S-P01', { promisedDays: 99 })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('promisedDays')
    expect((await staff('GET', '/api/catalogue/items/S-P01')).body.version).toBe(before.version + 2)
    expect((await admin('PATCH', '/api/catalogue/items/S-NOPE', { promisedDays: 1 })).status).toBe(404)
  })

  it('retiring keeps the old cases readable and actionable, and refuses new ones', async () => {
    const item = (await staff('GET', '/api/catalogue/items/S-I01')).body
    const intake = await staff('POST', '/api/cases', { itemCode: 'S-I01', applicant, materials: requiredOf('S-I01') })
    expect(intake.status).toBe(201)
    expect(intake.body).toMatchObject({ status: 'accepted', handlerCode: CITY })

    const retired = await admin('POST', '/api/catalogue/items/S-I01/retire')
    expect(retired.status).toBe(200)
    expect(retired.body).toMatchObject({ retired: true, version: item.version + 1 })
    expect((await staff('GET', '/api/catalogue')).body.items.map((i: any) => i.code)).not.toContain('S-I01')

    const old = await staff('GET', `/api/cases/${intake.body.id}`)
    expect(old.status).toBe(200)
    expect(old.body).toMatchObject({ id: intake.body.id, itemCode: 'S-I01', itemVersion: item.version, status: 'accepted' })
    const approved = await staff('POST', `/api/cases/${intake.body.id}/events`, { type: 'approved' })
    expect(approved.status).toBe(200)
    expect(approved.body.status).toBe('approved')

    const fresh = await staff('POST', '/api/cases', { itemCode: 'S-I01', applicant, materials: requiredOf('S-I01') })
    expect(fresh.status).toBe(409)
    expect(fresh.body.error.code).toBe('item_retired')
  })

  describe('CSV import', () => {
    const header = 'code,name,department,level,kind,legalDays,promisedDays,materials,fee,online,maxVisits,pinyin'
    const post = async (csv: string) => {
      const { token } = await city.node.users.login({ name: 'admin', password: TEST_PASSWORD })
      const res = await city.app.request('/api/catalogue/import', {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv; charset=utf-8' }, body: csv,
      })
      return { status: res.status, body: (await res.json()) as any }
    }

    it('imports good rows, with required materials marked by *', async () => {
      const csv = [
        header,
        'S-CSV1,排污许可证核发,市生态环境局,city,promised,20,10,"排污许可证申请表*;营业执照*;自行监测方案",不收费,false,2,pwxkzhf',
        'C-CSV1,"公共场所卫生许可, 新办",县卫生健康局,county,promised,20,10,申请表*；营业执照*,不收费,是,1,',
      ].join('\r\n')
      const r = await post(csv)
      expect(r).toEqual({ status: 200, body: { added: 2, changed: 0, unchanged: 0 } })
      const s = (await staff('GET', '/api/catalogue/items/S-CSV1')).body
      expect(s).toMatchObject({ level: 'city', kind: 'promised', promisedDays: 10, maxVisits: 2, version: 1, pinyin: 'pwxkzhf' })
      expect(s.materials).toEqual([
        { name: '排污许可证申请表', required: true }, { name: '营业执照', required: true }, { name: '自行监测方案', required: false },
      ])
      const c = (await staff('GET', '/api/catalogue/items/C-CSV1')).body
      expect(c).toMatchObject({ name: '公共场所卫生许可, 新办', online: true })
      // Importing the same file again changes nothing; a changed row bumps that item's version.
      expect((await post(csv)).body).toEqual({ added: 0, changed: 0, unchanged: 2 })
      expect((await post(csv.replace(',20,10,"排污', ',20,8,"排污'))).body).toEqual({ added: 0, changed: 1, unchanged: 1 })
      expect((await staff('GET', '/api/catalogue/items/S-CSV1')).body).toMatchObject({ promisedDays: 8, version: 2 })
    })

    it('marks a deferrable material (容缺) by *+ and takes the kind of result from an optional resultKind column', async () => {
      const csv = [
        `${header},resultKind`,
        'C-CSV9,个体工商户登记,县市场监督管理局,county,instant,3,0,"申请书*;经营场所证明*+;委托书",不收费,true,0,,certificate',
      ].join('\n')
      expect((await post(csv)).status).toBe(200)
      const item = (await staff('GET', '/api/catalogue/items/C-CSV9')).body
      expect(item.resultKind).toBe('certificate')
      expect(item.materials).toEqual([{ name: '申请书', required: true }, { name: '经营场所证明', required: true, deferrable: true }, { name: '委托书', required: false }])
      const bad = await post(csv.replace(',certificate', ',permit'))
      expect(bad.status).toBe(400)
      expect(bad.body.error.message).toMatch(/resultKind/)
    })

    it('a bad row → 400 naming the row and the field, and nothing of the file is imported', async () => {
      const csv = [
        header,
        'S-CSV2,企业投资项目核准,市发展和改革委员会,city,promised,20,10,项目申请报告*,不收费,false,1,',
        'S-CSV3,施工图审查,市住房和城乡建设局,city,instant,0,5,审查申请表*,不收费,false,1,',
      ].join('\n')
      const r = await post(csv)
      expect(r.status).toBe(400)
      expect(r.body.error.code).toBe('invalid_input')
      expect(r.body.error.message).toMatch(/row 3: promisedDays/)
      expect(r.body.error.message).not.toMatch(/row 2/)
      expect((await staff('GET', '/api/catalogue/items/S-CSV2')).status).toBe(404)

      const noColumn = await post('code,name,level\nS-CSV4,x,city\n')
      expect(noColumn.status).toBe(400)
      expect(noColumn.body.error.message).toMatch(/department/)
    })
  })
})
