/**
 * People and names (issue 9): a user's display name and work phone; the display name recorded
 * with the login in the events a user authors (old events, with the login alone, read as before);
 * and the names of items a node's catalogue lacks, carried up by the statistics of the units below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { actorLabel, emptyCounts, parseActor } from '../../protocol/index.ts'
import { statsDocId, writeCounts, writeItemNames, writeName } from '../../nodes/core/stats/stats-doc.ts'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'

let t: TestNode
let admin: Client

beforeAll(async () => {
  t = await testNode({ level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: FIXTURE_CATALOGUE })
  admin = await t.as('admin1', 'admin')
}, 300_000)
afterAll(async () => t?.close())

describe('display names and phones', () => {
  it('an administrator adds a user with a display name and phone, and changes them', async () => {
    const r = await admin('POST', '/api/users', { name: 'staff7', role: 'staff', password: 'staff-pass', displayName: '王晓燕', phone: '0817-2221234' })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body).toMatchObject({ name: 'staff7', displayName: '王晓燕', phone: '0817-2221234' })
    const list = await admin('GET', '/api/users')
    expect(list.body.users.find((u: any) => u.name === 'staff7')).toMatchObject({ displayName: '王晓燕', phone: '0817-2221234', disabled: false })
    const p = await admin('PATCH', '/api/users/staff7', { phone: '13981712345' })
    expect(p.body).toMatchObject({ displayName: '王晓燕', phone: '13981712345' })
    const card = await (await t.as('agent1', 'agent'))('GET', '/api/users/staff7/card')
    expect(card.body).toEqual({ name: 'staff7', displayName: '王晓燕', phone: '13981712345' })
  })

  it('refuses a display name with full-width brackets or too long, and a phone that is not one, naming the field', async () => {
    for (const [body, field] of [[{ displayName: '王（小）燕' }, 'displayName'], [{ displayName: '长'.repeat(31) }, 'displayName'], [{ phone: '12345' }, 'phone']] as const) {
      const r = await admin('PATCH', '/api/users/staff7', body)
      expect(r.status).toBe(400)
      expect(r.body.error.message).toContain(field)
    }
  })

  it('a user sets their own display name; the events they author record it with the login', async () => {
    const staff = await t.as('staff8', 'staff')
    expect((await staff('PATCH', '/api/users/me', { displayName: '赵敏' })).body).toMatchObject({ name: 'staff8', displayName: '赵敏' })
    expect((await staff('GET', '/api/users/me')).body).toMatchObject({ name: 'staff8', role: 'staff', displayName: '赵敏', phone: null })
    const item = (await staff('GET', '/api/catalogue')).body.items.find((i: any) => i.level === 'township')
    const made = await staff('POST', '/api/cases', { itemCode: item.code, applicant, materials: item.materials.filter((m: any) => m.required).map((m: any) => m.name) })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    const c = (await staff('GET', `/api/cases/${made.body.id}`)).body
    expect(c.createdBy).toBe('赵敏（staff8）')
    for (const e of c.events) expect(e.user).toBe('赵敏（staff8）')
    // Without a display name the login alone, as every event before display names.
    const plain = await t.as('staff9', 'staff')
    const other = (await plain('POST', '/api/cases', { itemCode: item.code, applicant, materials: item.materials.filter((m: any) => m.required).map((m: any) => m.name) })).body
    expect((await plain('GET', `/api/cases/${other.id}`)).body.createdBy).toBe('staff9')
  })

  it('actorLabel and parseActor are inverses; a login alone reads as the login', () => {
    expect(parseActor(actorLabel('agent2', '李秀兰'))).toEqual({ login: 'agent2', displayName: '李秀兰' })
    expect(parseActor(actorLabel('agent2'))).toEqual({ login: 'agent2', displayName: null })
    expect(parseActor('staff')).toEqual({ login: 'staff', displayName: null })
  })
})

describe('item names travel with the statistics', () => {
  it('an item the catalogue here lacks is named as the statistics from below carried it; the catalogue name wins where it has one', async () => {
    const month = new Date().toISOString().slice(0, 7)
    const day = `${month}-01`
    const counts = { ...emptyCounts(), accepted: 1 }
    const known = (await admin('GET', '/api/catalogue?all=true')).body.items[0]
    await t.node.docs.change(statsDocId(VILLAGE, month), (doc) => {
      writeCounts(doc, new Map([[`${day}|LOCAL-77`, counts], [`${day}|${known.code}`, counts]]))
      writeName(doc, '长青村')
      writeItemNames(doc, new Map([['LOCAL-77', '本村自有事项'], [known.code, '别名']]))
    }, `child:${VILLAGE}`)
    const r = await admin('GET', `/api/stats?groupBy=item&from=${day}&to=${day}`)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.rows.map((x: any) => x.key)).toEqual(expect.arrayContaining(['LOCAL-77', known.code]))
    expect(r.body.itemNames).toMatchObject({ 'LOCAL-77': '本村自有事项', [known.code]: known.name })
    // `names` holds the units an answer shows (session 6): by item, this node and no village;
    // by child, the village, named as its statistics carried it.
    expect(r.body.names[VILLAGE]).toBeUndefined()
    const byChild = await admin('GET', `/api/stats?groupBy=child&from=${day}&to=${day}`)
    expect(byChild.status, JSON.stringify(byChild.body)).toBe(200)
    expect(byChild.body.rows.map((x: any) => x.key)).toContain(VILLAGE)
    expect(byChild.body.names[VILLAGE]).toBe('长青村')
  })
})
