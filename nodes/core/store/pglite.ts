/** The embedded store: PGlite (Postgres compiled to WASM) in the node's data dir. */
import { PGlite, parse, protocol, type Transaction } from '@electric-sql/pglite'
import { fsyncTree } from './fsync.ts'
import { PLANNED_ONCE, type Db, type Queryable } from './db.ts'
import { migrate } from './migrate.ts'
import { unpackRows } from '../docs/packed-update.ts'

/**
 * A bytea result (`\\x` and hex) decoded by Buffer in C++. PGlite's own parser makes one
 * `parseInt` a byte in JavaScript: every read of stored updates paid it (a statistics or
 * warnings document's ~100 KB, a case's history, the held documents a frame extends; BENCHMARKS.md
 * "Session 10, the lead"). Copied into a buffer of its own: a small Buffer is a view into a
 * shared pool, and no reader should see (or keep alive) its neighbours.
 */
export function parseBytea(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.slice(2), 'hex'))
}

/** The type oid of bytea. */
const BYTEA = 17

export async function openPglite(dir: string, opts: { loadDataDir?: Blob } = {}): Promise<Db & { pg: PGlite }> {
  // A village laptop is small: Postgres's default 128 MB of shared buffers is more than a
  // node's whole store and costs ~140 MB of RSS once touched (measured); 16 MB is plenty.
  // The write-ahead log is kept to 64 MB: Postgres's default (1 GB) left a 250,000-case county
  // with 1.1 GB of old WAL segments beside 1.4 GB of data (bench/county-size.ts); the journal,
  // not the WAL, is what a node replays after a power cut, and it checkpoints every 30 s.
  const pg = await PGlite.create({
    dataDir: dir, loadDataDir: opts.loadDataDir,
    postgresqlconf: ['shared_buffers = 16MB', 'work_mem = 2MB', 'maintenance_work_mem = 16MB', 'wal_buffers = 1MB', 'max_wal_size = 64MB', 'min_wal_size = 32MB'],
    parsers: { [BYTEA]: parseBytea },
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
      run.forget() // it may have changed a table or function a kept statement uses
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
const GENERIC = S.query('SET plan_cache_mode = force_generic_plan')
const RESET = S.query('RESET plan_cache_mode')

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
 * Statements kept prepared (`planOnce`, db.ts), with their generic plans: each holds its parse
 * and analysis trees and its plan in the backend's memory, so the least recently used is closed
 * beyond this. The node marks a handful.
 */
export const MAX_PREPARED = 64

/**
 * One statement in one call into the WASM, with PGlite's query()'s parameters and results
 * exactly. query() sends parse, describe, bind, describe, execute and sync as six calls, each a
 * round through PGlite's JavaScript and Postgres's main loop (~0.1 ms of a trivial statement's
 * ~0.2, measured in session 9); here they go as one buffer. query()'s describe of the statement
 * is there to learn the parameters' types, which choose each value's text form (a JS array for
 * text[], JSON for jsonb, hex for bytea, an ISO string for a Date): those are asked once per
 * statement text (one more call, parse + describe + sync) and kept.
 *
 * A statement marked `planOnce` is parsed once as a named prepared statement, and each run binds
 * it with `plan_cache_mode = force_generic_plan` set around it: Postgres plans it once and keeps
 * the plan (planning was about a third of the projection's CPU a frame, session 10; its parsing
 * and analysis were no measurable part). Every other statement is parsed and planned for its
 * values at each run, as PGlite's query() does.
 *
 * A statement other than DML (a migration's DDL, CHECKPOINT) forgets every kept type and closes
 * every prepared statement first, since a changed table or function may change them; so does
 * `forget` (the store's exec). Must run under PGlite's query mutex (and its transaction mutex
 * outside a transaction).
 */
function oneCall(pg: PGlite) {
  const kept = new Map<string, { name: string; oids: number[] }>()
  /** Names no longer kept whose Close goes in front of the next call (closing is not transactional). */
  let closing: string[] = []
  let made = 0
  /** How many of `kept` are prepared statements. */
  let prepared = 0
  async function send(msg: Uint8Array, sql: string, params: unknown[] | undefined) {
    try {
      return await pg.execProtocolStream(msg, { syncToFs: false })
    } catch (e) {
      // PGlite's query() adds the statement to a database error the same way (makePGliteError).
      if (e && typeof e === 'object' && 'code' in e) Object.assign(e, { query: sql, params, queryOptions: undefined })
      throw e
    }
  }
  function forget() {
    for (const k of kept.values()) if (k.name) closing.push(k.name)
    kept.clear()
    prepared = 0
  }
  /** Makes room: the least recently used prepared statement (`onlyPrepared`), or else the oldest text. */
  function evictOne(onlyPrepared: boolean) {
    for (const [sql, k] of kept) {
      if (onlyPrepared && !k.name) continue
      kept.delete(sql)
      if (k.name) {
        closing.push(k.name)
        prepared--
      }
      return
    }
  }
  /** The pending Closes, to go first in the next buffer (a Close of a name not there is no error). */
  function closes(): Uint8Array[] {
    if (!closing.length) return []
    const out = closing.map((name) => S.close({ type: 'S', name }))
    closing = []
    return out
  }
  async function run(sql: string, params?: unknown[]): Promise<unknown[]> {
    const dml = DML.test(sql)
    if (!dml) forget()
    let k = dml && (params?.length || PLANNED_ONCE.has(sql)) ? kept.get(sql) : { name: '', oids: [] }
    if (k?.name) {
      kept.delete(sql) // most recently used last
      kept.set(sql, k)
    }
    if (!k) {
      const name = PLANNED_ONCE.has(sql) ? `tb${++made}` : ''
      const described = await send(concat([...closes(), S.parse({ name, text: sql }), S.describe({ type: 'S', name }), S.sync()]), sql, params)
      k = { name, oids: parse.parseDescribeStatementResults(described) }
      if (name && ++prepared > MAX_PREPARED) evictOne(true)
      if (kept.size >= MAX_TEXTS) evictOne(false)
      kept.set(sql, k)
    }
    const oids = k.oids
    // PGlite's query()'s own serialisation, by the parameter's type; but bytes for a bytea go as
    // they are, in the binary format: query() writes them as hex text in JavaScript, a character
    // at a time (a frame's ~140 KB of updates), then measures and copies that text again.
    const values = (params ?? []).map((v, i) => {
      if (v === null || v === undefined) return null
      if (oids[i] === BYTEA && v instanceof Uint8Array) return v
      const serialize = pg.serializers[oids[i]]
      return serialize ? serialize(v) : (v as { toString(): string }).toString()
    })
    // The setting is read at Bind, and set back after the Sync. In a transaction the statement
    // failed, the second SET fails too (skipped as a statement in a failed transaction); the
    // rollback then restores the setting as it was before the transaction.
    const generic = k.name !== ''
    const messages = await send(concat([
      ...closes(), ...(generic ? [GENERIC] : [S.parse({ text: sql })]),
      S.bind({ statement: k.name, values }), S.describe({ type: 'P' }), S.execute({}), S.sync(),
      ...(generic ? [RESET] : []),
    ]), sql, params)
    // A closed case's merged update is stored packed (docs/packed-update.ts): read back as Yjs.
    return unpackRows(parse.parseResults(messages, pg.parsers)[generic ? 1 : 0].rows)
  }
  return Object.assign(run, { forget })
}
