import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  ancestors, casePath, checkCodeForLevel, childTowards, codeAtLevel, DivisionCodeSchema, isInSubtree,
  LEVELS, levelOfCode, levelRank, parentCode, subtreePrefix, type Level,
} from './division.ts'

const CITY = '511300000000'
const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'

function errorOf(r: Level | { error: string }): string {
  if (typeof r === 'string') throw new Error(`expected an error, got level ${r}`)
  return r.error
}

describe('levelOfCode', () => {
  it('names the level of valid codes at each level', () => {
    expect(levelOfCode(CITY)).toBe('city')
    expect(levelOfCode(COUNTY)).toBe('county')
    expect(levelOfCode(TOWNSHIP)).toBe('township')
    expect(levelOfCode(VILLAGE)).toBe('village')
  })

  it('accepts a village whose digits 10–11 are zero and a township whose digits 7–8 are zero', () => {
    expect(levelOfCode('511302101001')).toBe('village')
    expect(levelOfCode('511302001000')).toBe('township')
  })

  it('refuses codes that are not 12 digits', () => {
    expect(errorOf(levelOfCode('51130210120'))).toMatch(/12 digits/)
    expect(errorOf(levelOfCode('5113021012011'))).toMatch(/12 digits/)
    expect(errorOf(levelOfCode('51130210120a'))).toMatch(/12 digits/)
    expect(errorOf(levelOfCode('5113 2101201'))).toMatch(/12 digits/)
    expect(errorOf(levelOfCode(''))).toMatch(/12 digits/)
    // full-width digits are not ASCII digits
    expect(errorOf(levelOfCode('５１１３０２１０１２０１'))).toMatch(/12 digits/)
  })

  it('quotes the bad code in the message', () => {
    expect(errorOf(levelOfCode('51130210120'))).toContain('"51130210120"')
  })

  it('refuses codes that name no city', () => {
    expect(errorOf(levelOfCode('000000000000'))).toMatch(/no city/)
    // a province code (digits 3–4 zero) is not a city
    expect(errorOf(levelOfCode('510000000000'))).toMatch(/no city/)
    expect(errorOf(levelOfCode('510002101201'))).toMatch(/no city/)
    // no province is numbered 00 (GB/T 2260 starts at 11)
    expect(errorOf(levelOfCode('001300000000'))).toMatch(/no city/)
    expect(errorOf(levelOfCode('000102101201'))).toMatch(/no city/)
  })

  it('refuses a township without a county', () => {
    expect(errorOf(levelOfCode('511300101000'))).toMatch(/township but no county/)
  })

  it('refuses a village without a township or without a county', () => {
    expect(errorOf(levelOfCode('511302000201'))).toMatch(/village but no township or county/)
    expect(errorOf(levelOfCode('511300101201'))).toMatch(/village but no township or county/)
    expect(errorOf(levelOfCode('511300000201'))).toMatch(/village but no township or county/)
  })
})

describe('DivisionCodeSchema', () => {
  it('accepts 12 digits and refuses anything else', () => {
    expect(DivisionCodeSchema.safeParse(VILLAGE).success).toBe(true)
    expect(DivisionCodeSchema.safeParse('51130210120').success).toBe(false)
    expect(DivisionCodeSchema.safeParse('51130210120x').success).toBe(false)
  })
})

describe('checkCodeForLevel', () => {
  it('returns null for a code of exactly that level', () => {
    expect(checkCodeForLevel(CITY, 'city')).toBeNull()
    expect(checkCodeForLevel(COUNTY, 'county')).toBeNull()
    expect(checkCodeForLevel(TOWNSHIP, 'township')).toBeNull()
    expect(checkCodeForLevel(VILLAGE, 'village')).toBeNull()
  })

  it('says which level a code of another level is, and how many digits the wanted level has', () => {
    expect(checkCodeForLevel(COUNTY, 'village')).toBe(
      'code 511302000000 is a county code, not a village code (a village code has 12 significant digits)',
    )
    expect(checkCodeForLevel(VILLAGE, 'township')).toBe(
      'code 511302101201 is a village code, not a township code (a township code has 9 significant digits followed by zeros)',
    )
    expect(checkCodeForLevel(TOWNSHIP, 'city')).toBe(
      'code 511302101000 is a township code, not a city code (a city code has 4 significant digits followed by zeros)',
    )
    expect(checkCodeForLevel(CITY, 'county')).toBe(
      'code 511300000000 is a city code, not a county code (a county code has 6 significant digits followed by zeros)',
    )
  })

  it('passes on the format error of an invalid code', () => {
    expect(checkCodeForLevel('51130210120', 'village')).toMatch(/must be 12 digits/)
    expect(checkCodeForLevel('511300101000', 'township')).toMatch(/township but no county/)
  })
})

describe('codeAtLevel and parentCode', () => {
  it('codeAtLevel zero-pads the prefix of the level', () => {
    expect(codeAtLevel(VILLAGE, 'city')).toBe(CITY)
    expect(codeAtLevel(VILLAGE, 'county')).toBe(COUNTY)
    expect(codeAtLevel(VILLAGE, 'township')).toBe(TOWNSHIP)
    expect(codeAtLevel(VILLAGE, 'village')).toBe(VILLAGE)
  })

  it('parentCode goes one level up', () => {
    expect(parentCode(VILLAGE)).toBe(TOWNSHIP)
    expect(parentCode(TOWNSHIP)).toBe(COUNTY)
    expect(parentCode(COUNTY)).toBe(CITY)
  })

  it('parentCode of a city or an invalid code is null', () => {
    expect(parentCode(CITY)).toBeNull()
    expect(parentCode('51130210120')).toBeNull()
    expect(parentCode('511300101000')).toBeNull()
  })
})

describe('ancestors', () => {
  it('lists the ancestors from the city down, without the code itself', () => {
    expect(ancestors(VILLAGE)).toEqual([CITY, COUNTY, TOWNSHIP])
    expect(ancestors(TOWNSHIP)).toEqual([CITY, COUNTY])
    expect(ancestors(COUNTY)).toEqual([CITY])
    expect(ancestors(CITY)).toEqual([])
  })

  it('is empty for an invalid code', () => {
    expect(ancestors('abc')).toEqual([])
  })
})

describe('isInSubtree', () => {
  it('is true for self and for every descendant', () => {
    expect(isInSubtree(VILLAGE, VILLAGE)).toBe(true)
    expect(isInSubtree(VILLAGE, TOWNSHIP)).toBe(true)
    expect(isInSubtree(VILLAGE, COUNTY)).toBe(true)
    expect(isInSubtree(VILLAGE, CITY)).toBe(true)
    expect(isInSubtree(TOWNSHIP, CITY)).toBe(true)
  })

  it('is false for siblings and cousins', () => {
    expect(isInSubtree('511302102201', TOWNSHIP)).toBe(false) // a village of another township
    expect(isInSubtree('511303101201', COUNTY)).toBe(false) // a village of another county
    expect(isInSubtree('511402101201', CITY)).toBe(false) // a village of another city
    expect(isInSubtree('511302101202', VILLAGE)).toBe(false) // a sibling village
  })

  it('is false upwards: an ancestor is not in its descendant’s subtree', () => {
    expect(isInSubtree(COUNTY, VILLAGE)).toBe(false)
    expect(isInSubtree(CITY, COUNTY)).toBe(false)
    expect(isInSubtree(TOWNSHIP, VILLAGE)).toBe(false)
  })

  it('is false when the ancestor is not a valid code', () => {
    expect(isInSubtree(VILLAGE, '5113')).toBe(false)
    expect(isInSubtree(VILLAGE, '511300101000')).toBe(false)
  })

  it('is false when the code itself is not a valid code, even with the right prefix', () => {
    expect(isInSubtree('5113', CITY)).toBe(false)
    expect(isInSubtree('511302', COUNTY)).toBe(false)
    expect(isInSubtree(`${VILLAGE}9`, VILLAGE)).toBe(false)
    expect(isInSubtree(`${VILLAGE}-forged`, TOWNSHIP)).toBe(false)
    expect(isInSubtree('511302000201', COUNTY)).toBe(false) // a village without a township
  })
})

describe('subtreePrefix', () => {
  it('is the significant digits of each level', () => {
    expect(subtreePrefix(CITY)).toBe('5113')
    expect(subtreePrefix(COUNTY)).toBe('511302')
    expect(subtreePrefix(TOWNSHIP)).toBe('511302101')
    expect(subtreePrefix(VILLAGE)).toBe('511302101201')
  })

  it('throws with the format message for an invalid code', () => {
    expect(() => subtreePrefix('5113')).toThrow(/12 digits/)
  })
})

describe('childTowards', () => {
  it('returns the child of the ancestor on the way down to the code', () => {
    expect(childTowards(CITY, VILLAGE)).toBe(COUNTY)
    expect(childTowards(COUNTY, VILLAGE)).toBe(TOWNSHIP)
    expect(childTowards(TOWNSHIP, VILLAGE)).toBe(VILLAGE)
    expect(childTowards(CITY, TOWNSHIP)).toBe(COUNTY)
    expect(childTowards(CITY, COUNTY)).toBe(COUNTY)
  })

  it('is null for the node itself, a village ancestor, a code outside the subtree, or an invalid ancestor', () => {
    expect(childTowards(VILLAGE, VILLAGE)).toBeNull()
    expect(childTowards(COUNTY, COUNTY)).toBeNull()
    expect(childTowards(COUNTY, '511303101201')).toBeNull()
    expect(childTowards(VILLAGE, TOWNSHIP)).toBeNull()
    expect(childTowards('51130200000', VILLAGE)).toBeNull()
  })
})

describe('casePath', () => {
  it('runs from the origin up to the handler, both included', () => {
    expect(casePath(VILLAGE, COUNTY)).toEqual([VILLAGE, TOWNSHIP, COUNTY])
    expect(casePath(VILLAGE, CITY)).toEqual([VILLAGE, TOWNSHIP, COUNTY, CITY])
    expect(casePath(TOWNSHIP, COUNTY)).toEqual([TOWNSHIP, COUNTY])
  })

  it('is the node alone when origin and handler are the same', () => {
    expect(casePath(VILLAGE, VILLAGE)).toEqual([VILLAGE])
    expect(casePath(CITY, CITY)).toEqual([CITY])
  })

  it('throws when the handler is not above the origin', () => {
    expect(() => casePath(VILLAGE, '511303000000')).toThrow(/not above origin/)
    expect(() => casePath(COUNTY, VILLAGE)).toThrow(/not above origin/)
  })
})

/** Random valid village codes: city 11–65 + 01–99, county 01–99, township 001–999, village 001–999. */
const pad = (n: number, w: number) => String(n).padStart(w, '0')
const villageCode = fc
  .tuple(fc.integer({ min: 11, max: 65 }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 999 }), fc.integer({ min: 1, max: 999 }))
  .map(([p, c, k, t, v]) => `${p}${pad(c, 2)}${pad(k, 2)}${pad(t, 3)}${pad(v, 3)}`)

describe('division properties', () => {
  it('ancestors of a village contain it, and the case path to each has rank difference + 1 nodes', () => {
    fc.assert(
      fc.property(villageCode, (code) => {
        expect(levelOfCode(code)).toBe('village')
        const anc = ancestors(code)
        expect(anc.map((a) => levelOfCode(a))).toEqual(['city', 'county', 'township'])
        for (const a of anc) {
          expect(isInSubtree(code, a)).toBe(true)
          expect(code.startsWith(subtreePrefix(a))).toBe(true)
          const level = levelOfCode(a) as Level
          const path = casePath(code, a)
          expect(path.length).toBe(levelRank('village') - levelRank(level) + 1)
          expect(path[0]).toBe(code)
          expect(path[path.length - 1]).toBe(a)
          // every node of the path is an ancestor-or-self of the origin and inside the handler's subtree
          for (const p of path) {
            expect(isInSubtree(code, p)).toBe(true)
            expect(isInSubtree(p, a)).toBe(true)
          }
          // one step down from the ancestor is the next element of the ancestor chain (or the code)
          const idx = LEVELS.indexOf(level)
          expect(childTowards(a, code)).toBe(idx + 1 < anc.length ? anc[idx + 1] : code)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('a village is in no other county’s subtree', () => {
    fc.assert(
      fc.property(villageCode, fc.integer({ min: 1, max: 99 }), (code, other) => {
        fc.pre(pad(other, 2) !== code.slice(4, 6))
        const otherCounty = `${code.slice(0, 4)}${pad(other, 2)}000000`
        expect(isInSubtree(code, otherCounty)).toBe(false)
        expect(() => casePath(code, otherCounty)).toThrow()
      }),
      { numRuns: 200 },
    )
  })
})
