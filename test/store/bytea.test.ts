/**
 * bytea results on PGlite (store/pglite.ts parseBytea): decoded by Buffer, not a `parseInt` a
 * byte — the same bytes as stored, of any size (none, a case's update, a statistics document's
 * 100 KB), each in a buffer of its own (never a view of a pool shared with other values), through
 * a plain query, inside a transaction, and as the projection-sized rows a document read returns.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite, parseBytea } from '../../nodes/core/store/pglite.ts'
import type { Db } from '../../nodes/core/store/db.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-bytea-')
let db: Db

beforeAll(async () => {
  db = await openPglite(join(tmp.dir, 'pg'), { loadDataDir: await pgliteTemplate() })
  await db.query('CREATE TABLE bytea_t (k int PRIMARY KEY, b bytea)')
}, 300_000)

afterAll(async () => {
  await db?.close()
  tmp.cleanup()
})

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 255)

describe('bytea results on PGlite', () => {
  it('come back as the bytes stored, each value in a buffer of its own', async () => {
    const sizes = [0, 1, 3, 1_300, 100_000]
    for (const [k, n] of sizes.entries()) await db.query('INSERT INTO bytea_t (k, b) VALUES ($1, $2)', [k, bytesOf(n, k)])
    await db.query('INSERT INTO bytea_t (k, b) VALUES (99, NULL)')
    const plain = await db.query<{ k: number; b: Uint8Array | null }>('SELECT k, b FROM bytea_t ORDER BY k')
    const inTx = await db.transaction((tx) => tx.query<{ k: number; b: Uint8Array | null }>('SELECT k, b FROM bytea_t ORDER BY k'))
    for (const rows of [plain, inTx]) {
      expect(rows.map((r) => r.k)).toEqual([0, 1, 2, 3, 4, 99])
      for (const [k, n] of sizes.entries()) {
        const b = rows[k].b!
        expect(b).toBeInstanceOf(Uint8Array)
        expect(Buffer.from(b).equals(Buffer.from(bytesOf(n, k)))).toBe(true)
        // Its own memory: a small Buffer.from() is a view into an 8 KB pool shared with others.
        expect(b.byteOffset).toBe(0)
        expect(b.buffer.byteLength).toBe(n)
      }
      expect(rows[5].b).toBeNull()
    }
  })

  it('decode as PGlite\'s own parser does', () => {
    expect([...parseBytea('\\x')]).toEqual([])
    expect([...parseBytea('\\x00ff10Ab')]).toEqual([0, 255, 16, 171])
  })
})
