/**
 * Stock y-websocket across the namespaces, for comparison with our link: the same peer as
 * bench/peers/y-websocket.ts (one room, a Y.Map of case id → case JSON, one transaction per
 * case, filled offline; y-websocket 3.x WebsocketProvider → @y/websocket-server), split in two
 * processes because here the ends live in different network namespaces.
 *
 *   yws-peer.ts server PORT N   (in tb-town) prints LISTENING, then DONE <count> once the
 *                               room holds N cases
 *   yws-peer.ts client URL N    (in tb-vil) fills its doc, prints READY, connects on a line
 *                               `go` on stdin
 *
 * Both exit on end of stdin (the bench kills them by pid too).
 */
import http from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { docs, setupWSConnection } from '@y/websocket-server/utils'
import { makeCases } from '../lib/cases.ts'

const [mode, where, nArg] = process.argv.slice(2)
const n = Number(nArg)
const ROOM = 'cases'
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()

if (mode === 'server') {
  const server = http.createServer((_req, res) => { res.writeHead(404); res.end() })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (conn) => setupWSConnection(conn, req, { docName: ROOM, gc: true }))
  })
  server.listen(Number(where), '0.0.0.0', () => console.log('LISTENING'))
  let reported = false
  setInterval(() => {
    const size = docs.get(ROOM)?.getMap('cases').size ?? 0
    if (!reported && size >= n) {
      reported = true
      console.log(`DONE ${size}`)
    }
  }, 20)
} else if (mode === 'client') {
  const doc = new Y.Doc()
  const map = doc.getMap('cases')
  for (const c of makeCases(n)) doc.transact(() => map.set(c.id, c))
  console.log('READY')
  let provider: WebsocketProvider | null = null
  process.stdin.on('data', (d) => {
    if (provider || !d.toString().includes('go')) return
    provider = new WebsocketProvider(where, ROOM, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    provider.on('status', (e: { status: string }) => console.log(`STATUS ${e.status}`))
  })
} else {
  console.error('usage: yws-peer.ts server PORT N | client URL N')
  process.exit(2)
}
