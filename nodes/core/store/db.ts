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
}

/** bytea comes back as Buffer from pg and Uint8Array from PGlite: one shape for callers. */
export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v
  throw new Error(`expected bytes, got ${typeof v}`)
}
