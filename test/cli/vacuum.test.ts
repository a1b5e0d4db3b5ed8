/**
 * `tongban store vacuum` on a real node's data dir: refused while the node runs, refused for a
 * store this version has not started, and on a stopped node's store it gives back the space of
 * dead rows (which a plain VACUUM never returns) without losing a row the node holds.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { tempDir } from '../helpers/template.ts'
import { killAll, runCli, startNodeProcess } from '../helpers/process.ts'

const VILLAGE = '511302101201'
const tmp = tempDir('tongban-vacuum-')
afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

const spec = { level: 'village' as const, code: VILLAGE, name: '长青村', data: join(tmp.dir, 'village') }
const sizes = (out: string) => {
  const m = out.match(/: ([\d.]+) MB → ([\d.]+) MB/)
  if (!m) throw new Error(`no sizes in: ${out}`)
  return { before: Number(m[1]), after: Number(m[2]) }
}

describe('tongban store vacuum', { timeout: 300_000 }, () => {
  it('is refused while the node runs, and without a store', async () => {
    const node = await startNodeProcess(spec)
    const running = await runCli(['store', 'vacuum', '--data', spec.data])
    expect(running.code).toBe(2)
    expect(running.stderr).toMatch(/is running \(process \d+\): stop it first/)
    expect(await node.stop(), node.output()).toBe(0)

    const none = await runCli(['store', 'vacuum', '--data', join(tmp.dir, 'nothing-here')])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/has no embedded store \(no pgdata\/\)/)
    const noFlag = await runCli(['store', 'vacuum'])
    expect(noFlag.code).toBe(2)
    expect(noFlag.stderr).toMatch(/--data is required/)
  })

  it('gives back the space of dead rows and keeps every live one', async () => {
    // Dead rows, as an older version's copies deleted by a migration leave them: ~15 MB
    // written and deleted in the node's own store.
    const db = await openPglite(join(spec.data, 'pgdata'))
    // 1,888 B a value: under the size at which PostgreSQL compresses a row, so it takes its room.
    await db.exec(`INSERT INTO node_meta (key, value) SELECT 'bloat-' || i, repeat(md5(i::text), 59) FROM generate_series(1, 8000) AS i`)
    // A live row after them: a plain VACUUM gives back empty pages only at a table's end.
    await db.exec(`INSERT INTO node_meta (key, value) VALUES ('vacuum-test', 'kept')`)
    await db.exec(`DELETE FROM node_meta WHERE key LIKE 'bloat-%'`)
    const liveBefore = await db.query<{ key: string; value: string }>('SELECT key, value FROM node_meta ORDER BY key')

    await db.exec('VACUUM node_meta') // what the node's own job does: marked reusable, not returned
    await db.close()

    const r = await runCli(['store', 'vacuum', '--data', spec.data])
    expect(r.code, r.stderr).toBe(0)
    const { before, after } = sizes(r.stdout)
    expect(before - after).toBeGreaterThan(8) // at least half of what the dead rows took

    const again = await openPglite(join(spec.data, 'pgdata'))
    expect(await again.query('SELECT key, value FROM node_meta ORDER BY key')).toEqual(liveBefore)
    await again.close()

    // A store this version has not started on (here: a copy with its newest migration unapplied)
    // is left alone.
    const oldDir = join(tmp.dir, 'older')
    cpSync(join(spec.data, 'pgdata'), join(oldDir, 'pgdata'), { recursive: true })
    const older = await openPglite(join(oldDir, 'pgdata'))
    await older.exec('DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)')
    await older.close()
    const old = await runCli(['store', 'vacuum', '--data', oldDir])
    expect(old.code).toBe(2)
    expect(old.stderr).toMatch(/has not been started by this version \(migrations \d+ not applied\): start the node once/)

    // The node starts again on the vacuumed store.
    const node = await startNodeProcess(spec)
    const health = await fetch(`${node.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await node.stop(), node.output()).toBe(0)
  })
})
