/**
 * Bytes of a closed case at a county (issue 11, goal 3: < 2 KB a closed case, a year of 250,000
 * cases under 500 MB). Takes a county filled by bench/county-fill.ts, and for each side (an older
 * checkout "before", this checkout "after") copies it, opens it with that side's code (its
 * migrations), runs that side's compaction of closed cases past the retention to the end, then
 * VACUUM FULL and CHECKPOINT (what the store holds, not the space it has yet to reuse), and
 * measures: pg_total_relation_size of every case table (heap, TOAST and indexes) ÷ cases, the
 * part of doc_updates that is closed compacted cases' rows, and the data dir on disk (du).
 *
 * Run: node --import tsx bench/case-bytes.ts
 * Knobs (env): BYTES_BASE (a filled data dir; default: fills BYTES_CASES=50000 into
 * /tmp/bytes-<cases>/base), BENCH_ROOT (an older checkout for "before": `git archive <commit> |
 * tar -x -C DIR` plus a node_modules link), BYTES_RETENTION_DAYS (30), BYTES_VACUUM_FULL (1; 0:
 * plain VACUUM, the files as an upgraded node's own job leaves them).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { fillCounty } from './county-fill.ts'
import { CLOSED_SQL } from '../nodes/core/docs/compact-cases.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const CASES = Number(process.env.BYTES_CASES ?? 50_000)
const BASE = process.env.BYTES_BASE ?? `/tmp/bytes-${CASES}/base`
const OLD = process.env.BENCH_ROOT
const DAYS = Number(process.env.BYTES_RETENTION_DAYS ?? 30)
/** BYTES_VACUUM_FULL=0: measure the files as the node's own job leaves them (plain VACUUM: freed space reused, not returned). */
const FULL = process.env.BYTES_VACUUM_FULL !== '0'
const la = () => loadavg().map((x) => x.toFixed(2)).join(' / ')
const log = (s: string) => process.stderr.write(`[case-bytes ${new Date().toISOString().slice(11, 19)}] ${s}\n`)

/** The tables whose rows grow with cases. */
const CASE_TABLES = ['doc_updates', 'case_events', 'cases', 'doc_routes', 'case_rollup', 'case_tally', 'case_watch', 'case_opinions', 'province_outbox']

interface Side { label: string; n: number; closed: number; compacted: number; tables: Record<string, number>; closedDocBytes: number; allTables: number; du: number; wal: number; side: Record<string, number> }

/** What each side's compaction merges: before (de98695), delivered and rated; now CLOSED_SQL. */
const OLD_CLOSED_SQL = `(status = 'delivered' AND rating IS NOT NULL)`

async function measure(label: string, root: string, closedSql: string): Promise<Side> {
  const dir = join(dirname(BASE), `work-${label}`)
  execFileSync('rm', ['-rf', dir])
  execFileSync('cp', ['-a', BASE, dir])
  log(`${label}: opening and compacting with ${root} (load ${la()})`)
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(HERE, 'lib/case-bytes-side.ts'), root, dir, String(DAYS)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 }).toString()
  const side = JSON.parse(out.trim().split('\n').pop()!)
  log(`${label}: ${JSON.stringify(side)}; VACUUM FULL and measuring (load ${la()})`)
  const pg = await PGlite.create({ dataDir: join(dir, 'pgdata') })
  const q = async <T>(sql: string, p?: unknown[]) => (await pg.query<T>(sql, p as never)).rows
  await pg.exec(FULL ? 'VACUUM FULL' : 'VACUUM')
  await pg.exec('CHECKPOINT')
  const cutoff = new Date(Date.now() - DAYS * 86_400_000).toISOString()
  const [c] = await q<{ n: number; closed: number; compacted: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'delivered' AND rating IS NOT NULL)::int AS closed,
       count(*) FILTER (WHERE ${closedSql} AND updated_at < $1)::int AS compacted FROM cases`, [cutoff])
  const tables: Record<string, number> = {}
  for (const t of CASE_TABLES) {
    const [r] = await q<{ b: number | null }>(`SELECT pg_total_relation_size(to_regclass($1))::float8 AS b`, [t])
    if (r?.b != null) tables[t] = Number(r.b)
  }
  const [all] = await q<{ b: number }>(`SELECT sum(pg_total_relation_size(c.oid))::float8 AS b FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public' AND c.relkind = 'r'`)
  // The closed compacted cases' share of doc_updates: its heap by their rows' bytes (each row's
  // size plus its 4-byte line pointer), its indexes by their number of rows.
  const [d] = await q<{ rows: number; bytes: number; crows: number; cbytes: number; heap: number; idx: number }>(
    `SELECT count(*)::float8 AS rows, sum(pg_column_size(u.*) + 4)::float8 AS bytes,
       count(*) FILTER (WHERE k.id IS NOT NULL)::float8 AS crows, coalesce(sum(pg_column_size(u.*) + 4) FILTER (WHERE k.id IS NOT NULL), 0)::float8 AS cbytes,
       (pg_table_size('doc_updates'))::float8 AS heap, (pg_indexes_size('doc_updates'))::float8 AS idx
     FROM doc_updates u LEFT JOIN cases k ON u.doc_id = 'case:' || k.id AND ${closedSql.replaceAll(/\b(status|rating|rect_status)\b/g, 'k.$1')} AND k.updated_at < $1`, [cutoff])
  const closedDocBytes = d.heap * (d.cbytes / d.bytes) + d.idx * (d.crows / d.rows)
  await pg.close()
  const du = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
  const wal = Number(execFileSync('du', ['-sb', join(dir, 'pgdata/pg_wal')]).toString().split('\t')[0])
  execFileSync('rm', ['-rf', dir])
  return { label, n: c.n, closed: c.closed, compacted: c.compacted, tables, closedDocBytes, allTables: Number(all.b), du, wal, side }
}

const loadStart = la()
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
if (!existsSync(BASE)) {
  log(`filling ${CASES} cases into ${BASE}`)
  await fillCounty(BASE, CASES)
}
const sides: Side[] = []
if (OLD) sides.push(await measure('before', OLD, OLD_CLOSED_SQL))
sides.push(await measure('after', ROOT, CLOSED_SQL))

const b = (x: number) => x.toFixed(0)
const mb = (x: number) => (x / 1e6).toFixed(1)
const s0 = sides[0]
console.log(`\n${s0.n} cases (${s0.closed} delivered and rated). Compaction merged ${sides.map((s) => `${s.compacted} (${s.label})`).join(', ')}: the closed cases untouched for ${DAYS} days (before: delivered and rated; after: delivered, refused or withdrawn). Bytes a case = size ÷ ${s0.n} cases.\n`)
console.log(`| measure | ${sides.map((s) => s.label).join(' | ')} |`)
console.log(`|---|${sides.map(() => '---|').join('')}`)
for (const t of CASE_TABLES) {
  if (!sides.some((s) => s.tables[t] !== undefined)) continue
  console.log(`| ${t} (table, TOAST, indexes), B a case | ${sides.map((s) => (s.tables[t] === undefined ? '—' : `${b(s.tables[t] / s.n)} (${mb(s.tables[t])} MB)`)).join(' | ')} |`)
}
const perCaseOthers = (s: Side) => Object.entries(s.tables).filter(([t]) => t !== 'doc_updates').reduce((n, [, v]) => n + v, 0) / s.n
console.log(`| case tables, B a case | ${sides.map((s) => b(Object.values(s.tables).reduce((n, v) => n + v, 0) / s.n)).join(' | ')} |`)
console.log(`| all tables, B a case | ${sides.map((s) => b(s.allTables / s.n)).join(' | ')} |`)
console.log(`| **a closed case**: its doc_updates rows (share of heap and indexes) + the other case tables ÷ cases, B | ${sides.map((s) => `**${b(s.closedDocBytes / s.compacted + perCaseOthers(s))}** (${b(s.closedDocBytes / s.compacted)} + ${b(perCaseOthers(s))})`).join(' | ')} |`)
console.log(`| data dir on disk (du -sb), B a case | ${sides.map((s) => `${b(s.du / s.n)} (${mb(s.du)} MB, of which WAL ${mb(s.wal)} MB)`).join(' | ')} |`)
console.log(`| data dir less WAL, B a case | ${sides.map((s) => b((s.du - s.wal) / s.n)).join(' | ')} |`)
console.log(`| a year of 250,000 cases at this mix: all tables × 250,000 ÷ ${s0.n} | ${sides.map((s) => `${mb((s.allTables / s.n) * 250_000)} MB`).join(' | ')} |`)
console.log(`| … plus what does not grow with cases (the rest of the data dir: catalogs, WAL) | ${sides.map((s) => `${mb((s.allTables / s.n) * 250_000 + (s.du - s.allTables))} MB`).join(' | ')} |`)
console.log(`| first open (migrations), s | ${sides.map((s) => (s.side.migrateMs / 1000).toFixed(1)).join(' | ')} |`)
console.log(`| compaction to the end: cases merged, s | ${sides.map((s) => `${s.side.merged}, ${(s.side.compactMs / 1000).toFixed(1)} s`).join(' | ')} |`)
console.log(`\n${FULL ? 'After VACUUM FULL.' : 'After plain VACUUM only (no VACUUM FULL).'} Load average (1/5/15 min) at the start ${loadStart}, at the end ${la()}. Code: ${commit}${OLD ? ` (before: ${OLD})` : ''}.\n`)
