import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { allowedNext, compareEvents, foldCase, type Folded } from './state-machine.ts'
import { localDate, WorkingDays } from './calendar.ts'
import { CASE_STATUSES, CaseEventSchema, EVENT_TYPES, type CaseEvent, type EventType } from './case.ts'

const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
const COUNTY = '511302000000'

// No holidays in Nov/Dec 2026: 2026-11-23 is a Monday, 11-28/29 and 12-05/06 are weekends.
const days = new WorkingDays([
  {
    year: 2026,
    holidays: ['01', '02', '03', '04', '05', '06', '07'].map((d) => ({ date: `2026-10-${d}`, name: '国庆节' })),
    workdays: [{ date: '2026-10-10', name: '调休上班' }],
  },
])

const PROMISED5 = { kind: 'promised' as const, promisedDays: 5 }
const INSTANT = { kind: 'instant' as const, promisedDays: 0 }

interface Opts { id?: string; author?: string; at?: string; rating?: number; to?: string; materials?: string[]; passed?: boolean; department?: string; agree?: boolean; reason?: string }
let counter = 0
/** An event of `type` at Lamport `lamport`; 10:00 China time on 2026-11-23 unless `at` is given. */
function ev(type: EventType, lamport: number, o: Opts = {}): CaseEvent {
  const base = {
    id: o.id ?? `e${++counter}`,
    lamport,
    author: o.author ?? COUNTY,
    user: 'u1',
    at: o.at ?? '2026-11-23T02:00:00Z',
    sig: 'S'.repeat(86),
  }
  switch (type) {
    case 'rated': return { ...base, type, rating: o.rating ?? 5 }
    case 'denied': return { ...base, type, reason: '不符合法定条件' }
    case 'refused': return { ...base, type, reason: '不属于本机关职权范围' }
    case 'supplied': return { ...base, type, materials: o.materials ?? ['营业执照'] }
    case 'rectified': return { ...base, type, reply: '已约谈窗口人员，向申请人致歉' }
    case 'rectification-checked': return { ...base, type, passed: o.passed ?? true }
    case 'correction-requested': return { ...base, type, materials: ['户口簿'] }
    case 'transferred': return { ...base, type, to: o.to ?? '511303000000', reason: '户籍不在本区' }
    case 'opinion': return { ...base, type, department: o.department ?? '自然资源所', agree: o.agree ?? true, ...(o.agree === false ? { reason: o.reason ?? '占用基本农田' } : {}) }
    case 'attached': return { ...base, type, hash: 'a'.repeat(64), size: 200_000, mime: 'image/jpeg', name: '身份证正面.jpg' }
    default: return { ...base, type }
  }
}
/** 10:00 China time on the given local date. */
const at10 = (date: string) => `${date}T02:00:00Z`

describe('compareEvents', () => {
  it('orders by Lamport clock first', () => {
    const a = ev('accepted', 1, { author: VILLAGE, id: 'z' })
    const b = ev('approved', 2, { author: COUNTY, id: 'a' })
    expect(compareEvents(a, b)).toBeLessThan(0)
    expect(compareEvents(b, a)).toBeGreaterThan(0)
  })

  it('then by author code, then by id', () => {
    const county = ev('approved', 2, { author: COUNTY, id: 'z' })
    const village = ev('withdrawn', 2, { author: VILLAGE, id: 'a' })
    expect(compareEvents(county, village)).toBeLessThan(0)
    const x = ev('approved', 2, { author: COUNTY, id: 'a' })
    const y = ev('approved', 2, { author: COUNTY, id: 'b' })
    expect(compareEvents(x, y)).toBeLessThan(0)
    expect(compareEvents(y, x)).toBeGreaterThan(0)
    expect(compareEvents(x, { ...x })).toBe(0)
  })
})

describe('allowedNext', () => {
  it('lists the transitions of each status', () => {
    expect(allowedNext('submitted', false).sort()).toEqual(['accepted', 'correction-requested', 'refused', 'transferred', 'withdrawn'])
    expect(allowedNext('accepted', false).sort()).toEqual(['approved', 'correction-requested', 'denied', 'transferred', 'withdrawn'])
    expect(allowedNext('correction', false).sort()).toEqual(['resumed', 'withdrawn'])
    expect(allowedNext('withdrawn', false)).toEqual([])
    expect(allowedNext('refused', false)).toEqual([])
  })

  it('allows one rating after delivery only', () => {
    expect(allowedNext('approved', false)).toEqual(['delivered'])
    expect(allowedNext('approved', true)).toEqual(['delivered'])
    expect(allowedNext('denied', false)).toEqual(['delivered'])
    expect(allowedNext('delivered', false)).toEqual(['rated'])
    expect(allowedNext('delivered', true)).toEqual([])
    expect(allowedNext('accepted', false)).not.toContain('rated')
  })
})

describe('foldCase: normal paths', () => {
  it('submitted with no events', () => {
    const f = foldCase(PROMISED5, [], days)
    expect(f.status).toBe('submitted')
    expect(f.dueDate).toBeNull()
    expect(f.acceptedAt).toBeNull()
    expect(f.decision).toBeNull()
    expect(f.flagged).toEqual([])
  })

  it('submitted → accepted → approved → delivered → rated', () => {
    const events = [
      ev('accepted', 1, { author: COUNTY, at: at10('2026-11-23') }),
      ev('approved', 2, { author: COUNTY, at: at10('2026-11-25') }),
      ev('delivered', 3, { author: VILLAGE, at: at10('2026-11-26') }),
      ev('rated', 4, { author: VILLAGE, at: at10('2026-11-26'), rating: 4 }),
    ]
    const steps = [1, 2, 3, 4].map((n) => foldCase(PROMISED5, events.slice(0, n), days).status)
    expect(steps).toEqual(['accepted', 'approved', 'delivered', 'delivered'])
    const f = foldCase(PROMISED5, events, days)
    expect(f.status).toBe('delivered')
    expect(f.decision).toBe('approved')
    expect(f.rating).toBe(4)
    expect(f.flagged).toEqual([])
    expect(f.acceptedAt).toBe(at10('2026-11-23'))
    expect(f.completedAt).toBe(at10('2026-11-25'))
    expect(f.deliveredAt).toBe(at10('2026-11-26'))
    // Mon 11-23 + 5 working days: Tue, Wed, Thu, Fri, (weekend), Mon 11-30
    expect(f.dueDate).toBe('2026-11-30')
    expect(f.pausedDays).toBe(0)
  })

  it('a correction returns to accepted on resume and pushes the due date back by the working days spent in it', () => {
    const events = [
      ev('accepted', 1, { at: at10('2026-11-23') }), // Monday
      ev('correction-requested', 2, { at: at10('2026-11-24') }), // Tuesday
      ev('resumed', 3, { author: VILLAGE, at: at10('2026-11-26') }), // Thursday: Wed + Thu were paused
    ]
    const during = foldCase(PROMISED5, events.slice(0, 2), days)
    expect(during.status).toBe('correction')
    expect(during.dueDate).toBe('2026-11-30') // no pause counted yet
    const f = foldCase(PROMISED5, events, days)
    expect(f.status).toBe('accepted')
    expect(f.pausedDays).toBe(2)
    // 5 + 2 = 7 working days after Mon 11-23: 24, 25, 26, 27, 30, 12-01, 12-02
    expect(f.dueDate).toBe('2026-12-02')
    expect(f.flagged).toEqual([])
    const done = foldCase(PROMISED5, [...events, ev('approved', 4, { at: at10('2026-12-01') })], days)
    expect(done.status).toBe('approved')
    expect(done.decision).toBe('approved')
  })

  it('a correction over a weekend pauses only the working days', () => {
    const f = foldCase(PROMISED5, [
      ev('accepted', 1, { at: at10('2026-11-23') }),
      ev('correction-requested', 2, { at: at10('2026-11-27') }), // Friday
      ev('resumed', 3, { at: at10('2026-11-30') }), // Monday
    ], days)
    expect(f.pausedDays).toBe(1)
    expect(f.dueDate).toBe('2026-12-01') // 6 working days after Mon 11-23
  })

  it('two corrections add up', () => {
    const f = foldCase(PROMISED5, [
      ev('accepted', 1, { at: at10('2026-11-23') }),
      ev('correction-requested', 2, { at: at10('2026-11-24') }),
      ev('resumed', 3, { at: at10('2026-11-26') }), // +2
      ev('correction-requested', 4, { at: at10('2026-11-30') }),
      ev('resumed', 5, { at: at10('2026-12-01') }), // +1
    ], days)
    expect(f.status).toBe('accepted')
    expect(f.pausedDays).toBe(3)
    expect(f.dueDate).toBe('2026-12-03') // 8 working days after Mon 11-23
  })

  it('a correction before acceptance returns to submitted and does not move the clock', () => {
    const events = [
      ev('correction-requested', 1, { at: at10('2026-11-16') }),
      ev('resumed', 2, { at: at10('2026-11-20') }),
    ]
    expect(foldCase(PROMISED5, events, days).status).toBe('submitted')
    const f = foldCase(PROMISED5, [...events, ev('accepted', 3, { at: at10('2026-11-23') })], days)
    expect(f.status).toBe('accepted')
    expect(f.pausedDays).toBe(0)
    expect(f.dueDate).toBe('2026-11-30')
  })

  it('denied after acceptance, then delivered: the decision stays denied', () => {
    const events = [ev('accepted', 1), ev('denied', 2, { at: at10('2026-11-24') })]
    const f = foldCase(PROMISED5, events, days)
    expect(f.status).toBe('denied')
    expect(f.decision).toBe('denied')
    expect(f.completedAt).toBe(at10('2026-11-24'))
    const g = foldCase(PROMISED5, [...events, ev('delivered', 3, { author: VILLAGE }), ev('rated', 4, { author: VILLAGE, rating: 1 })], days)
    expect(g.status).toBe('delivered')
    expect(g.decision).toBe('denied')
    expect(g.rating).toBe(1)
    expect(g.flagged).toEqual([])
  })

  it('不予受理 (refused while submitted): no acceptance, no due date, no decision, and nothing follows', () => {
    const f = foldCase(PROMISED5, [ev('refused', 1)], days)
    expect(f.status).toBe('refused')
    expect(f.acceptedAt).toBeNull()
    expect(f.dueDate).toBeNull()
    expect(f.decision).toBeNull()
    expect(f.completedAt).toBeNull()
    const after = foldCase(PROMISED5, [ev('refused', 1), ev('accepted', 2, { id: 'late' }), ev('delivered', 3, { id: 'd', author: VILLAGE })], days)
    expect(after.status).toBe('refused')
    expect(after.flagged.map((x) => x.eventId)).toEqual(['late', 'd'])
  })

  it('不予许可 is a decision after acceptance: denied while submitted is flagged, refused after acceptance too', () => {
    const f = foldCase(PROMISED5, [ev('denied', 1, { id: 'd' })], days)
    expect(f.status).toBe('submitted')
    expect(f.flagged).toEqual([{ eventId: 'd', reason: 'denied is not allowed while submitted' }])
    const g = foldCase(PROMISED5, [ev('accepted', 1), ev('refused', 2, { id: 'r' })], days)
    expect(g.status).toBe('accepted')
    expect(g.flagged.map((x) => x.eventId)).toEqual(['r'])
  })

  it('a refusal is the handler\'s: the origin window cannot refuse a county\'s case', () => {
    const route = { ...PROMISED5, originCode: VILLAGE, handlerCode: COUNTY }
    expect(foldCase(route, [ev('refused', 1, { author: VILLAGE, id: 'v' })], days).unauthorised).toEqual(['v'])
    expect(foldCase(route, [ev('refused', 1, { author: COUNTY })], days).status).toBe('refused')
  })

  it('withdrawn from submitted, accepted and correction', () => {
    expect(foldCase(PROMISED5, [ev('withdrawn', 1, { author: VILLAGE })], days).status).toBe('withdrawn')
    expect(foldCase(PROMISED5, [ev('accepted', 1), ev('withdrawn', 2, { author: VILLAGE })], days).status).toBe('withdrawn')
    const f = foldCase(PROMISED5, [ev('accepted', 1), ev('correction-requested', 2), ev('withdrawn', 3, { author: VILLAGE })], days)
    expect(f.status).toBe('withdrawn')
    expect(f.decision).toBeNull()
  })
})

describe('foldCase: refused transitions are flagged, not applied', () => {
  it('approve after withdrawn', () => {
    const approved = ev('approved', 3, { id: 'late-approval' })
    const f = foldCase(PROMISED5, [ev('accepted', 1), ev('withdrawn', 2, { author: VILLAGE }), approved], days)
    expect(f.status).toBe('withdrawn')
    expect(f.decision).toBeNull()
    expect(f.completedAt).toBeNull()
    expect(f.flagged).toEqual([{ eventId: 'late-approval', reason: 'approved is not allowed while withdrawn' }])
  })

  it('a second rating is flagged and the first one kept', () => {
    const f = foldCase(PROMISED5, [
      ev('accepted', 1), ev('approved', 2), ev('delivered', 3, { author: VILLAGE }),
      ev('rated', 4, { author: VILLAGE, rating: 5, id: 'r1' }),
      ev('rated', 5, { author: VILLAGE, rating: 1, id: 'r2' }),
    ], days)
    expect(f.rating).toBe(5)
    expect(f.flagged).toEqual([{ eventId: 'r2', reason: 'the case was already rated' }])
  })

  it('a rating before delivery is flagged, even after the decision', () => {
    const f = foldCase(PROMISED5, [ev('accepted', 1), ev('rated', 2, { id: 'early-rating', rating: 3 })], days)
    expect(f.rating).toBeNull()
    expect(f.status).toBe('accepted')
    expect(f.flagged).toEqual([{ eventId: 'early-rating', reason: 'a rating is given after delivery, not while accepted' }])
    const g = foldCase(PROMISED5, [ev('accepted', 1), ev('approved', 2), ev('rated', 3, { id: 'r', author: VILLAGE })], days)
    expect(g.rating).toBeNull()
    expect(g.flagged).toEqual([{ eventId: 'r', reason: 'a rating is given after delivery, not while approved' }])
    const h = foldCase(PROMISED5, [ev('accepted', 1), ev('approved', 2), ev('delivered', 3, { author: VILLAGE }), ev('rated', 4, { id: 'r', author: VILLAGE })], days)
    expect(h.rating).toBe(5)
    expect(h.flagged).toEqual([])
  })

  it('delivered before approved: the delivery is flagged, the approval applies', () => {
    const f = foldCase(PROMISED5, [ev('accepted', 1), ev('delivered', 2, { id: 'd', author: VILLAGE }), ev('approved', 3)], days)
    expect(f.status).toBe('approved')
    expect(f.deliveredAt).toBeNull()
    expect(f.flagged).toEqual([{ eventId: 'd', reason: 'delivered is not allowed while accepted' }])
  })

  it('approve without acceptance, resume without correction, and a second decision are flagged', () => {
    expect(foldCase(PROMISED5, [ev('approved', 1, { id: 'a' })], days).flagged.map((x) => x.eventId)).toEqual(['a'])
    const f = foldCase(PROMISED5, [ev('accepted', 1), ev('resumed', 2, { id: 'r' }), ev('approved', 3), ev('denied', 4, { id: 'd' })], days)
    expect(f.status).toBe('approved')
    expect(f.decision).toBe('approved')
    expect(f.flagged.map((x) => x.eventId)).toEqual(['r', 'd'])
  })

  it('concurrent approve (county) and withdraw (village) at the same Lamport time: one answer whatever the order', () => {
    const approve = ev('approved', 2, { author: COUNTY, id: 'ap' })
    const withdraw = ev('withdrawn', 2, { author: VILLAGE, id: 'wd' })
    const accept = ev('accepted', 1)
    const a = foldCase(PROMISED5, [accept, approve, withdraw], days)
    const b = foldCase(PROMISED5, [withdraw, approve, accept], days)
    // the county's code sorts first, so its approval stands and the withdrawal is flagged
    expect(a.status).toBe('approved')
    expect(a.flagged.map((x) => x.eventId)).toEqual(['wd'])
    expect(b.status).toBe(a.status)
    expect(b.flagged).toEqual(a.flagged)
  })
})

describe('foldCase: 容缺受理 (deferred materials)', () => {
  const DEFERRED = { ...PROMISED5, originCode: VILLAGE, handlerCode: COUNTY, deferred: { materials: ['营业执照', '场所证明'], commitment: '承诺补齐', deadline: '2026-11-30' } }

  it('the approval waits until every deferred material is supplied, at the window or the handler', () => {
    const accept = ev('accepted', 1)
    const early = ev('approved', 2, { id: 'early' })
    const f = foldCase(DEFERRED, [accept, early], days)
    expect(f.owed).toEqual(['营业执照', '场所证明'])
    expect(f.status).toBe('accepted')
    expect(f.flagged).toEqual([{ eventId: 'early', reason: 'the approval waits for the deferred (容缺) materials: 营业执照、场所证明' }])
    const g = foldCase(DEFERRED, [accept, ev('supplied', 2, { author: VILLAGE, materials: ['营业执照'] }), ev('supplied', 3, { materials: ['场所证明'] }), ev('approved', 4)], days)
    expect(g.owed).toEqual([])
    expect(g.status).toBe('approved')
    expect(g.flagged).toEqual([])
    expect(allowedNext('accepted', false, 1).sort()).toEqual(['correction-requested', 'denied', 'supplied', 'transferred', 'withdrawn'])
    expect(allowedNext('accepted', false, 0)).not.toContain('supplied')
  })

  it('a denial, a withdrawal or a refusal need not wait; supplying what is not owed, twice, or after the end is flagged', () => {
    expect(foldCase(DEFERRED, [ev('accepted', 1), ev('denied', 2)], days).status).toBe('denied')
    const f = foldCase(DEFERRED, [
      ev('accepted', 1), ev('supplied', 2, { id: 'a', materials: ['营业执照'] }), ev('supplied', 3, { id: 'b', materials: ['营业执照'] }),
      ev('supplied', 4, { id: 'c', materials: ['户口簿'] }), ev('withdrawn', 5, { author: VILLAGE }), ev('supplied', 6, { id: 'd', materials: ['场所证明'] }),
    ], days)
    expect(f.flagged.map((x) => x.eventId)).toEqual(['b', 'c', 'd'])
    expect(f.owed).toEqual(['场所证明'])
    // Without a deferral nothing is owed and nothing may be supplied.
    expect(foldCase(PROMISED5, [ev('accepted', 1), ev('supplied', 2, { id: 's' })], days).flagged.map((x) => x.eventId)).toEqual(['s'])
  })

  it('a relay between window and handler may not record a supply', () => {
    expect(foldCase(DEFERRED, [ev('accepted', 1), ev('supplied', 2, { id: 't', author: TOWNSHIP, materials: ['营业执照'] })], days).unauthorised).toEqual(['t'])
  })
})

describe('foldCase: 差评整改 (rectification of a bad rating)', () => {
  const done = [ev('accepted', 1), ev('approved', 2), ev('delivered', 3, { author: VILLAGE })]

  it('a rating of 不满意 opens a rectification due 15 working days on; the handler replies, a supervisor checks', () => {
    const rated = ev('rated', 4, { author: VILLAGE, rating: 2, at: at10('2026-11-23') })
    const f = foldCase(PROMISED5, [...done, rated], days)
    // Mon 11-23 + 15 working days: 3 weeks on, Mon 12-14.
    expect(f.rectification).toEqual({ status: 'open', openedAt: at10('2026-11-23'), dueDate: '2026-12-14', reply: null, closedAt: null })
    expect(allowedNext('delivered', true, 0, 'open')).toEqual(['rectified'])
    const replied = foldCase(PROMISED5, [...done, rated, ev('rectified', 5)], days)
    expect(replied.rectification).toMatchObject({ status: 'replied', reply: '已约谈窗口人员，向申请人致歉' })
    const failed = foldCase(PROMISED5, [...done, rated, ev('rectified', 5), ev('rectification-checked', 6, { passed: false })], days)
    expect(failed.rectification?.status).toBe('open')
    const closed = foldCase(PROMISED5, [...done, rated, ev('rectified', 5), ev('rectification-checked', 6, { passed: false }), ev('rectified', 7), ev('rectification-checked', 8, { at: at10('2026-11-30') })], days)
    expect(closed.rectification).toMatchObject({ status: 'closed', closedAt: at10('2026-11-30') })
    expect(closed.flagged).toEqual([])
  })

  it('a good rating opens nothing; a reply or check out of turn is flagged', () => {
    const f = foldCase(PROMISED5, [...done, ev('rated', 4, { author: VILLAGE, rating: 3 }), ev('rectified', 5, { id: 'x' })], days)
    expect(f.rectification).toBeNull()
    expect(f.flagged.map((x) => x.eventId)).toEqual(['x'])
    const g = foldCase(PROMISED5, [...done, ev('rated', 4, { author: VILLAGE, rating: 1 }), ev('rectification-checked', 5, { id: 'y' })], days)
    expect(g.rectification?.status).toBe('open')
    expect(g.flagged.map((x) => x.eventId)).toEqual(['y'])
  })
})

describe('foldCase: duplicates', () => {
  it('an event delivered twice is folded once', () => {
    const acc = ev('accepted', 1)
    const appr = ev('approved', 2)
    const del = ev('delivered', 3)
    const rated = ev('rated', 4, { rating: 4 })
    const f = foldCase(PROMISED5, [acc, appr, del, appr, rated, { ...rated }, acc, del], days)
    expect(f.events.map((e) => e.id)).toEqual([acc.id, appr.id, del.id, rated.id])
    expect(f.status).toBe('delivered')
    expect(f.rating).toBe(4)
    expect(f.flagged).toEqual([])
  })

  it('a duplicated correction does not double the pause', () => {
    const c = ev('correction-requested', 2, { at: at10('2026-11-24') })
    const r = ev('resumed', 3, { at: at10('2026-11-26') })
    const f = foldCase(PROMISED5, [ev('accepted', 1, { at: at10('2026-11-23') }), c, r, c, r], days)
    expect(f.pausedDays).toBe(2)
    expect(f.flagged).toEqual([])
  })
})

describe('foldCase: due dates', () => {
  it('an instant case is due the day it is accepted', () => {
    expect(foldCase(INSTANT, [ev('accepted', 1, { at: at10('2026-11-23') })], days).dueDate).toBe('2026-11-23')
  })

  it('an instant case accepted on a rest day is due the next working day', () => {
    expect(foldCase(INSTANT, [ev('accepted', 1, { at: at10('2026-11-28') })], days).dueDate).toBe('2026-11-30')
    expect(foldCase(INSTANT, [ev('accepted', 1, { at: at10('2026-10-02') })], days).dueDate).toBe('2026-10-08')
  })

  it('uses the China date of acceptance, not the UTC one', () => {
    // 01:30 on Tuesday 11-24 in China, still Monday in UTC
    expect(foldCase(INSTANT, [ev('accepted', 1, { at: '2026-11-23T17:30:00Z' })], days).dueDate).toBe('2026-11-24')
  })

  it('a promised case is due N working days after acceptance, skipping weekends', () => {
    const p3 = { kind: 'promised' as const, promisedDays: 3 }
    // Thursday 11-26 + 3: Fri 27, Mon 30, Tue 12-01
    expect(foldCase(p3, [ev('accepted', 1, { at: at10('2026-11-26') })], days).dueDate).toBe('2026-12-01')
    // Friday 11-20 + 1: Monday 11-23
    expect(foldCase({ kind: 'promised', promisedDays: 1 }, [ev('accepted', 1, { at: at10('2026-11-20') })], days).dueDate).toBe('2026-11-23')
  })

  it('a promised case skips the holiday week', () => {
    const p2 = { kind: 'promised' as const, promisedDays: 2 }
    expect(foldCase(p2, [ev('accepted', 1, { at: at10('2026-09-30') })], days).dueDate).toBe('2026-10-09')
  })
})

// ---------------------------------------------------------------------------------------------
// Properties: the fold does not depend on delivery order or on duplicates.

const AUTHORS = [VILLAGE, TOWNSHIP, COUNTY, '511300000000']
// Times spread over two weeks in Nov 2026, weekends included, some late in UTC (next day in China).
const TIMES = ['2026-11-20', '2026-11-21', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-27', '2026-11-29', '2026-11-30', '2026-12-02']
  .flatMap((d) => [`${d}T02:00:00Z`, `${d}T17:30:00Z`])

// 并联审批: two departments the item names, and one it does not.
const DEPARTMENTS = ['自然资源所', '规划建设办', '财政所']
const PARALLEL = [{ department: '自然资源所', days: 3 }, { department: '规划建设办', days: 5 }]

const rawEvent = fc.record({
  type: fc.constantFrom(...EVENT_TYPES),
  lamport: fc.integer({ min: 1, max: 6 }),
  author: fc.constantFrom(...AUTHORS),
  at: fc.constantFrom(...TIMES),
  rating: fc.integer({ min: 1, max: 5 }),
  to: fc.constantFrom(COUNTY, '511303000000', '511304000000', TOWNSHIP),
  materials: fc.subarray(['营业执照', '场所证明', '户口簿'], { minLength: 1 }),
  passed: fc.boolean(),
  department: fc.constantFrom(...DEPARTMENTS),
  agree: fc.boolean(),
})
const eventList = fc.array(rawEvent, { minLength: 1, maxLength: 12 }).map((raws) =>
  raws.map((r, i) => ev(r.type, r.lamport, { id: `ev${i}`.padStart(22, '0'), author: r.author, at: r.at, rating: r.rating, to: r.to, materials: r.materials, passed: r.passed, department: r.department, agree: r.agree })),
)
const app = fc.oneof(
  fc.constant(INSTANT),
  fc.integer({ min: 1, max: 20 }).map((n) => ({ kind: 'promised' as const, promisedDays: n })),
  // With a route, so authority and transfers (转办) are folded too.
  fc.integer({ min: 1, max: 20 }).map((n) => ({ kind: 'promised' as const, promisedDays: n, originCode: VILLAGE, handlerCode: COUNTY })),
  // 容缺受理: materials owed, supplied by some events (or named wrongly by others).
  fc.integer({ min: 1, max: 20 }).map((n) => ({
    kind: 'promised' as const, promisedDays: n, originCode: VILLAGE, handlerCode: COUNTY,
    deferred: { materials: ['营业执照', '场所证明'], commitment: '承诺五个工作日内补齐', deadline: '2026-12-01' },
  })),
  // 并联审批: two departments' opinions gate the approval.
  fc.integer({ min: 5, max: 20 }).map((n) => ({ kind: 'promised' as const, promisedDays: n, originCode: VILLAGE, handlerCode: COUNTY, parallel: PARALLEL })),
)

/** Everything the fold decides, for comparison. */
function outcome(f: Folded) {
  return {
    status: f.status,
    flagged: f.flagged,
    dueDate: f.dueDate,
    rating: f.rating,
    decision: f.decision,
    acceptedAt: f.acceptedAt,
    completedAt: f.completedAt,
    deliveredAt: f.deliveredAt,
    pausedDays: f.pausedDays,
    handlerCode: f.handlerCode,
    handlers: f.handlers,
    owed: f.owed,
    rectification: f.rectification,
    opinions: f.opinions,
    order: f.events.map((e) => e.id),
  }
}

describe('attached (附件)', () => {
  const ROUTED = { ...PROMISED5, originCode: VILLAGE, handlerCode: COUNTY }
  it('adding a file keeps the status, at any point, from the window or the handler', () => {
    const f = foldCase(ROUTED, [ev('attached', 1, { author: VILLAGE }), ev('accepted', 2), ev('attached', 3, { id: 'late' }), ev('approved', 4)], days)
    expect(f.status).toBe('approved')
    expect(f.flagged).toEqual([])
    expect(foldCase(ROUTED, [ev('attached', 1, { author: VILLAGE })], days).status).toBe('submitted')
  })
  it('a unit that only relays the case may not add one', () => {
    const f = foldCase(ROUTED, [ev('attached', 1, { id: 'relay', author: TOWNSHIP })], days)
    expect(f.unauthorised).toEqual(['relay'])
  })
})

describe('foldCase properties', () => {
  it('the generated events are valid stored events', () => {
    fc.assert(
      fc.property(eventList, (events) => {
        for (const e of events) expect(CaseEventSchema.safeParse(e).success).toBe(true)
      }),
      { numRuns: 50 },
    )
  })

  it('any delivery order folds to the same result', () => {
    fc.assert(
      fc.property(
        app,
        eventList.chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }))),
        (a, [events, shuffled]) => {
          expect(shuffled.length).toBe(events.length)
          expect(outcome(foldCase(a, shuffled, days))).toEqual(outcome(foldCase(a, events, days)))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('folding is idempotent with duplicates, in any order', () => {
    fc.assert(
      fc.property(
        app,
        eventList.chain((events) =>
          fc.tuple(fc.constant(events), fc.subarray(events).chain((extra) => {
            const all = [...events, ...extra.map((e) => ({ ...e }))]
            return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length })
          })),
        ),
        (a, [events, withDuplicates]) => {
          const once = foldCase(a, events, days)
          const twice = foldCase(a, withDuplicates, days)
          expect(twice.events.length).toBe(events.length)
          expect(outcome(twice)).toEqual(outcome(once))
          // folding the folded events again changes nothing
          expect(outcome(foldCase(a, once.events, days))).toEqual(outcome(once))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('invariants of every fold', () => {
    fc.assert(
      fc.property(app, eventList, (a, events) => {
        const f = foldCase(a, events, days)
        expect(CASE_STATUSES).toContain(f.status)
        // events are in the total order
        for (let i = 1; i < f.events.length; i++) expect(compareEvents(f.events[i - 1], f.events[i])).toBeLessThan(0)
        // every flagged id is one of the events, at most once
        const ids = new Set(events.map((e) => e.id))
        const flaggedIds = f.flagged.map((x) => x.eventId)
        expect(new Set(flaggedIds).size).toBe(flaggedIds.length)
        for (const id of flaggedIds) expect(ids.has(id)).toBe(true)
        // a decision comes with its completion time; delivered and decided statuses have a decision
        expect(f.decision === null).toBe(f.completedAt === null)
        if (f.status === 'approved' || f.status === 'denied') expect(f.decision).toBe(f.status)
        if (f.status === 'delivered') {
          expect(f.decision).not.toBeNull()
          expect(f.deliveredAt).not.toBeNull()
        }
        // a due date exists exactly when the case was accepted, and is a working day on or after acceptance
        expect(f.dueDate === null).toBe(f.acceptedAt === null)
        if (f.dueDate && f.acceptedAt) {
          expect(days.isWorkingDay(f.dueDate)).toBe(true)
          expect(days.between(localDate(f.acceptedAt), f.dueDate)).toBeGreaterThanOrEqual(a.promisedDays)
        }
        // the rating is that of an unflagged rated event, and follows a delivery
        if (f.rating !== null) {
          expect(f.deliveredAt).not.toBeNull()
          const applied = f.events.filter((e) => e.type === 'rated' && !flaggedIds.includes(e.id))
          expect(applied.length).toBe(1)
          expect(applied[0].type === 'rated' && applied[0].rating).toBe(f.rating)
        }
        // 差评整改: only a bad rating opens a rectification, due 15 working days after it
        if (f.rectification) {
          expect(f.rating).not.toBeNull()
          expect(f.rating!).toBeLessThanOrEqual(2)
          expect(days.between(localDate(f.rectification.openedAt), f.rectification.dueDate)).toBe(15)
          expect(f.rectification.status === 'closed').toBe(f.rectification.closedAt !== null)
        } else if (f.rating !== null) expect(f.rating).toBeGreaterThan(2)
        // 容缺: an approval stands only once nothing is owed; owed is what the application deferred
        if (f.decision === 'approved') {
          const deferred = 'deferred' in a ? a.deferred.materials : []
          expect(f.owed.every((m) => deferred.includes(m))).toBe(true)
        }
        if (!('deferred' in a)) expect(f.owed).toEqual([])
        // 并联审批: an approval stands only with every department's 同意; one opinion per department, from an unflagged event
        if ('parallel' in a) {
          expect(f.opinions.map((o) => o.department)).toEqual(a.parallel.map((d) => d.department))
          if (f.decision === 'approved') expect(f.opinions.every((o) => o.opinion?.agree === true)).toBe(true)
          for (const o of f.opinions) {
            if (o.opinion) expect(flaggedIds).not.toContain(o.opinion.eventId)
            expect(o.dueDate === null).toBe(f.acceptedAt === null)
            if (!o.opinion?.agree && o.opinion) expect(o.opinion.reason).toBeTruthy()
          }
        } else expect(f.opinions).toEqual([])
        // withdrawn from a decision never happens
        if (f.status === 'withdrawn') expect(f.decision).toBeNull()
      }),
      { numRuns: 300 },
    )
  })
})
