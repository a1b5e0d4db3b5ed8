import { describe, expect, it } from 'vitest'
import { eventCaseProblem, unboundUntil, UNBOUND_GRACE_DAYS } from './event-binding.ts'

const kase = { id: '511302101201-20261201-0001', createdAt: '2026-12-01T09:00:00+08:00' }
const until = unboundUntil('2026-12-01T00:00:00Z')

describe('an event stands only in the case it was signed for', () => {
  it('takes an event signed for this case and refuses one signed for another', () => {
    expect(eventCaseProblem({ id: 'e1', at: '2027-06-01T00:00:00Z', case: kase.id }, kase, until)).toBeNull()
    expect(eventCaseProblem({ id: 'e1', at: '2026-12-01T02:00:00Z', case: '511302101201-20261201-0002' }, kase, until))
      .toBe('event e1 was signed for case 511302101201-20261201-0002, not for 511302101201-20261201-0001')
  })

  it('takes an unbound event within the grace period and from a day before the case on', () => {
    expect(until).toBe(Date.parse('2026-12-01T00:00:00Z') + UNBOUND_GRACE_DAYS * 86_400_000)
    expect(eventCaseProblem({ id: 'e1', at: '2026-12-31T00:00:00Z' }, kase, until)).toBeNull()
    expect(eventCaseProblem({ id: 'e1', at: '2026-11-30T10:00:00+08:00' }, kase, until)).toBeNull() // 23 h before: clocks differ, a day's leeway
  })

  it('refuses an unbound event dated after the grace period, or more than a day before its case', () => {
    expect(eventCaseProblem({ id: 'e1', at: '2026-12-31T00:00:01Z' }, kase, until)).toMatch(/^event e1 names no case and is dated 2026-12-31T00:00:01Z, after 2026-12-31T00:00:00.000Z: .*upgrade it/)
    expect(eventCaseProblem({ id: 'e1', at: '2026-11-29T08:59:59+08:00' }, kase, until)).toBe('event e1 names no case and is dated 2026-11-29T08:59:59+08:00, before case 511302101201-20261201-0001 was taken in')
  })
})
