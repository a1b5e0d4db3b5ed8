/** The embedded store: PGlite (Postgres compiled to WASM) in the node's data dir. */
import { PGlite, parse, protocol, type Transaction } from '@electric-sql/pglite'
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
  const run = oneCall(pg)
  const self: Queryable = {
    async query<T>(sql: string, params?: unknown[]) {
      await pg._checkReady()
      // As PGlite's own query(): wait for any transaction to end, then for the WASM.
      return pg._runExclusiveTransaction(() => pg._runExclusiveQuery(async () => {
        const rows = await run(sql, params)
        await pg.syncToFs() // as PGlite does after a statement outside a transaction
        return rows as T[]
      }))
    },
  }
  const inTx = (tx: Transaction): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      if (tx.closed) throw new Error('Transaction is closed')
      return pg._runExclusiveQuery(() => run(sql, params)) as Promise<T[]>
    },
  })
  return {
    kind: 'pglite',
    pg,
    query: self.query,
    async exec(sql) {
      await pg.exec(sql)
    },
    transaction: (fn) => pg.transaction((tx) => fn(inTx(tx))),
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

const S = protocol.serialize

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.length
  }
  return all
}

/** DML, whose parameters' types a schema change made by another statement does not move under it. */
const DML = /^\s*(select|insert|update|delete|with|values)\b/i
/** Distinct statement texts whose parameter types are kept; the node's are a few hundred. */
const MAX_TEXTS = 1000

/**
 * One statement in one call into the WASM, with PGlite's query()'s parameters and results
 * exactly. query() sends parse, describe, bind, describe, execute and sync as six calls, each a
 * round through PGlite's JavaScript and Postgres's main loop (~0.1 ms of a trivial statement's
 * ~0.2, measured in session 9); here they go as one buffer. query()'s describe of the statement
 * is there to learn the parameters' types, which choose each value's text form (a JS array for
 * text[], JSON for jsonb, hex for bytea, an ISO string for a Date): those are asked once per
 * statement text (one more call, parse + describe + sync) and kept. A statement other than DML
 * (a migration's DDL, CHECKPOINT) forgets them all, since a changed column or function may change
 * them. Must run under PGlite's query mutex (and its transaction mutex outside a transaction).
 */
function oneCall(pg: PGlite) {
  const types = new Map<string, number[]>()
  async function send(msg: Uint8Array, sql: string, params: unknown[] | undefined) {
    try {
      return await pg.execProtocolStream(msg, { syncToFs: false })
    } catch (e) {
      // PGlite's query() adds the statement to a database error the same way (makePGliteError).
      if (e && typeof e === 'object' && 'code' in e) Object.assign(e, { query: sql, params, queryOptions: undefined })
      throw e
    }
  }
  return async function run(sql: string, params?: unknown[]): Promise<unknown[]> {
    const dml = DML.test(sql)
    if (!dml) types.clear()
    let oids: number[] | undefined = params?.length ? types.get(sql) : []
    if (!oids) {
      const described = await send(concat([S.parse({ text: sql }), S.describe({ type: 'S' }), S.sync()]), sql, params)
      oids = parse.parseDescribeStatementResults(described)
      if (dml) {
        if (types.size >= MAX_TEXTS) types.clear()
        types.set(sql, oids)
      }
    }
    // PGlite's query()'s own serialisation, by the parameter's type.
    const values = (params ?? []).map((v, i) => {
      if (v === null || v === undefined) return null
      const serialize = pg.serializers[oids[i]]
      return serialize ? serialize(v) : (v as { toString(): string }).toString()
    })
    const messages = await send(concat([S.parse({ text: sql }), S.bind({ values }), S.describe({ type: 'P' }), S.execute({}), S.sync()]), sql, params)
    // A closed case's merged update is stored packed (docs/packed-update.ts): read back as Yjs.
    return unpackRows(parse.parseResults(messages, pg.parsers)[0].rows)
  }
}
