import { describe, expect, it } from 'vitest'
import { WorkingDays } from './calendar.ts'
import type { Application, CaseEvent, EventType } from './case.ts'
import type { CatalogueItem } from './catalogue.ts'
import { foldCase } from './state-machine.ts'
import { detectWarnings, WarningSchema, type WarningType } from './supervision.ts'

const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
// No holidays in late Nov / early Dec 2026: 11-23 is a Monday; 11-28/29 and 12-05/06 are weekends.
const days = new WorkingDays([])
const at10 = (date: string) => `${date}T02:00:00Z` // 10:00 China time

let n = 0
function ev(type: EventType, lamport: number, date: string, author = TOWNSHIP, extra: Record<string, unknown> = {}): CaseEvent {
  return { id: `e${++n}`, lamport, author, user: '张三（staff）', at: at10(date), sig: 'S'.repeat(86), type, ...extra } as CaseEvent
}

const item: Pick<CatalogueItem, 'name' | 'version' | 'materials'> = {
  name: '个体工商户登记', version: 1,
  materials: [{ name: '身份证', required: true }, { name: '经营场所证明', required: true, deferrable: true }, { name: '照片', required: false }] as CatalogueItem['materials'],
}
const app = (o: Partial<Application> = {}) => ({
  id: `${VILLAGE}-20261123-0001`, itemCode: 'T-001', itemVersion: 1, materials: ['身份证', '经营场所证明'], createdAt: at10('2026-11-23'),
  originCode: VILLAGE, handlerCode: TOWNSHIP, kind: 'promised' as const, promisedDays: 3, ...o,
})

function detect(events: CaseEvent[], today: string, a = app()) {
  const folded = foldCase(a, events, days)
  return detectWarnings({ app: a, folded, item, unit: TOWNSHIP, today, days })
}
const types = (r: { warnings: { type: WarningType; level: string }[] }) => r.warnings.map((w) => `${w.type}:${w.level}`)

describe('电子监察: detectWarnings', () => {
  it('超期: an accepted case is yellow from the working day before its due date and red the day after it', () => {
    const events = [ev('accepted', 1, '2026-11-23')] // due 3 working days later: Thursday 11-26
    expect(detect(events, '2026-11-24').warnings).toEqual([])
    expect(detect(events, '2026-11-24').nextCheck).toBe('2026-11-25')
    const yellow = detect(events, '2026-11-25')
    expect(types(yellow)).toEqual(['overdue:yellow'])
    expect(yellow.warnings[0].since).toBe('2026-11-25')
    expect(yellow.nextCheck).toBe('2026-11-27')
    const red = detect(events, '2026-11-30')
    expect(types(red)).toEqual(['overdue:red'])
    expect(red.warnings[0]).toMatchObject({ caseId: app().id, itemName: '个体工商户登记', unit: TOWNSHIP, since: '2026-11-27' })
    expect(red.nextCheck).toBeNull() // red stays red until the case changes
  })

  it('the clock stops in a correction, and a completed case is no longer overdue', () => {
    expect(detect([ev('accepted', 1, '2026-11-23'), ev('correction-requested', 2, '2026-11-24', TOWNSHIP, { materials: ['身份证'] })], '2026-12-10').warnings).toEqual([])
    expect(detect([ev('accepted', 1, '2026-11-23'), ev('approved', 2, '2026-11-30')], '2026-12-10')).toEqual({ warnings: [], nextCheck: null })
  })

  it('超时未受理: not accepted is yellow after one working day and red after two (weekends do not count)', () => {
    const friday = app({ createdAt: at10('2026-11-27') })
    expect(detect([], '2026-11-29', friday).warnings).toEqual([]) // Sunday: no working day has passed
    expect(detect([], '2026-11-29', friday).nextCheck).toBe('2026-11-30')
    expect(types(detect([], '2026-11-30', friday))).toEqual(['not-accepted:yellow'])
    const red = detect([], '2026-12-01', friday)
    expect(types(red)).toEqual(['not-accepted:red'])
    expect(red.warnings[0].since).toBe('2026-12-01')
    // Accepted: the warning goes.
    expect(detect([ev('accepted', 1, '2026-12-01')], '2026-12-01', friday).warnings).toEqual([])
  })

  it('流程异常: a step refused at its point is yellow; an event its author may not take is red', () => {
    const race = detect([ev('accepted', 1, '2026-11-23'), ev('withdrawn', 2, '2026-11-23', VILLAGE), ev('approved', 3, '2026-11-23')], '2026-11-23')
    expect(types(race)).toEqual(['flow:yellow'])
    expect(race.warnings[0].detail).toContain('approved is not allowed while withdrawn')
    const forged = detect([ev('accepted', 1, '2026-11-23'), ev('approved', 2, '2026-11-24', VILLAGE)], '2026-11-24')
    expect(types(forged)).toContain('flow:red')
    expect(forged.warnings.find((w) => w.type === 'flow')!.since).toBe('2026-11-24')
  })

  it('违规受理: accepted without a required material and no 容缺 commitment is red; with the commitment it is not', () => {
    const missing = app({ materials: ['身份证'] })
    expect(detect([], '2026-11-23', missing).warnings).toEqual([]) // not accepted yet: no violation
    const r = detect([ev('accepted', 1, '2026-11-23')], '2026-11-23', missing)
    expect(types(r)).toEqual(['irregular-acceptance:red'])
    expect(r.warnings[0].detail).toContain('经营场所证明')
    const deferred = app({ materials: ['身份证'], deferred: { materials: ['经营场所证明'], commitment: '本人承诺五日内补齐', deadline: '2026-11-30' } })
    expect(detect([ev('accepted', 1, '2026-11-23')], '2026-11-23', deferred).warnings).toEqual([])
    // A case taken in under another version of the item is not judged by this one's list.
    expect(detect([ev('accepted', 1, '2026-11-23')], '2026-11-23', app({ materials: [], itemVersion: 2 })).warnings).toEqual([])
  })

  it('整改超期: an open rectification past its due date is red; a closed one is not', () => {
    const base = [ev('accepted', 1, '2026-11-02'), ev('approved', 2, '2026-11-02'), ev('delivered', 3, '2026-11-02', VILLAGE), ev('rated', 4, '2026-11-02', VILLAGE, { rating: 1 })]
    // Rated 11-02 (Monday): due 15 working days later, 11-23.
    expect(types(detect(base, '2026-11-20'))).toEqual(['rect-overdue:yellow'])
    expect(types(detect(base, '2026-11-24'))).toEqual(['rect-overdue:red'])
    const closed = [...base, ev('rectified', 5, '2026-11-10', TOWNSHIP, { reply: '已整改' }), ev('rectification-checked', 6, '2026-11-11', TOWNSHIP, { passed: true })]
    expect(detect(closed, '2026-11-24').warnings).toEqual([])
  })

  it('every warning is a WarningSchema value: no applicant, no personal field', () => {
    const r = detect([ev('accepted', 1, '2026-11-23'), ev('approved', 2, '2026-11-24', VILLAGE)], '2026-12-10', app({ materials: ['身份证'] }))
    expect(r.warnings.length).toBeGreaterThanOrEqual(2)
    for (const w of r.warnings) expect(WarningSchema.safeParse(w).success).toBe(true)
    expect(WarningSchema.safeParse({ ...r.warnings[0], applicant: '李四' }).success).toBe(false)
  })
})
