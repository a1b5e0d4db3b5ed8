/** The server store: PostgreSQL 15 through `pg`, for a county or city that outgrows one process. */
import pg from 'pg'
import type { Db, Queryable } from './db.ts'
import { unpackRows } from '../docs/packed-update.ts'

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
      // A closed case's merged update is stored packed (docs/packed-update.ts): read back as Yjs.
      return unpackRows(r.rows as T[])
    },
  })
  const shared = new SharedConnections(url)
  return {
    kind: 'pg',
    query: wrap(pool).query,
    listen: (channel, on, onGap) => shared.listen(channel, on, onGap),
    holdLock: (key, lost) => shared.holdLock(key, lost),
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
      await shared.close()
      await pool.end()
    },
  }
}

/** Advisory lock class of the locks processes hold for as long as they run (links: see links.ts). */
const HELD_LOCK_CLASS = 7411003
const RECONNECT_MS = 1_000

/**
 * Two dedicated connections beside the pool: one that LISTENs (a pooled connection would be
 * handed to a query and stop hearing), and one that holds session-level advisory locks (such
 * a lock lives exactly as long as its connection: a process that dies lets go of it at once).
 */
class SharedConnections {
  private listener: pg.Client | null = null
  private readonly channels = new Map<string, { on: (payload: string) => void; onGap: () => void }>()
  private locker: pg.Client | null = null
  private readonly locks = new Map<string, () => void>()
  private closed = false

  constructor(private readonly url: string) {}

  async listen(channel: string, on: (payload: string) => void, onGap: () => void): Promise<void> {
    if (!/^[a-z_]{1,40}$/.test(channel)) throw new Error(`channel ${channel}: lower-case letters and _ only`)
    this.channels.set(channel, { on, onGap })
    const c = await this.listening()
    await c.query(`LISTEN ${channel}`)
  }

  private async listening(): Promise<pg.Client> {
    if (this.listener) return this.listener
    const c = new pg.Client({ connectionString: this.url })
    this.listener = c
    c.on('notification', (n) => {
      if (n.payload !== undefined) this.channels.get(n.channel)?.on(n.payload)
    })
    const lost = (why: string) => {
      if (this.listener !== c) return
      this.listener = null
      if (this.closed) return
      console.error(`the PostgreSQL connection that hears other processes' writes closed (${why}); opening it again`)
      const t = setTimeout(() => void this.relisten(), RECONNECT_MS)
      t.unref()
    }
    c.on('error', (e) => lost(e.message))
    c.on('end', () => lost('ended'))
    await c.connect()
    return c
  }

  /** Opens the listening connection again and tells every listener it may have missed some. */
  private async relisten(): Promise<void> {
    try {
      const c = await this.listening()
      for (const ch of this.channels.keys()) await c.query(`LISTEN ${ch}`)
      for (const l of this.channels.values()) l.onGap()
    } catch (e) {
      this.listener = null
      if (this.closed) return
      console.error(`cannot hear other processes' writes yet: ${(e as Error).message}`)
      const t = setTimeout(() => void this.relisten(), RECONNECT_MS * 5)
      t.unref()
    }
  }

  async holdLock(key: string, lost: () => void): Promise<(() => Promise<void>) | null> {
    if (this.locks.has(key)) return null // held by this process already (by another link of the same peer)
    const c = await this.locking()
    const [row] = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [HELD_LOCK_CLASS, key])).rows
    if (!row?.ok) return null
    this.locks.set(key, lost)
    return async () => {
      if (!this.locks.delete(key) || this.locker !== c) return
      await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', [HELD_LOCK_CLASS, key]).catch(() => {})
    }
  }

  private async locking(): Promise<pg.Client> {
    if (this.locker) return this.locker
    const c = new pg.Client({ connectionString: this.url })
    this.locker = c
    const gone = (why: string) => {
      if (this.locker !== c) return
      this.locker = null
      const lost = [...this.locks.values()]
      this.locks.clear()
      if (!this.closed) console.error(`the PostgreSQL connection holding this process's link locks closed (${why}): its links are let go`)
      for (const f of lost) f()
    }
    c.on('error', (e) => gone(e.message))
    c.on('end', () => gone('ended'))
    try {
      await c.connect()
    } catch (e) {
      this.locker = null
      throw e
    }
    return c
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all([this.listener?.end().catch(() => {}), this.locker?.end().catch(() => {})])
  }
}
