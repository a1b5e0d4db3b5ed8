/**
 * A live view of one case for browsers on this node, speaking the y-websocket protocol
 * (y-protocols sync + awareness), at `/live/case/<id>?token=<bearer token>`.
 *
 * It is for two staff looking at one case: each sees the case change as it changes and who
 * else holds it (awareness — first-contact responsibility). The view is read-only: actions go
 * through `POST /api/cases/:id/events`, where roles and the state machine are enforced, so
 * sync-step2 and update messages from a browser are ignored. Node-to-node sync never uses
 * this; it has its own link (design.md).
 *
 * Awareness says who holds the case, so a browser does not get to say who it is: the node
 * writes `user` (name and role) from the session of the socket into every state it relays,
 * keeps only the fields the UI shows (`user.since`, `acting`), and lets a socket speak only for
 * the awareness client ids it announced first. A socket whose session ends (logout, disable,
 * password reset) is closed at once with 4401.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import type { WebSocket } from 'ws'
import { caseDocId } from '../docs/case-doc.ts'
import type { TongbanNode } from '../node.ts'
import { tokenHash, type Revocation } from '../services/users.ts'
import { closeSocket } from '../link/close.ts'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MAX_MESSAGE = 256 * 1024
/** Awareness client ids one socket may speak for (a tab has one; a reconnect makes a new one). */
const MAX_IDS_PER_SOCKET = 4
/** Entries in one awareness message. */
const MAX_ENTRIES = 16
/** Closed with this when the socket's session ends. */
const SESSION_ENDED = 4401

interface Viewer {
  /** From the session: the login, the role and the display name people read (显示名). */
  user: { name: string; role: string; displayName: string | null }
  tokenHash: string
  ids: Set<number>
}

interface Room {
  awareness: awarenessProtocol.Awareness
  sockets: Map<WebSocket, Viewer>
  /** Which socket speaks for each awareness client id. */
  owners: Map<number, WebSocket>
}

export class LiveViews {
  private readonly rooms = new Map<string, Room>()

  constructor(private readonly node: TongbanNode) {
    node.users.onRevoke((r) => this.revoked(r))
    node.docs.on('update', (u) => {
      const room = this.rooms.get(u.docId)
      if (!room) return
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, MESSAGE_SYNC)
      syncProtocol.writeUpdate(enc, u.update)
      const msg = encoding.toUint8Array(enc)
      for (const ws of room.sockets.keys()) ws.send(msg)
    })
  }

  /** Checks the token and the case; returns a reason to refuse, or null. */
  async admit(caseId: string, token: string | null): Promise<string | null> {
    if (!token || !(await this.node.users.authenticate(token))) return 'log in first: the live view needs ?token=<bearer token>'
    if (!(await this.node.docs.has(caseDocId(caseId)))) return `case ${caseId} is not held at this node`
    return null
  }

  /** Closes the sockets whose session just ended. */
  private revoked(r: Revocation): void {
    for (const room of this.rooms.values()) {
      for (const [ws, v] of room.sockets) {
        const ended = 'tokenHash' in r ? v.tokenHash === r.tokenHash : v.user.name === r.user && v.tokenHash !== r.except
        if (ended) closeSocket(ws, SESSION_ENDED, 'session ended: log in again')
      }
    }
  }

  /** Serves one browser connection; `token` is the bearer token it was admitted with. */
  async serve(ws: WebSocket, caseId: string, token: string | null): Promise<void> {
    const user = token ? await this.node.users.authenticate(token) : null
    if (!user || !token) return closeSocket(ws, SESSION_ENDED, 'log in first: the live view needs ?token=<bearer token>')
    const docId = caseDocId(caseId)
    let room = this.rooms.get(docId)
    if (!room) {
      const awareness = new awarenessProtocol.Awareness(new Y.Doc())
      awareness.setLocalState(null) // the server itself is nobody
      room = { awareness, sockets: new Map(), owners: new Map() }
      const r = room
      awareness.on('update', ({ added, updated, removed }: Record<string, number[]>) => {
        const changed = [...added, ...updated, ...removed]
        const enc = encoding.createEncoder()
        encoding.writeVarUint(enc, MESSAGE_AWARENESS)
        encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(r.awareness, changed))
        const msg = encoding.toUint8Array(enc)
        for (const s of r.sockets.keys()) s.send(msg)
      })
      this.rooms.set(docId, room)
    }
    const r = room
    const viewer: Viewer = { user: { name: user.name, role: user.role, displayName: user.displayName ?? null }, tokenHash: tokenHash(token), ids: new Set() }
    r.sockets.set(ws, viewer)
    const doc = await this.node.docs.get(docId)

    ws.on('message', async (data: Buffer) => {
      try {
        if (data.length > MAX_MESSAGE) return closeSocket(ws, 1009, 'message too large')
        const dec = decoding.createDecoder(new Uint8Array(data))
        const type = decoding.readVarUint(dec)
        if (type === MESSAGE_SYNC) {
          const sub = decoding.readVarUint(dec)
          if (sub === syncProtocol.messageYjsSyncStep1) {
            const enc = encoding.createEncoder()
            encoding.writeVarUint(enc, MESSAGE_SYNC)
            const sv = decoding.readVarUint8Array(dec)
            // Fetched again: the cached instance may have been evicted and reloaded since.
            syncProtocol.writeSyncStep2(enc, await this.node.docs.get(docId), sv)
            ws.send(encoding.toUint8Array(enc))
          }
          // step 2 and updates from a browser are ignored: the view is read-only.
        } else if (type === MESSAGE_AWARENESS) {
          const update = ownStates(r, ws, viewer, decoding.readVarUint8Array(dec))
          if (update) awarenessProtocol.applyAwarenessUpdate(r.awareness, update, ws)
        }
      } catch {
        closeSocket(ws, 1003, 'malformed y-websocket message')
      }
    })
    ws.on('close', () => {
      const ids = viewer.ids
      r.sockets.delete(ws)
      for (const id of ids) if (r.owners.get(id) === ws) r.owners.delete(id)
      if (ids.size) awarenessProtocol.removeAwarenessStates(r.awareness, [...ids], null)
      if (r.sockets.size === 0) {
        r.awareness.destroy()
        this.rooms.delete(docId)
      }
    })

    // Our state first (step 1 and 2), then who is here.
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(enc, doc)
    ws.send(encoding.toUint8Array(enc))
    const enc2 = encoding.createEncoder()
    encoding.writeVarUint(enc2, MESSAGE_SYNC)
    syncProtocol.writeSyncStep2(enc2, doc)
    ws.send(encoding.toUint8Array(enc2))
    const states = [...r.awareness.getStates().keys()]
    if (states.length) {
      const enc3 = encoding.createEncoder()
      encoding.writeVarUint(enc3, MESSAGE_AWARENESS)
      encoding.writeVarUint8Array(enc3, awarenessProtocol.encodeAwarenessUpdate(r.awareness, states))
      ws.send(encoding.toUint8Array(enc3))
    }
  }

  close(): void {
    for (const r of this.rooms.values()) {
      for (const ws of r.sockets.keys()) closeSocket(ws, 1001, 'node stopping')
      r.awareness.destroy()
    }
    this.rooms.clear()
  }
}

/**
 * Rewrites a browser's awareness update before it is applied: entries for client ids another
 * socket speaks for are dropped, as are ids past MAX_IDS_PER_SOCKET; every state keeps only
 * `user` — its name, role and display name taken from the session — with `since`, and `acting`.
 * Returns the re-encoded update, or null when nothing is left. Throws on a malformed update.
 */
function ownStates(room: Room, ws: WebSocket, viewer: Viewer, update: Uint8Array): Uint8Array | null {
  const dec = decoding.createDecoder(update)
  const n = decoding.readVarUint(dec)
  if (n > MAX_ENTRIES) throw new Error(`an awareness update of ${n} entries`)
  const out: { id: number; clock: number; state: unknown }[] = []
  for (let i = 0; i < n; i++) {
    const id = decoding.readVarUint(dec)
    const clock = decoding.readVarUint(dec)
    const state = JSON.parse(decoding.readVarString(dec)) as unknown
    const owner = room.owners.get(id)
    if (owner && owner !== ws) continue
    if (!owner) {
      if (viewer.ids.size >= MAX_IDS_PER_SOCKET || state === null) continue
      room.owners.set(id, ws)
      viewer.ids.add(id)
    }
    out.push({ id, clock, state: state === null ? null : sessionState(state, viewer) })
  }
  if (!out.length) return null
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, out.length)
  for (const e of out) {
    encoding.writeVarUint(enc, e.id)
    encoding.writeVarUint(enc, e.clock)
    encoding.writeVarString(enc, JSON.stringify(e.state))
  }
  return encoding.toUint8Array(enc)
}

/** The state as relayed: who from the session; when and what from the browser, if well-formed. */
function sessionState(state: unknown, viewer: Viewer): { user: { name: string; role: string; displayName: string | null; since: string }; acting: string | null } {
  const s = (typeof state === 'object' && state ? state : {}) as { user?: { since?: unknown }; acting?: unknown }
  const since = typeof s.user?.since === 'string' && s.user.since.length <= 40 && !Number.isNaN(Date.parse(s.user.since)) ? s.user.since : new Date().toISOString()
  const acting = typeof s.acting === 'string' && /^[a-z-]{1,40}$/.test(s.acting) ? s.acting : null
  return { user: { name: viewer.user.name, role: viewer.user.role, displayName: viewer.user.displayName, since }, acting }
}
