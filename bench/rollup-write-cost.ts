/**
 * What migration 023's triggers add to writing cases (issue 11 goal 2 against goal 1's receiver
 * cost): a fresh store, cases inserted and then decided in statements of 32 (as a link batch
 * projects them), ms a case; `without` drops 023's triggers first (case_rollup_month/_daysum
 * and case_clock then go unkept — a measurement only).
 *
 * Run: npx tsx bench/rollup-write-cost.ts with|without   (one process each; alternate several runs)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../nodes/core/store/pglite.ts'
import { migrate } from '../nodes/core/store/migrate.ts'
const dir = mkdtempSync(join(tmpdir(), 'rollup-write-cost-'))
const db = await openPglite(join(dir, 'pgdata'))
await migrate(db)
const C = '511302000000'
await db.query("INSERT INTO node_meta (key, value) VALUES ('code', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [C])
let n = 0
async function batch(): Promise<void> {
  const vals: string[] = []
  const args: unknown[] = []
  for (let i = 0; i < 32; i++) {
    n++
    const day = `2026-${String(1 + (n % 11)).padStart(2, '0')}-${String(1 + (n % 28)).padStart(2, '0')}`
    const b = args.length
    args.push(`${C}-x-${n}`, ['C-P01', 'C-I01', 'T-P01'][n % 3], n % 4 ? C : '511302101000', n % 3 ? 'accepted' : 'approved', `${day}T02:00:00Z`, day, `2026-12-${String(1 + (n % 20)).padStart(2, '0')}`)
    vals.push(`($${b + 1},$${b + 2},1,$${b + 3},'${C}','instant',$${b + 4},NULL,'张三','13800000000',$${b + 5}::timestamptz,$${b + 5}::timestamptz,NULL,NULL,$${b + 7},NULL,0,$${b + 6},'${C}',false,0,false,0,NULL,NULL)`)
  }
  await db.query(`INSERT INTO cases (id, item_code, item_version, origin_code, handler_code, kind, status, decision, applicant_name, applicant_phone,
       created_at, accepted_at, completed_at, delivered_at, due_date, rating, flagged, stat_day, first_handler_code, cross_unit, transfers, deferred, owed, rect_status, rect_due) VALUES ${vals.join(',')}`, args)
  // and an update of the same rows (a decision), as a batch does
  await db.query(`UPDATE cases SET status = 'approved', decision = 'approved', completed_at = accepted_at + interval '1 hour' WHERE id = ANY($1::text[])`, [[...Array(32)].map((_, i) => `${C}-x-${n - i}`)])
}
async function run(label: string) {
  for (let i = 0; i < 10; i++) await batch() // warm
  const t0 = performance.now()
  for (let i = 0; i < 100; i++) await batch()
  console.log(`${label}: ${((performance.now() - t0) / 3200).toFixed(3)} ms a case (insert + update, batches of 32)`)
}
const drop = async () => { for (const t of ['case_rollup_spread_ins', 'case_rollup_spread_upd', 'case_rollup_spread_del']) await db.query(`DROP TRIGGER ${t} ON case_rollup`); for (const t of ['cases_clock_ins', 'cases_clock_upd', 'cases_clock_del']) await db.query(`DROP TRIGGER ${t} ON cases`) }
const mode = process.argv[2]
if (mode !== 'with' && mode !== 'without') throw new Error('usage: npx tsx bench/rollup-write-cost.ts with|without')
if (mode === 'without') await drop()
await run(mode)
await db.close()
rmSync(dir, { recursive: true, force: true })
