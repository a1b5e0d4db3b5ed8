import { describe, expect, it } from 'vitest'
import { backoffMs, maskIdNumber, provinceRecords, ProvinceCaseRecordSchema, ProvinceRatingRecordSchema, stagesOf } from './province.ts'
import { foldCase } from './state-machine.ts'
import { WorkingDays } from './calendar.ts'
import type { Application, CaseEvent } from './case.ts'

const days = new WorkingDays([])
const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
const COUNTY = '511302000000'
const CITY = '511300000000'
const OTHER_COUNTY = '511303000000'

const app = (handlerCode: string): Application => ({
  id: `${VILLAGE}-20261123-0001`, itemCode: 'C-P01', itemVersion: 1,
  applicant: { name: '张三', idType: 'resident-id', idNumber: '511302198001011235', phone: '13800000000' },
  materials: ['申请书'], originCode: VILLAGE, handlerCode, createdAt: '2026-11-23T02:00:00.000Z', createdBy: 'agent',
  kind: 'promised', promisedDays: 5, sig: 'x',
})
let n = 0
const ev = (type: string, author: string, extra: object = {}): CaseEvent =>
  ({ type, id: `e${++n}`, lamport: n, author, user: 'staff', at: `2026-11-2${3 + (n % 5)}T03:00:00.000Z`, sig: 'x', ...extra }) as unknown as CaseEvent
const names = { item: '食品经营许可', unit: (c: string) => ({ [COUNTY]: '顺庆区', [VILLAGE]: '长青村' })[c] ?? c }

describe('province records', () => {
  const a = app(COUNTY)
  const f = foldCase(a, [ev('accepted', COUNTY), ev('approved', COUNTY), ev('delivered', VILLAGE), ev('rated', VILLAGE, { rating: 2 })], days)

  it('one case record per stage reached and the rating, keyed by case, stage and handler, valid for the exchange', () => {
    expect(stagesOf(f)).toEqual(['accepted', 'decided', 'delivered'])
    const r = provinceRecords(COUNTY, a, f, { originCode: VILLAGE, handlers: [COUNTY] }, names)
    expect(r.case.map((x) => x.key)).toEqual([`${a.id}:accepted:${COUNTY}`, `${a.id}:decided:${COUNTY}`, `${a.id}:delivered:${COUNTY}`])
    for (const x of r.case) ProvinceCaseRecordSchema.parse(x)
    expect(r.case[1]).toMatchObject({ result: 'approved', status: 'delivered', origin: { code: VILLAGE, name: '长青村' }, handler: { code: COUNTY, name: '顺庆区' }, item: { name: '食品经营许可' } })
    expect(r.rating).toHaveLength(1)
    ProvinceRatingRecordSchema.parse(r.rating[0])
    expect(r.rating[0]).toMatchObject({ key: `${a.id}:rating`, rating: 2, ratingName: '不满意' })
    const text = JSON.stringify(r)
    for (const secret of ['张三', '13800000000', '511302198001011235', '申请书']) expect(text).not.toContain(secret)
  })

  it('nothing at a node off the path; the same records at every node on it', () => {
    const route = { originCode: VILLAGE, handlers: [COUNTY] }
    expect(provinceRecords(OTHER_COUNTY, a, f, route, names)).toEqual({ case: [], rating: [] })
    expect(provinceRecords(CITY, a, f, route, names)).toEqual({ case: [], rating: [] }) // the path tops at the county
    const t = provinceRecords(TOWNSHIP, a, f, route, names)
    expect(t.case.map((x) => x.key)).toEqual(provinceRecords(COUNTY, a, f, route, names).case.map((x) => x.key))
  })

  it('a case not yet accepted has nothing to report; a refusal is reported as such', () => {
    const b = app(COUNTY)
    expect(stagesOf(foldCase(b, [], days))).toEqual([])
    const refused = foldCase(b, [ev('refused', COUNTY, { reason: '不属于本机关职权范围' })], days)
    const r = provinceRecords(COUNTY, b, refused, { originCode: VILLAGE, handlers: [COUNTY] }, names)
    expect(r.case).toMatchObject([{ stage: 'refused', result: 'refused', acceptedAt: null }])
    expect(JSON.stringify(r)).not.toContain('不属于本机关职权范围')
  })
})

describe('maskIdNumber', () => {
  it('keeps two characters at each end', () => {
    expect(maskIdNumber('511302198001011235')).toBe('51**************35')
    expect(maskIdNumber('E12345678')).toBe('E1*****78')
    expect(maskIdNumber('1234')).toBe('****')
  })
})

describe('backoffMs', () => {
  const o = { baseMs: 1000, capMs: 60_000 }
  it('doubles from the base, half fixed and half jitter, and never passes the cap', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, o, 0))).toEqual([500, 1000, 2000, 4000])
    expect([1, 2, 3, 4].map((a) => backoffMs(a, o, 0.999999))).toEqual([1000, 2000, 4000, 8000])
    expect(backoffMs(50, o, 0.999999)).toBe(60_000)
    expect(backoffMs(10_000, o, 0)).toBe(30_000)
  })
})
