/** The server store: PostgreSQL 15 through `pg`, for a county or city that outgrows one process. */
import pg from 'pg'
import type { Db, Queryable } from './db.ts'

// bigint (int8) as JS number: our sequences stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v))

export async function openPg(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 8 })
  // An idle connection the server cuts (a restart, a failover) is reported here; without a
  // listener the 'error' event would kill the node. The pool drops that connection and opens
  // a new one for the next query, so logging is all there is to do.
  pool.on('error', (e) => console.error(`PostgreSQL closed an idle connection (${e.message}); the next query opens a new one`))
  await pool.query('SELECT 1')
  const wrap = (c: { query: pg.Pool['query'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      const r = await c.query(sql, params as unknown[])
      return r.rows as T[]
    },
  })
  return {
    kind: 'pg',
    query: wrap(pool).query,
    async exec(sql) {
      await pool.query(sql)
    },
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const out = await fn(wrap(client))
        await client.query('COMMIT')
        return out
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {})
        throw e
      } finally {
        client.release()
      }
    },
    // PostgreSQL fsyncs its WAL at commit: nothing more to do.
    async checkpoint() {},
    async close() {
      await pool.end()
    },
  }
}
