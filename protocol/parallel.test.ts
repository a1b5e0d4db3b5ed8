import { describe, expect, it } from 'vitest'
import { WorkingDays } from './calendar.ts'
import { CaseEventSchema, EventInputSchema, type CaseEvent, type EventType } from './case.ts'
import { CatalogueItemSchema } from './catalogue.ts'
import { denialReason, mayGiveOpinion, ParallelSchema, pendingDepartments } from './parallel.ts'
import { allowedNext, foldCase } from './state-machine.ts'

const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
const days = new WorkingDays([])
// 2026-11-23 is a Monday; 11-28/29 are a weekend.
const APP = {
  kind: 'promised' as const, promisedDays: 10, originCode: VILLAGE, handlerCode: TOWNSHIP,
  parallel: [{ department: '自然资源所', days: 3 }, { department: '规划建设办', days: 5 }],
}

let n = 0
function ev(type: EventType, lamport: number, extra: Record<string, unknown> = {}, at = '2026-11-23T02:00:00Z'): CaseEvent {
  return { id: `p${++n}`.padStart(22, '0'), lamport, author: TOWNSHIP, user: '王芳（wangf）', at, sig: 'S'.repeat(86), type, ...extra } as CaseEvent
}
const yes = (department: string, lamport: number, at?: string) => ev('opinion', lamport, { department, agree: true }, at)
const no = (department: string, lamport: number, reason: string, at?: string) => ev('opinion', lamport, { department, agree: false, reason }, at)

describe('并联审批: the opinion event', () => {
  it('a 不同意 needs its reason; a 同意 does not', () => {
    expect(EventInputSchema.safeParse({ type: 'opinion', department: '自然资源所', agree: true }).success).toBe(true)
    const bad = EventInputSchema.safeParse({ type: 'opinion', department: '自然资源所', agree: false })
    expect(bad.success).toBe(false)
    expect(bad.error!.issues[0].message).toContain('不同意须写明理由')
    expect(EventInputSchema.safeParse({ type: 'opinion', department: '自然资源所', agree: false, reason: '  ' }).success).toBe(false)
    expect(EventInputSchema.safeParse({ type: 'opinion', department: '', agree: true }).success).toBe(false)
    expect(CaseEventSchema.safeParse(no('自然资源所', 2, '占用基本农田')).success).toBe(true)
  })

  it('opinions are pending with their own due dates from acceptance; the approval waits for both', () => {
    const f = foldCase(APP, [ev('accepted', 1), yes('自然资源所', 2, '2026-11-24T02:00:00Z'), ev('approved', 3, {}, '2026-11-24T03:00:00Z')], days)
    expect(f.status).toBe('accepted')
    expect(f.opinions.map((o) => [o.department, o.dueDate, o.opinion?.agree ?? null])).toEqual([
      ['自然资源所', '2026-11-26', true],
      ['规划建设办', '2026-11-30', null],
    ])
    expect(pendingDepartments(f.opinions)).toEqual(['规划建设办'])
    expect(f.flagged).toEqual([{ eventId: expect.any(String), reason: '待规划建设办出具意见后方可准予 (the approval waits for the opinions of 规划建设办)' }])
    expect(allowedNext('accepted', false, 0, null, f.opinions)).toContain('opinion')
    expect(allowedNext('accepted', false, 0, null, f.opinions)).not.toContain('approved')
  })

  it('all agree: the case may be approved, and no more opinions are asked', () => {
    const f = foldCase(APP, [ev('accepted', 1), yes('自然资源所', 2), yes('规划建设办', 3), ev('approved', 4)], days)
    expect(f.status).toBe('approved')
    expect(f.flagged).toEqual([])
    expect(pendingDepartments(f.opinions)).toEqual([])
    const before = foldCase(APP, [ev('accepted', 1), yes('自然资源所', 2), yes('规划建设办', 3)], days)
    expect(allowedNext('accepted', false, 0, null, before.opinions).sort()).toEqual(['approved', 'correction-requested', 'denied', 'transferred', 'withdrawn'])
  })

  it('one 不同意: approval is refused, the denial carries that department\'s reason', () => {
    const events = [ev('accepted', 1), yes('自然资源所', 2), no('规划建设办', 3, '不符合村庄规划', '2026-11-24T02:00:00Z')]
    const f = foldCase(APP, events, days)
    expect(allowedNext('accepted', false, 0, null, f.opinions)).not.toContain('approved')
    expect(denialReason(f.opinions)).toBe('规划建设办：不符合村庄规划')
    const approved = foldCase(APP, [...events, ev('approved', 4)], days)
    expect(approved.status).toBe('accepted')
    expect(approved.flagged[0].reason).toContain('规划建设办不同意（不符合村庄规划），只能作出不予决定')
    const denied = foldCase(APP, [...events, ev('denied', 4, { reason: '规划建设办：不符合村庄规划' })], days)
    expect(denied.status).toBe('denied')
    expect(denied.decision).toBe('denied')
  })

  it('the first opinion of a department counts; a second, an unknown department, or one outside acceptance is flagged', () => {
    const f = foldCase(APP, [
      yes('自然资源所', 1), ev('accepted', 2), no('自然资源所', 3, '占用耕地'), yes('自然资源所', 4), yes('财政所', 5),
    ], days)
    const reasons = f.flagged.map((x) => x.reason)
    expect(reasons).toEqual([
      '受理后、办结前才出具部门意见 (an opinion is given while the case is accepted, not while submitted)',
      '自然资源所已经出具意见，以第一次为准 (自然资源所 has already given its opinion)',
      '财政所不是本事项的并联部门（自然资源所、规划建设办） (not a department of this item)',
    ])
    expect(f.opinions[0].opinion).toMatchObject({ agree: false, reason: '占用耕地' })
    // An item without departments takes no opinion.
    const plain = foldCase({ ...APP, parallel: undefined }, [ev('accepted', 1), yes('自然资源所', 2)], days)
    expect(plain.flagged[0].reason).toContain('本事项不是并联审批事项')
    expect(plain.opinions).toEqual([])
  })

  it('an opinion is the handler\'s: the village window may not give one', () => {
    const f = foldCase(APP, [ev('accepted', 1), { ...yes('自然资源所', 2), author: VILLAGE }], days)
    expect(f.unauthorised.length).toBe(1)
    expect(f.opinions[0].opinion).toBeNull()
  })

  it('a correction pushes the departments\' due dates back like the case\'s', () => {
    const f = foldCase(APP, [
      ev('accepted', 1), ev('correction-requested', 2, { materials: ['规划图'] }, '2026-11-23T03:00:00Z'), ev('resumed', 3, {}, '2026-11-25T02:00:00Z'),
    ], days)
    expect(f.pausedDays).toBe(2)
    expect(f.opinions.map((o) => o.dueDate)).toEqual(['2026-11-30', '2026-12-02'])
  })

  it('a transfer starts the opinions afresh at the new handler', () => {
    const county2 = '511302102000'
    const f = foldCase(APP, [ev('accepted', 1), no('自然资源所', 2, '不在本镇'), ev('transferred', 3, { to: county2, reason: '不属本镇' })], days)
    expect(f.handlerCode).toBe(county2)
    expect(f.opinions.every((o) => o.opinion === null && o.dueDate === null)).toBe(true)
  })
})

describe('并联审批: the catalogue and who may give an opinion', () => {
  const item = {
    code: 'T-901', name: '乡村建设规划许可', department: '潆溪镇人民政府', level: 'township', kind: 'promised', legalDays: 20, promisedDays: 10,
    materials: [{ name: '申请表', required: true }],
  }
  it('an item without departments stays valid; one with them is checked', () => {
    expect(CatalogueItemSchema.safeParse(item).success).toBe(true)
    expect(CatalogueItemSchema.parse({ ...item, parallel: APP.parallel }).parallel).toEqual(APP.parallel)
    const long = CatalogueItemSchema.safeParse({ ...item, parallel: [{ department: '自然资源所', days: 12 }, { department: '规划建设办', days: 5 }] })
    expect(long.error!.issues[0]).toMatchObject({ path: ['parallel', 0, 'days'] })
    expect(long.error!.issues[0].message).toContain('超过了事项的承诺时限')
    expect(ParallelSchema.safeParse([{ department: '自然资源所', days: 3 }]).error!.issues[0].message).toContain('至少需要两个部门')
    expect(ParallelSchema.safeParse([]).success).toBe(true) // none: how a change takes the departments away
    expect(ParallelSchema.safeParse([{ department: '自然资源所', days: 3 }, { department: '自然资源所', days: 2 }]).error!.issues[0].message).toContain('重复')
    expect(ParallelSchema.safeParse([{ department: '自然资源所', days: 0 }, { department: '规划建设办', days: 2 }]).success).toBe(false)
  })

  it('only staff of the department may give its opinion', () => {
    expect(mayGiveOpinion({ role: 'staff', department: '自然资源所' }, '自然资源所')).toBeNull()
    expect(mayGiveOpinion({ role: 'staff', department: '规划建设办' }, '自然资源所')).toContain('不能出具自然资源所的意见')
    expect(mayGiveOpinion({ role: 'staff', department: null }, '自然资源所')).toContain('未设部门')
    expect(mayGiveOpinion({ role: 'agent', department: '自然资源所' }, '自然资源所')).toContain('工作人员')
  })
})
