/**
 * `planOnce` statements on PGlite (store/pglite.ts): prepared once and run with their generic
 * plan, so Postgres does not plan them again each run (the link receiver's frame statements),
 * while every other statement keeps a plan made for its values, as before.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_PREPARED, openPglite } from '../../nodes/core/store/pglite.ts'
import { planOnce, type Db } from '../../nodes/core/store/db.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-plan-once-')
let db: Db & { pg: import('@electric-sql/pglite').PGlite }

beforeAll(async () => {
  db = await openPglite(join(tmp.dir, 'pg'), { loadDataDir: await pgliteTemplate() })
  await db.query('CREATE TABLE plan_once_t (k text PRIMARY KEY, v int NOT NULL)')
}, 300_000)

afterAll(async () => {
  await db?.close()
  tmp.cleanup()
})

/** What Postgres holds prepared for `sql`, read with PGlite's own query() (unnamed, not counted). */
async function prepared(sql: string) {
  const r = await db.pg.query<{ generic_plans: number; custom_plans: number }>(
    'SELECT generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE statement = $1', [sql])
  return r.rows
}
const mode = async () => (await db.pg.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0].plan_cache_mode

describe('planOnce on PGlite', () => {
  const INSERT = planOnce('INSERT INTO plan_once_t (k, v) SELECT k, v FROM unnest($1::text[], $2::int[]) AS t(k, v) RETURNING k')
  const READ = planOnce('SELECT * FROM plan_once_t WHERE k = ANY($1::text[]) ORDER BY k')

  it('prepares the statement once and reuses its generic plan; the setting is back after each run', async () => {
    for (let i = 0; i < 3; i++) {
      const rows = await db.transaction((tx) => tx.query<{ k: string }>(INSERT, [[`a${i}`, `b${i}`], [i, i + 10]]))
      expect(rows.map((r) => r.k)).toEqual([`a${i}`, `b${i}`])
    }
    const read = await db.query<{ k: string; v: number }>(READ, [['a1', 'b2', 'none']])
    expect(read).toEqual([{ k: 'a1', v: 1 }, { k: 'b2', v: 12 }])
    expect(await prepared(INSERT)).toEqual([{ generic_plans: 3, custom_plans: 0 }])
    expect(await mode()).toBe('auto')
  })

  it('leaves other statements unprepared, planned for their values', async () => {
    const sql = 'SELECT v FROM plan_once_t WHERE k = $1'
    expect(await db.query(sql, ['a0'])).toEqual([{ v: 0 }])
    expect(await db.query(sql, ['a1'])).toEqual([{ v: 1 }])
    expect(await prepared(sql)).toEqual([])
  })

  it('a failing statement throws its own error, in a transaction or not, and the setting is restored', async () => {
    const inTx = await db.transaction((tx) => tx.query(INSERT, [['a0'], [5]])).catch((e) => e)
    expect(inTx.code).toBe('23505') // the duplicate key, not the failed transaction's refusal of the RESET after it
    expect(inTx.query).toBe(INSERT)
    expect(await mode()).toBe('auto')
    const outside = await db.query(INSERT, [['a0'], [5]]).catch((e) => e)
    expect(outside.code).toBe('23505')
    expect(await mode()).toBe('auto')
    // The transaction after it works (nothing left half-done by the failed one).
    expect(await db.transaction((tx) => tx.query(INSERT, [['c0'], [7]]))).toEqual([{ k: 'c0' }])
  })

  it('a schema change closes the prepared statements: a kept `SELECT *` sees the new column', async () => {
    await db.query(READ, [['a0']])
    await db.query('ALTER TABLE plan_once_t ADD COLUMN w int NOT NULL DEFAULT 3')
    expect(await db.query(READ, [['a0']])).toEqual([{ k: 'a0', v: 0, w: 3 }])
    await db.exec('ALTER TABLE plan_once_t ADD COLUMN x int NOT NULL DEFAULT 4') // the store's exec, as a migration or vacuum
    expect(await db.query(READ, [['a0']])).toEqual([{ k: 'a0', v: 0, w: 3, x: 4 }])
    expect(await prepared(READ)).toHaveLength(1)
  })

  it('keeps at most MAX_PREPARED statements prepared', async () => {
    for (let i = 0; i < MAX_PREPARED + 10; i++) {
      expect(await db.query(planOnce(`SELECT v + ${i} AS n FROM plan_once_t WHERE k = $1`), ['a0'])).toEqual([{ n: i }])
    }
    const [{ n }] = (await db.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows
    expect(n).toBeLessThanOrEqual(MAX_PREPARED)
    expect(n).toBeGreaterThan(MAX_PREPARED / 2)
  })
})

describe('bytea parameters on PGlite', () => {
  it('go in the binary format: every byte value, empty, and a large one, read back the same', async () => {
    await db.query('CREATE TABLE bytes_t (k int PRIMARY KEY, b bytea)')
    const all = new Uint8Array(256).map((_, i) => i)
    const big = new Uint8Array(300_000).map((_, i) => (i * 7919) & 255)
    const values: [number, Uint8Array | null][] = [[1, all], [2, new Uint8Array(0)], [3, big], [4, null], [5, Buffer.from('\\x00 not hex')]]
    for (const [k, b] of values) await db.query('INSERT INTO bytes_t (k, b) VALUES ($1, $2)', [k, b])
    const rows = await db.query<{ k: number; b: Uint8Array | null }>('SELECT k, b FROM bytes_t ORDER BY k')
    expect(rows.map((r) => [r.k, r.b === null ? null : Buffer.from(r.b).toString('hex')]))
      .toEqual(values.map(([k, b]) => [k, b === null ? null : Buffer.from(b).toString('hex')]))
  })
})
