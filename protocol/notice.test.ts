import { describe, expect, it } from 'vitest'
import { formatDocId, parseDocId } from './link-frames.ts'
import { checkNoticeTarget, noticeEnds, noticeLate, NoticeSchema } from './notice.ts'
import { childMayWrite, parentMayWrite, sendsDown, sendsUp, type DocRef } from './scopes.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const T1 = '511302101000'
const T2 = '511302102000'
const V1 = '511302101201'
const ID = `${COUNTY}-${T1}-Ab3_x-9Qz1`

describe('督办 notices: ids, targets, lateness', () => {
  it('a notice id names its issuer and target; anything else is none', () => {
    expect(noticeEnds(ID)).toEqual({ issuer: COUNTY, target: T1 })
    for (const bad of [`${COUNTY}-${T1}-short`, `${COUNTY}-${T1}`, `${COUNTY}${T1}-Ab3x9Qz1`, `${COUNTY}-${T1}-Ab3x9Qz1!`]) expect(noticeEnds(bad)).toBeNull()
  })

  it('a supervisor sends only to a unit of its own subtree', () => {
    expect(checkNoticeTarget(COUNTY, T1)).toBeNull()
    expect(checkNoticeTarget(COUNTY, V1)).toBeNull()
    expect(checkNoticeTarget(T1, T2)).toMatch(/督办只能发给本级及下辖单位/)
    expect(checkNoticeTarget(T1, COUNTY)).toMatch(/not under/)
  })

  it('a reply after the deadline (China time) is late; without a reply, late once the deadline has passed', () => {
    expect(noticeLate({ deadline: '2026-12-03' }, { at: '2026-12-03T15:59:00Z' }, '2026-12-10')).toBe(false) // 23:59 on the 3rd
    expect(noticeLate({ deadline: '2026-12-03' }, { at: '2026-12-03T16:00:00Z' }, '2026-12-01')).toBe(true) // 00:00 on the 4th
    expect(noticeLate({ deadline: '2026-12-03' }, null, '2026-12-03')).toBe(false)
    expect(noticeLate({ deadline: '2026-12-03' }, null, '2026-12-04')).toBe(true)
  })

  it('the notice schema is strict and ties the id to its ends', () => {
    const n = { id: ID, issuer: COUNTY, target: T1, text: '请办理', deadline: '2026-12-03', issuedAt: '2026-12-01T02:00:00Z', issuedBy: '钱监督（jd）', sig: 'S'.repeat(86) }
    expect(NoticeSchema.safeParse(n).success).toBe(true)
    expect(NoticeSchema.safeParse({ ...n, target: T2 }).success).toBe(false)
    expect(NoticeSchema.safeParse({ ...n, applicant: '张三' }).success).toBe(false)
  })
})

describe('scopes of watch: and notice: documents', () => {
  it('parse and format their document ids', () => {
    expect(parseDocId(`watch:${T1}`)).toEqual({ kind: 'watch', nodeCode: T1 })
    expect(parseDocId(`notice:${ID}`)).toEqual({ kind: 'notice', noticeId: ID, issuer: COUNTY, target: T1 })
    for (const id of [`watch:${T1}`, `notice:${ID}`]) expect(formatDocId(parseDocId(id))).toBe(id)
    expect(() => parseDocId('watch:5113')).toThrow(/watch:<12-digit unit code>/)
    expect(() => parseDocId(`notice:${COUNTY}-${T1}`)).toThrow(/notice:<issuer code>-<target code>/)
  })

  it('warnings go up to every ancestor, never down; a child writes only its subtree\'s', () => {
    const w: DocRef = { kind: 'watch', nodeCode: V1 }
    expect([T1, COUNTY, CITY].map((p) => sendsUp(p, w))).toEqual([true, true, true])
    expect(sendsUp(V1, w)).toBe(false)
    expect(sendsDown(V1, w)).toBe(false)
    expect(childMayWrite(COUNTY, T1, w)).toBeNull()
    expect(childMayWrite(COUNTY, T2, w)).toMatch(/not in 511302102000's subtree/)
    expect(parentMayWrite(T1, { kind: 'watch', nodeCode: COUNTY })).toMatch(/never go down/)
  })

  it('a notice travels the line from its issuer down to its target, and back up: nowhere else', () => {
    const n: DocRef = { kind: 'notice', issuer: COUNTY, target: V1 }
    expect(sendsDown(T1, n)).toBe(true)
    expect(sendsDown(V1, n)).toBe(true)
    expect(sendsDown(T2, n)).toBe(false)
    expect(sendsUp(T1, n)).toBe(true)
    expect(sendsUp(COUNTY, n)).toBe(true)
    expect(sendsUp(CITY, n)).toBe(false) // above the issuer
    expect(childMayWrite(COUNTY, T1, n)).toBeNull()
    expect(childMayWrite(COUNTY, T2, n)).toMatch(/does not pass 511302102000 → 511302000000/)
    expect(childMayWrite(CITY, COUNTY, n)).toMatch(/does not pass/)
    expect(parentMayWrite(T1, n)).toBeNull()
    expect(parentMayWrite(T2, n)).toMatch(/does not reach 511302102000/)
  })
})
