/**
 * Several processes of one node on one PostgreSQL: a proof of key one process took when it
 * opened a child's link (protocol/link-proof.ts) must not open a link at another process, whose
 * own memory of taken proofs never heard of it. LinkAuth.takeShared records the proof's nonce in
 * the shared store until the proof expires.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinkAuth } from '../../nodes/core/link/link-auth.ts'
import { openNode, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { tempDir } from '../helpers/template.ts'
import { COUNTY, PG_TEST_TIMEOUT_MS, writeCatalogue } from './scenario.ts'

let tmp: ReturnType<typeof tempDir>
let server: PgServer | null = null
const opened: TongbanNode[] = []

describe.skipIf(!postgresAvailable())('a proof taken by one process of a node is taken for all', () => {
  beforeAll(async () => {
    tmp = tempDir('tongban-pg-link-proof-')
    server = await startPostgres()
    const url = await server.createDatabase('linkproof')
    for (const name of ['a', 'b']) {
      opened.push(await openNode({ ...PRESETS.county.defaults, level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, name), databaseUrl: url, catalogue: writeCatalogue(tmp.dir) }))
    }
  }, PG_TEST_TIMEOUT_MS)

  afterAll(async () => {
    for (const n of opened) await n.close().catch(() => {})
    await server?.stop()
    tmp?.cleanup()
  }, PG_TEST_TIMEOUT_MS)

  it('the second process refuses a nonce the first took; an expired record is cleared', async () => {
    const [a, b] = opened.map((n) => new LinkAuth(n))
    const later = Date.now() + 120_000
    expect(await a.takeShared('nonce-one-aaaaaaaaaaaaaaaa', later)).toBe(true)
    expect(await b.takeShared('nonce-one-aaaaaaaaaaaaaaaa', later)).toBe(false)
    expect(await a.takeShared('nonce-one-aaaaaaaaaaaaaaaa', later)).toBe(false)
    expect(await b.takeShared('nonce-two-bbbbbbbbbbbbbbbb', later)).toBe(true)
    // A record past its proof's expiry is cleared at the next take: the table does not grow.
    expect(await a.takeShared('nonce-old-cccccccccccccccc', Date.now() - 1)).toBe(true)
    await b.takeShared('nonce-three-dddddddddddddddd', later)
    const keys = (await opened[0].db.query<{ key: string }>(`SELECT key FROM node_meta WHERE key LIKE 'link-proof:%' ORDER BY key`)).map((r) => r.key)
    expect(keys).toEqual(['link-proof:nonce-one-aaaaaaaaaaaaaaaa', 'link-proof:nonce-three-dddddddddddddddd', 'link-proof:nonce-two-bbbbbbbbbbbbbbbb'])
  }, PG_TEST_TIMEOUT_MS)
})
