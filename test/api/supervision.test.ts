/**
 * 电子监察 at one township's API, on a test clock: a case accepted here turns yellow the working
 * day before its due date and red after it — when the watcher re-checks the cases whose day has
 * come, not on any change of theirs; a decision clears the case's warning as soon as it is
 * recorded; the list filters by type and level and carries no personal data. 督办 to
 * the unit itself: listed in and out, answered by its staff (not by a supervisor), late or not.
 * (Across nodes, and hostile children: test/ui/supervision.test.ts, test/attack/supervision.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicant, testNode, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP, requiredOf, testClock } from '../fixtures/catalogue.ts'

const clock = testClock('2026-03-02T10:00:00+08:00') // a Monday
let t: TestNode
let staff: Client
let supervisor: Client
let a = ''
let b = ''

beforeAll(async () => {
  t = await testNode({ level: 'township', code: TOWNSHIP, name: '潆溪镇', catalogue: FIXTURE_CATALOGUE, now: clock.now })
  staff = await t.as('staff', 'staff')
  supervisor = await t.as('jd', 'supervisor')
  for (const phone of ['13800000001', '13800000002']) {
    const r = await staff('POST', '/api/cases', { itemCode: 'T-P01', applicant: { ...applicant, phone }, materials: requiredOf('T-P01') })
    expect(r.body.status).toBe('accepted') // taken in at its own handler: accepted on the spot; due 5 working days later, 03-09
    if (a) b = r.body.id
    else a = r.body.id
  }
}, 300_000)
afterAll(async () => t?.close())

/** Moves the clock and lets the watcher re-check the cases due (its 5-minute tick, at once). */
async function at(instant: string) {
  clock.set(instant)
  // Sessions expire with the clock: log in again on the new day.
  staff = await t.as('staff', 'staff')
  supervisor = await t.as('jd', 'supervisor')
  await t.node.supervision.watcher.due()
  await t.node.supervision.watcher.settle()
}
const list = async (q = '') => (await supervisor('GET', `/api/supervision${q}`)).body

describe('电子监察 warnings move with the calendar', () => {
  it('none while the case is in time', async () => {
    await at('2026-03-05T10:00:00+08:00')
    expect((await list()).warnings).toEqual([])
  })

  it('yellow from the working day before the due date, red after it', async () => {
    await at('2026-03-06T10:00:00+08:00')
    expect((await list()).warnings.map((w: { caseId: string; level: string }) => `${w.caseId} ${w.level}`)).toEqual([`${a} yellow`, `${b} yellow`])
    await at('2026-03-10T09:00:00+08:00')
    const r = await list()
    expect(r).toMatchObject({ red: 2, yellow: 0 })
    expect(r.warnings[0]).toMatchObject({ caseId: a, itemName: '高龄津贴申请', unit: TOWNSHIP, unitName: '潆溪镇', type: 'overdue', typeName: '超期', level: 'red', since: '2026-03-10' })
    for (const personal of [applicant.name, applicant.idNumber, '13800000001']) expect(JSON.stringify(r)).not.toContain(personal)
    expect((await list('?level=yellow')).warnings).toEqual([])
    expect((await list('?type=flow')).warnings).toEqual([])
    expect((await list('?type=overdue&level=red')).warnings).toHaveLength(2)
  })

  it('a decision clears the case at once (its change re-checks it); the other stays red', async () => {
    const done = await staff('POST', `/api/cases/${b}/events`, { type: 'approved' })
    expect(done.status, JSON.stringify(done.body)).toBe(200)
    await t.node.supervision.watcher.settle()
    expect((await list()).warnings.map((w: { caseId: string }) => w.caseId)).toEqual([a])
  })

  it('only a supervisor reads the list; a bad filter is a 400 naming it', async () => {
    expect((await staff('GET', '/api/supervision')).status).toBe(403)
    const bad = await supervisor('GET', '/api/supervision?type=late')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/type/)
  })
})

describe('督办 at one unit', () => {
  it('a supervisor sends it; staff see it in their box and reply; the supervisor sees the reply and that it was on time', async () => {
    const sent = await supervisor('POST', '/api/notices', { target: TOWNSHIP, caseId: a, type: 'overdue', text: '请于三日内办结', deadline: '2026-03-12' })
    expect(sent.status).toBe(201)
    expect(sent.body).toMatchObject({ issuer: TOWNSHIP, target: TOWNSHIP, caseId: a, typeName: '超期', reply: null, late: false })
    expect((await staff('GET', '/api/notices')).body).toMatchObject({ box: 'in', awaiting: 1 })
    expect((await supervisor('POST', `/api/notices/${sent.body.id}/reply`, { text: '代答' })).status).toBe(403)
    expect((await staff('POST', `/api/notices/${sent.body.id}/reply`, {})).status).toBe(400)
    const replied = await staff('POST', `/api/notices/${sent.body.id}/reply`, { text: '已办结' })
    expect(replied.status).toBe(200)
    expect(replied.body).toMatchObject({ replies: 1, reply: { text: '已办结', user: 'staff' }, late: false })
    const out = (await supervisor('GET', '/api/notices?box=out')).body
    expect(out).toMatchObject({ box: 'out', awaiting: 0 })
    expect((await list()).warnings[0].notices).toBe(1)
  })

  it('a reply after the deadline is late; a notice past its deadline without a reply is late', async () => {
    const sent = (await supervisor('POST', '/api/notices', { target: TOWNSHIP, text: '请说明', deadline: '2026-03-10' })).body
    await at('2026-03-11T10:00:00+08:00')
    expect((await staff('GET', '/api/notices')).body.notices.find((n: { id: string }) => n.id === sent.id)).toMatchObject({ reply: null, late: true })
    expect((await staff('POST', `/api/notices/${sent.id}/reply`, { text: '迟复' })).body).toMatchObject({ late: true })
  })

  it('refuses a unit outside the subtree, one the directory does not know, a past deadline, a bad box', async () => {
    const outside = await supervisor('POST', '/api/notices', { target: '511302000000', text: '请办理', deadline: '2026-03-20' })
    expect(outside.status).toBe(400)
    expect(outside.body.error.message).toMatch(/督办只能发给本级及下辖单位/)
    const unknown = await supervisor('POST', '/api/notices', { target: '511302101299', text: '请办理', deadline: '2026-03-20' })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toMatch(/不在单位目录中/)
    expect((await supervisor('POST', '/api/notices', { target: TOWNSHIP, text: '请办理', deadline: '2026-03-01' })).body.error.message).toMatch(/办理期限不能早于今天/)
    expect((await supervisor('POST', '/api/notices', { target: TOWNSHIP, text: '', deadline: '2026-03-20' })).body.error.message).toMatch(/请填写督办内容/)
    expect((await staff('POST', '/api/notices', { target: TOWNSHIP, text: '请办理', deadline: '2026-03-20' })).status).toBe(403)
    expect((await staff('GET', '/api/notices?box=all')).status).toBe(400)
  })
})
