import { describe, it, expect } from 'vitest'
import {
  ApplicantSchema, ApplicationSchema, residentIdCheck, residentIdProblem, StoredApplicantSchema, CaseEventSchema, CaseIdSchema, CaseIntakeSchema, COMPLETED_STATUSES, EventInputSchema, OPEN_STATUSES,
} from './case.ts'

const applicant = { name: '张三', idNumber: '51130219850715003X', phone: '13800000000' }

function paths(schema: { safeParse(x: unknown): { success: boolean; error?: { issues: { path: PropertyKey[] }[] } } }, x: unknown): string[] {
  const r = schema.safeParse(x)
  expect(r.success).toBe(false)
  return r.error!.issues.map((i) => i.path.join('.'))
}

describe('ApplicantSchema', () => {
  it('accepts a resident with an 18-character id number, defaulting the id type', () => {
    const r = ApplicantSchema.safeParse(applicant)
    expect(r.success).toBe(true)
    expect(r.data!.idType).toBe('resident-id')
    expect(ApplicantSchema.safeParse({ ...applicant, idNumber: '511302198001010013' }).success).toBe(true)
    expect(ApplicantSchema.safeParse({ ...applicant, idNumber: '51130219850715003x' }).success).toBe(true)
  })

  it('refuses a bad resident id number, naming idNumber', () => {
    for (const idNumber of ['5113021980010100', '51130219800101001Y', '5113021980010100123', 'X11302198001010012']) {
      const r = ApplicantSchema.safeParse({ ...applicant, idNumber })
      expect(r.success).toBe(false)
      expect(r.error!.issues).toEqual([
        expect.objectContaining({ path: ['idNumber'], message: expect.stringContaining('17 digits and a digit or X') }),
      ])
    }
  })

  it('refuses a resident id number whose 18th character is not its GB 11643 check character', () => {
    for (const idNumber of ['000000000000000000', '511302198001010012', '51130219800101001X', '511302198507150031']) {
      const r = ApplicantSchema.safeParse({ ...applicant, idNumber })
      expect(r.success, idNumber).toBe(false)
      expect(r.error!.issues).toEqual([expect.objectContaining({ path: ['idNumber'], message: expect.stringContaining('校验位') })])
    }
    // The check of GB 11643-1999's own example, and one whose check character is X.
    expect(residentIdCheck('11010519491231002')).toBe('X')
    expect(residentIdProblem('11010519491231002X')).toBeNull()
    expect(residentIdProblem('440524188001010014')).toBeNull()
  })

  it('a phone is a mobile number (11 digits starting with 1) or a landline with its area code', () => {
    for (const phone of ['13800000000', '138 0000 0000', '138-0000-0000', '0817-2221234', '010 12345678', '02112345678'])
      expect(ApplicantSchema.safeParse({ ...applicant, phone }).success, phone).toBe(true)
    for (const phone of ['12345', '1380000000', '138000000000', '23800000000', '2221234', '0817-22212', '+86 138-0000'])
      expect(paths(ApplicantSchema, { ...applicant, phone }), phone).toEqual(['phone'])
  })

  it('an application stored before these checks stays valid on every replica', () => {
    expect(StoredApplicantSchema.safeParse({ ...applicant, idNumber: '511302198001010012', phone: '12345' }).success).toBe(true)
  })

  it('other id types are not checked as resident ids', () => {
    expect(ApplicantSchema.safeParse({ ...applicant, idType: 'passport', idNumber: 'E12345678' }).success).toBe(true)
    expect(paths(ApplicantSchema, { ...applicant, idType: 'driver-licence' })).toEqual(['idType'])
  })

  it('names a missing name, a blank id number and a bad phone', () => {
    expect(paths(ApplicantSchema, { ...applicant, name: '  ' })).toContain('name')
    expect(paths(ApplicantSchema, { ...applicant, idType: 'passport', idNumber: '' })).toEqual(['idNumber'])
    expect(paths(ApplicantSchema, { ...applicant, phone: 'call me' })).toEqual(['phone'])
  })
})

describe('EventInputSchema', () => {
  it('a rating must be an integer 1–5', () => {
    expect(EventInputSchema.safeParse({ type: 'rated', rating: 1 }).success).toBe(true)
    expect(EventInputSchema.safeParse({ type: 'rated', rating: 5 }).success).toBe(true)
    for (const rating of [0, 6, 3.5, '4']) expect(paths(EventInputSchema, { type: 'rated', rating })).toEqual(['rating'])
    expect(paths(EventInputSchema, { type: 'rated' })).toEqual(['rating'])
  })

  it('a denial needs a reason', () => {
    expect(EventInputSchema.safeParse({ type: 'denied', reason: '材料不全' }).success).toBe(true)
    expect(paths(EventInputSchema, { type: 'denied' })).toEqual(['reason'])
    const r = EventInputSchema.safeParse({ type: 'denied', reason: '   ' })
    expect(r.success).toBe(false)
    expect(r.error!.issues[0]).toMatchObject({ path: ['reason'], message: 'a denial needs its reason' })
  })

  it('a correction names at least one material', () => {
    expect(EventInputSchema.safeParse({ type: 'correction-requested', materials: ['户口簿'] }).success).toBe(true)
    expect(paths(EventInputSchema, { type: 'correction-requested', materials: [] })).toEqual(['materials'])
  })

  it('plain actions need nothing more, and unknown types are refused', () => {
    for (const type of ['accepted', 'resumed', 'approved', 'delivered', 'withdrawn']) {
      expect(EventInputSchema.safeParse({ type }).success).toBe(true)
    }
    expect(paths(EventInputSchema, { type: 'frozen' })).toEqual(['type'])
  })
})

describe('CaseIdSchema and CaseEventSchema', () => {
  it('a case number is origin code, date and sequence', () => {
    expect(CaseIdSchema.safeParse('511302101201-20261123-0001').success).toBe(true)
    expect(CaseIdSchema.safeParse('511302101201-20261123-000001').success).toBe(true)
    expect(CaseIdSchema.safeParse('511302101201-2026112-0001').success).toBe(false)
    expect(CaseIdSchema.safeParse('511302101201-20261123-001').success).toBe(false)
    expect(CaseIdSchema.safeParse('51130210120-20261123-0001').success).toBe(false)
  })

  it('a stored event is the input plus who, where, when and its clock', () => {
    const base = { id: 'AAAAAAAAAAAAAAAAAAAAAA', lamport: 3, author: '511302101201', user: 'agent1', at: '2026-11-23T02:00:00Z', sig: 'S'.repeat(86) }
    expect(CaseEventSchema.safeParse({ ...base, type: 'rated', rating: 4 }).success).toBe(true)
    expect(paths(CaseEventSchema, { ...base, type: 'rated', rating: 9 })).toEqual(['rating'])
    expect(paths(CaseEventSchema, { ...base, type: 'accepted', author: '5113' })).toEqual(['author'])
    expect(paths(CaseEventSchema, { ...base, type: 'accepted', lamport: -1 })).toEqual(['lamport'])
    // Ids are content hashes and every event is signed (protocol/trust.ts).
    expect(paths(CaseEventSchema, { ...base, type: 'accepted', id: 'e1' })).toEqual(['id'])
    expect(paths(CaseEventSchema, { ...base, type: 'accepted', sig: undefined })).toEqual(['sig'])
  })
})

describe('ApplicationSchema and CaseIntakeSchema', () => {
  const app = {
    id: '511302101201-20261123-0001', itemCode: 'CX-CZ-001', itemVersion: 1, applicant, materials: ['居民身份证'],
    originCode: '511302101201', handlerCode: '511302000000', createdAt: '2026-11-23T02:00:00Z', createdBy: 'agent1',
    kind: 'promised', promisedDays: 5, sig: 'S'.repeat(86),
  }

  it('accepts a good application and names the bad applicant field', () => {
    expect(ApplicationSchema.safeParse(app).success).toBe(true)
    expect(paths(ApplicationSchema, { ...app, applicant: { ...applicant, idNumber: '123' } })).toEqual(['applicant.idNumber'])
    expect(paths(ApplicationSchema, { ...app, handlerCode: '5113' })).toEqual(['handlerCode'])
  })

  it('binds the case number to the window that took it in', () => {
    expect(paths(ApplicationSchema, { ...app, id: '511302101202-20261123-0001' })).toEqual(['id'])
    expect(paths(ApplicationSchema, { ...app, originCode: '511302101202' })).toEqual(['id'])
  })

  it('intake defaults materials to none and refuses blank material names', () => {
    const r = CaseIntakeSchema.safeParse({ itemCode: 'CX-CZ-001', applicant })
    expect(r.success).toBe(true)
    expect(r.data!.materials).toEqual([])
    expect(paths(CaseIntakeSchema, { itemCode: 'CX-CZ-001', applicant, materials: [' '] })).toEqual(['materials.0'])
  })
})

describe('status groups', () => {
  it('open and completed statuses do not overlap, and withdrawn is in neither', () => {
    expect(OPEN_STATUSES.filter((s) => COMPLETED_STATUSES.includes(s))).toEqual([])
    expect(OPEN_STATUSES).not.toContain('withdrawn')
    expect(COMPLETED_STATUSES).not.toContain('withdrawn')
  })
})
