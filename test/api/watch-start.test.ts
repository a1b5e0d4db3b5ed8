/**
 * 电子监察 at start (supervision/watcher.ts): a start re-checks the cases changed since the
 * last point at which nothing was queued (node_meta `watch_seq`) — a case whose check a stop cut
 * off is checked at the next start — and not every case the node handles (a county's year is
 * 250,000). A store without `watch_seq` (from before this) checks every case never checked, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openNode, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { applicant, request, TEST_PASSWORD } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, TOWNSHIP, requiredOf, testClock } from '../fixtures/catalogue.ts'

const clock = testClock('2026-03-02T10:00:00+08:00')
const tmp = tempDir()
let node: TongbanNode | null = null
let opened = 0

/** Opens the node on the test's data dir (from the template the first time). */
async function open(): Promise<TongbanNode> {
  const template = opened++ ? {} : { loadDataDir: await pgliteTemplate() }
  node = await openNode({ ...PRESETS.township.defaults, level: 'township', code: TOWNSHIP, name: '潆溪镇', dataDir: tmp.dir, catalogue: FIXTURE_CATALOGUE, now: clock.now, ...template })
  return node
}

async function takeIn(n: TongbanNode, phone: string): Promise<string> {
  if (!(await n.users.list()).some((u) => u.name === 'staff')) await n.users.add({ name: 'staff', role: 'staff', password: TEST_PASSWORD })
  const { token } = await n.users.login({ name: 'staff', password: TEST_PASSWORD })
  const r = await request(createApp(n), token)('POST', '/api/cases', { itemCode: 'T-P01', applicant: { ...applicant, phone }, materials: requiredOf('T-P01') })
  expect(r.status).toBe(201)
  return r.body.id as string
}

const watched = async (n: TongbanNode, id: string) => (await n.db.query('SELECT 1 FROM case_watch WHERE case_id = $1', [id])).length > 0
const watchSeq = async (n: TongbanNode) => Number((await n.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'watch_seq'`))[0]?.value ?? 0)
/** The last stored change to any case. (Not to any document: the statistics publisher may write after the watcher settles.) */
const topCaseSeq = async (n: TongbanNode) =>
  Number((await n.db.query<{ s: number }>(`SELECT max(seq)::float8 AS s FROM doc_updates WHERE doc_id >= 'case:' AND doc_id < 'case;'`))[0].s)

beforeAll(async () => {
  await open()
}, 300_000)
afterAll(async () => {
  await node?.close()
  tmp.cleanup()
})

describe('the watcher at start', () => {
  it('once nothing is queued, the point up to which every changed case is checked is saved', async () => {
    const n = node!
    const id = await takeIn(n, '13800000001')
    await n.supervision.watcher.settle()
    expect(await watched(n, id)).toBe(true)
    expect(await watchSeq(n)).toBeGreaterThanOrEqual(await topCaseSeq(n))
  })

  it('a case whose check a stop cut off is checked at the next start', async () => {
    const id = await takeIn(node!, '13800000002')
    // Stopped within the watcher's second of delay: the check was queued, never run.
    await node!.close()
    node = null
    const n = await open()
    await n.supervision.watcher.settle()
    expect(await watched(n, id)).toBe(true)
    expect(await watchSeq(n)).toBeGreaterThanOrEqual(await topCaseSeq(n))
  })

  it('a start does not re-check cases that did not change (not a pass over every case)', async () => {
    const n = node!
    const [{ id }] = await n.db.query<{ id: string }>('SELECT id FROM cases ORDER BY id LIMIT 1')
    // Its check is forgotten behind the watcher's back: only a pass over every case would redo it.
    await n.db.query('DELETE FROM case_watch WHERE case_id = $1', [id])
    await n.close()
    node = null
    const again = await open()
    await again.supervision.watcher.settle()
    expect(await watched(again, id)).toBe(false)
  })

  it('a store from before watch_seq checks every case never checked, once', async () => {
    const n = node!
    // The case the last test left unchecked.
    const [{ id }] = await n.db.query<{ id: string }>('SELECT id FROM cases ORDER BY id LIMIT 1')
    expect(await watched(n, id)).toBe(false)
    await n.db.query(`DELETE FROM node_meta WHERE key = 'watch_seq'`)
    await n.close()
    node = null
    const again = await open()
    await again.supervision.watcher.settle()
    const [{ missing }] = await again.db.query<{ missing: number }>(
      'SELECT count(*)::int AS missing FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_watch w WHERE w.case_id = c.id)')
    expect(missing).toBe(0)
    expect(await watched(again, id)).toBe(true)
    expect(await watchSeq(again)).toBeGreaterThanOrEqual(await topCaseSeq(again))
  })
})
