/** The one file that puts the app on a port (Node's HTTP server via @hono/node-server). */
import { serve, type ServerType } from '@hono/node-server'
import type { Hono } from 'hono'
import type { IncomingMessage } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { lingerOnClose } from './http/linger.ts'

export interface Served {
  port: number
  url: string
  server: ServerType
  close(): Promise<void>
}

/** Handles a WebSocket upgrade request; returns false when no handler wants the path. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean

/**
 * Serves `app` on 127.0.0.1 (or `host`) at `port` (0: any free port); resolves once listening.
 * With `tls` (PEM certificate and key) it serves https (and wss for upgrades).
 */
/**
 * How long a TLS session ticket this node issues can be resumed (seconds; Node's default is 300).
 * A child offers its last ticket when its line comes back (link/tls-resume.ts): a village
 * offline overnight still saves the certificate's ~1 KB on its first handshake. Resumption keeps
 * forward secrecy (TLS 1.3 resumes with a fresh ECDHE), and the ticket keys die with the process.
 */
const TLS_SESSION_TIMEOUT_S = 24 * 3600

export function listen(app: Hono<any>, port: number, host = '127.0.0.1', upgrade?: UpgradeHandler, tls?: { cert: string; key: string }): Promise<Served> {
  return new Promise((resolve, reject) => {
    const options = tls
      ? { fetch: app.fetch, port, hostname: host, createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' as const, sessionTimeout: TLS_SESSION_TIMEOUT_S } }
      : { fetch: app.fetch, port, hostname: host }
    const server = serve(options, (info: AddressInfo) => {
      resolve({
        port: info.port,
        url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${info.port}`,
        server,
        close: () => new Promise<void>((done) => {
          server.close(() => done())
          ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
        }),
      })
    })
    server.once('error', reject)
    // A 413 in the middle of a body must reach the client (http/linger.ts). Over TLS the HTTP
    // layer closes the TLS socket, which 'secureConnection' hands out; 'connection' is the TCP one.
    server.on(tls ? 'secureConnection' : 'connection', lingerOnClose)
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy())
      if (!upgrade?.(req, socket, head)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      }
    })
  })
}
