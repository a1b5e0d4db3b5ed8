/**
 * The unit directory as people read it (单位目录): codes and names of every unit of the tree,
 * resolved from the signed `directory:tree` document every node holds, so a window anywhere can
 * name the unit that decides a case (异地办理) by its name, pinyin initials or code.
 */
import {
  levelOfCode, levelRank, matchesInitials, parentCode, UnitListQuerySchema,
  type Level, type UnitView,
} from '../../../protocol/index.ts'
import { parseOr400 } from '../errors.ts'
import type { Trust } from '../trust/trust.ts'

export function listUnits(trust: Trust, input: unknown): { units: UnitView[] } {
  const q = parseOr400(UnitListQuerySchema, input, 'unit query')
  const text = q.q?.trim().toLowerCase() ?? ''
  const units: (UnitView & { score: number })[] = []
  for (const u of trust.allUnits()) {
    const level = levelOfCode(u.code)
    if (typeof level !== 'string' || (q.level && level !== q.level)) continue
    const score = !text ? 1 : u.code === text ? 100 : u.name.toLowerCase() === text ? 95 : u.name.includes(text) ? 70
      : matchesInitials(u.name, text) ? 60 : u.code.startsWith(text) ? 50 : 0
    if (!score) continue
    units.push({ code: u.code, name: u.name, level: level as Level, parentCode: parentCode(u.code), active: u.keys.some((k) => k.active), score })
  }
  units.sort((a, b) => b.score - a.score || levelRank(a.level) - levelRank(b.level) || (a.code < b.code ? -1 : 1))
  return { units: units.map(({ score: _s, ...u }) => u) }
}
