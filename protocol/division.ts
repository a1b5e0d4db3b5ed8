/**
 * Division codes (行政区划代码): every node is named by a 12-digit statistical code.
 * Digits 1–4 city, 5–6 county, 7–9 township, 10–12 village. The tree *is* the code:
 * a node's ancestors are its zero-padded prefixes, and a drill-down is a group-by on a prefix.
 */
import { z } from 'zod'

export const LEVELS = ['city', 'county', 'township', 'village'] as const
export type Level = (typeof LEVELS)[number]
export const LevelSchema = z.enum(LEVELS)

/** Chinese names of the levels, for messages and the UI. */
export const LEVEL_NAMES_ZH: Record<Level, string> = { city: '市', county: '县(区)', township: '乡镇(街道)', village: '村(社区)' }

/** How many leading digits name a node at each level; the rest are zeros. */
const SIGNIFICANT: Record<Level, number> = { city: 4, county: 6, township: 9, village: 12 }

export const DivisionCodeSchema = z.string().regex(/^\d{12}$/, 'a division code is 12 digits')
export type DivisionCode = string

/** 0 = city … 3 = village: smaller is higher in the tree. */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level)
}

/** The level a 12-digit code names, or an error message when it names none. */
export function levelOfCode(code: string): Level | { error: string } {
  if (!/^\d{12}$/.test(code)) return { error: `"${code}" is not a division code: it must be 12 digits` }
  if (code.slice(0, 2) === '00' || code.slice(2, 4) === '00') return { error: `"${code}" names no city: digits 1–2 and 3–4 must not be 00` }
  if (code.slice(4) === '00000000') return 'city'
  if (code.slice(6) === '000000') return 'county'
  if (code.slice(9) === '000') {
    if (code.slice(4, 6) === '00') return { error: `"${code}" has a township but no county (digits 5–6 are 00)` }
    return 'township'
  }
  if (code.slice(4, 6) === '00' || code.slice(6, 9) === '000') return { error: `"${code}" has a village but no township or county above it` }
  return 'village'
}

/** Checks that `code` is a valid division code of exactly `level`; returns a message a person can act on, or null. */
export function checkCodeForLevel(code: string, level: Level): string | null {
  const actual = levelOfCode(code)
  if (typeof actual !== 'string') return actual.error
  if (actual !== level) {
    return `code ${code} is a ${actual} code, not a ${level} code (a ${level} code has ${SIGNIFICANT[level]} significant digits${level === 'village' ? '' : ' followed by zeros'})`
  }
  return null
}

/** The code of the ancestor (or self) of `code` at `level`. */
export function codeAtLevel(code: string, level: Level): string {
  const n = SIGNIFICANT[level]
  return code.slice(0, n).padEnd(12, '0')
}

/** The parent's code, or null for a city. */
export function parentCode(code: string): string | null {
  const level = levelOfCode(code)
  if (typeof level !== 'string' || level === 'city') return null
  return codeAtLevel(code, LEVELS[levelRank(level) - 1])
}

/** Ancestors from the city down, excluding the code itself. */
export function ancestors(code: string): string[] {
  const out: string[] = []
  for (let p = parentCode(code); p; p = parentCode(p)) out.unshift(p)
  return out
}

/** True when `code` is `ancestor` or sits below it. */
export function isInSubtree(code: string, ancestor: string): boolean {
  const level = levelOfCode(ancestor)
  if (typeof level !== 'string' || typeof levelOfCode(code) !== 'string') return false
  return code.slice(0, SIGNIFICANT[level]) === ancestor.slice(0, SIGNIFICANT[level])
}

/** The prefix that every code in `code`'s subtree shares (for SQL `LIKE prefix || '%'`). */
export function subtreePrefix(code: string): string {
  const level = levelOfCode(code)
  if (typeof level !== 'string') throw new Error(level.error)
  return code.slice(0, SIGNIFICANT[level])
}

/** The child of `ancestor` on the way down to `code` (the code's ancestor one level below), or null. */
export function childTowards(ancestor: string, code: string): string | null {
  const level = levelOfCode(ancestor)
  if (typeof level !== 'string' || level === 'village' || !isInSubtree(code, ancestor) || code === ancestor) return null
  return codeAtLevel(code, LEVELS[levelRank(level) + 1])
}

/**
 * The path of a case: the nodes between where it was taken in (origin) and where it is
 * decided (handler), both included. The handler is an ancestor-or-self of the origin.
 */
export function casePath(originCode: string, handlerCode: string): string[] {
  if (!isInSubtree(originCode, handlerCode)) throw new Error(`handler ${handlerCode} is not above origin ${originCode}`)
  const path = [originCode]
  for (let c = originCode; c !== handlerCode; ) {
    const p = parentCode(c)
    if (!p) break
    path.push(p)
    c = p
  }
  return path
}
