/**
 * A hand-written HTTP/1.1 POST on a raw socket, for what fetch cannot do: send a body that never
 * ends, go on writing after the answer or after the server's FIN, or read only once everything
 * is sent. The body is 64 KiB pieces of "a" (never valid JSON), chunked or with a Content-Length.
 * Used by test/attack/http-body.test.ts and bench/http-413.ts.
 */
import { connect } from 'node:net'

export interface RawPost {
  port: number
  path: string
  /** Bytes of body to send at most. */
  totalBytes: number
  /** Send a Content-Length of totalBytes (as a browser's upload does) instead of chunks. */
  declared?: boolean
  /** Stop writing at the first byte of the answer (the default); false: write on to the end. */
  stopAtAnswer?: boolean
  /** Stop writing here, mid-body, and wait for the answer. */
  pauseAt?: number
  /** Write 1 MiB bursts this many ms apart and read nothing until all are sent (default: write as fast as the socket takes it, reading all along). */
  burstGapMs?: number
  /** Go on writing after the server's FIN, as a hostile client would. */
  allowHalfOpen?: boolean
}

export interface RawPostResult {
  /** Body bytes handed to the socket (each written only when it had room). */
  sent: number
  /** The status line's code; null when the connection failed before one was read. */
  status: number | null
  /** What came after the answer's headers, as far as it was read. */
  body: string
  /** The socket's error (a reset shows as a failed write), if any. */
  error: string | null
}

const PIECE = Buffer.alloc(64 * 1024, 0x61)
const CHUNK = Buffer.concat([Buffer.from(PIECE.length.toString(16) + '\r\n'), PIECE, Buffer.from('\r\n')])
const STATUS = /^HTTP\/1\.1 (\d{3})/

export function rawPost(o: RawPost): Promise<RawPostResult> {
  return new Promise((resolve) => {
    const sock = connect({ port: o.port, host: '127.0.0.1', allowHalfOpen: o.allowHalfOpen ?? false })
    const piece = o.declared ? PIECE : CHUNK
    const stopAt = Math.min(o.totalBytes, o.pauseAt ?? Infinity)
    let sent = 0
    let answer = ''
    let error: string | null = null
    let over = false
    const finish = () => {
      if (over) return
      over = true
      sock.destroy()
      const m = STATUS.exec(answer)
      const at = answer.indexOf('\r\n\r\n')
      resolve({ sent, status: m ? Number(m[1]) : null, body: at < 0 ? '' : answer.slice(at + 4), error })
    }
    sock.on('data', (d) => {
      answer += d.toString('latin1')
      if ((o.stopAtAnswer ?? true) && STATUS.test(answer)) finish()
    })
    // After the whole body, the server's FIN ends its answer; before it, a half-open client writes on.
    sock.on('end', () => { if (sent >= o.totalBytes) finish() })
    sock.on('error', (e) => { error = e.message; finish() })
    sock.on('close', finish)
    const pump = () => {
      while (!over && sent < stopAt) {
        sent += PIECE.length
        if (!sock.write(piece)) return void sock.once('drain', pump)
      }
      if (sent >= o.totalBytes) finish() // all of it went: whatever was answered is in
    }
    const burst = () => {
      for (let i = 0; !over && i < 16 && sent < o.totalBytes; i++) {
        sent += PIECE.length
        sock.write(piece)
      }
      if (over) return
      if (sent < o.totalBytes) setTimeout(burst, o.burstGapMs)
      else sock.resume() // now read: the answer, and the server's FIN after it
    }
    if (o.burstGapMs !== undefined) sock.pause()
    sock.on('connect', () => {
      const length = o.declared ? `Content-Length: ${o.totalBytes}` : 'Transfer-Encoding: chunked'
      sock.write(`POST ${o.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${length}\r\n\r\n`)
      if (o.burstGapMs !== undefined) burst()
      else pump()
    })
  })
}
