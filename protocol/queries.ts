/**
 * Query strings of the API's list routes, checked like bodies: every parameter a person can
 * mistype or an attacker can stretch answers 400 naming it, never a database error (an offset
 * of 1e30 overflows bigint; a NUL byte is refused by Postgres text).
 */
import { z } from 'zod'
import { CASE_STATUSES } from './case.ts'
import { LevelSchema, type Level } from './division.ts'

/** The largest page a list route answers, and the furthest it lets a client skip. */
export const MAX_PAGE = 1000
export const MAX_OFFSET = 1_000_000_000

/** A text parameter: no NUL or other control characters, a sane length. */
export const QueryText = (max: number) =>
  z.string().max(max, `at most ${max} characters`).refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'control characters (such as NUL) are not allowed')

/** A whole number in a query string, from `min` to `max`. */
const wholeNumber = (min: number, max: number) =>
  z.string()
    .regex(/^\d{1,10}$/, `a whole number from ${min} to ${max}, written in digits`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `a whole number from ${min} to ${max}`)

/** An empty parameter (`?handler=`) means the same as none. */
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === '' ? undefined : v), s.optional())

const statusList = z.string().max(200).refine(
  (s) => s.split(',').every((x) => (CASE_STATUSES as readonly string[]).includes(x)),
  `a status or a comma-separated list of them: ${CASE_STATUSES.join(', ')}`,
)

const divisionCode = z.string().regex(/^\d{12}$/, 'a 12-digit division code')

/** `GET /api/cases`: filters and the page. */
export const CaseListQuerySchema = z.object({
  status: optional(statusList),
  handler: optional(divisionCode),
  origin: optional(divisionCode),
  overdue: optional(z.enum(['true', 'false', '1', '0'], { message: 'overdue is true or false' }).transform((v) => v === 'true' || v === '1')),
  /** 并联审批: cases awaiting this department's opinion (its queue), each with `opinionDue`. */
  awaiting: optional(QueryText(40)),
  limit: optional(wholeNumber(0, MAX_PAGE)),
  offset: optional(wholeNumber(0, MAX_OFFSET)),
  /** Keyset pagination: the `next` a page answered; the page after it (any depth, the same cost). */
  cursor: optional(z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z~\d{12}-\d{8}-\d{4,6}$/, 'cursor is the `next` value of the page before, as the list answered it')),
})
export type CaseListQuery = z.infer<typeof CaseListQuerySchema>

/** The `Idempotency-Key` header: a client-chosen name for one write (a UUID will do). */
export const IdempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'Idempotency-Key is 1–128 visible ASCII characters, e.g. a UUID')

/** `GET /api/units`: the unit directory (codes and names of every unit of the tree; no personal data), for the unit picker. */
export const UnitListQuerySchema = z.object({
  level: optional(LevelSchema),
  /** A name fragment, pinyin initials or a code fragment. */
  q: optional(QueryText(50)),
})
export type UnitListQuery = z.infer<typeof UnitListQuerySchema>

/** One unit as the directory lists it. */
export interface UnitView {
  code: string
  name: string
  level: Level
  parentCode: string | null
  /** False once every key of the unit has been revoked (a retired unit keeps its code and name). */
  active: boolean
}
