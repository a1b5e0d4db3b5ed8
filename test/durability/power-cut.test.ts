/**
 * The power cut. PGlite on Node never fsyncs, so a power cut can take back writes the node
 * already acknowledged; the journal (fdatasync'd before each reply) must bring them back.
 * Simulated: a clean stop makes the store durable, and a copy of `pgdata` then is "what the
 * disk had"; the node takes in cases (201s) and is killed -9; `pgdata` is replaced by the copy
 * (everything PGlite wrote since is gone, as its unsynced pages would be); a restart must
 * bring back every acknowledged case from the journal, and never reuse a case number.
 */
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Journal } from '../../nodes/core/store/journal.ts'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { applicant } from '../helpers/node.ts'
import { killAll, loginAt, startNodeProcess, type NodeSpec, type Remote } from '../helpers/process.ts'
import { tempDir } from '../helpers/template.ts'
import { COUNTY, FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

const tmp = tempDir('tongban-power-')
afterAll(async () => {
  await killAll()
  tmp.cleanup()
})
const PASSWORD = 'agent-secret-1'

/** The doc ids a restart would replay from the journal in `dir` (read from a copy: the original stays as it is). */
function journaledDocs(dir: string): string[] {
  const copy = join(tmp.dir, `journal-copy-${Date.now()}`)
  mkdirSync(copy)
  for (const f of readdirSync(dir).filter((f) => f.startsWith('journal.'))) cpSync(join(dir, f), join(copy, f))
  const j = new Journal(copy)
  try {
    return j.readAll().map((r) => r.docId)
  } finally {
    j.close()
    rmSync(copy, { recursive: true, force: true })
  }
}

/** Case documents a PGlite data dir holds (opened from a throwaway copy). */
async function caseDocsIn(pgdata: string): Promise<number> {
  const copy = join(tmp.dir, `pgdata-inspect-${Date.now()}`)
  cpSync(pgdata, copy, { recursive: true })
  const db = await openPglite(copy)
  try {
    const [r] = await db.query<{ n: number }>(`SELECT count(DISTINCT doc_id)::int AS n FROM doc_updates WHERE doc_id LIKE 'case:%'`)
    return r.n
  } finally {
    await db.close()
    rmSync(copy, { recursive: true, force: true })
  }
}

const seq = (id: string) => Number(id.split('-')[2])

describe('a power cut loses what PGlite never fsynced; the journal brings it back', { timeout: 900_000 }, () => {
  it('every acknowledged case is back with its status and events, and new case numbers are fresh', async () => {
    const spec: NodeSpec = { level: 'village', code: VILLAGE, name: '长青村', data: join(tmp.dir, 'village'), catalogue: FIXTURE_CATALOGUE }
    const pgdata = join(spec.data, 'pgdata')
    const disk = join(tmp.dir, 'what-the-disk-had')
    mkdirSync(spec.data)
    writeFileSync(join(spec.data, 'users.seed.json'), JSON.stringify([{ name: 'agent', role: 'agent', password: PASSWORD }]))

    // 1. Create the store; a clean stop checkpoints and fsyncs it. That is what the disk holds.
    let node = await startNodeProcess(spec)
    expect(await node.stop(), node.output()).toBe(0)
    cpSync(pgdata, disk, { recursive: true })

    // 2. Start again and take in cases, with actions: all acknowledged.
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    let agent: Remote = await loginAt(node.url, 'agent', PASSWORD)
    const intake = async (itemCode: string) => {
      const r = await agent('POST', '/api/cases', { itemCode, applicant, materials: requiredOf(itemCode) })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      return r.body.id as string
    }
    const act = async (id: string, body: unknown) => expect((await agent('POST', `/api/cases/${id}/events`, body)).status).toBe(200)
    const delivered = await intake('V-I01')
    await act(delivered, { type: 'approved' })
    await act(delivered, { type: 'delivered' })
    const submitted = await intake('C-P01')
    const corrected = await intake('V-P01')
    await act(corrected, { type: 'correction-requested', materials: ['房屋现状照片'] })
    const ids = [delivered, submitted, corrected]
    const before = await Promise.all(ids.map(async (id) => (await agent('GET', `/api/cases/${id}`)).body))
    expect(before.map((c) => c.status)).toEqual(['delivered', 'submitted', 'correction'])

    // The journal holds them (if a periodic checkpoint had run meanwhile, the scenario would be void).
    expect(journaledDocs(spec.data)).toEqual(expect.arrayContaining(ids.map((id) => `case:${id}`)))

    // 3. The power cut: the process dies, and PGlite's unsynced writes are lost.
    await node.kill9()
    rmSync(pgdata, { recursive: true, force: true })
    cpSync(disk, pgdata, { recursive: true })
    expect(await caseDocsIn(pgdata), 'the store as the disk had it holds no case').toBe(0)

    // 4. Restart: the journal brings back every acknowledged case, status and events intact.
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    agent = await loginAt(node.url, 'agent', PASSWORD)
    for (const b of before) {
      const r = await agent('GET', `/api/cases/${b.id}`)
      expect(r.status, b.id).toBe(200)
      expect(r.body).toEqual(b)
    }
    const list = await agent('GET', '/api/cases')
    expect(list.body.cases.map((c: any) => c.id).sort()).toEqual([...ids].sort())
    expect(list.body.cases.find((c: any) => c.id === submitted)).toMatchObject({ status: 'submitted', handlerCode: COUNTY })

    // 5. The day's sequence in the store went back with it; a new case still gets a fresh number.
    const fresh = await intake('V-I01')
    expect(ids).not.toContain(fresh)
    expect(fresh.slice(0, 21)).toBe(delivered.slice(0, 21)) // same origin and day…
    expect(seq(fresh)).toBeGreaterThan(Math.max(...ids.map(seq))) // …and a number after every one given out

    // 6. After the replay the store itself holds them: a clean restart reads all four.
    expect(await node.stop(), node.output()).toBe(0)
    expect(journaledDocs(spec.data), 'a clean stop leaves nothing to replay').toEqual([])
    expect(await caseDocsIn(pgdata)).toBe(4)
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    agent = await loginAt(node.url, 'agent', PASSWORD)
    const after = await agent('GET', '/api/cases')
    expect(after.body.cases.map((c: any) => c.id).sort()).toEqual([...ids, fresh].sort())
    expect(await node.stop(), node.output()).toBe(0)
  })
})
