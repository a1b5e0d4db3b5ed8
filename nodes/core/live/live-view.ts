/**
 * A live view of one case for browsers on this node, speaking the y-websocket protocol
 * (y-protocols sync + awareness), at `/live/case/<id>?token=<bearer token>`.
 *
 * It is for two staff looking at one case: each sees the case change as it changes and who
 * else holds it (awareness — first-contact responsibility). The view is read-only: actions go
 * through `POST /api/cases/:id/events`, where roles and the state machine are enforced, so
 * sync-step2 and update messages from a browser are ignored. Node-to-node sync never uses
 * this; it has its own link (design.md).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import type { WebSocket } from 'ws'
import { caseDocId } from '../docs/case-doc.ts'
import type { TongbanNode } from '../node.ts'
import { closeSocket } from '../link/close.ts'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MAX_MESSAGE = 256 * 1024

interface Room {
  awareness: awarenessProtocol.Awareness
  sockets: Map<WebSocket, Set<number>>
}

export class LiveViews {
  private readonly rooms = new Map<string, Room>()

  constructor(private readonly node: TongbanNode) {
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

  /** Serves one browser connection. */
  async serve(ws: WebSocket, caseId: string): Promise<void> {
    const docId = caseDocId(caseId)
    let room = this.rooms.get(docId)
    if (!room) {
      const awareness = new awarenessProtocol.Awareness(new Y.Doc())
      awareness.setLocalState(null) // the server itself is nobody
      room = { awareness, sockets: new Map() }
      const r = room
      awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
        const changed = [...added, ...updated, ...removed]
        const ids = r.sockets.get(origin as WebSocket)
        if (ids) for (const id of [...added, ...updated]) ids.add(id)
        const enc = encoding.createEncoder()
        encoding.writeVarUint(enc, MESSAGE_AWARENESS)
        encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(r.awareness, changed))
        const msg = encoding.toUint8Array(enc)
        for (const s of r.sockets.keys()) s.send(msg)
      })
      this.rooms.set(docId, room)
    }
    const r = room
    r.sockets.set(ws, new Set())
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
          awarenessProtocol.applyAwarenessUpdate(r.awareness, decoding.readVarUint8Array(dec), ws)
        }
      } catch {
        closeSocket(ws, 1003, 'malformed y-websocket message')
      }
    })
    ws.on('close', () => {
      const ids = r.sockets.get(ws)
      r.sockets.delete(ws)
      if (ids?.size) awarenessProtocol.removeAwarenessStates(r.awareness, [...ids], null)
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
