import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { casePathOf, checkHandlerLevel, lowestCommonAncestor, onCasePath, routeBetween, routeOf, type CaseRoute } from './case-path.ts'
import { childMayWrite, parentMayWrite, sendsDown, sendsUp, type DocRef } from './scopes.ts'
import { foldCase } from './state-machine.ts'
import { WorkingDays } from './calendar.ts'
import { mayAuthor, mayAuthorOnRoute } from './permissions.ts'
import { handlerFor } from './routing.ts'
import { parentCode } from './division.ts'
import type { CaseEvent } from './case.ts'

// The demo tree's shape: city 5113, counties 511302 and 511303, townships below, villages below.
const CITY = '511300000000'
const C1 = '511302000000'
const C2 = '511303000000'
const T1 = '511302101000'
const T1B = '511302102000'
const T2 = '511303101000'
const V1 = '511302101201'
const V1B = '511302101202'
const V2 = '511303101201'
const OTHER_CITY_COUNTY = '511402000000'

const ref = (originCode: string, ...handlers: string[]): DocRef => ({ kind: 'case', originCode, handlers })

describe('lowestCommonAncestor', () => {
  it('is the deepest unit whose subtree holds both', () => {
    expect(lowestCommonAncestor(V1, C2)).toBe(CITY)
    expect(lowestCommonAncestor(V1, V1B)).toBe(T1)
    expect(lowestCommonAncestor(V1, C1)).toBe(C1)
    expect(lowestCommonAncestor(V1, V1)).toBe(V1)
    expect(lowestCommonAncestor(T1, T1B)).toBe(C1)
  })
  it('is null across cities or for invalid codes', () => {
    expect(lowestCommonAncestor(V1, OTHER_CITY_COUNTY)).toBeNull()
    expect(lowestCommonAncestor(V1, 'x')).toBeNull()
  })
})

describe('routeBetween', () => {
  it('climbs from the origin to the common ancestor, then goes down to the handler', () => {
    expect(routeBetween(V1, C2)).toEqual([V1, T1, C1, CITY, C2])
    expect(routeBetween(V1, V2)).toEqual([V1, T1, C1, CITY, C2, T2, V2])
    expect(routeBetween(V1, V1B)).toEqual([V1, T1, V1B])
  })
  it('is the old climb when the handler is above the origin', () => {
    expect(routeBetween(V1, C1)).toEqual([V1, T1, C1])
    expect(routeBetween(V1, V1)).toEqual([V1])
    expect(routeBetween(V1, CITY)).toEqual([V1, T1, C1, CITY])
  })
  it('goes only down when the window is above the handler (a city window taking in a county matter)', () => {
    expect(routeBetween(CITY, C2)).toEqual([CITY, C2])
  })
  it('is empty when nothing joins them', () => {
    expect(routeBetween(V1, OTHER_CITY_COUNTY)).toEqual([])
  })
})

describe('onCasePath and casePathOf', () => {
  it('hold exactly the units of the route, and after a transfer the union of both routes', () => {
    const before: CaseRoute = { originCode: V1, handlers: [C1] }
    const after: CaseRoute = { originCode: V1, handlers: [C1, C2] }
    expect(casePathOf(before)).toEqual([V1, T1, C1])
    expect(casePathOf(after)).toEqual([V1, T1, C1, CITY, C2])
    for (const off of [V1B, T1B, T2, V2, CITY]) expect(onCasePath(off, before)).toBe(false)
    for (const off of [V1B, T1B, T2, V2]) expect(onCasePath(off, after)).toBe(false)
  })

  const codes = [CITY, C1, C2, T1, T1B, T2, V1, V1B, V2]
  it('agrees with casePathOf for every unit and route (property)', () => {
    fc.assert(fc.property(fc.constantFrom(...codes), fc.array(fc.constantFrom(...codes), { minLength: 1, maxLength: 3 }), (origin, handlers) => {
      const route = { originCode: origin, handlers }
      const path = new Set(casePathOf(route))
      for (const c of codes) expect(onCasePath(c, route)).toBe(path.has(c))
      // The path is connected: every unit but the top has its parent on it or is the origin's side.
      const top = [...path].find((c) => !path.has(parentCode(c) ?? ''))
      for (const c of path) if (c !== top) expect(path.has(parentCode(c)!)).toBe(true)
    }))
  })
})

describe('scopes along a cross-subtree path (V1 → C1 → city → C2)', () => {
  const r = ref(V1, C2)
  it('each hop sends it on, and nothing goes off the path', () => {
    expect(sendsUp(T1, r)).toBe(true) // V1 → T1
    expect(sendsUp(C1, r)).toBe(true) // T1 → C1
    expect(sendsUp(CITY, r)).toBe(true) // C1 → city
    expect(sendsDown(C2, r)).toBe(true) // city → C2 (the relay down)
    expect(sendsDown(C1, r)).toBe(true) // city → C1 (the decision back)
    expect(sendsDown(T2, r)).toBe(false) // C2 never sends it into its own townships
    expect(sendsDown(V1B, r)).toBe(false)
    expect(sendsDown(T1B, r)).toBe(false)
  })
  it('the receivers accept it only from and to units on the path', () => {
    expect(childMayWrite(CITY, C1, r)).toBeNull()
    expect(childMayWrite(CITY, C2, r)).toBeNull() // the decision comes up from the handler's side
    expect(parentMayWrite(C2, r)).toBeNull()
    expect(parentMayWrite(T2, r)).toMatch(/not on the path/)
    expect(childMayWrite(C2, T2, r)).toMatch(/not on the path/)
    // A village case claims a path that leaves its township out: the township refuses nothing it is on, the county refuses.
    expect(childMayWrite(C1, T1, ref(V1, V1B))).toMatch(`${C1} is not on the path`)
  })
})

describe('routing with an explicit handler (异地办理)', () => {
  const item = { level: 'county' as const, code: 'C-001', name: '户口迁移' }
  it('defaults to the window’s own ancestor and takes any unit of the item’s level when named', () => {
    expect(handlerFor(V1, item)).toBe(C1)
    expect(handlerFor(V1, item, C2)).toBe(C2)
  })
  it('refuses a unit of another level, or of another city', () => {
    expect(handlerFor(V1, item, T2)).toEqual({ error: expect.stringMatching(/decided at 县\(区\) level/) })
    expect(handlerFor(V1, item, OTHER_CITY_COUNTY)).toEqual({ error: expect.stringMatching(/not in this city/) })
    expect(handlerFor(V1, item, '123')).toEqual({ error: expect.stringMatching(/12 digits/) })
  })
})

// --- transfers (转办) -------------------------------------------------------------------------

const days = new WorkingDays([{ year: 2026, holidays: [], workdays: [] }])
const app = { kind: 'promised' as const, promisedDays: 5, originCode: V1, handlerCode: C1 }
let n = 0
function ev(type: CaseEvent['type'], lamport: number, author: string, extra: Record<string, unknown> = {}, at = '2026-11-23T02:00:00Z'): CaseEvent {
  return { id: `t${++n}`.padStart(22, '0'), type, lamport, author, user: 'u', at, sig: 'S'.repeat(86), ...extra } as CaseEvent
}
const transfer = (lamport: number, author: string, to: string, at?: string) => ev('transferred', lamport, author, { to, reason: '户籍在顺庆区' }, at)

describe('foldCase: transfers', () => {
  it('the handler transfers; the new handler decides; the first may not decide any more', () => {
    const events = [ev('accepted', 1, C1), transfer(2, C1, C2), ev('approved', 3, C1), ev('accepted', 3, C2), ev('approved', 4, C2)]
    const f = foldCase(app, events, days)
    expect(f.handlerCode).toBe(C2)
    expect(f.handlers).toEqual([C1, C2])
    expect(f.status).toBe('approved')
    expect(f.flagged).toEqual([{ eventId: events[2].id, reason: `approved is decided at the handling node ${C2}, not at ${C1}` }])
  })
  it('only the current handler may transfer: the origin, a relay, or a former handler may not', () => {
    for (const by of [V1, T1, CITY]) {
      const f = foldCase(app, [transfer(1, by, C2)], days)
      expect(f.handlerCode).toBe(C1)
      expect(f.flagged[0].reason).toMatch(/decided at the handling node/)
    }
    const f = foldCase(app, [transfer(1, C1, C2), transfer(2, C1, '511304000000')], days)
    expect(f.handlerCode).toBe(C2)
    expect(f.flagged).toHaveLength(1)
  })
  it('a transfer names a unit of the same level, not the handler itself, and not after the decision', () => {
    expect(foldCase(app, [transfer(1, C1, T2)], days).flagged[0].reason).toMatch(/township unit/)
    expect(foldCase(app, [transfer(1, C1, C1)], days).flagged[0].reason).toMatch(/already decided at/)
    expect(foldCase(app, [ev('accepted', 1, C1), ev('approved', 2, C1), transfer(3, C1, C2)], days).flagged[0].reason).toMatch(/not allowed while approved/)
  })
  it('the due-date clock is the new handler’s: it starts at its acceptance, with the days spent before left out', () => {
    const events = [
      ev('accepted', 1, C1, {}, '2026-11-23T02:00:00Z'), // Monday at the wrong county
      transfer(2, C1, C2, '2026-11-25T02:00:00Z'),
      ev('accepted', 3, C2, {}, '2026-11-26T02:00:00Z'), // Thursday at the right one
    ]
    const f = foldCase(app, events, days)
    expect(f.status).toBe('accepted')
    expect(f.acceptedAt).toBe('2026-11-26T02:00:00Z')
    expect(f.dueDate).toBe('2026-12-03') // 5 working days from Thursday 26th
    const waiting = foldCase(app, events.slice(0, 2), days)
    expect(waiting.status).toBe('submitted')
    expect(waiting.dueDate).toBeNull()
  })
  it('the origin still delivers and rates what the new handler decided', () => {
    const f = foldCase(app, [transfer(1, C1, C2), ev('accepted', 2, C2), ev('approved', 3, C2), ev('delivered', 4, V1), ev('rated', 5, V1, { rating: 5 })], days)
    expect(f.status).toBe('delivered')
    expect(f.rating).toBe(5)
    expect(f.flagged).toEqual([])
  })
})

describe('routeOf: the path only grows, in any order of events', () => {
  it('follows transfers from handlers only, of the right level', () => {
    const t1 = transfer(1, C1, C2)
    const t2 = transfer(2, C2, '511304000000')
    const forged = transfer(1, CITY, '511305000000')
    const wrongLevel = transfer(1, C1, T2)
    expect(routeOf(app, [t2, forged, t1, wrongLevel]).handlers).toEqual([C1, C2, '511304000000'])
    expect(routeOf(app, [t2]).handlers).toEqual([C1]) // C2 was never a handler without t1
  })
  it('is the same set for every order (property)', () => {
    const ts = [transfer(1, C1, C2), transfer(2, C2, '511304000000'), transfer(3, '511304000000', C1), transfer(1, T1, C2)]
    fc.assert(fc.property(fc.shuffledSubarray(ts), fc.nat(), (sub, seed) => {
      const shuffled = [...sub].sort((a, b) => ((a.id.charCodeAt(21) * 31 + seed) % 7) - ((b.id.charCodeAt(21) * 31 + seed) % 7))
      expect(new Set(routeOf(app, shuffled).handlers)).toEqual(new Set(routeOf(app, sub).handlers))
    }))
  })
})

describe('mayAuthorOnRoute (the link’s check across concurrent transfers)', () => {
  const route = { originCode: V1, handlers: [C1, C2] }
  it('lets either handler decide, the origin deliver, and no relay anything', () => {
    expect(mayAuthorOnRoute('approved', C1, route)).toBeNull()
    expect(mayAuthorOnRoute('approved', C2, route)).toBeNull()
    expect(mayAuthorOnRoute('delivered', V1, route)).toBeNull()
    for (const relay of [T1, CITY]) for (const t of ['accepted', 'approved', 'transferred', 'withdrawn', 'delivered'] as const) {
      expect(mayAuthorOnRoute(t, relay, route)).not.toBeNull()
    }
    expect(mayAuthor('approved', CITY, { originCode: V1, handlerCode: C2 })).toMatch(/handling node/)
  })
})

describe('checkHandlerLevel', () => {
  it('wants the first handler’s level', () => {
    expect(checkHandlerLevel(C2, C1)).toBeNull()
    expect(checkHandlerLevel(V2, C1)).toMatch(/village unit/)
  })
})
