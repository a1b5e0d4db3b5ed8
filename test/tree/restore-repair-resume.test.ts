/**
 * The repair pass is owed until it is through (issue 11 follow-up; session.ts `repair`). A
 * township in this process and villages played by a test client over a real socket, so every
 * state vector and answer is seen and chosen:
 *
 * - a pass cut short by a drop goes on, on the next link, after the last document up to which
 *   every one was answered — although the hello no longer calls for a pass (the cursor already
 *   counts in the new epoch) — and is owed no more once every document is answered;
 * - a pass refused over the hour's quota (4429) stays owed and runs on the first link after the
 *   quota frees up (before, the new epoch was taken at the hello and the pass was lost);
 * - a child asked about a document the township does not hold: the township asks back for all
 *   of it, and stores what comes (a restored township lost the documents after its backup, and
 *   their routes with them).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { LINK_QUOTAS, quotaOf, REPAIR_PAGE, resetQuotas } from '../../nodes/core/link/quotas.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { LINK_CLOSE_CODES, type LinkFrame } from '../../protocol/index.ts'
import { applicant } from '../helpers/node.ts'
import { caseUpdate as writeCase, enroll, identity, signedApplication, type Identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from '../attack/guard.ts'
import { childHello, dialAsChild, type RawLink } from '../attack/peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-repair-resume-')
const TOWN = '511302101000'
let town: RunningNode
const ids: Record<string, Identity> = {}
const saved = { ...LINK_QUOTAS.village }
const village = (v: string) => `511302101${v}`

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  for (const v of ['211', '212', '213']) {
    ids[v] = identity(village(v))
    const r = await enroll(town.url, ids[v], enrollChild(join(tmp.dir, 'town'), TOWN, ids[v].code))
    if (r.status !== 200) throw new Error(`enrollment of ${ids[v].code} refused (${r.status})`)
  }
}, 300_000)

afterAll(async () => {
  Object.assign(LINK_QUOTAS.village, saved)
  await town?.stop()
  tmp.cleanup()
})

beforeEach(() => {
  Object.assign(LINK_QUOTAS.village, saved)
})

/** A case of `origin`'s, its application signed by it. */
function caseOf(origin: Identity, n: number): { docId: string; update: Uint8Array } {
  const id = `${origin.code}-20261123-${String(n).padStart(4, '0')}`
  const app = signedApplication({ id, itemCode: 'T-001', itemVersion: 1, applicant, materials: [], originCode: origin.code, handlerCode: TOWN, createdAt: new Date().toISOString(), createdBy: 'x', kind: 'promised', promisedDays: 5 }, origin.keys)
  return { docId: `case:${id}`, update: writeCase((doc) => doc.getMap('case').set('application', app)).update }
}

/** Stores `n` cases of village `v` at the township with their routes (as after a long sync), and returns their ids. */
async function seed(v: string, n: number): Promise<string[]> {
  const docs = Array.from({ length: n }, (_, i) => caseOf(ids[v], i + 1))
  await town.node.docs.applyBatch(docs, 'local')
  for (const { docId } of docs) {
    await town.node.db.query('INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers) VALUES ($1, $2, $3, ARRAY[$3]) ON CONFLICT (doc_id) DO NOTHING', [docId, village(v), TOWN])
  }
  return docs.map((d) => d.docId)
}

async function open(v: string, epoch: string): Promise<RawLink> {
  const link = await dialAsChild(town.url, TOWN, ids[v])
  await link.opened
  link.send(childHello(village(v), epoch))
  await waitFor('the township hello', () => link.frames.some((f) => f.type === 'hello'))
  return link
}
async function close(link: RawLink): Promise<void> {
  link.ws.close()
  await link.closed
}
const step1s = (link: RawLink) => link.frames.filter((f) => f.type === 'sync-step1') as Extract<LinkFrame, { type: 'sync-step1' }>[]
const step2s = (link: RawLink) => link.frames.filter((f) => f.type === 'sync-step2') as Extract<LinkFrame, { type: 'sync-step2' }>[]
/** Answers, with nothing, every step 1 not answered yet on `link`. */
function answer(link: RawLink, done: Set<string>): void {
  for (const f of step1s(link)) {
    if (done.has(f.docId)) continue
    done.add(f.docId)
    link.send({ type: 'sync-step2', docId: f.docId, update: Y.encodeStateAsUpdate(new Y.Doc()) })
  }
}
const owed = async (v: string) => (await town.node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = $1`, [`repair_owed:${village(v)}`]))[0]?.value ?? null

describe('the repair pass is owed until it is through', () => {
  it('cut short by a drop, it goes on after the documents answered on the next link, and is owed no more once all are answered', async () => {
    const cases = (await seed('211', REPAIR_PAGE * 3)).sort()
    await close(await open('211', 'epoch-one')) // first contact: no pass
    expect(await owed('211')).toBe(null)
    // A new epoch (a store restored or rebuilt): a pass is due. The first page is answered, the second is not.
    const second = await open('211', 'epoch-two')
    await waitFor('the first page of state vectors', () => step1s(second).length >= REPAIR_PAGE)
    expect(step1s(second).map((f) => f.docId)).toEqual(cases.slice(0, REPAIR_PAGE)) // in id order
    answer(second, new Set())
    // The township notes how far the pass got before it sends the next page.
    await waitFor('the second page', () => step1s(second).length >= 2 * REPAIR_PAGE)
    await close(second)

    // The same epoch: the hello calls for no pass, the one cut short goes on where it stopped —
    // after the documents answered when the township sent the second page (at least half of the
    // first: it goes on once no more than half a page waits), in order, none of those asked again.
    const third = await open('211', 'epoch-two')
    await waitFor('the pass going on', () => step1s(third).length >= REPAIR_PAGE)
    const from = cases.indexOf(step1s(third)[0].docId)
    expect(from).toBeGreaterThanOrEqual(REPAIR_PAGE / 2)
    expect(from).toBeLessThanOrEqual(REPAIR_PAGE)
    expect(step1s(third).slice(0, REPAIR_PAGE).map((f) => f.docId)).toEqual(cases.slice(from, from + REPAIR_PAGE))
    const done = new Set<string>()
    await waitFor('the pass through', async () => {
      answer(third, done)
      return cases.slice(from).every((c) => done.has(c)) && (await owed('211')) === null
    }, 120_000)
    for (const c of cases.slice(from)) expect(done.has(c)).toBe(true) // the rest of the cases (and the catalogue, the directory)
    for (const c of cases.slice(0, from)) expect(done.has(c)).toBe(false)
    await close(third)

    // Through: the next link asks nothing.
    const fourth = await open('211', 'epoch-two')
    await new Promise((r) => setTimeout(r, 1500))
    expect(step1s(fourth)).toEqual([])
    await close(fourth)
  })

  it('refused over the hour\'s quota (4429), it stays owed, and runs on the first link after the quota frees up', async () => {
    LINK_QUOTAS.village.repairsPerHour = 1
    const cases = await seed('212', 5)
    await close(await open('212', 'epoch-one'))
    expect(quotaOf(town.node, village('212')).take('repairsPerHour', 1)).toBe(null) // this hour's pass, taken (a restore an hour ago)
    const refused = await open('212', 'epoch-two')
    const { code } = await refused.closed
    expect(code).toBe(LINK_CLOSE_CODES.quota_exceeded)
    expect(step1s(refused)).toEqual([])
    // An hour later (the buckets refilled), the child dials again with the same epoch.
    resetQuotas(town.node)
    const later = await open('212', 'epoch-two')
    const done = new Set<string>()
    await waitFor('the owed pass through', async () => {
      answer(later, done)
      return cases.every((c) => done.has(c)) && (await owed('212')) === null
    }, 120_000)
    for (const c of cases) expect(done.has(c)).toBe(true)
    await close(later)
  })
})

describe('a child asked about a document the township does not hold', () => {
  it('is asked back for all of it, and what it sends is stored', async () => {
    const link = await open('213', 'epoch-one')
    const lost = caseOf(ids['213'], 7)
    expect(await town.node.docs.has(lost.docId)).toBe(false)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, lost.update)
    link.send({ type: 'sync-step1', docId: lost.docId, stateVector: Y.encodeStateVector(doc) })
    await waitFor('the answer and the question back', () => step2s(link).some((f) => f.docId === lost.docId) && step1s(link).some((f) => f.docId === lost.docId))
    expect([...step2s(link).find((f) => f.docId === lost.docId)!.update]).toEqual([...Y.encodeStateAsUpdate(new Y.Doc())]) // nothing given
    expect([...step1s(link).find((f) => f.docId === lost.docId)!.stateVector]).toEqual([...Y.encodeStateVector(new Y.Doc())]) // all of it asked
    link.send({ type: 'sync-step2', docId: lost.docId, update: Y.encodeStateAsUpdate(doc, step1s(link).find((f) => f.docId === lost.docId)!.stateVector) })
    await waitFor('the case stored at the township', () => town.node.docs.has(lost.docId))
    // Asked back once only on a link.
    link.send({ type: 'sync-step1', docId: lost.docId, stateVector: Y.encodeStateVector(doc) })
    await new Promise((r) => setTimeout(r, 500))
    expect(step1s(link).filter((f) => f.docId === lost.docId)).toHaveLength(1)
    await close(link)
  })
})
