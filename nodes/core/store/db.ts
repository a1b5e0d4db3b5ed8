/**
 * The one interface the node speaks to its store, with two backends: PGlite (embedded, the
 * default at every level) and PostgreSQL through `pg` (for a county or city that outgrows one
 * process). All SQL in the node is written to run unchanged on both.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'pg'
  exec(sql: string): Promise<void>
  /** Runs `fn` in one transaction: all of it commits, or none. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Makes what is committed durable on disk (PGlite on Node never fsyncs by itself). */
  checkpoint(): Promise<void>
  close(): Promise<void>
  /**
   * Shared stores only (PostgreSQL, several processes of one node): hears `NOTIFY channel`
   * from every process, this one included. `onGap` is called when the listening connection
   * was lost and opened again (notifications in between are gone: re-read what matters).
   */
  listen?(channel: string, on: (payload: string) => void, onGap: () => void): Promise<void>
  /**
   * Shared stores only: takes the lock `key` for as long as this process holds it (released by
   * `release`, or by the server when the process dies); null when another process holds it.
   * `lost` is called if the lock's connection fails (the lock is gone with it).
   */
  holdLock?(key: string, lost: () => void): Promise<(() => Promise<void>) | null>
}

/** bytea comes back as Buffer from pg and Uint8Array from PGlite: one shape for callers. */
export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v
  throw new Error(`expected bytes, got ${typeof v}`)
}

/** Statement texts marked by `planOnce`. */
export const PLANNED_ONCE = new Set<string>()

/**
 * Marks a statement whose plan does not depend on its parameters' values, to be planned once and
 * reused (a generic plan) where the backend keeps statements prepared (PGlite, store/pglite.ts);
 * every other statement is planned for each run's values. For the link receiver's statements run
 * every frame with the same shape (batches read from JSON or arrays, keys looked up by their
 * index): planning the projection's statement was about a third of its CPU (session 10). Returns
 * `sql`, so a constant reads `const Q = planOnce(\`…\`)`.
 */
export function planOnce(sql: string): string {
  PLANNED_ONCE.add(sql)
  return sql
}
