/**
 * Peer: stock y-websocket. One room (one Y.Doc) holds the N cases as a Y.Map of case id → the
 * case JSON (a plain object value, one transaction per case, as a village takes them in one by
 * one), filled offline; then a y-websocket 3.x `WebsocketProvider` (with `WebSocketPolyfill`
 * from ws) connects through the link emulator to a `@y/websocket-server` 0.1.1 server
 * (`setupWSConnection`, no persistence). Done when the server's doc holds all N.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { docs, setupWSConnection } from '@y/websocket-server/utils'
import { makeCases, rawJsonBytes } from '../lib/cases.ts'
import { startLinkInWorker, type WorkerLink } from '../lib/link-worker.ts'
import { connectionGauge, pollUntil, settle, verdict, type PeerProfile, type PeerResult } from './common.ts'

export const name = 'y-websocket 3.1.0 + @y/websocket-server 0.1.1'

export async function run(n: number, profile: PeerProfile): Promise<PeerResult> {
  const cases = makeCases(n)
  const rawJson = rawJsonBytes(cases)
  const room = `cases-${n}-${process.pid}-${Date.now()}`

  const server = http.createServer((_req, res) => { res.writeHead(404); res.end() })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (conn) => setupWSConnection(conn, req, { docName: room, gc: true }))
  })
  const gauge = connectionGauge(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const target = { host: '127.0.0.1', port: (server.address() as AddressInfo).port }

  // Offline intake: the client doc is filled before anything connects.
  const doc = new Y.Doc()
  const map = doc.getMap('cases')
  for (const c of cases) doc.transact(() => map.set(c.id, c))

  let link: WorkerLink | null = null
  let provider: WebsocketProvider | null = null
  try {
    link = await startLinkInWorker(target, profile)
    const serverCount = () => docs.get(room)?.getMap('cases').size ?? 0
    const t0 = performance.now()
    provider = new WebsocketProvider(link.url().replace(/^http/, 'ws'), room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    const finished = await pollUntil(() => serverCount() >= n, profile.timeoutMs, 50)
    const tDone = finished ? performance.now() : null
    const atDone = await link.stats()
    const maxConcurrent = gauge.max() // until the finish (or the timeout)
    const settled = finished ? await settle(link, profile.settleMs ?? 60_000) : undefined
    return verdict({
      n, rawJson, finished, t0, tDone, atDone, settled, profile, maxConcurrent,
      progress: finished ? undefined : `the server held ${serverCount()} of ${n}`,
    })
  } finally {
    provider?.destroy()
    doc.destroy()
    for (const c of wss.clients) c.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    docs.get(room)?.destroy()
    docs.delete(room)
    await link?.close()
  }
}
