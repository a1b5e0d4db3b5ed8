/**
 * Test stores start from a template: one PGlite data dir created and migrated once per test
 * worker, dumped, and loaded into each test's fresh data dir (a first start costs ~5 s; a load
 * far less).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { migrate } from '../../nodes/core/store/migrate.ts'

let template: Promise<Blob> | null = null

export function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tongban-template-'))
    const db = await openPglite(join(dir, 'pgdata'))
    await migrate(db)
    const blob = await db.pg.dumpDataDir('none')
    await db.close()
    rmSync(dir, { recursive: true, force: true })
    return blob
  })()
  return template
}

/** A fresh temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'tongban-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}
