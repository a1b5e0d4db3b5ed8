import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { LINK_CLOSE_CODES } from '../../../protocol/index.ts'
import { wsTransport } from './ws-transport.ts'

/** ws keeps its net.Socket in `_socket` (no public accessor). */
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: { destroyed: boolean; pause(): void } })._socket

/** A server whose peer never answers a close frame (its socket is paused: a line cut without a reset). */
async function silentPair(): Promise<{ client: WebSocket; server: WebSocketServer }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(server, 'listening')
  server.on('connection', (ws) => socketOf(ws).pause())
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
  await once(client, 'open')
  return { client, server }
}

describe('wsTransport', () => {
  const servers: WebSocketServer[] = []
  afterEach(() => {
    for (const s of servers.splice(0)) {
      for (const c of s.clients) c.terminate()
      s.close()
    }
  })

  it('drops the socket of a peer that timed out without waiting for its close frame', async () => {
    const { client, server } = await silentPair()
    servers.push(server)
    const closed = once(client, 'close')
    wsTransport(client).close(LINK_CLOSE_CODES.timeout, 'no frame from the peer for 60 s')
    // Dropped at once (not left waiting for the peer's close frame); 'close' says none came (1006).
    expect(socketOf(client).destroyed).toBe(true)
    const [code] = await closed
    expect(code).toBe(1006)
  })

  it('closes politely for any other reason: the socket waits for the close handshake', async () => {
    const { client, server } = await silentPair()
    servers.push(server)
    wsTransport(client).close(LINK_CLOSE_CODES.malformed_frame, 'bad frame')
    expect(client.readyState).toBe(WebSocket.CLOSING)
    expect(socketOf(client).destroyed).toBe(false)
    client.terminate()
  })
})
