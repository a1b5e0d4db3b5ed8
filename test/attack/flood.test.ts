/**
 * Class 7 of issue 7: resource abuse by a peer. A hostile child over a real socket floods a
 * township with new documents, bytes, epoch changes (repair passes) and state vectors; each
 * quota answers with an error frame and close 4429, and the township keeps serving. The repair
 * pass is paged. The store lets the node's own writes pass a queue of link batches. (Latency
 * under a flood is measured, not asserted: bench/flood-bench.ts.)
 */
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { compress } from '../../nodes/core/link/compress.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { LINK_QUOTAS, REPAIR_PAGE } from '../../nodes/core/link/quotas.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { encodeFrame, encodeUpdatesBody, LINK_CLOSE_CODES, type LinkFrame, type UpdateEntry } from '../../protocol/index.ts'
import { applicant } from '../helpers/node.ts'
import { caseUpdate as writeCase, enroll, identity, signedApplication, type Identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'
import { childHello, dialAsChild, type RawLink } from './peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-flood-')
const TOWN = '511302101000'
const C = LINK_CLOSE_CODES
let town: RunningNode
/** The hostile children: enrolled villages gone bad (each key registered with its one-time token). */
const ids: Record<string, Identity> = {}
const saved = { ...LINK_QUOTAS.village }

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  for (const v of ['201', '202', '203', '204', '205']) {
    ids[v] = identity(`511302101${v}`)
    const r = await enroll(town.url, ids[v], enrollChild(join(tmp.dir, 'town'), TOWN, ids[v].code))
    if (r.status !== 200) throw new Error(`enrollment of ${ids[v].code} refused (${r.status})`)
  }
}, 300_000)

afterAll(async () => {
  Object.assign(LINK_QUOTAS.village, saved)
  await town?.stop()
  tmp.cleanup()
})

const village = (v: string) => `511302101${v}`

/** A case document's first update, as a village would send it: its application, signed by the village (the same bytes when sent again). */
const written = new Map<string, Uint8Array>()
function caseUpdate(id: string, origin: Identity): Uint8Array {
  const known = written.get(id)
  if (known) return known
  const app = signedApplication({ id, itemCode: 'T-001', itemVersion: 1, applicant, materials: [], originCode: origin.code, handlerCode: TOWN, createdAt: new Date().toISOString(), createdBy: 'x', kind: 'promised', promisedDays: 5 }, origin.keys)
  const { update } = writeCase((doc) => doc.getMap('case').set('application', app))
  written.set(id, update)
  return update
}

function cases(origin: Identity, from: number, n: number, seqFrom = from): UpdateEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `${origin.code}-20261123-${String(from + i).padStart(4, '0')}`
    return { seq: seqFrom + i, docId: `case:${id}`, update: caseUpdate(id, origin) }
  })
}

const updates = (entries: UpdateEntry[]): LinkFrame => ({ type: 'updates', compressed: true, body: compress(encodeUpdatesBody(entries)) })

async function open(v: string, hello: LinkFrame = childHello(village(v))): Promise<RawLink> {
  const link = await dialAsChild(town.url, TOWN, ids[v])
  await link.opened
  link.send(hello)
  await waitFor('the township hello', () => link.frames.some((f) => f.type === 'hello'))
  return link
}

async function expectQuotaRefusal(link: RawLink, quota: string) {
  const closed = await link.closed
  expect(closed.code).toBe(C.quota_exceeded)
  const err = link.frames.find((f) => f.type === 'error')
  expect(err).toMatchObject({ type: 'error', code: C.quota_exceeded })
  expect((err as { message: string }).message).toContain(quota)
}

async function serving() {
  expect((await fetch(`${town.url}/healthz`)).status).toBe(200)
}

describe('per-link quotas', () => {
  beforeEach(() => {
    Object.assign(LINK_QUOTAS.village, saved)
  })

  it('new documents: a frame past the hour\'s quota is refused (4429) and not acked; a frame within it passes', async () => {
    LINK_QUOTAS.village.newDocsPerHour = 50
    const v = village('201')
    const link = await open('201')
    link.send(updates(cases(ids['201'], 1, 40)))
    await waitFor('the ack of the first 40', () => link.frames.some((f) => f.type === 'ack' && f.seq === 40))
    const held = await town.node.db.query<{ n: number }>(`SELECT count(DISTINCT doc_id)::int AS n FROM doc_updates WHERE doc_id LIKE $1`, [`case:${v}-%`])
    expect(held[0].n).toBe(40) // signed by the village: stored, and counted against its quota
    link.send(updates(cases(ids['201'], 41, 20))) // 20 new, 10 left in the bucket
    await expectQuotaRefusal(link, 'new docs')
    expect(link.frames.some((f) => f.type === 'ack' && f.seq === 60)).toBe(false)
    const rows = await town.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM doc_updates WHERE doc_id LIKE $1 AND doc_id >= $2`, [`case:${v}-%`, `case:${v}-20261123-0041`])
    expect(rows[0].n).toBe(0)
    // Redialled: a frame that creates nothing new still passes.
    const again = await open('201', childHello(v, 'hostile-epoch'))
    again.send(updates(cases(ids['201'], 1, 5, 41)))
    await waitFor('the ack of a frame of known documents', () => again.frames.some((f) => f.type === 'ack' && f.seq === 45))
    again.ws.close()
    await serving()
  })

  it('bytes: a peer past its hour\'s bytes is refused (4429)', async () => {
    LINK_QUOTAS.village.bytesPerHour = 64 * 1024
    const link = await open('202')
    // Sent uncompressed, ten cases a frame: 64 KiB is passed within a few frames.
    let closed = false
    void link.closed.then(() => (closed = true))
    for (let i = 0; i < 40 && !closed; i++) {
      link.send(encodeFrame({ type: 'updates', compressed: false, body: encodeUpdatesBody(cases(ids['202'], i * 10 + 1, 10)) }))
      await new Promise((r) => setTimeout(r, 10))
    }
    await expectQuotaRefusal(link, 'bytes')
    await serving()
  })

  it('repair passes: one epoch change an hour is repaired, paged; the next closes with 4429; a re-enrolled key starts afresh', async () => {
    LINK_QUOTAS.village.repairsPerHour = 1
    const v = village('203')
    // The township holds many documents in this village's scope (as after a long sync).
    // Stored directly, with their routes.
    const seeded = cases(ids['203'], 1, REPAIR_PAGE * 3).map(({ docId, update }) => ({ docId, update }))
    await town.node.docs.applyBatch(seeded, 'local')
    for (const { docId } of seeded) {
      await town.node.db.query('INSERT INTO doc_routes (doc_id, origin_code, handler_code, handlers) VALUES ($1, $2, $3, ARRAY[$3]) ON CONFLICT (doc_id) DO NOTHING', [docId, v, TOWN])
    }
    const first = await open('203', childHello(v, 'epoch-one'))
    first.ws.close()
    await first.closed
    // A new epoch: the township's cursor is void, a repair pass is due.
    const second = await open('203', childHello(v, 'epoch-two'))
    const step1s = () => second.frames.filter((f) => f.type === 'sync-step1') as Extract<LinkFrame, { type: 'sync-step1' }>[]
    await waitFor('the first page of state vectors', () => step1s().length >= REPAIR_PAGE)
    await new Promise((r) => setTimeout(r, 500))
    expect(step1s().length).toBe(REPAIR_PAGE) // unanswered: no second page yet
    // Answered: the next page follows.
    for (const f of step1s()) second.send({ type: 'sync-step2', docId: f.docId, update: Y.encodeStateAsUpdate(new Y.Doc()) })
    await waitFor('the second page', () => step1s().length >= 2 * REPAIR_PAGE)
    second.ws.close()
    await second.closed
    /** A new epoch past the hour's repair quota: refused, and the township goes on serving. */
    const repairRefused = async (epoch: string) => {
      const link = await dialAsChild(town.url, TOWN, ids['203'])
      await link.opened
      link.send(childHello(v, epoch))
      await expectQuotaRefusal(link, 'repairs')
      await serving()
    }
    await repairRefused('epoch-three')
    // The laptop replaced: re-enrolled by the township's administrator with a new key, its new
    // store gets its pass now, not in an hour (a restore from the parent waits on it).
    ids['203'] = identity(v)
    const r = await enroll(town.url, ids['203'], enrollChild(join(tmp.dir, 'town'), TOWN, v))
    expect(r.status).toBe(200)
    const replaced = await open('203', childHello(v, 'epoch-four'))
    await waitFor('the new laptop\'s repair pass', () => replaced.frames.filter((f) => f.type === 'sync-step1').length >= REPAIR_PAGE)
    expect(replaced.frames.some((f) => f.type === 'error')).toBe(false)
    replaced.ws.close()
    await replaced.closed
    // Its own buckets from then on: a second epoch change within its hour is refused again.
    await repairRefused('epoch-five')
  })

  it('state vectors: a peer asking past its quota is refused (4429)', async () => {
    LINK_QUOTAS.village.stateVectorsPerHour = 10
    const v = village('204')
    const link = await open('204')
    for (let i = 1; i <= 11; i++) link.send({ type: 'sync-step1', docId: `case:${v}-20261123-${String(i).padStart(4, '0')}`, stateVector: new Uint8Array([0]) })
    await expectQuotaRefusal(link, 'state vectors')
    await serving()
  })
})

describe('the node\'s own writes before a peer\'s batches', () => {
  it('a local change queued behind many link batches commits before them', async () => {
    const v = village('205')
    const order: string[] = []
    const batches = Array.from({ length: 20 }, (_, b) =>
      town.node.docs.applyBatch(cases(ids['205'], b * 20 + 1, 20).map(({ docId, update }) => ({ docId, update })), `child:${v}`).then(() => order.push(`link ${b}`)))
    const local = town.node.docs.change(`stats:${TOWN}:2026-11`, (doc) => doc.getMap('x').set('k', 1), 'local').then(() => order.push('local'))
    await Promise.all([...batches, local])
    // The first batch may already be running; the local write passes every other one.
    expect(order.indexOf('local')).toBeLessThanOrEqual(1)
  })
})
