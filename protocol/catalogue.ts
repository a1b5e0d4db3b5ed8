/**
 * The service catalogue (事项目录): what each level handles, with its guide (办事指南),
 * and the working-day calendar the city publishes with it.
 */
import { z } from 'zod'
import { LevelSchema } from './division.ts'
import { ResultKindSchema } from './outcomes.ts'
import { parallelProblem, ParallelSchema } from './parallel.ts'

/** A required or optional application material (申请材料). */
export const MaterialSchema = z.object({
  name: z.string().trim().min(1, 'a material needs a name').max(200),
  required: z.boolean(),
  /**
   * 容缺: a required material the window may accept the case without, on a written commitment
   * to bring it by a deadline. Absent (as on every item written before it): not deferrable.
   */
  deferrable: z.boolean().optional(),
})

/** Item codes are readable and stable: letters, digits and dashes, e.g. `CX-CZ-001`. */
export const ItemCodeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{1,39}$/, 'an item code is 2–40 letters, digits or dashes')

const ItemBase = z.object({
  code: ItemCodeSchema,
  name: z.string().trim().min(1, 'an item needs a name').max(200),
  department: z.string().trim().min(1, 'an item needs its department (实施主体)').max(200),
  level: LevelSchema,
  kind: z.enum(['instant', 'promised']),
  legalDays: z.number().int().min(0).max(365),
  promisedDays: z.number().int().min(0).max(365),
  materials: z.array(MaterialSchema).max(100),
  fee: z.string().trim().max(200).default('不收费'),
  online: z.boolean().default(false),
  maxVisits: z.number().int().min(0).max(10).default(1),
  /** What the item gives (licence, certificate, benefit): the words of its outcome (protocol/outcomes.ts). */
  resultKind: ResultKindSchema,
  /** 并联审批: departments of the handling node giving opinions in parallel (protocol/parallel.ts). Absent: none. */
  parallel: ParallelSchema.optional(),
  /** Pinyin initials of the name, for search at the window (e.g. 居住证明 → jzzm). */
  pinyin: z.string().regex(/^[a-z]*$/).max(60).optional(),
  /** Who publishes it: the city's code, or a county's code for its local list. */
  scope: z.string().regex(/^\d{12}$/).optional(),
  version: z.number().int().min(1).default(1),
  retired: z.boolean().default(false),
})

function checkDays(item: { kind: string; legalDays: number; promisedDays: number; parallel?: { department: string; days: number }[] }, ctx: z.RefinementCtx) {
  const p = parallelProblem(item.parallel, item.promisedDays)
  if (p) ctx.addIssue({ code: 'custom', ...p })
  if (item.promisedDays > item.legalDays && item.legalDays > 0) {
    ctx.addIssue({ code: 'custom', path: ['promisedDays'], message: 'the promised time limit may not exceed the legal one' })
  }
  if (item.kind === 'instant' && item.promisedDays !== 0) {
    ctx.addIssue({ code: 'custom', path: ['promisedDays'], message: 'an instant item (即办件) is done on the spot: promisedDays must be 0' })
  }
  if (item.kind === 'promised' && item.promisedDays < 1) {
    ctx.addIssue({ code: 'custom', path: ['promisedDays'], message: 'a promised item (承诺件) needs at least 1 promised working day' })
  }
}

export const CatalogueItemSchema = ItemBase.superRefine(checkDays)
export type CatalogueItem = z.infer<typeof CatalogueItemSchema>
export type CatalogueItemInput = z.input<typeof CatalogueItemSchema>

/** The body of `POST /api/catalogue/items`: version is assigned by the node. */
export const CatalogueItemInputSchema = ItemBase.omit({ version: true }).superRefine(checkDays)

/** A change to an existing item: any field but the code. */
export const CatalogueItemPatchSchema = ItemBase.omit({ code: true, version: true }).partial()

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')

/**
 * The working-day calendar: weekends are rest days unless listed in `workdays`
 * (调休上班), and `holidays` are rest days even on a weekday.
 */
export const CalendarSchema = z.object({
  year: z.number().int().min(2000).max(2100),
  holidays: z.array(z.object({ date: IsoDate, name: z.string() })),
  workdays: z.array(z.object({ date: IsoDate, name: z.string() })),
})
export type Calendar = z.infer<typeof CalendarSchema>

/** A catalogue file: the items and the calendars published with them. */
export const CatalogueFileSchema = z.object({
  items: z.array(CatalogueItemSchema),
  calendars: z.array(CalendarSchema).default([]),
})
export type CatalogueFile = z.infer<typeof CatalogueFileSchema>
