/** The one file that puts the app on a port (Node's HTTP server via @hono/node-server). */
import { serve, type ServerType } from '@hono/node-server'
import type { Hono } from 'hono'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'

export interface Served {
  port: number
  url: string
  server: ServerType
  close(): Promise<void>
}

/** Handles a WebSocket upgrade request; returns false when no handler wants the path. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean

/** Serves `app` on 127.0.0.1 (or `host`) at `port` (0: any free port); resolves once listening. */
export function listen(app: Hono<any>, port: number, host = '127.0.0.1', upgrade?: UpgradeHandler): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        url: `http://${host}:${info.port}`,
        server,
        close: () => new Promise<void>((done) => {
          server.close(() => done())
          ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
        }),
      })
    })
    server.once('error', reject)
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy())
      if (!upgrade?.(req, socket, head)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      }
    })
  })
}
