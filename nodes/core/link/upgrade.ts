/** Routes WebSocket upgrades: `/link` to the node-to-node links, `/live/case/<id>` to live views. */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { CaseIdSchema } from '../../../protocol/index.ts'
import type { LiveViews } from '../live/live-view.ts'
import type { UpgradeHandler } from '../server.ts'
import { closeSocket } from './close.ts'
import type { Links } from './links.ts'

export function upgradeRouter(links: Links, live: LiveViews): UpgradeHandler & { close(): void } {
  const liveWss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 })
  const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (links.handleUpgrade(req, socket, head)) return true
    const url = new URL(req.url ?? '/', 'http://x')
    const m = /^\/live\/case\/([^/]+)$/.exec(url.pathname)
    if (!m || !CaseIdSchema.safeParse(m[1]).success) return false
    // Every path ends in a caught, logged refusal: a rejection here would end the process.
    void live.admit(m[1], url.searchParams.get('token')).then((refusal) => {
      if (refusal) return socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${refusal}`)
      liveWss.handleUpgrade(req, socket, head, (ws) => {
        live.serve(ws, m[1], url.searchParams.get('token')).catch((e) => {
          console.error(`live view of ${m[1]} failed: ${(e as Error)?.message ?? String(e)}`)
          closeSocket(ws, 1011, 'the live view failed')
        })
      })
    }).catch((e) => {
      console.error(`live view upgrade for ${m[1]} failed: ${(e as Error)?.message ?? String(e)}`)
      socket.destroy()
    })
    return true
  }
  return Object.assign(handler, { close: () => liveWss.close() })
}
