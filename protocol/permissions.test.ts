import { describe, it, expect } from 'vitest'
import { mayAct, mayAdminister, mayTakeIn, ROLES, type Role } from './permissions.ts'
import { EVENT_TYPES, type EventType } from './case.ts'

const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const OTHER_VILLAGE = '511302101202'

/** Taken in at the village, decided at the county. */
const escalated = { originCode: VILLAGE, handlerCode: COUNTY }
/** Taken in and decided at the village. */
const local = { originCode: VILLAGE, handlerCode: VILLAGE }

const DECISIONS: EventType[] = ['accepted', 'correction-requested', 'approved', 'denied']

describe('mayAct: decisions', () => {
  it('are taken at the handler by staff or agents', () => {
    for (const t of DECISIONS) {
      expect(mayAct(t, 'staff', COUNTY, escalated)).toBeNull()
      expect(mayAct(t, 'agent', COUNTY, escalated)).toBeNull()
    }
  })

  it('are refused at the origin and at nodes in between', () => {
    for (const t of DECISIONS) {
      expect(mayAct(t, 'agent', VILLAGE, escalated)).toBe(`${t} is decided at the handling node ${COUNTY}, not at ${VILLAGE}`)
      expect(mayAct(t, 'staff', TOWNSHIP, escalated)).toMatch(/decided at the handling node/)
    }
  })
})

describe('mayAct: delivery and rating', () => {
  it('happen at the origin window', () => {
    expect(mayAct('delivered', 'agent', VILLAGE, escalated)).toBeNull()
    expect(mayAct('rated', 'agent', VILLAGE, escalated)).toBeNull()
  })

  it('are refused at the handler and elsewhere', () => {
    expect(mayAct('delivered', 'staff', COUNTY, escalated)).toBe(`delivered happens at the window where the case was taken in (${VILLAGE}), not at ${COUNTY}`)
    expect(mayAct('rated', 'staff', COUNTY, escalated)).toMatch(/window where the case was taken in/)
    expect(mayAct('delivered', 'agent', OTHER_VILLAGE, escalated)).not.toBeNull()
  })
})

describe('mayAct: withdraw and resume', () => {
  it('are allowed at the origin or the handler', () => {
    for (const t of ['withdrawn', 'resumed'] as const) {
      expect(mayAct(t, 'agent', VILLAGE, escalated)).toBeNull()
      expect(mayAct(t, 'staff', COUNTY, escalated)).toBeNull()
    }
  })

  it('are refused on the way between or at an unrelated node', () => {
    expect(mayAct('withdrawn', 'staff', TOWNSHIP, escalated)).toBe(`withdrawn is recorded at the origin window or the handling node, not at ${TOWNSHIP}`)
    expect(mayAct('resumed', 'agent', OTHER_VILLAGE, escalated)).toMatch(/origin window or the handling node/)
  })
})

describe('mayAct: roles', () => {
  it('supervisors and admins are refused every action, even at the handler and origin — but a supervisor checks a rectification at the handler', () => {
    expect(mayAct('rectification-checked', 'supervisor', VILLAGE, local)).toBeNull()
    expect(mayAct('rectification-checked', 'supervisor', TOWNSHIP, local)).toMatch(/handling node/)
    for (const t of EVENT_TYPES) {
      if (t !== 'rectification-checked') expect(mayAct(t, 'supervisor', VILLAGE, local)).toMatch(/supervisors/)
      expect(mayAct(t, 'admin', VILLAGE, local)).toMatch(/administrators/)
    }
  })

  it('when origin and handler are the same node, staff and agents there may do everything, others nothing', () => {
    for (const t of EVENT_TYPES) {
      for (const role of ['agent', 'staff'] as Role[]) {
        if (t === 'rectification-checked') {
          expect(mayAct(t, role, VILLAGE, local)).toMatch(/supervisor/)
          continue
        }
        expect(mayAct(t, role, VILLAGE, local)).toBeNull()
        expect(mayAct(t, role, TOWNSHIP, local)).not.toBeNull()
      }
    }
  })

  it('refuses an unknown action', () => {
    expect(mayAct('frozen' as EventType, 'staff', VILLAGE, local)).toBe('unknown action frozen')
  })
})

describe('mayAdminister and mayTakeIn', () => {
  it('only admins administer; only agents and staff take in', () => {
    expect(ROLES.filter(mayAdminister)).toEqual(['admin'])
    expect(ROLES.filter(mayTakeIn)).toEqual(['agent', 'staff'])
  })
})
