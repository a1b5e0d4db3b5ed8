/**
 * A hostile browser on the live case view (issue 7, class 9): awareness says who holds a case
 * (首问负责), so a client must not be able to announce another name or role, speak for another
 * client's awareness id, or stay connected once its session has ended.
 *
 * The attacker speaks the y-websocket protocol by hand over a real WebSocket (y-protocols'
 * framing, its own awareness entries); the people it would fool are stock y-websocket clients.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import type { RunningNode } from '../../nodes/core/start.ts'
import { applicant } from '../helpers/node.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { startOneItemTownship } from '../helpers/township.ts'

const tmp = tempDir('tongban-attack-live-')
let running: RunningNode
let staff: Remote
let admin: Remote

beforeAll(async () => {
  running = await startOneItemTownship(tmp.dir)
  for (const name of ['staff', 'mallory', 'honest', 'third']) await running.node.users.add({ name, role: 'staff', password: 'password1' })
  await running.node.users.add({ name: 'admin', role: 'admin', password: 'admin-password' })
  staff = await login(running.url, 'staff', 'password1')
  admin = await login(running.url, 'admin', 'admin-password')
}, 300_000)

afterAll(async () => {
  await running?.stop()
  tmp.cleanup()
})

const tokenOf = async (name: string, password = 'password1') => (await running.node.users.login({ name, password })).token
const liveUrl = (id: string, token: string) => `${running.url.replace('http', 'ws')}/live/case/${id}?token=${encodeURIComponent(token)}`

async function newCase(): Promise<string> {
  const made = await staff('POST', '/api/cases', { itemCode: 'T-001', applicant, materials: ['申请书'] })
  expect(made.status, JSON.stringify(made.body)).toBe(201)
  return made.body.id
}

/** A stock y-websocket client, announcing what the UI announces. */
function honest(id: string, token: string, name: string) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(running.url.replace('http', 'ws') + '/live/case', id, doc, {
    WebSocketPolyfill: WebSocket as never, params: { token }, disableBc: true,
  })
  provider.awareness.setLocalStateField('user', { name, role: 'staff', since: new Date().toISOString() })
  const states = () => [...provider.awareness.getStates().entries()].filter(([cid]) => cid !== doc.clientID).map(([cid, s]) => ({ cid, ...(s as any) }))
  return { doc, provider, states, close: () => (provider.destroy(), doc.destroy()) }
}

/** A hand-made client: raw awareness entries out, and every relayed awareness state it hears. */
async function hostile(id: string, token: string) {
  const ws = new WebSocket(liveUrl(id, token))
  const heard = new Map<number, any>()
  let closed: { code: number; reason: string } | null = null
  ws.on('message', (data: Buffer) => {
    const dec = decoding.createDecoder(new Uint8Array(data))
    if (decoding.readVarUint(dec) !== 1) return
    const upd = decoding.createDecoder(decoding.readVarUint8Array(dec))
    const n = decoding.readVarUint(upd)
    for (let i = 0; i < n; i++) {
      const cid = decoding.readVarUint(upd)
      decoding.readVarUint(upd)
      heard.set(cid, JSON.parse(decoding.readVarString(upd)))
    }
  })
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws, heard,
    closed: () => closed,
    announce(entries: { cid: number; clock: number; state: unknown }[]) {
      const upd = encoding.createEncoder()
      encoding.writeVarUint(upd, entries.length)
      for (const e of entries) {
        encoding.writeVarUint(upd, e.cid)
        encoding.writeVarUint(upd, e.clock)
        encoding.writeVarString(upd, JSON.stringify(e.state))
      }
      const msg = encoding.createEncoder()
      encoding.writeVarUint(msg, 1)
      encoding.writeVarUint8Array(msg, encoding.toUint8Array(upd))
      ws.send(encoding.toUint8Array(msg))
    },
  }
}

describe('awareness is set from the session', () => {
  it('a client announcing another name and role is shown as who it logged in as', async () => {
    const id = await newCase()
    const watcher = honest(id, await tokenOf('honest'), 'honest')
    const m = await hostile(id, await tokenOf('mallory'))
    try {
      m.announce([{ cid: 4242, clock: 1, state: { user: { name: '县长', role: 'admin', displayName: '县长', since: '2020-01-01T00:00:00.000Z' }, acting: 'approved', evil: '<img src=x onerror=alert(1)>' } }])
      const seen = await eventually(async () => watcher.states().find((s) => s.cid === 4242), 60_000, 'the hostile client in awareness')
      // The display name too is the session's (mallory has none), never what the browser claims.
      expect(seen.user).toEqual({ name: 'mallory', role: 'staff', displayName: null, since: '2020-01-01T00:00:00.000Z' })
      expect(seen.acting).toBe('approved')
      expect(seen.evil).toBeUndefined()
      // What the attacker hears back is the rewritten state too.
      await eventually(async () => m.heard.get(4242)?.user?.name === 'mallory', 60_000, 'the rewritten state relayed')

      // Updating later with another name changes nothing either; a malformed `since` or `acting` is replaced.
      m.announce([{ cid: 4242, clock: 2, state: { user: { name: 'admin', role: 'admin', since: 'yesterday' }, acting: 'DROP TABLE' } }])
      await eventually(async () => watcher.states().find((s) => s.cid === 4242 && s.acting === null), 60_000, 'the second update')
      const again = watcher.states().find((s) => s.cid === 4242)!
      expect(again.user.name).toBe('mallory')
      expect(again.user.role).toBe('staff')
      expect(Number.isNaN(Date.parse(again.user.since))).toBe(false)
    } finally {
      m.ws.close()
      watcher.close()
    }
  })

  it('a client cannot speak for another client\'s awareness id, nor for more than a few ids', async () => {
    const id = await newCase()
    const victim = honest(id, await tokenOf('honest'), 'honest')
    const watcher = honest(id, await tokenOf('third'), 'third')
    const m = await hostile(id, await tokenOf('mallory'))
    try {
      const victimId = victim.doc.clientID
      await eventually(async () => watcher.states().find((s) => s.cid === victimId), 60_000, 'the victim in awareness')
      // Overwrite the victim's state, then remove it, each with a clock far ahead.
      m.announce([{ cid: victimId, clock: 1_000, state: { user: { name: 'honest', role: 'staff' }, acting: 'denied' } }])
      m.announce([{ cid: victimId, clock: 1_001, state: null }])
      // Many ids at once: only the first few are taken.
      m.announce(Array.from({ length: 10 }, (_, i) => ({ cid: 9000 + i, clock: 1, state: { user: { name: 'x' } } })))
      await eventually(async () => watcher.states().some((s) => s.cid >= 9000 && s.cid < 9010), 60_000, 'the attacker\'s own ids')
      // No pause needed: the node reads one socket in order and relays at once, so a (wrongly)
      // relayed victim update would have reached the watcher before the attacker's own ids.
      const victimSeen = watcher.states().find((s) => s.cid === victimId)
      expect(victimSeen?.user?.name).toBe('honest')
      expect(victimSeen?.acting ?? null).toBeNull()
      const fakes = watcher.states().filter((s) => s.cid >= 9000 && s.cid < 9010)
      expect(fakes.length).toBe(4)
      for (const f of fakes) expect(f.user.name).toBe('mallory')
    } finally {
      m.ws.close()
      victim.close()
      watcher.close()
    }
  })
})

describe('a live view ends with its session', () => {
  it('logout closes the socket with 4401; the token is then refused at the upgrade', async () => {
    const id = await newCase()
    const token = await tokenOf('mallory')
    const m = await hostile(id, token)
    const call = async (path: string) => (await fetch(`${running.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status
    expect(await call('/api/logout')).toBe(204)
    const closed = await eventually(async () => m.closed(), 60_000, 'the live socket to close')
    expect(closed.code).toBe(4401)
    expect(closed.reason).toMatch(/log in again/)
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(liveUrl(id, token))
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => (ws.close(), resolve(101)))
      ws.on('error', () => {})
    })
    expect(status).toBe(403)
  })

  it('disabling the user closes every live socket of theirs at once', async () => {
    const id = await newCase()
    const a = await hostile(id, await tokenOf('mallory'))
    const b = await hostile(id, await tokenOf('mallory'))
    const other = await hostile(id, await tokenOf('third'))
    try {
      expect((await admin('POST', '/api/users/mallory/disable')).status).toBe(200)
      for (const s of [a, b]) expect((await eventually(async () => s.closed(), 60_000, 'the socket to close')).code).toBe(4401)
      // An ordering, not a pause: the other user's socket still carries a round trip after
      // mallory's two were closed.
      other.announce([{ cid: 7001, clock: 1, state: { user: { name: 'x' } } }])
      await eventually(async () => other.heard.get(7001)?.user?.name === 'third' || other.closed(), 60_000, 'a round trip on the other socket')
      expect(other.closed()).toBeNull()
    } finally {
      other.ws.close()
      await admin('POST', '/api/users/mallory/enable')
    }
  })
})
