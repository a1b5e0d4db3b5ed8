/**
 * A lingering close, as web servers have done since HTTP/1.0 (nginx's `lingering_close`): when
 * the node closes a connection whose client is still sending — a 413 in the middle of a body —
 * it must not close with unread bytes in its receive buffer. The kernel answers that with a TCP
 * reset, and the reset makes the client's next write fail: the client reports "connection
 * reset" and never reads the 413 that already sits in its receive buffer (seen in CI, and 1 in
 * 30 times on a quiet machine, with a client that stops writing as soon as the answer comes).
 *
 * So Node's `destroySoon` (what the HTTP server calls after a `Connection: close` response, and
 * what @hono/node-server calls when its 500 ms drain ends) becomes: send what is queued, then FIN;
 * read and throw away what still comes; close when the client closes, when it has been quiet
 * for LINGER_IDLE_MS, after LINGER_MAX_MS, or past LINGER_MAX_BYTES (nginx's defaults: 5 s, 30 s). Nothing is kept: the bytes
 * are counted and dropped, so a client that sends forever costs a bounded time, not memory.
 */
import type { Socket } from 'node:net'

export const LINGER_IDLE_MS = 5_000
export const LINGER_MAX_MS = 30_000
export const LINGER_MAX_BYTES = 64 * 1024 * 1024

const lingering = new WeakSet<Socket>()

/** Makes `socket.destroySoon()` linger (see above); for every socket an HTTP server accepts. */
export function lingerOnClose(socket: Socket): void {
  const closeSoon = socket.destroySoon.bind(socket)
  socket.destroySoon = () => linger(socket, closeSoon)
}

function linger(socket: Socket, closeSoon: () => void): void {
  if (socket.destroyed || lingering.has(socket)) return
  lingering.add(socket)
  // The client already half-closed: nothing more will come, so Node's own close is right.
  if (socket.readableEnded) return closeSoon()
  let bytes = 0
  const close = () => {
    clearTimeout(idle)
    clearTimeout(limit)
    socket.destroy()
  }
  let idle = setTimeout(close, LINGER_IDLE_MS)
  const limit = setTimeout(close, LINGER_MAX_MS)
  idle.unref()
  limit.unref()
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (bytes > LINGER_MAX_BYTES) return close()
    clearTimeout(idle)
    idle = setTimeout(close, LINGER_IDLE_MS)
    idle.unref()
  })
  socket.once('end', close)
  socket.once('close', close)
  socket.on('error', close)
  socket.end()
  socket.resume()
}
