/**
 * The statistics of a city's 3,131 units for 12 months (bench/city-sim.ts): 4 counties, 175
 * townships, 2,952 villages (the seeds' city), about 1.1 million cases a year (the seeds' other
 * city took 731,000 in 8 months) — half at the county centres, 35 % at the townships, 15 % at
 * the villages, fewer on weekends, items skewed (a few items take most cases). Deterministic
 * (seeded). Each unit's own counts per day and item are summed into the rollups each county
 * would send its city, with the protocol's own buildRollup — as the nodes do.
 */
import { emptyCounts, type StatsCounts } from '../../protocol/index.ts'
import { buildRollup } from '../../protocol/stats-rollup.ts'
import { mulberry32 as rng } from '../../test/tools/link-emulator.ts'

export const CITY = '511300000000'
export const COUNTIES = ['511302000000', '511303000000', '511304000000', '511322000000']
const TOWNSHIPS_PER_COUNTY = [44, 44, 44, 43]
const VILLAGES = 2_952
export const CASES_PER_YEAR = Math.round((731_000 * 12) / 8)
const SHARE = { county: 0.5, township: 0.35, village: 0.15 }
const ITEMS = { county: 112, township: 28, village: 12 }
const PREFIX = { county: 'CO', township: 'TW', village: 'VI' }

export interface Unit { code: string; name: string; level: 'county' | 'township' | 'village'; parent: string }

export function cityUnits(): Unit[] {
  const out: Unit[] = []
  const townships: Unit[] = []
  COUNTIES.forEach((c, ci) => {
    out.push({ code: c, name: `县${ci + 1}`, level: 'county', parent: CITY })
    for (let t = 0; t < TOWNSHIPS_PER_COUNTY[ci]; t++) {
      const code = `${c.slice(0, 6)}${101 + t}000`
      const u: Unit = { code, name: `县${ci + 1}镇${t + 1}`, level: 'township', parent: c }
      out.push(u)
      townships.push(u)
    }
  })
  const per = Math.floor(VILLAGES / townships.length)
  let extra = VILLAGES - per * townships.length
  for (const t of townships) {
    const n = per + (extra-- > 0 ? 1 : 0)
    for (let v = 0; v < n; v++) out.push({ code: `${t.code.slice(0, 9)}${201 + v}`, name: `${t.name}村${v + 1}`, level: 'village', parent: t.code })
  }
  return out
}

/** Poisson-distributed count with mean `m` (Knuth for small means, normal approximation above 30). */
function poisson(r: () => number, m: number): number {
  if (m > 30) return Math.max(0, Math.round(m + Math.sqrt(m) * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())))
  const l = Math.exp(-m)
  let k = 0
  for (let p = r(); p > l; p *= r()) k++
  return k
}

/** Zipf-like pick among n items: item i with weight 1/(i+1). */
function zipfPicker(n: number): (x: number) => number {
  const cum: number[] = []
  let s = 0
  for (let i = 0; i < n; i++) cum.push((s += 1 / (i + 1)))
  return (x) => {
    const target = x * s
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cum[mid] < target) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** The figures of `k` cases of one item on one day: completed ~98 %, on the spot ~77 %, most rated well. */
function countsOf(r: () => number, k: number, promised: boolean): StatsCounts {
  const c = emptyCounts()
  c.accepted = k
  for (let i = 0; i < k; i++) {
    if (r() < 0.98) {
      c.completed++
      if (r() < 0.03) c.denied++
      else c.approved++
      if (r() < 0.995) c.onTime++
      if (r() < 0.77) c.onSpot++
      if (promised) {
        c.promisedCompleted++
        if (r() < 0.9) c.early++
      }
      if (r() < 0.6) {
        const x = r()
        c.ratings[x < 0.9 ? 4 : x < 0.98 ? 3 : x < 0.995 ? 2 : x < 0.998 ? 1 : 0]++
      }
    }
    if (r() < 0.02) c.crossUnit++
    if (r() < 0.01) c.transferred++
    if (r() < 0.05) c.deferred++
  }
  return c
}

export const monthsOf = (year: number): string[] => Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, '0')}`)

function daysOf(month: string): string[] {
  const [y, m] = month.split('-').map(Number)
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate()
  return Array.from({ length: n }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`)
}

/** One month of one county: every unit's own counts (`day|item`) by dimension, and the county's rollups. */
export interface CountyMonth {
  county: string
  month: string
  own: Record<'origin' | 'handler', Map<string, Map<string, StatsCounts>>>
  rollup: Record<'origin' | 'handler', Map<string, StatsCounts>>
  cases: number
}

/**
 * Generates one county's month. By 办理地 (handler), a village's cases of its odd-numbered items
 * are decided at its township (代办: taken in at the village, decided above); the rest where taken in.
 */
export function countyMonth(units: Unit[], county: string, month: string, seed = 1): CountyMonth {
  const r = rng(seed ^ (Number(county.slice(2, 6)) * 7919) ^ (Number(month.replace('-', '')) * 104729))
  const pick = { county: zipfPicker(ITEMS.county), township: zipfPicker(ITEMS.township), village: zipfPicker(ITEMS.village) }
  const counts = { county: 0, township: 0, village: 0 }
  for (const u of units) counts[u.level]++
  const mine = units.filter((u) => u.code === county || u.code.startsWith(county.slice(0, 6)))
  const own = { origin: new Map<string, Map<string, StatsCounts>>(), handler: new Map<string, Map<string, StatsCounts>>() }
  let cases = 0
  const put = (dim: 'origin' | 'handler', unit: string, key: string, c: StatsCounts) => {
    let m = own[dim].get(unit)
    if (!m) own[dim].set(unit, (m = new Map()))
    const old = m.get(key)
    if (!old) m.set(key, c)
    else for (const f of Object.keys(c) as (keyof StatsCounts)[]) {
      if (f === 'ratings') old.ratings = old.ratings.map((n, i) => n + c.ratings[i])
      else old[f] += c[f]
    }
  }
  for (const day of daysOf(month)) {
    const dow = new Date(`${day}T00:00:00Z`).getUTCDay()
    const weight = dow === 0 || dow === 6 ? 0.3 : 1.2
    for (const u of mine) {
      const mean = (CASES_PER_YEAR * SHARE[u.level]) / counts[u.level] / 365 * weight
      const n = poisson(r, mean)
      if (!n) continue
      cases += n
      const byItem = new Map<number, number>()
      for (let i = 0; i < n; i++) {
        const it = pick[u.level](r())
        byItem.set(it, (byItem.get(it) ?? 0) + 1)
      }
      for (const [it, k] of byItem) {
        const item = `${PREFIX[u.level]}-${String(it + 1).padStart(3, '0')}`
        const c = countsOf(r, k, it % 3 === 1)
        put('origin', u.code, `${day}|${item}`, c)
        const handler = u.level === 'village' && it % 2 === 1 ? u.parent : u.code
        put('handler', handler, `${day}|${item}`, structuredClone(c))
      }
    }
  }
  const rollup = {} as CountyMonth['rollup']
  for (const dim of ['origin', 'handler'] as const) {
    const of = (code: string): Map<string, StatsCounts> => buildRollup(
      code, own[dim].get(code) ?? new Map(),
      new Map(mine.filter((u) => u.parent === code).map((c) => [c.code, of(c.code)])),
    )
    rollup[dim] = of(county)
  }
  return { county, month, own, rollup, cases }
}

/** Item names for the documents (a rollup carries the names of the items it counts). */
export function itemName(code: string): string {
  const [p, n] = code.split('-')
  return `${p === 'CO' ? '县级事项' : p === 'TW' ? '乡镇事项' : '村级事项'}${Number(n)}`
}
