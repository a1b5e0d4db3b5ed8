/**
 * Versioned migrations: numbered .sql files beside this one, each applied once, in order, in
 * its own transaction. The same files run on PGlite and PostgreSQL 15.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Db } from './db.ts'

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations')

/** The migration files' names, in order (`NNN_name.sql`). */
const migrationFiles = (): string[] => readdirSync(DIR).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort()

export function listMigrations(): { version: number; name: string; sql: string }[] {
  return migrationFiles()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(DIR, f), 'utf8') }))
}

/**
 * Several processes may share one PostgreSQL database and start at once: each migration step
 * takes this transaction-scoped advisory lock and re-checks, so exactly one of them applies it
 * (two concurrent `CREATE TABLE`s otherwise collide in pg_type). Any constant will do.
 */
const MIGRATION_LOCK = 'SELECT pg_advisory_xact_lock(7411001)'

/** Applies the migrations not yet applied; returns the versions it applied. */
export async function migrate(db: Db): Promise<number[]> {
  // Every start asks; nearly every answer is "nothing to do": one read, no lock, no transaction.
  const known = await db.query<{ version: number }>('SELECT version FROM schema_migrations').catch(() => null)
  if (known) {
    const have = new Set(known.map((r) => r.version))
    if (migrationFiles().every((f) => have.has(Number(f.slice(0, 3))))) return []
  }
  await db.transaction(async (tx) => {
    await tx.query(MIGRATION_LOCK)
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
  })
  const done = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version))
  const applied: number[] = []
  for (const m of listMigrations()) {
    if (done.has(m.version)) continue
    const did = await db.transaction(async (tx) => {
      await tx.query(MIGRATION_LOCK)
      // Another process sharing the database may have applied it while we waited for the lock.
      if ((await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])).length) return false
      // Multi-statement SQL: PGlite's query() takes one statement, so split on the blank-line-
      // separated statements the files are written in.
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt)
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      return true
    })
    if (did) applied.push(m.version)
  }
  return applied
}

/**
 * Splits a migration file into statements on `;` at line ends, dropping comments. A function
 * body between `$$` lines (PL/pgSQL: 015's trigger) is one statement with its inner `;`s.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = []
  let cur: string[] = []
  let quoted = false
  for (const line of sql.split('\n')) {
    if (!quoted && line.trim().startsWith('--')) continue
    cur.push(line)
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) quoted = !quoted
    if (!quoted && /;\s*$/.test(line)) {
      out.push(cur.join('\n').replace(/;\s*$/, ''))
      cur = []
    }
  }
  out.push(cur.join('\n'))
  return out.map((s) => s.trim()).filter(Boolean)
}
