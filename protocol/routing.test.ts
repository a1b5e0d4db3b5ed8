import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { handlerFor, takesIn } from './routing.ts'
import { isInSubtree, LEVELS, levelOfCode, levelRank, type Level } from './division.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const CODE_OF: Record<Level, string> = { city: CITY, county: COUNTY, township: TOWNSHIP, village: VILLAGE }

const item = (level: Level) => ({ level, code: `IT-${level.toUpperCase()}-001`, name: `${level} item` })

describe('takesIn', () => {
  it('a node takes in items of its own level and above, not below', () => {
    expect(takesIn('village', item('village'))).toBe(true)
    expect(takesIn('village', item('city'))).toBe(true)
    expect(takesIn('township', item('village'))).toBe(false)
    expect(takesIn('county', item('county'))).toBe(true)
    expect(takesIn('city', item('county'))).toBe(false)
    expect(takesIn('city', item('city'))).toBe(true)
  })
})

describe('handlerFor', () => {
  it('at a village, each item goes to the ancestor-or-self at its level', () => {
    expect(handlerFor(VILLAGE, item('village'))).toBe(VILLAGE)
    expect(handlerFor(VILLAGE, item('township'))).toBe(TOWNSHIP)
    expect(handlerFor(VILLAGE, item('county'))).toBe(COUNTY)
    expect(handlerFor(VILLAGE, item('city'))).toBe(CITY)
  })

  it('at a township, township items stay and county items go up', () => {
    expect(handlerFor(TOWNSHIP, item('township'))).toBe(TOWNSHIP)
    expect(handlerFor(TOWNSHIP, item('county'))).toBe(COUNTY)
    expect(handlerFor('511303205000', item('county'))).toBe('511303000000')
  })

  it('a node cannot take in an item decided below it', () => {
    const r = handlerFor(CITY, item('village'))
    expect(r).toEqual({
      error: 'village item (IT-VILLAGE-001) is decided at 村(社区) level and cannot be taken in at a city window above it',
    })
    expect(handlerFor(TOWNSHIP, item('village'))).toHaveProperty('error', expect.stringContaining('cannot be taken in at a township window'))
    expect(handlerFor(COUNTY, item('township'))).toHaveProperty('error', expect.stringContaining('乡镇(街道)'))
  })

  it('passes on the error of an invalid origin code', () => {
    expect(handlerFor('51130210120', item('county'))).toHaveProperty('error', expect.stringMatching(/12 digits/))
    expect(handlerFor('511300101000', item('county'))).toHaveProperty('error', expect.stringMatching(/no county/))
  })

  it('for every origin and item level, the handler is at the item level and above or at the origin', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LEVELS),
        fc.constantFrom(...LEVELS),
        fc.integer({ min: 1, max: 99 }),
        fc.integer({ min: 1, max: 999 }),
        fc.integer({ min: 1, max: 999 }),
        (originLevel, itemLevel, k, t, v) => {
          const full = `5113${String(k).padStart(2, '0')}${String(t).padStart(3, '0')}${String(v).padStart(3, '0')}`
          const sig = { city: 4, county: 6, township: 9, village: 12 }[originLevel]
          const origin = full.slice(0, sig).padEnd(12, '0')
          expect(levelOfCode(origin)).toBe(originLevel)
          const h = handlerFor(origin, item(itemLevel))
          if (levelRank(itemLevel) > levelRank(originLevel)) {
            expect(typeof h).toBe('object')
          } else {
            expect(typeof h).toBe('string')
            expect(levelOfCode(h as string)).toBe(itemLevel)
            expect(isInSubtree(origin, h as string)).toBe(true)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('uses the table of fixed codes consistently', () => {
    for (const o of LEVELS) {
      for (const i of LEVELS) {
        const h = handlerFor(CODE_OF[o], item(i))
        if (levelRank(i) <= levelRank(o)) expect(h).toBe(CODE_OF[i])
        else expect(h).toHaveProperty('error')
      }
    }
  })
})
