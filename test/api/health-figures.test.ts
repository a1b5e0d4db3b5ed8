/**
 * /healthz and /api/sync are polled (the UI banner, every few seconds): while nothing changes a
 * poll answers from figures counted at most a second ago and reads no table (a county of
 * 250,000 cases whose parent never acknowledged took 15–35 ms a poll counting its backlog), yet
 * a poll right after a write shows it — the write makes the next poll count again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { applicant, TEST_PASSWORD } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP, requiredOf } from '../fixtures/catalogue.ts'

const tmp = tempDir()
let town: RunningNode
let token = ''
let staffToken = ''
let queries = 0

beforeAll(async () => {
  // A parent that is configured and never answers (port 9): the case.
  town = await startNode({ level: 'township', code: TOWNSHIP, name: '潆溪镇', dataDir: tmp.dir, catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate(), parentUrl: 'http://127.0.0.1:9' })
  await town.node.users.add({ name: 'admin', role: 'admin', password: TEST_PASSWORD })
  token = (await town.node.users.login({ name: 'admin', password: TEST_PASSWORD })).token
  await town.node.users.add({ name: 'staff', role: 'staff', password: TEST_PASSWORD })
  staffToken = (await town.node.users.login({ name: 'staff', password: TEST_PASSWORD })).token
  const db = town.node.db
  const query = db.query.bind(db)
  db.query = ((sql: string, params?: unknown[]) => {
    queries++
    return query(sql, params)
  }) as typeof db.query
}, 300_000)
afterAll(async () => {
  await town?.stop()
  tmp.cleanup()
})

const health = async () => (await (await fetch(`${town.url}/healthz`)).json()) as any
const sync = async () => (await (await fetch(`${town.url}/api/sync`, { headers: { authorization: `Bearer ${token}` } })).json()) as any

describe('polled figures', () => {
  it('a poll right after a write shows it', async () => {
    // A county item taken in here goes up to the county: it waits for the parent.
    const before = await health()
    expect(before.sync.parent).toMatchObject({ connected: false })
    const r = await fetch(`${town.url}/api/cases`, {
      method: 'POST', headers: { authorization: `Bearer ${staffToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ itemCode: 'C-P01', applicant, materials: requiredOf('C-P01') }),
    })
    expect(r.status).toBe(201)
    const after = await health()
    expect(after.sync.parent.waitingUp).toBeGreaterThan(before.sync.parent.waitingUp)
    expect(after.sync.parent.waitingCases).toBe(before.sync.parent.waitingCases + 1)
    // /api/sync shows it too. Its updates waiting may have grown since: the watcher (after 1 s)
    // and the statistics publisher (after 1.5 s) write documents that go up as well, and on a
    // loaded machine the two polls can straddle them.
    expect((await sync()).parent.waitingUp).toBeGreaterThanOrEqual(after.sync.parent.waitingUp)
  })

  it('polls while nothing changes are answered from the last count', async () => {
    // The statistics publisher writes its documents 1.5 s after an intake: past that, nothing changes.
    await new Promise((r) => setTimeout(r, 3_000))
    let n = queries
    await new Promise((r) => setTimeout(r, 1_100))
    const first = await health() // counts: its figures are older than a second
    const perCount = queries - n
    expect(perCount).toBeGreaterThan(0)
    n = queries
    for (let i = 0; i < 5; i++) expect((await health()).sync.parent.waitingUp).toBe(first.sync.parent.waitingUp)
    // Counting on every poll would make 5 × perCount queries; a loaded machine may let a second pass once or twice.
    expect(queries - n).toBeLessThan(3 * perCount)
  })

  it('figures are counted again once they are older than a second', async () => {
    await health()
    await new Promise((r) => setTimeout(r, 1_200))
    const n = queries
    await health()
    expect(queries).toBeGreaterThan(n)
  })
})
