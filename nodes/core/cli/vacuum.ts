/**
 * `tongban store vacuum`: give a stopped node's embedded store back the disk its dead rows hold.
 *
 * A running node keeps its store from growing (the compaction job merges closed cases and runs a
 * plain VACUUM, which marks freed pages reusable), but a plain VACUUM never shortens a file. A
 * store that was filled by an older version — every case's updates unmerged, every event copied
 * into `case_events` — keeps its size after the upgrade: a 250,000-case county stays at ~1.2 GB
 * while what it holds fits in half that. VACUUM FULL rewrites every table into new files, which
 * needs the store to itself (it locks each table) and up to the size of the biggest table free on
 * disk; so it is a command for a stopped node, not a job of a running one. It first merges every
 * closed case past the retention (TONGBAN_CASE_RETENTION_DAYS), as the node's hourly job does a
 * page at a time.
 */
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { compactClosedCases, retentionDaysFromEnv } from '../docs/compact-cases.ts'
import { ConfigError } from '../node.ts'
import { listMigrations } from '../store/migrate.ts'
import { openPglite } from '../store/pglite.ts'
import { lockDataDir, lockOwner } from '../store/lock.ts'

/** Bytes of every file under `dir`. */
function treeBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    n += e.isDirectory() ? treeBytes(p) : e.isFile() ? statSync(p).size : 0
  }
  return n
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`

export async function vacuumCommand(args: string[], say: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  const f = parseArgs({ args, options: { data: { type: 'string' } }, strict: true, allowPositionals: false }).values
  if (!f.data) throw new ConfigError('store vacuum: --data is required: the data dir of a stopped node')
  const dataDir = resolve(f.data)
  const pgdata = join(dataDir, 'pgdata')
  let exists = false
  try {
    exists = statSync(pgdata).isDirectory()
  } catch {
    /* no embedded store */
  }
  if (!exists) {
    throw new ConfigError(`store vacuum: ${dataDir} has no embedded store (no pgdata/): a node on PostgreSQL (--database-url) is vacuumed by PostgreSQL's own autovacuum, or VACUUM FULL run there`)
  }
  const pid = lockOwner(dataDir)
  if (pid !== null) throw new ConfigError(`store vacuum: the node in ${dataDir} is running (process ${pid}): stop it first — VACUUM FULL needs the store to itself`)
  const lock = lockDataDir(dataDir)
  try {
    const db = await openPglite(pgdata)
    let before = 0
    let after = 0
    try {
      // Only a store this version has started on: its migrations (021 above all: case_events
      // emptied of copies) are what frees the rows, and a command that changes no schema
      // should not be the first to open an older store.
      const have = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations').catch(() => [])).map((r) => r.version))
      const missing = listMigrations().filter((m) => !have.has(m.version))
      if (missing.length) {
        throw new ConfigError(`store vacuum: the store in ${dataDir} has not been started by this version (migrations ${missing.map((m) => m.version).join(', ')} not applied): start the node once, stop it, then vacuum`)
      }
      // The database's own files: the data dir beside them also holds the write-ahead log, which
      // VACUUM FULL itself grows by what it rewrites (recycled later, up to max_wal_size).
      const size = async () => Number((await db.query<{ n: string }>('SELECT pg_database_size(current_database())::text AS n'))[0].n)
      before = await size()
      // The running node merges at most 5,000 closed cases an hour, which keeps up with a
      // county's intake but would take days over an older store's backlog: all of it, here.
      const retentionDays = retentionDaysFromEnv()
      const merged = await compactClosedCases(db, { retentionDays, now: new Date(), maxCases: Number.MAX_SAFE_INTEGER })
      if (merged.merged) say(`merged ${merged.merged} closed case(s) untouched for ${retentionDays} days (${merged.rowsRemoved} stored updates merged away)`)
      await db.exec('VACUUM FULL')
      await db.exec('CHECKPOINT')
      after = await size()
    } finally {
      await db.close()
    }
    say(`vacuumed the store in ${dataDir}: ${mb(before)} → ${mb(after)} (${mb(Math.max(0, before - after))} given back); the data dir is now ${mb(treeBytes(dataDir))}`)
    return 0
  } finally {
    lock.release()
  }
}
