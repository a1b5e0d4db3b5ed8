/** The embedded store: PGlite (Postgres compiled to WASM) in the node's data dir. */
import { PGlite } from '@electric-sql/pglite'
import { fsyncTree } from './fsync.ts'
import type { Db, Queryable } from './db.ts'
import { migrate } from './migrate.ts'
import { unpackRows } from '../docs/packed-update.ts'

export async function openPglite(dir: string, opts: { loadDataDir?: Blob } = {}): Promise<Db & { pg: PGlite }> {
  // A village laptop is small: Postgres's default 128 MB of shared buffers is more than a
  // node's whole store and costs ~140 MB of RSS once touched (measured); 16 MB is plenty.
  // The write-ahead log is kept to 64 MB: Postgres's default (1 GB) left a 250,000-case county
  // with 1.1 GB of old WAL segments beside 1.4 GB of data (bench/county-size.ts); the journal,
  // not the WAL, is what a node replays after a power cut, and it checkpoints every 30 s.
  const pg = await PGlite.create({
    dataDir: dir, loadDataDir: opts.loadDataDir,
    postgresqlconf: ['shared_buffers = 16MB', 'work_mem = 2MB', 'maintenance_work_mem = 16MB', 'wal_buffers = 1MB', 'max_wal_size = 64MB', 'min_wal_size = 32MB'],
  })
  const wrap = (q: { query: PGlite['query'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      // A closed case's merged update is stored packed (docs/packed-update.ts): read back as Yjs.
      return unpackRows((await q.query<T>(sql, params as never)).rows)
    },
  })
  const self = wrap(pg)
  return {
    kind: 'pglite',
    pg,
    query: self.query,
    async exec(sql) {
      await pg.exec(sql)
    },
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async checkpoint() {
      // PGlite writes through to files but never fsyncs them: flush Postgres's buffers,
      // then fsync every file of the data dir ourselves.
      await pg.query('CHECKPOINT')
      await fsyncTree(dir)
    },
    async close() {
      await pg.close()
    },
  }
}

/**
 * Makes `dir` an initialised and migrated PGlite data dir that belongs to no node: a template
 * that a tree of new nodes (the demo) copies into each one's data dir, so that 15 first starts
 * do not each run initdb (~5 s and ~0.9 GB of RSS at its peak, measured). It holds the schema
 * only: a node's identity, keys, users and catalogue are written at its own first start.
 */
export async function makePgliteTemplate(dir: string): Promise<void> {
  const db = await openPglite(dir)
  try {
    await migrate(db)
    await db.pg.query('CHECKPOINT') // every page in the files before they are copied
  } finally {
    await db.close()
  }
}
