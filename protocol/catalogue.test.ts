import { describe, it, expect } from 'vitest'
import {
  CalendarSchema, CatalogueFileSchema, CatalogueItemInputSchema, CatalogueItemPatchSchema, CatalogueItemSchema, ItemCodeSchema,
} from './catalogue.ts'

const good = {
  code: 'CX-CZ-001',
  name: '居住证明',
  department: '派出所',
  level: 'village',
  kind: 'promised',
  legalDays: 10,
  promisedDays: 5,
  materials: [{ name: '居民身份证', required: true }],
}

/** The issues of a failed parse as "path: message" pairs. */
function issues(schema: { safeParse(x: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, x: unknown) {
  const r = schema.safeParse(x)
  expect(r.success).toBe(false)
  return r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
}

describe('CatalogueItemSchema', () => {
  it('accepts a good item and fills in the defaults', () => {
    const r = CatalogueItemSchema.safeParse(good)
    expect(r.success).toBe(true)
    expect(r.data).toMatchObject({ fee: '不收费', online: false, maxVisits: 1, version: 1, retired: false })
  })

  it('accepts an instant item with 0 promised days', () => {
    expect(CatalogueItemSchema.safeParse({ ...good, kind: 'instant', promisedDays: 0, legalDays: 0 }).success).toBe(true)
  })

  it('refuses promised days beyond the legal days, naming promisedDays', () => {
    expect(issues(CatalogueItemSchema, { ...good, legalDays: 10, promisedDays: 12 })).toEqual([
      { path: 'promisedDays', message: 'the promised time limit may not exceed the legal one' },
    ])
    // equal is fine
    expect(CatalogueItemSchema.safeParse({ ...good, legalDays: 10, promisedDays: 10 }).success).toBe(true)
  })

  it('refuses an instant item with promised days, naming promisedDays', () => {
    const found = issues(CatalogueItemSchema, { ...good, kind: 'instant', promisedDays: 2 })
    expect(found).toEqual([{ path: 'promisedDays', message: expect.stringContaining('instant item') }])
  })

  it('refuses a promised item with 0 promised days, naming promisedDays', () => {
    expect(issues(CatalogueItemSchema, { ...good, promisedDays: 0 })).toEqual([
      { path: 'promisedDays', message: expect.stringContaining('at least 1') },
    ])
  })

  it('refuses a missing or blank name, naming name', () => {
    const { name: _omit, ...noName } = good
    expect(issues(CatalogueItemSchema, noName).map((i) => i.path)).toContain('name')
    expect(issues(CatalogueItemSchema, { ...good, name: '   ' })).toEqual([{ path: 'name', message: 'an item needs a name' }])
  })

  it('names the field of other bad values', () => {
    expect(issues(CatalogueItemSchema, { ...good, code: 'x' }).map((i) => i.path)).toEqual(['code'])
    expect(issues(CatalogueItemSchema, { ...good, code: 'CX CZ 001' }).map((i) => i.path)).toEqual(['code'])
    expect(issues(CatalogueItemSchema, { ...good, level: 'province' }).map((i) => i.path)).toEqual(['level'])
    expect(issues(CatalogueItemSchema, { ...good, department: '' }).map((i) => i.path)).toEqual(['department'])
    expect(issues(CatalogueItemSchema, { ...good, legalDays: 1.5 }).map((i) => i.path)).toEqual(['legalDays'])
    expect(issues(CatalogueItemSchema, { ...good, materials: [{ name: '', required: true }] }).map((i) => i.path)).toEqual(['materials.0.name'])
    expect(issues(CatalogueItemSchema, { ...good, pinyin: 'JZZM' }).map((i) => i.path)).toEqual(['pinyin'])
    expect(issues(CatalogueItemSchema, { ...good, scope: '5113' }).map((i) => i.path)).toEqual(['scope'])
  })
})

describe('ItemCodeSchema', () => {
  it('takes 2–40 letters, digits or dashes, not starting with a dash', () => {
    expect(ItemCodeSchema.safeParse('CX-CZ-001').success).toBe(true)
    expect(ItemCodeSchema.safeParse('AB').success).toBe(true)
    expect(ItemCodeSchema.safeParse('A'.repeat(40)).success).toBe(true)
    expect(ItemCodeSchema.safeParse('A'.repeat(41)).success).toBe(false)
    expect(ItemCodeSchema.safeParse('A').success).toBe(false)
    expect(ItemCodeSchema.safeParse('-AB').success).toBe(false)
    expect(ItemCodeSchema.safeParse('CX_001').success).toBe(false)
  })
})

describe('CatalogueItemInputSchema and CatalogueItemPatchSchema', () => {
  it('the input has no version and applies the same day checks', () => {
    const r = CatalogueItemInputSchema.safeParse({ ...good, version: 7 })
    expect(r.success).toBe(true)
    expect(r.data).not.toHaveProperty('version')
    expect(issues(CatalogueItemInputSchema, { ...good, kind: 'instant', promisedDays: 3 }).map((i) => i.path)).toEqual(['promisedDays'])
  })

  it('a patch may hold any single field but still checks its value', () => {
    expect(CatalogueItemPatchSchema.safeParse({ name: '新名称' }).success).toBe(true)
    expect(CatalogueItemPatchSchema.safeParse({}).success).toBe(true)
    expect(issues(CatalogueItemPatchSchema, { promisedDays: -1 }).map((i) => i.path)).toEqual(['promisedDays'])
    expect(CatalogueItemPatchSchema.safeParse({ code: 'NEW-CODE' }).data).not.toHaveProperty('code')
  })
})

describe('CalendarSchema and CatalogueFileSchema', () => {
  it('refuses a date that is not YYYY-MM-DD, naming it', () => {
    const cal = { year: 2026, holidays: [{ date: '2026-10-1', name: '国庆节' }], workdays: [] }
    expect(issues(CalendarSchema, cal)).toEqual([{ path: 'holidays.0.date', message: 'a date is YYYY-MM-DD' }])
    expect(issues(CalendarSchema, { ...cal, holidays: [], year: 1999 }).map((i) => i.path)).toEqual(['year'])
  })

  it('a catalogue file defaults to no calendars and names a bad item by index', () => {
    const r = CatalogueFileSchema.safeParse({ items: [good] })
    expect(r.success).toBe(true)
    expect(r.data!.calendars).toEqual([])
    expect(issues(CatalogueFileSchema, { items: [good, { ...good, promisedDays: 40 }] }).map((i) => i.path)).toEqual(['items.1.promisedDays'])
  })
})
