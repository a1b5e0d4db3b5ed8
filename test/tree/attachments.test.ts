/**
 * 附件 over a real link (issue 10, part 1): a township and two villages, real processes, the
 * first village behind an emulated slow line (200 kbit/s, 200 ms). A scan taken in at the
 * village offline waits to go up (the banner's figure); once linked, the case reaches the
 * township before its file does, the file arrives whole (same SHA-256), a cut in the middle of
 * the transfer resumes from the pieces already there (bytes sent stay within the file plus the
 * wants in flight per cut: not from zero), and the other village — off the case's path — never
 * holds the case nor receives a piece.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnNode, stopNode, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { MAX_WANTS_IN_FLIGHT } from '../../nodes/core/link/attachment-lane.ts'
import { PIECE_BYTES } from '../../protocol/index.ts'
import { residentIdCheck } from '../../protocol/people.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { trustNode } from '../helpers/tls.ts'
import { startLinkEmulator, type LinkEmulator } from '../tools/link-emulator.ts'

const tmp = tempDir('p7-attach-')
const TOWN = '511302101000'
const V1 = '511302101201'
const V2 = '511302101202'
const SIZE = 600 * 1024
let town: TreeNode, v1: TreeNode, v2: TreeNode
let line: LinkEmulator
let agent: Remote, agent2: Remote, staff: Remote

async function node(level: 'township' | 'village', code: string, parent?: { node: TreeNode; url: string }) {
  const dataDir = join(tmp.dir, code)
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([{ name: level === 'village' ? 'agent' : 'staff', role: level === 'village' ? 'agent' : 'staff', password: 'password1' }]))
  const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
  const n = await spawnNode({ level, code, name: code, dataDir, port: 0, parentUrl: parent?.url, token, catalogue: level === 'township' ? 'sample' : undefined })
  trustNode(dataDir)
  return n
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Does any file under `dir` hold these bytes (a slice of a scan: random, so only a stored copy matches)? */
function holds(dir: string, needle: Uint8Array): boolean {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory() ? holds(p, needle) : st.isFile() && readFileSync(p).includes(Buffer.from(needle))) return true
  }
  return false
}

/** A scan of `size` random bytes that starts like a JPEG. */
function scan(size: number): Uint8Array<ArrayBuffer> {
  const file = new Uint8Array(randomBytes(size))
  file.set([0xff, 0xd8, 0xff, 0xe0])
  return file
}

async function takeIn(name: string): Promise<string> {
  const item = (await agent('GET', '/api/catalogue')).body.items.find((i: any) => i.code === 'T-002')
  const r = await agent('POST', '/api/cases', {
    itemCode: 'T-002', materials: item.materials.filter((m: any) => m.required).map((m: any) => m.name),
    applicant: { name, idType: 'resident-id', idNumber: '51130219400101002' + residentIdCheck('51130219400101002'), phone: '13900000001' },
  })
  expect(r.status).toBe(201)
  return r.body.id
}
const files: Uint8Array[] = []

async function upload(base: string, who: Remote, id: string, bytes: Uint8Array<ArrayBuffer>, name: string) {
  // Remote speaks JSON; the upload is the file's bytes, so log in again for a raw request.
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'agent', password: 'password1' }) })
  const { token } = (await res.json()) as { token: string }
  void who
  const r = await fetch(`${base}/api/cases/${id}/attachments?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: bytes })
  return { status: r.status, body: await r.json() }
}

describe('attachments along the path', () => {
  beforeAll(async () => {
    town = await node('township', TOWN)
    line = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: 200_000, rttMs: 200, seed: 7 })
    v1 = await node('village', V1, { node: town, url: line.url().replace(/^http:/, 'https:') })
    v2 = await node('village', V2, { node: town, url: town.url })
    agent = await login(v1.url, 'agent', 'password1')
    agent2 = await login(v2.url, 'agent', 'password1')
    staff = await login(town.url, 'staff', 'password1')
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items?.some((i: any) => i.code === 'T-002'), 120_000, 'the catalogue at the village', 250)
  }, 400_000)

  afterAll(async () => {
    for (const n of [v1, v2, town]) if (n) await stopNode(n)
    await line?.close()
    tmp.cleanup()
  }, 300_000)

  it('a scan taken in offline goes up after its case, survives a cut without restarting, and reaches no node off the path', async () => {
    line.setDown(true)
    const id = await takeIn('王附件')
    const file = scan(SIZE)
    files.push(file)
    const up = await upload(v1.url, agent, id, file, '户口簿首页.jpg')
    expect(up.status).toBe(201)
    expect(up.body).toMatchObject({ hash: sha(file), state: 'held' })

    // Offline: the whole file waits to go up (the banner reads this from /healthz).
    const health = await eventually(async () => {
      const h = (await (await fetch(`${v1.url}/healthz`)).json()) as any
      return h.sync?.parent?.attachmentBytesUp === SIZE && h
    }, 60_000, 'the attachment bytes waiting at the village', 250)
    expect(health.sync.parent.attachmentBytesUp).toBe(SIZE)

    line.setDown(false)
    // The case comes first: when the township first holds it, the file has not arrived whole.
    const first = await eventually(async () => {
      const c = await staff('GET', `/api/cases/${id}/attachments`)
      return c.status === 200 && c.body
    }, 180_000, 'the case at the township', 100)
    expect(first.attachments).toHaveLength(1)
    expect(first.attachments[0].state).not.toBe('held')
    expect((await staff('GET', `/api/cases/${id}`)).body.applicant.name).toBe('王附件') // the case reads meanwhile
    expect((await staff('GET', `/api/cases/${id}/attachments/${sha(file)}`)).status).toBe(409)

    // Cut the line once a part (not all) of the file is at the township.
    const part = await eventually(async () => {
      const a = (await staff('GET', `/api/cases/${id}/attachments`)).body.attachments[0]
      return a.heldBytes >= SIZE / 4 && a.heldBytes < SIZE && a
    }, 180_000, 'a part of the file at the township', 100)
    expect(part.state).toBe('arriving')
    line.cutAll()
    const atCut = (await staff('GET', `/api/cases/${id}/attachments`)).body.attachments[0].heldBytes
    expect(atCut).toBeGreaterThan(0)

    const held = await eventually(async () => {
      const a = (await staff('GET', `/api/cases/${id}/attachments`)).body.attachments[0]
      return a.state === 'held' && a
    }, 240_000, 'the whole file at the township', 250)
    expect(held.heldBytes).toBe(SIZE)
    const res = await fetch(`${town.url}/api/cases/${id}/attachments/${sha(file)}`, { headers: { authorization: `Bearer ${(await (await fetch(`${town.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'staff', password: 'password1' }) })).json() as any).token}` } })
    expect(res.status).toBe(200)
    expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(file))

    // Resumed, not restarted: the village sent the file once, plus at most the wants in flight the cut lost.
    const sync = (await agent('GET', '/api/sync')).body
    const sent = sync.parent.attachments.pieceBytesSent
    const cuts = line.stats().cuts
    expect(sent, `${sent} bytes of pieces sent with ${cuts} cuts`).toBeGreaterThanOrEqual(SIZE)
    expect(sent).toBeLessThanOrEqual(SIZE + Math.max(1, cuts) * MAX_WANTS_IN_FLIGHT * PIECE_BYTES)
    expect(sync.parent.attachments.refusedWants).toBe(0)
    const townSync = (await staff('GET', '/api/sync')).body
    const fromV1 = townSync.children.find((c: any) => c.peer === V1).attachments
    expect(fromV1.filesReceived).toBe(1)
    expect(fromV1.pieceBytesReceived).toBeLessThanOrEqual(sent)
    // Nothing waits to go up any more.
    await eventually(async () => ((await (await fetch(`${v1.url}/healthz`)).json()) as any).sync?.parent?.attachmentBytesUp === 0, 60_000, 'nothing waiting up', 250)

    // Off the path: the other village never holds the case, and never received a piece.
    expect((await agent2('GET', `/api/cases/${id}`)).status).toBe(404)
    const v2sync = (await agent2('GET', '/api/sync')).body
    expect(v2sync.parent.attachments.piecesReceived).toBe(0)
    expect(townSync.children.find((c: any) => c.peer === V2).attachments.piecesSent).toBe(0)
  }, 600_000)

  it('kill -9 of the township mid-transfer: after its restart the file resumes from what it had stored', async () => {
    const id = await takeIn('赵附件')
    const file = scan(SIZE)
    files.push(file)
    const before = (await agent('GET', '/api/sync')).body.parent.attachments.pieceBytesSent
    expect((await upload(v1.url, agent, id, file, '身份证.jpg')).status).toBe(201)
    await eventually(async () => {
      const a = (await staff('GET', `/api/cases/${id}/attachments`)).body?.attachments?.[0]
      return a && a.heldBytes >= SIZE / 3 && a.heldBytes < SIZE
    }, 180_000, 'a part of the second file at the township', 100)
    town.proc!.kill('SIGKILL')
    await new Promise((r) => town.proc!.once('exit', r))
    town = await spawnNode({ level: 'township', code: TOWN, name: TOWN, dataDir: join(tmp.dir, TOWN), port: town.port })
    staff = await login(town.url, 'staff', 'password1')
    const restarted = (await staff('GET', `/api/cases/${id}/attachments`)).body.attachments[0].heldBytes
    expect(restarted, 'what the township had stored survives kill -9').toBeGreaterThan(0)
    await eventually(async () => (await staff('GET', `/api/cases/${id}/attachments`)).body.attachments[0].state === 'held', 240_000, 'the second file whole at the township', 250)
    const sent = (await agent('GET', '/api/sync')).body.parent.attachments.pieceBytesSent - before
    // Resumed: the pieces the township had kept were not sent again (the kill lost at most the wants in flight, and each redial as many).
    expect(sent, `${sent} bytes of pieces sent for a ${SIZE}-byte file across a kill -9`).toBeLessThanOrEqual(SIZE + 4 * MAX_WANTS_IN_FLIGHT * PIECE_BYTES)
    expect(sent).toBeLessThan(SIZE + restarted)
  }, 600_000)

  it('the scans are in the data dirs of the nodes on their path and nowhere else', async () => {
    for (const n of [v1, v2, town]) await stopNode(n)
    for (const file of files) {
      const slice = file.subarray(100_000, 100_064)
      expect(holds(join(tmp.dir, V1), slice)).toBe(true)
      expect(holds(join(tmp.dir, TOWN), slice)).toBe(true)
      expect(holds(join(tmp.dir, V2), slice), 'a piece of the scan in the data dir of the village off its path').toBe(false)
    }
  }, 300_000)
})
