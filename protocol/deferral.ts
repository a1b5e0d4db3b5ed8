/**
 * 容缺受理: which required materials a window may accept a case without. The catalogue marks
 * them (`deferrable`); the applicant signs a commitment to bring them by a deadline, and the
 * approval waits until they are supplied (the state machine's `owed`). Pure: the node's intake
 * and the intake page share it.
 */
import type { CatalogueItem } from './catalogue.ts'
import type { Deferred } from './case.ts'

export interface MaterialsCheck {
  /** Required materials neither brought nor deferred (一次性告知: all at once). */
  missing: string[]
  /** What is wrong with the deferral itself, in words for the window (null: nothing). */
  error: string | null
}

/** Checks the materials brought and the deferral against the item's guide, on `today` (YYYY-MM-DD). */
export function checkMaterials(item: Pick<CatalogueItem, 'name' | 'materials'>, brought: readonly string[], deferred: Deferred | undefined, today: string): MaterialsCheck {
  const owed = deferred?.materials ?? []
  const byName = new Map(item.materials.map((m) => [m.name, m]))
  const missing = item.materials.filter((m) => m.required && !brought.includes(m.name) && !owed.includes(m.name)).map((m) => m.name)
  const notDeferrable = owed.filter((m) => !byName.get(m)?.required || !byName.get(m)?.deferrable)
  const alsoBrought = owed.filter((m) => brought.includes(m))
  let error: string | null = null
  if (notDeferrable.length) error = `${item.name} 的这些材料不可容缺 (not deferrable for this item): ${notDeferrable.join('、')}`
  else if (alsoBrought.length) error = `已提交的材料无需容缺 (brought, so not deferred): ${alsoBrought.join('、')}`
  else if (deferred && deferred.deadline < today) error = `容缺材料的补齐期限不能早于今天 (the deadline ${deferred.deadline} is before today, ${today})`
  return { missing, error }
}
