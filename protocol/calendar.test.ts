import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { localDate, WorkingDays } from './calendar.ts'
import { CalendarSchema, type Calendar } from './catalogue.ts'

// 2026: Oct 1 is a Thursday. National Day rests Oct 1–7; Sat Oct 10 and Sun Sep 20 are adjusted workdays (调休上班).
const CAL_2026: Calendar = CalendarSchema.parse({
  year: 2026,
  holidays: ['01', '02', '03', '04', '05', '06', '07'].map((d) => ({ date: `2026-10-${d}`, name: '国庆节' })),
  workdays: [
    { date: '2026-09-20', name: '调休上班' },
    { date: '2026-10-10', name: '国庆节调休上班' },
  ],
})
const days = new WorkingDays([CAL_2026])
const plain = new WorkingDays()

describe('isWorkingDay', () => {
  it('ordinary weekdays work and weekends rest without a calendar', () => {
    expect(plain.isWorkingDay('2026-11-23')).toBe(true) // Monday
    expect(plain.isWorkingDay('2026-11-27')).toBe(true) // Friday
    expect(plain.isWorkingDay('2026-11-28')).toBe(false) // Saturday
    expect(plain.isWorkingDay('2026-11-29')).toBe(false) // Sunday
    expect(plain.isWorkingDay('2026-10-01')).toBe(true) // a Thursday, no holiday known
  })

  it('public holidays rest even on weekdays', () => {
    expect(days.isWorkingDay('2026-10-01')).toBe(false) // Thursday
    expect(days.isWorkingDay('2026-10-05')).toBe(false) // Monday
    expect(days.isWorkingDay('2026-10-07')).toBe(false) // Wednesday
    expect(days.isWorkingDay('2026-10-08')).toBe(true) // Thursday after the holiday
  })

  it('adjusted workdays work even on weekends', () => {
    expect(days.isWorkingDay('2026-10-10')).toBe(true) // Saturday
    expect(days.isWorkingDay('2026-09-20')).toBe(true) // Sunday
    expect(days.isWorkingDay('2026-10-11')).toBe(false) // the Sunday after is still a rest day
    expect(days.isWorkingDay('2026-09-19')).toBe(false) // the Saturday before is still a rest day
  })

  it('merges several calendars', () => {
    const more = new WorkingDays([CAL_2026, { year: 2027, holidays: [{ date: '2027-01-01', name: '元旦' }], workdays: [] }])
    expect(more.isWorkingDay('2027-01-01')).toBe(false) // a Friday
    expect(more.isWorkingDay('2026-10-02')).toBe(false)
    expect(more.isWorkingDay('2026-10-10')).toBe(true)
  })
})

describe('add', () => {
  it('add(date, 0) is the date itself on a working day', () => {
    expect(days.add('2026-09-30', 0)).toBe('2026-09-30')
    expect(days.add('2026-10-10', 0)).toBe('2026-10-10') // adjusted Saturday
  })

  it('add(date, 0) on a rest day is the next working day', () => {
    expect(days.add('2026-10-01', 0)).toBe('2026-10-08')
    expect(days.add('2026-10-04', 0)).toBe('2026-10-08')
    expect(days.add('2026-10-11', 0)).toBe('2026-10-12') // Sunday → Monday
    expect(plain.add('2026-11-28', 0)).toBe('2026-11-30') // Saturday → Monday
  })

  it('counts working days after the date, skipping weekends', () => {
    expect(plain.add('2026-11-23', 1)).toBe('2026-11-24')
    expect(plain.add('2026-11-27', 1)).toBe('2026-11-30') // Friday + 1 → Monday
    expect(plain.add('2026-11-23', 5)).toBe('2026-11-30')
    expect(plain.add('2026-11-28', 1)).toBe('2026-11-30') // from a Saturday
  })

  it('crosses the National Day week', () => {
    expect(days.add('2026-09-30', 1)).toBe('2026-10-08')
    expect(days.add('2026-09-30', 2)).toBe('2026-10-09')
    expect(days.add('2026-09-30', 3)).toBe('2026-10-10') // the adjusted Saturday counts
    expect(days.add('2026-09-30', 4)).toBe('2026-10-12') // Sunday Oct 11 rests
    expect(days.add('2026-09-29', 2)).toBe('2026-10-08')
    expect(days.add('2026-10-03', 1)).toBe('2026-10-08') // from inside the holiday
  })

  it('counts an adjusted Sunday', () => {
    expect(days.add('2026-09-18', 1)).toBe('2026-09-20') // Friday + 1 → the working Sunday
    expect(plain.add('2026-09-18', 1)).toBe('2026-09-21')
  })

  it('crosses a month and a year end', () => {
    expect(plain.add('2026-12-31', 1)).toBe('2027-01-01') // Thursday → Friday
    expect(plain.add('2026-12-31', 2)).toBe('2027-01-04') // → Monday
  })
})

describe('between', () => {
  it('counts working days in (from, to]', () => {
    expect(days.between('2026-10-08', '2026-10-09')).toBe(1)
    expect(plain.between('2026-11-23', '2026-11-30')).toBe(5) // Tue–Fri and Mon
    expect(plain.between('2026-11-27', '2026-11-30')).toBe(1) // the weekend does not count
  })

  it('skips the holiday and counts the adjusted Saturday', () => {
    // (Sep 30, Oct 12]: Oct 8, 9, 10 (Sat, adjusted), 12 → 4
    expect(days.between('2026-09-30', '2026-10-12')).toBe(4)
    expect(days.between('2026-09-30', '2026-10-07')).toBe(0)
  })

  it('is 0 when to is not after from', () => {
    expect(days.between('2026-11-23', '2026-11-23')).toBe(0)
    expect(days.between('2026-11-24', '2026-11-23')).toBe(0)
  })

  it('inverts add for any working start day and any count', () => {
    const start = fc.integer({ min: 0, max: 200 }).map((n) => new Date(Date.UTC(2026, 7, 1) + n * 86_400_000).toISOString().slice(0, 10))
    fc.assert(
      fc.property(start, fc.integer({ min: 0, max: 40 }), (d, n) => {
        fc.pre(days.isWorkingDay(d))
        const end = days.add(d, n)
        expect(days.isWorkingDay(end)).toBe(true)
        expect(days.between(d, end)).toBe(n)
        if (n > 0) expect(days.between(d, days.add(d, n - 1))).toBe(n - 1)
      }),
      { numRuns: 200 },
    )
  })
})

describe('localDate', () => {
  it('is the date in China (UTC+8)', () => {
    expect(localDate('2026-11-23T17:30:00Z')).toBe('2026-11-24')
    expect(localDate('2026-11-23T15:59:59Z')).toBe('2026-11-23')
    expect(localDate('2026-11-23T16:00:00Z')).toBe('2026-11-24')
    expect(localDate('2026-11-24T00:30:00+08:00')).toBe('2026-11-24')
    expect(localDate('2026-12-31T16:00:00Z')).toBe('2027-01-01')
  })

  it('accepts a Date', () => {
    expect(localDate(new Date(Date.UTC(2026, 10, 23, 17, 30)))).toBe('2026-11-24')
  })
})
