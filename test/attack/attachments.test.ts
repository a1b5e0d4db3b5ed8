/**
 * 附件 against hostile peers: a real township with two enrolled villages played by real keys
 * over real sockets. The township pulls the pieces of a file named by a case on a village's
 * path from that village, and nothing else:
 * - a village that serves garbage of the right length gets its pieces dropped once the whole
 *   fails its hash (logged), and the file asked for again — it is held only once it is right;
 * - a piece nobody asked for is dropped (logged), never stored;
 * - a village off the case's path asking for the file's pieces (a stolen laptop) is answered
 *   with nothing, logged, whether or not the township holds them; so is a want for a case the
 *   township does not hold at all;
 * - the wants the township sends are bounded (MAX_WANTS_IN_FLIGHT), and a piece it holds is
 *   never asked for again.
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIECE_BYTES, type Application, type CaseEvent, type LinkFrame, type PieceWantFrame } from '../../protocol/index.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { MAX_WANTS_IN_FLIGHT, PIECE_QUOTA_SHARE } from '../../nodes/core/link/attachment-lane.ts'
import { LINK_QUOTAS } from '../../nodes/core/link/quotas.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { applicant, request, type Client } from '../helpers/node.ts'
import { caseUpdate, childHello, enroll, identity, openLink, proofHeaders, signedApplication, signedEvent, updatesFrame, type Identity, type Link } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('p7-attack-attach-')
const TOWN = '511302101000'
const V1 = '511302101201'
const V2 = '511302101202'
const V3 = '511302101203'
let town: RunningNode
let staff: Client
const logs: string[] = []

interface Village { who: Identity; link: Link; seq: number; acked: number; wants: PieceWantFrame[]; pieces: Extract<LinkFrame, { type: 'piece' }>[] }
const villages = new Map<string, Village>()

async function connect(who: Identity): Promise<Village> {
  const token = enrollChild(join(tmp.dir, 'town'), TOWN, who.code)
  expect((await enroll(town.url, who, token)).status).toBe(200)
  const link = openLink(town.url, await proofHeaders(town.url, TOWN, who))
  expect(await link.status).toBe(101)
  const v: Village = { who, link, seq: 0, acked: 0, wants: [], pieces: [] }
  link.send(childHello(who.code, 1_000_000))
  link.ws.on('message', () => {
    for (const f of link.frames.splice(0)) {
      if (f.type === 'ack') v.acked = Math.max(v.acked, f.seq)
      if (f.type === 'piece-want') v.wants.push(f)
      if (f.type === 'piece') v.pieces.push(f)
    }
  })
  return v
}

async function push(v: Village, docId: string, update: Uint8Array): Promise<void> {
  const s = ++v.seq
  v.link.send(updatesFrame([{ seq: s, docId, update }]))
  await waitFor(`ack of ${s} from ${v.who.code}`, () => v.acked >= s, 60_000)
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '潆溪镇', dataDir: join(tmp.dir, 'town'), catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate() })
  ;(town.links as unknown as { log: (m: string) => void }).log = (m) => logs.push(m)
  await town.node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
  staff = request(createApp(town.node), (await town.node.users.login({ name: 'staff', password: 'password10' })).token)
  for (const [code, name] of [[V1, '长青村'], [V2, '白塔村']]) villages.set(code, await connect(identity(code, name)))
}, 180_000)

afterAll(async () => {
  for (const v of villages.values()) v.link.ws.terminate()
  await town?.stop()
  tmp.cleanup()
})

describe('the attachment lane against hostile villages', () => {
  const file = new Uint8Array(randomBytes(2 * PIECE_BYTES + 100))
  file.set([0xff, 0xd8, 0xff, 0xe0])
  const hash = sha(file)
  let app: Application

  it('pulls a file named by a case on the village’s path; garbage is dropped at the hash and asked for again', async () => {
    const v1 = villages.get(V1)!
    app = signedApplication({
      id: `${V1}-20261123-0001`, itemCode: 'T-P01', itemVersion: 1, applicant, materials: ['申请表', '居民身份证'], originCode: V1, handlerCode: TOWN,
      createdAt: '2026-11-23T02:00:00.000Z', createdBy: 'agent', kind: 'promised', promisedDays: 5,
    } as Omit<Application, 'sig'>, v1.who.keys)
    const attached = signedEvent({ type: 'attached', hash, size: file.length, mime: 'image/jpeg', name: '申请表.jpg', lamport: 1, author: V1, user: 'agent', at: new Date().toISOString() } as never, v1.who.keys) as CaseEvent
    const { state } = caseUpdate((d) => {
      d.getMap('case').set('application', app)
      d.getArray('events').push([attached])
    })
    await push(v1, `case:${app.id}`, state)
    const listed = await staff('GET', `/api/cases/${app.id}/attachments`)
    expect(listed.status).toBe(200)
    expect(listed.body.attachments).toMatchObject([{ hash, state: expect.stringMatching(/missing|arriving/) }])

    // The township asks for what it lacks, a few pieces at a time.
    await waitFor('wants from the township', () => v1.wants.length >= MAX_WANTS_IN_FLIGHT, 60_000)
    expect(v1.wants.length).toBeLessThanOrEqual(MAX_WANTS_IN_FLIGHT)
    expect(v1.wants.every((w) => w.caseId === app.id && w.hash === hash)).toBe(true)
    expect(new Set(v1.wants.map((w) => w.offset))).toEqual(new Set([0, PIECE_BYTES, 2 * PIECE_BYTES]))

    // A piece nobody asked for: dropped and logged.
    v1.link.send({ type: 'piece', hash: 'cd'.repeat(32), offset: 0, total: 10, bytes: new Uint8Array(10) })
    // Garbage of the right length for every piece.
    const before = logs.length
    for (const w of v1.wants.splice(0)) {
      v1.link.send({ type: 'piece', hash, offset: w.offset, total: file.length, bytes: new Uint8Array(randomBytes(Math.min(PIECE_BYTES, file.length - w.offset))) })
    }
    await waitFor('the hash check to fail', () => logs.slice(before).some((l) => /does not hash to its name/.test(l)), 60_000)
    expect(logs.some((l) => /not asked for/.test(l))).toBe(true)
    const [{ n: dropped }] = await town.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM attachment_pieces')
    expect(dropped).toBe(0)
    expect((await staff('GET', `/api/cases/${app.id}/attachments/${hash}`)).status).toBe(409)

    // Asked again (after the retry wait); served honestly now: held, and right.
    await waitFor('wants again', () => v1.wants.length >= 1, 60_000)
    const answered = new Set<number>()
    await waitFor('the file held at the township', async () => {
      for (const w of v1.wants.splice(0)) {
        expect(answered.has(w.offset)).toBe(false) // a piece held is never asked for again
        answered.add(w.offset)
        v1.link.send({ type: 'piece', hash, offset: w.offset, total: file.length, bytes: file.subarray(w.offset, w.offset + PIECE_BYTES) })
      }
      return (await staff('GET', `/api/cases/${app.id}/attachments`)).body.attachments[0].state === 'held'
    }, 60_000)
    const res = await town.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM attachment_pieces WHERE hash = $1', [hash])
    expect(res[0].n).toBe(3)
    const got = await createApp(town.node).request(`/api/cases/${app.id}/attachments/${hash}`, { headers: { authorization: `Bearer ${(await town.node.users.login({ name: 'staff', password: 'password10' })).token}` } })
    expect(sha(new Uint8Array(await got.arrayBuffer()))).toBe(hash)
  }, 300_000)

  it('a village off the case’s path asking for its pieces gets nothing, whether the township holds them or not', async () => {
    const v2 = villages.get(V2)!
    const before = logs.length
    v2.link.send({ type: 'piece-want', caseId: app.id, hash, offset: 0 })
    v2.link.send({ type: 'piece-want', caseId: `${V1}-20261123-0999`, hash: 'ef'.repeat(32), offset: 0 })
    await waitFor('two answers', () => v2.pieces.length >= 2, 60_000)
    for (const p of v2.pieces) {
      expect(p.total).toBe(0)
      expect(p.bytes.length).toBe(0)
    }
    expect(logs.slice(before).filter((l) => /refused a piece-want from 511302101202/.test(l))).toHaveLength(2)
    // …and it never held the case (nothing of it went down that link).
    expect(v2.wants).toEqual([])
  }, 300_000)

  it('asks a village for pieces only within a share of its hourly byte quota: scans slow down, the link stays open', async () => {
    const saved = LINK_QUOTAS.village.bytesPerHour
    LINK_QUOTAS.village.bytesPerHour = 48 * 1024 // this village's quota, made when it links
    let v3: Village
    try {
      v3 = await connect(identity(V3, '青龙村'))
      villages.set(V3, v3)
    } finally {
      LINK_QUOTAS.village.bytesPerHour = saved
    }
    const big = new Uint8Array(randomBytes(6 * PIECE_BYTES))
    big.set([0xff, 0xd8, 0xff, 0xe0])
    const app3 = signedApplication({
      id: `${V3}-20261123-0001`, itemCode: 'T-P01', itemVersion: 1, applicant, materials: ['申请表', '居民身份证'], originCode: V3, handlerCode: TOWN,
      createdAt: '2026-11-23T02:00:00.000Z', createdBy: 'agent', kind: 'promised', promisedDays: 5,
    } as Omit<Application, 'sig'>, v3.who.keys)
    const attached = signedEvent({ type: 'attached', hash: sha(big), size: big.length, mime: 'image/jpeg', name: '房屋照片.jpg', lamport: 1, author: V3, user: 'agent', at: new Date().toISOString() } as never, v3.who.keys) as CaseEvent
    await push(v3, `case:${app3.id}`, caseUpdate((d) => {
      d.getMap('case').set('application', app3)
      d.getArray('events').push([attached])
    }).state)
    const budget = Math.floor((PIECE_QUOTA_SHARE * 48 * 1024) / (PIECE_BYTES + 64))
    expect(budget).toBe(2)
    await waitFor('the wants the budget allows', () => v3.wants.length >= budget, 60_000)
    for (const w of v3.wants) v3.link.send({ type: 'piece', hash: w.hash, offset: w.offset, total: big.length, bytes: big.subarray(w.offset, w.offset + PIECE_BYTES) })
    // Past two retry periods, no further want: the hour's share is spent; and the link was not closed over it.
    let quiet = false
    setTimeout(() => (quiet = true), 12_000)
    await waitFor('two retry periods', () => quiet, 60_000)
    expect(v3.wants).toHaveLength(budget)
    expect(v3.link.ws.readyState).toBe(v3.link.ws.OPEN)
    expect(logs.some((l) => /quota/.test(l) && l.includes(V3))).toBe(false)
    expect((await staff('GET', `/api/cases/${app3.id}/attachments`)).body.attachments[0]).toMatchObject({ state: 'arriving', heldBytes: budget * PIECE_BYTES })
  }, 300_000)
})
