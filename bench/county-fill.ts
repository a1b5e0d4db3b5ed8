/**
 * Fills a county's data dir with a year of cases through the bulk path (bench/lib/county-fill.ts),
 * for bench/county-size.ts and for studying a big store by hand.
 *
 * Run: node --import tsx bench/county-fill.ts [DATA_DIR]   (default /tmp/county-size-<cases>/data)
 * Knobs (env): FILL_CASES (250000), FILL_BATCH (500 cases a statement), FILL_SEED (1).
 * Cases are spread over the working days of the 365 days before today: 40% taken in at the
 * county hall, 60% at its 20 townships and 300 villages, over the county-level items. Each case
 * is checked for 电子监察 as the county's watcher would have (case_watch, the warnings document):
 * a store without those rows made every start re-check the whole year.
 */
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { localDate } from '../protocol/index.ts'
import { openNode } from '../nodes/core/node.ts'
import { PRESETS } from '../nodes/core/presets.ts'
import type { Warning } from '../protocol/index.ts'
import { buildCase, COUNTY, countyUnits, rng, writeBatch, writeWarnings, type FilledCase } from './lib/county-fill.ts'

const CASES = Number(process.env.FILL_CASES ?? 250_000)
const BATCH = Number(process.env.FILL_BATCH ?? 500)
const dir = process.argv[2] ?? `/tmp/county-size-${CASES}/data`

export async function fillCounty(dataDir: string, cases: number, seed = 1, log = (s: string) => process.stderr.write(s + '\n')): Promise<void> {
  if (existsSync(dataDir)) throw new Error(`${dataDir} exists: the fill makes a new data dir (remove it first)`)
  const node = await openNode({ ...PRESETS.county.defaults, ...COUNTY, dataDir, catalogue: 'sample', checkpointMs: 3_600_000 })
  try {
    const units = countyUnits()
    await node.db.query(`INSERT INTO units (code, name) SELECT code, name FROM jsonb_to_recordset($1::jsonb) AS x(code text, name text) ON CONFLICT DO NOTHING`, [JSON.stringify(units)])
    const items = (await node.catalogue.list()).filter((i) => i.level === 'county' && !i.retired)
    const r = rng(seed)
    const today = localDate(new Date())
    const workdays: string[] = []
    for (let d = 365; d >= 1; d--) {
      const day = localDate(new Date(Date.parse(`${today}T12:00:00+08:00`) - d * 86_400_000))
      if (node.days().isWorkingDay(day)) workdays.push(day)
    }
    const perDay = cases / workdays.length
    const seqs = new Map<string, number>()
    let made = 0
    let batch: FilledCase[] = []
    const warnings: Warning[] = []
    const t0 = performance.now()
    for (let i = 0; i < workdays.length; i++) {
      const day = workdays[i]
      const n = Math.round(perDay * (i + 1)) - Math.round(perDay * i)
      for (let k = 0; k < n; k++) {
        const origin = r() < 0.4 ? COUNTY.code : units[1 + Math.floor(r() * (units.length - 1))].code
        const key = `${origin}|${day}`
        const seq = (seqs.get(key) ?? 0) + 1
        seqs.set(key, seq)
        const c = buildCase(node, items[Math.floor(r() * items.length)], origin, day, seq, today, r)
        batch.push(c)
        warnings.push(...c.watch.warnings)
        if (batch.length >= BATCH) {
          await writeBatch(node, batch)
          made += batch.length
          batch = []
          if (made % 25_000 < BATCH) log(`[fill] ${made} cases, ${(made / ((performance.now() - t0) / 1000)).toFixed(0)} cases/s, load ${loadavg()[0].toFixed(1)}`)
        }
      }
    }
    if (batch.length) await writeBatch(node, batch)
    made += batch.length
    await writeWarnings(node, warnings)
    // case_seq as the node keeps it, so a new intake never reuses a number.
    await node.cases.realignSequence()
    await node.db.query('ANALYZE')
    log(`[fill] ${made} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  } finally {
    await node.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await fillCounty(dir, CASES)
  console.log(dir)
}
