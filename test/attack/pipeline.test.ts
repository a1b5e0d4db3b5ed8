/**
 * The first frames behind the upgrade (issue 11, session 7; links.ts, pipeline.ts): on a
 * reconnect over wss to its pinned parent the village writes its hello and a window of frames
 * right behind the upgrade request. A real township (TLS, self-signed, pinned by the village's
 * token) and a real village, in this process, the line between them through the link emulator.
 * What is checked: a reconnect pipelines and everything arrives once in effect, without the
 * pipelined frames sent again; a township whose store was restored (new epoch) still ends with
 * everything (the village rewinds to its cursor); a refusal of a pipelined upgrade is read,
 * status and body (the clock retry depends on it); a peer whose proof fails gets nothing of
 * what it pipelined parsed; frames before the hello and garbage close the link with a code; the
 * process lives. Every wait is bounded.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { connect, type TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { generate } from 'selfsigned'
import * as Y from 'yjs'
import { decodeFrame, encodeFrame, encodeUpdatesBody, LINK_CLOSE_CODES, type LinkFrame } from '../../protocol/index.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { Outbox } from '../../nodes/core/link/outbox.ts'
import { clientMessage } from '../../nodes/core/link/pipeline.ts'
import { readFrame } from '../../nodes/core/link/session.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { fingerprintOf } from '../../nodes/core/tls.ts'
import { memoryKeys } from '../../nodes/core/trust/keys.ts'
import { intakeBody } from '../../bench/lib/cases.ts'
import { enroll, identity, upgradeProofHeaders } from '../helpers/link-client.ts'
import { login, type Remote } from '../helpers/remote.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { trustNode } from '../helpers/tls.ts'
import { postgresAvailable, startPostgres, type PgServer } from '../helpers/postgres.ts'
import { startLinkEmulator, type LinkEmulator } from '../tools/link-emulator.ts'
import { failOnUnhandled, waitFor } from './guard.ts'
import { childHello, fakeParent, parentHello } from './peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-pipeline-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const OTHER = '511302101202'
const PASSWORD = 'password10'
const townDir = join(tmp.dir, 'town')
const villageDir = join(tmp.dir, 'village')
const logged: string[] = []
let template: Blob
let town: RunningNode
let village: RunningNode
let line: LinkEmulator
let agent: Remote

const startTown = (port = 0) => startNode({ level: 'township', code: TOWN, name: '镇', dataDir: townDir, loadDataDir: port ? undefined : template, catalogue: 'sample' }, port, '127.0.0.1', { tls: 'self-signed' })
const parentUp = async () => (await village.links.status()).parent?.connected === true
const villageCases = async () => (await village.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cases`))[0].n
/** The village's cases the township holds. */
const townHolds = async () => (await town.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cases WHERE origin_code = $1`, [VILLAGE]))[0].n
/** The village's cases as a node's rows show them (the fold of their events: an event applied twice or lost would show). */
const casesAt = async (n: RunningNode) => JSON.stringify(await n.node.db.query(`SELECT id, status, handler_code, applicant_name, accepted_at FROM cases WHERE origin_code = $1 ORDER BY id`, [VILLAGE]))
const since = (mark: number) => logged.slice(mark)
const sentUp = async () => (await village.links.status()).parent!.bytesSent

async function intake(n: number, from: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const r = await agent('POST', '/api/cases', intakeBody(i))
    if (r.status !== 201) throw new Error(`intake failed: ${JSON.stringify(r.body)}`)
  }
}

/** The bytes of the updates frames the village would send from its acked cursor (compression is deterministic). */
async function framesOwed(): Promise<number> {
  const out = new Outbox(village.node.db, TOWN, false)
  let after = (await village.links.stats.cursor(TOWN)).acked
  let bytes = 0
  for (;;) {
    const f = await readFrame(out, after)
    if (f.frame) bytes += encodeFrame(f.frame).length
    else if (f.scannedTo === after) return bytes
    after = f.scannedTo
  }
}

async function lineDown(): Promise<void> {
  line.setDown(true)
  await waitFor('the village to see the line down', async () => !(await parentUp()), 60_000)
}

beforeAll(async () => {
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')))
  template = await pgliteTemplate()
  town = await startTown()
  trustNode(townDir)
  line = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: 20_000_000, rttMs: 200 })
  mkdirSync(villageDir, { recursive: true })
  writeFileSync(join(villageDir, 'users.seed.json'), JSON.stringify([{ name: 'agent', role: 'agent', password: PASSWORD }]))
  village = await startNode({
    level: 'village', code: VILLAGE, name: '村', dataDir: villageDir, loadDataDir: template,
    parentUrl: line.url().replace(/^http:/, 'https:'), token: pinToken(enrollChild(townDir, TOWN, VILLAGE), townDir),
  })
  agent = await login(village.url, 'agent', PASSWORD)
  await waitFor('the first link and the catalogue at the village', async () => (await parentUp()) && (await agent('GET', '/api/catalogue')).body.items?.length > 0, 120_000)
}, 300_000)

afterAll(async () => {
  await village?.stop()
  await town?.stop()
  await line?.close()
  vi.restoreAllMocks()
  tmp.cleanup()
})

describe('the first frames behind the upgrade', () => {
  it('a reconnect sends the hello and a window behind the upgrade; everything arrives once, nothing pipelined is sent again', async () => {
    await lineDown()
    await intake(150, 0)
    const owed = await framesOwed()
    const sent0 = await sentUp()
    const mark = logged.length
    line.setDown(false)
    await waitFor('the township to hold the 150 cases', async () => (await townHolds()) >= 150, 120_000)
    await waitFor('the village to hear every ack', async () => (await village.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM doc_updates WHERE seq > (SELECT acked FROM link_cursors WHERE peer = $1)`, [TOWN]))[0].n === 0, 60_000)
    const line_ = since(mark).find((l) => /sent the hello and \d+ frames/.test(l))
    expect(line_, since(mark).join('\n')).toBeDefined()
    const [, frames, bytes] = /sent the hello and (\d+) frames \((\d+) bytes/.exec(line_!)!
    expect(Number(frames)).toBeGreaterThanOrEqual(1)
    expect(await townHolds()).toBe(await villageCases())
    expect(await casesAt(town)).toBe(await casesAt(village))
    // What went up is what was owed, once: the pipelined frames were not sent again after the
    // township's hello (the hello, acks, pings and a statistics update or two are small).
    const sent = (await sentUp()) - sent0
    expect(sent).toBeGreaterThanOrEqual(owed)
    expect(sent - owed).toBeLessThan(Number(bytes) / 2)
    expect(since(mark).filter((l) => /closed:|refused/.test(l))).toEqual([])
  })

  it('a township restored from an older copy (a new epoch) still ends with everything: the village sends again from its cursor', async () => {
    // The township's store as it is now, copied while it is stopped: the "backup".
    await town.stop()
    const backup = join(tmp.dir, 'town-backup')
    cpSync(townDir, backup, { recursive: true })
    town = await startTown(town.port)
    await waitFor('the link back after the restart', parentUp, 120_000)
    await intake(60, 1000) // acknowledged by the township, then lost with its store
    await waitFor('the township to hold the new cases', async () => (await townHolds()) === (await villageCases()), 120_000)
    await lineDown()
    await intake(40, 1060)
    await town.stop()
    rmSync(townDir, { recursive: true, force: true })
    cpSync(backup, townDir, { recursive: true })
    // What `tongban restore` does to a restored store (cli/backup.ts newEpoch).
    const db = await openPglite(join(townDir, 'pgdata'))
    await db.query(`DELETE FROM node_meta WHERE key = 'epoch'`)
    await db.close()
    town = await startTown(town.port)
    const mark = logged.length
    line.setDown(false)
    await waitFor('the restored township to hold every case again', async () => (await townHolds()) === (await villageCases()), 120_000)
    expect(await townHolds()).toBe(await villageCases())
    await waitFor('every case at the township as at the village', async () => (await casesAt(town)) === (await casesAt(village)), 60_000)
    expect(since(mark).some((l) => /sent the hello and \d+ frames/.test(l)), since(mark).join('\n')).toBe(true)
    expect(since(mark).some((l) => /resumes at \d+, before the \d+ this node streamed from behind the upgrade: sending again from there/.test(l)), since(mark).join('\n')).toBe(true)
  })
})

describe('refusals of a pipelined upgrade', () => {
  it('a 101 whose proof is not the pinned key\'s (a stolen TLS key) got one window at most: the village pipelines no more until a real link', async () => {
    const pems = await generate([{ name: 'commonName', value: 'tongban 511302101000' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
    let links = 0
    const opts: { tls: { cert: string; key: string }; signer?: ReturnType<typeof memoryKeys> } = { tls: { cert: pems.cert, key: pems.private } }
    const fake = await fakeParent(identity(TOWN, '镇'), (link) => {
      link.send(parentHello(TOWN))
      if (++links === 1) setTimeout(() => {
        opts.signer = memoryKeys() // from now on the 101 is signed by another key than the one pinned
        link.ws.close(1000, 'bye')
      }, 300)
    }, opts)
    const code = '511302101204'
    const v = await startNode({ level: 'village', code, name: '村四', dataDir: join(tmp.dir, 'v4'), loadDataDir: template, parentUrl: fake.url, token: `fake-token#${fingerprintOf(pems.cert)}` })
    const pipelining = () => (v.links as unknown as { pipelineOk: boolean }).pipelineOk
    try {
      await waitFor('the first link', () => links >= 1, 120_000)
      await waitFor('the village to take the link as good (it may pipeline now)', () => pipelining(), 30_000)
      await waitFor('the village to refuse the 101 of the impostor', () => logged.some((l) => l.startsWith(`[${code}] not linking to the parent:`)), 60_000)
      expect(pipelining()).toBe(false)
      expect((await v.links.status()).parent?.connected).toBe(false)
    } finally {
      await v.stop()
      await fake.close()
    }
  })

  it('a refusal is read, status and body, not a reset: the clock retry links at once and nothing is lost', async () => {
    await lineDown()
    await intake(20, 2000)
    // The village's clock ten minutes slow as the township hears it: the proof is refused (401)
    // with the township's time, and the village redials at once dated by it (links.ts clockRetry).
    ;(village.links as unknown as { parentAuth: { clockOffset: number } }).parentAuth.clockOffset = -10 * 60_000
    const mark = logged.length
    line.setDown(false)
    await waitFor('every case at the township', async () => (await townHolds()) === (await villageCases()), 120_000)
    // (The township may hold them before the village has its 101: it applied the pipelined frames.)
    await waitFor('the link up at the village', parentUp, 60_000)
    const said = since(mark)
    expect(said.some((l) => l.startsWith(`[${VILLAGE}] the parent refused the link (401): a stale proof: dated`)), said.join('\n')).toBe(true)
    expect(said.some((l) => /bytes sent behind the upgrade were not taken/.test(l)), said.join('\n')).toBe(true)
    expect(said.some((l) => /the next dial in/.test(l))).toBe(false) // the clock retry, not a minute's wait
    expect(said.some((l) => /sent the hello and \d+ frames/.test(l)), said.join('\n')).toBe(true) // the retry pipelined too
  })

  it('a parent of an earlier version never gets bytes behind the upgrade, and still links its way, again after a drop', async () => {
    const pems = await generate([{ name: 'commonName', value: 'tongban 511302101000' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
    let links = 0
    const older = await fakeParent(identity(TOWN, '镇'), (link) => {
      link.send(parentHello(TOWN))
      if (++links === 1) setTimeout(() => link.ws.close(1000, 'bye'), 300)
    }, { older: true, tls: { cert: pems.cert, key: pems.private } })
    const code = '511302101203'
    const v = await startNode({ level: 'village', code, name: '村三', dataDir: join(tmp.dir, 'v3'), loadDataDir: template, parentUrl: older.url, token: `older-token#${fingerprintOf(pems.cert)}` })
    try {
      await waitFor('two links on the earlier handshake', () => older.challengedLinks >= 2, 120_000)
      expect(older.headBytes).toBe(0)
      expect(logged.filter((l) => l.startsWith(`[${code}]`) && /behind the upgrade/.test(l))).toEqual([])
      expect(logged.some((l) => l.startsWith(`[${code}] the parent runs an earlier version`))).toBe(true)
    } finally {
      await v.stop()
      await older.close()
    }
  })
})

/** What a raw TLS client got for an upgrade request with `behind` written right after it. */
interface RawAnswer { status: number; body: string; closes: number[]; binary: number; first: string | null; ended: boolean; port: number }

/** Sends `GET /link` with `headers` to the township directly, and `behind` in the same write; reads until the township ends. */
function rawUpgrade(headers: Record<string, string>, behind: Buffer[], to: number = town.port): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let port = 0
    const socket: TLSSocket = connect({ host: '127.0.0.1', port: to, rejectUnauthorized: false }, () => {
      port = socket.localPort ?? 0
      const head = ['GET /link HTTP/1.1', 'Host: 127.0.0.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n')
      socket.write(Buffer.concat([Buffer.from(head), ...behind]))
    })
    const timer = setTimeout(() => socket.destroy(new Error('no end from the township within 30 s')), 30_000)
    let finished = false
    const done = (ended: boolean) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      resolve(read(Buffer.concat(chunks), ended))
    }
    /** The answer so far: status, body, and the township's frames after a 101 (unmasked): binary ones counted, close codes read. */
    const read = (all: Buffer, ended: boolean): RawAnswer => {
      const at = all.indexOf('\r\n\r\n')
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(all.subarray(0, Math.max(at, 0)).toString())?.[1] ?? 0)
      const rest = at < 0 ? Buffer.alloc(0) : all.subarray(at + 4)
      const answer: RawAnswer = { status, body: status === 101 ? '' : rest.toString(), closes: [], binary: 0, first: null, ended, port }
      for (let i = 0; status === 101 && i + 2 <= rest.length;) {
        const op = rest[i] & 0x0f
        let len = rest[i + 1] & 0x7f
        let off = i + 2
        if (off + (len === 126 ? 2 : len === 127 ? 8 : 0) > rest.length) break
        if (len === 126) (len = rest.readUInt16BE(off)), (off += 2)
        else if (len === 127) (len = Number(rest.readBigUInt64BE(off))), (off += 8)
        if (off + len > rest.length) break
        if (op === 0x2 && !answer.binary++) answer.first = decodeFrame(new Uint8Array(rest.subarray(off, off + len))).type
        if (op === 0x8 && len >= 2) answer.closes.push(rest.readUInt16BE(off))
        i = off + len
      }
      return answer
    }
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      // A close frame from the township (after a 101): done, without playing the close handshake out.
      if (read(Buffer.concat(chunks), true).closes.length) done(true)
    })
    socket.on('end', () => done(true))
    socket.on('close', () => done(false))
    socket.on('error', (e) => (chunks.length ? done(false) : reject(e)))
  })
}

const frame = (f: LinkFrame) => clientMessage(encodeFrame(f))
/** The township's end of a connection from `port`, while it holds one. */
const townSocketTo = (port: number) => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
  .some((h) => h instanceof Socket && h.localPort === town.port && h.remotePort === port)
/** An updates frame carrying one statistics update of `code` for a month no one writes. */
function statsUpdate(code: string): { docId: string; bytes: Buffer } {
  const doc = new Y.Doc()
  doc.getMap('x').set('k', 1)
  const docId = `stats:${code}:2020-01`
  const body = encodeUpdatesBody([{ seq: 1, docId, update: Y.encodeStateAsUpdate(doc) }])
  return { docId, bytes: frame({ type: 'updates', compressed: false, body }) }
}

describe('a hostile peer pipelining', () => {
  const other = identity(OTHER, '村二')
  beforeAll(async () => {
    expect((await enroll(town.url, other, enrollChild(townDir, TOWN, OTHER))).status).toBe(200)
  })

  it('frames behind an upgrade whose proof fails are read and dropped, never parsed: a 401 with its reason, and nothing applied', async () => {
    const u = statsUpdate(OTHER)
    const mark = logged.length
    // Signed by a key that is not OTHER's, with a hello, an update and 300 KB of noise behind it.
    const r = await rawUpgrade(upgradeProofHeaders(TOWN, other, { signer: memoryKeys() }), [frame(childHello(OTHER)), u.bytes, Buffer.alloc(300_000, 7)])
    expect(r.status).toBe(401)
    expect(r.body).toMatch(/the proof is not signed by 511302101202's enrolled key/)
    expect(r.ended).toBe(true) // the township closed its side after the answer: no reset
    // And, the client gone, the township lets the socket go: unread bytes would hold it (and a stop) forever.
    await waitFor('the township to close the refused socket', () => !townSocketTo(r.port), 15_000)
    expect(await town.node.docs.has(u.docId)).toBe(false)
    expect(since(mark).filter((l) => l.includes(`link with ${OTHER}`))).toEqual([]) // no session, no frame handled
  })

  it('an unenrolled peer pipelining a megabyte and more is cut off, the process lives', async () => {
    const stranger = identity('511302101299', '外人')
    const r = await rawUpgrade(upgradeProofHeaders(TOWN, stranger), [Buffer.alloc(3 * 1024 * 1024, 1)])
    expect([401, 0]).toContain(r.status) // answered, or cut once past the drain's bound
    expect((await fetch(`${town.url}/healthz`)).status).toBe(200)
  })

  it('an updates frame before the hello closes the link with 4400; garbage with 1002; a burst past maxPayload with 1009; the process lives', async () => {
    const u = statsUpdate(OTHER)
    const early = await rawUpgrade(upgradeProofHeaders(TOWN, other), [u.bytes, frame(childHello(OTHER))])
    expect(early.status).toBe(101)
    expect(early.first).toBe('hello') // the township's own hello before its answer to the child's frames
    expect(early.closes).toEqual([LINK_CLOSE_CODES.malformed_frame])
    expect(await town.node.docs.has(u.docId)).toBe(false)
    // A frame with a reserved opcode (0x3), masked as a client's.
    const garbage = clientMessage(new Uint8Array([1, 2, 3]))
    garbage[0] = 0x83
    const bad = await rawUpgrade(upgradeProofHeaders(TOWN, other), [frame(childHello(OTHER)), garbage])
    expect(bad.status).toBe(101)
    expect(bad.closes).toEqual([1002])
    // A frame header announcing 1 GiB.
    const huge = Buffer.from([0x82, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4])
    const big = await rawUpgrade(upgradeProofHeaders(TOWN, other), [frame(childHello(OTHER)), huge])
    expect(big.status).toBe(101)
    expect(big.closes).toEqual([1009])
    expect((await fetch(`${town.url}/healthz`)).status).toBe(200)
    expect(await parentUp()).toBe(true) // the village's own link is untouched
  })
})

describe.skipIf(!postgresAvailable())('a parent on PostgreSQL', () => {
  // PGlite answers a query without leaving the thread, so a parent on it sends its hello before
  // the first pipelined frame is even read; on PostgreSQL the hello's queries take real round
  // trips, and only the order of the frame queue (links.ts `wire`) keeps the hello first.
  let pg: PgServer
  let pgTown: RunningNode
  const dir = join(tmp.dir, 'pg-town')
  // Another township and its village (its certificate's subject is its code: not the first township's).
  const PG_TOWN = '511302102000'
  const PG_VILLAGE = '511302102201'
  const other = identity(PG_VILLAGE, '村')
  beforeAll(async () => {
    pg = await startPostgres()
    pgTown = await startNode({ level: 'township', code: PG_TOWN, name: '镇', dataDir: dir, databaseUrl: await pg.createDatabase('pipeline') }, 0, '127.0.0.1', { tls: 'self-signed' })
    trustNode(dir)
    expect((await enroll(pgTown.url, other, enrollChild(dir, PG_TOWN, PG_VILLAGE))).status).toBe(200)
  }, 300_000)
  afterAll(async () => {
    await pgTown?.stop()
    await pg?.stop()
  })

  it('sends its hello before its answer to a frame pipelined before the child\'s hello (4400)', async () => {
    const u = statsUpdate(PG_VILLAGE)
    const early = await rawUpgrade(upgradeProofHeaders(PG_TOWN, other), [u.bytes, frame(childHello(PG_VILLAGE))], pgTown.port)
    expect(early.status).toBe(101)
    expect(early.first).toBe('hello')
    expect(early.closes).toEqual([LINK_CLOSE_CODES.malformed_frame])
  })
})
