/**
 * The sample service catalogue (catalogue/sample.json): it parses as a catalogue file, covers
 * every level with instant and promised items, and carries the official 2026 calendar.
 */
import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { CatalogueFileSchema, type CatalogueFile } from '../protocol/catalogue.ts'
import { WorkingDays } from '../protocol/calendar.ts'
import { LEVELS } from '../protocol/division.ts'

const raw: unknown = JSON.parse(readFileSync(new URL('./sample.json', import.meta.url), 'utf8'))

function load(): CatalogueFile {
  const parsed = CatalogueFileSchema.safeParse(raw)
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues, null, 2))
  return parsed.data
}

const PREFIX = { village: 'V', township: 'T', county: 'C', city: 'S' } as const

describe('catalogue/sample.json', () => {
  it('parses with CatalogueFileSchema', () => {
    expect(CatalogueFileSchema.safeParse(raw).success).toBe(true)
  })

  it('holds at least 40 items', () => {
    expect(load().items.length).toBeGreaterThanOrEqual(40)
  })

  it('has at least one instant and one promised item at every level', () => {
    const { items } = load()
    for (const level of LEVELS) {
      const here = items.filter((i) => i.level === level)
      expect(here.some((i) => i.kind === 'instant'), `${level} instant`).toBe(true)
      expect(here.some((i) => i.kind === 'promised'), `${level} promised`).toBe(true)
    }
  })

  it('has unique codes, prefixed by level (V/T/C/S-nnn)', () => {
    const { items } = load()
    const codes = items.map((i) => i.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const i of items) expect(i.code).toMatch(new RegExp(`^${PREFIX[i.level]}-\\d{3}$`))
  })

  it('gives every item a pinyin of one initial per Chinese character, and 2–6 materials', () => {
    for (const i of load().items) {
      const han = [...i.name].filter((c) => /\p{Script=Han}/u.test(c)).length
      expect(i.pinyin?.length, i.name).toBe(han)
      expect(i.materials.length, i.name).toBeGreaterThanOrEqual(2)
      expect(i.materials.length, i.name).toBeLessThanOrEqual(6)
      expect(i.scope).toBeUndefined()
    }
  })

  it('indexes 居住证明 as jzzm', () => {
    const item = load().items.find((i) => i.name === '居住证明')
    expect(item?.pinyin).toBe('jzzm')
  })

  it('promises the passenger bus route licence in about 20 working days', () => {
    const item = load().items.find((i) => i.name === '道路旅客运输班线经营许可')
    expect(item?.level).toBe('city')
    expect(item?.kind).toBe('promised')
    expect(item!.promisedDays).toBeGreaterThanOrEqual(15)
    expect(item!.promisedDays).toBeLessThanOrEqual(20)
  })

  it('has one township item approved in parallel (并联审批) by two departments', () => {
    const parallel = load().items.filter((i) => i.parallel)
    expect(parallel.map((i) => [i.code, i.level, i.parallel!.map((d) => d.department)])).toEqual([['T-004', 'township', ['自然资源所', '农业农村办']]])
  })

  it('carries the 2026 calendar: 国庆 on 2026-10-01, 调休上班 on 2026-02-14', () => {
    const { calendars } = load()
    const y2026 = calendars.find((c) => c.year === 2026)
    expect(y2026).toBeDefined()
    expect(y2026!.holidays.some((h) => h.date === '2026-10-01')).toBe(true)
    expect(y2026!.workdays.some((w) => w.date === '2026-02-14')).toBe(true)
    const days = new WorkingDays(calendars)
    expect(days.isWorkingDay('2026-10-01')).toBe(false)
    expect(days.isWorkingDay('2026-02-14')).toBe(true)
    expect(days.isWorkingDay('2026-02-21')).toBe(false) // a Saturday inside 春节
  })
})
