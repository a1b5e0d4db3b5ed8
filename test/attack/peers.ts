/**
 * Hostile peers over real sockets, speaking protocol's encoders (or not): a child dialling a
 * node's /link, and a parent a node dials. Every wait is bounded.
 */
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { decodeFrame, encodeFrame, type LinkFrame } from '../../protocol/index.ts'

export interface RawLink {
  ws: WebSocket
  /** Frames received, decoded (a frame that does not decode is recorded as its error). */
  frames: (LinkFrame | { type: 'undecodable'; error: string })[]
  opened: Promise<void>
  /** The close the other side chose: code and reason (as bytes, to check the 123-byte cut). */
  closed: Promise<{ code: number; reason: Buffer }>
  send(f: LinkFrame | Uint8Array): void
}

function wrap(ws: WebSocket, opened: Promise<void>): RawLink {
  const frames: RawLink['frames'] = []
  ws.on('message', (d: Buffer) => {
    try {
      frames.push(decodeFrame(new Uint8Array(d)))
    } catch (e) {
      frames.push({ type: 'undecodable', error: (e as Error).message })
    }
  })
  ws.on('error', () => {})
  const closed = new Promise<{ code: number; reason: Buffer }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason })))
  return {
    ws, frames, opened, closed,
    send: (f) => ws.send(f instanceof Uint8Array ? f : encodeFrame(f)),
  }
}

/** Dials `url`/link as child `code` with `token`. */
export function dialAsChild(url: string, code: string, token: string): RawLink {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/link', { headers: { authorization: `Bearer ${token}`, 'x-tongban-code': code } })
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  opened.catch(() => {})
  return wrap(ws, opened)
}

/** A parent that accepts any child's link; each connection is handed to `onLink`. */
export async function fakeParent(onLink: (link: RawLink) => void): Promise<{ url: string; connections: number; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/link' })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  const state = {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    connections: 0,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate()
      wss.close(() => r())
    }),
  }
  wss.on('connection', (ws) => {
    state.connections++
    onLink(wrap(ws, Promise.resolve()))
  })
  return state
}

export const childHello = (code: string, epoch = 'hostile-epoch', latest = 0): LinkFrame =>
  ({ type: 'hello', code, role: 'child', epoch, peerEpoch: '', received: 0, latest })
export const parentHello = (code: string, epoch = 'hostile-epoch'): LinkFrame =>
  ({ type: 'hello', code, role: 'parent', epoch, peerEpoch: '', received: 0, latest: 0 })

/**
 * The hostile child here is an enrolled child gone bad (a stolen or compromised village): it
 * holds valid credentials, so what is under test is what the link does with its frames, not
 * how it authenticates (that has its own tests). This lets any enrolled-looking child in: the
 * test files mock the enrolled-key lookup (`vi.mock` of enrollment.ts, see frames.test.ts), and
 * this accepts any upgrade proof.
 */
export function admitAnyChild(links: object): void {
  const auth = (links as { auth?: { verifyUpgrade?: unknown } }).auth
  if (auth && typeof auth.verifyUpgrade === 'function') auth.verifyUpgrade = () => null
}

/**
 * The hostile parent is a compromised township the village enrolled with (its key pinned):
 * what is under test is what the village does with its frames. This skips the village's
 * enrollment and challenge before each dial (the next dial after this call uses it).
 */
export function trustAnyParent(links: object): void {
  const l = links as { prepare?: unknown }
  if (typeof l.prepare === 'function') l.prepare = async () => ({})
}
