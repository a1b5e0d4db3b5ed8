/**
 * A hostile HTTP client: an unauthenticated, chunked (no Content-Length) POST of 256 MB to
 * /api/login is refused with 413 while the client is still sending — the node reads at most
 * about the body limit, and its memory does not grow with what the client sends.
 */
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../nodes/core/http/body.ts'
import { LINGER_MAX_BYTES } from '../../nodes/core/http/linger.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-http-')
let town: RunningNode

beforeAll(async () => {
  town = await startNode({ level: 'township', code: '511302101000', name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
}, 300_000)

afterAll(async () => {
  await town?.stop()
  tmp.cleanup()
})

/**
 * Sends up to `totalBytes` of a chunked body, a chunk at a time, each written only when the
 * socket has room (so "sent" is what the server could have read); stops at the first byte of
 * a response or when the server closes. Returns what was sent and the status line.
 */
function chunkedPost(port: number, path: string, totalBytes: number): Promise<{ sent: number; status: number | null; closedEarly: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    const piece = Buffer.alloc(64 * 1024, 0x61) // "aaaa…": never valid JSON, never complete
    const header = Buffer.from(piece.length.toString(16) + '\r\n')
    let sent = 0
    let response = ''
    let done = false
    const finish = (closedEarly: boolean) => {
      if (done) return
      done = true
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response)
      sock.destroy()
      resolve({ sent, status: m ? Number(m[1]) : null, closedEarly })
    }
    sock.on('data', (d) => {
      response += d.toString('latin1')
      if (/^HTTP\/1\.1 \d{3}/.test(response)) finish(sent < totalBytes)
    })
    sock.on('error', () => finish(sent < totalBytes))
    sock.on('close', () => finish(sent < totalBytes))
    // Past a few times the limit the client stops and waits for the answer, still mid-body (no
    // last chunk): the server must answer without the rest. (Writing on regardless would race
    // the server's reset of the connection against reading its 413: a TCP reset throws away
    // what the client's kernel has received but the client has not yet read.)
    const pauseAt = Math.min(totalBytes, 16 * 1024 * 1024)
    const pump = () => {
      while (!done && sent < pauseAt) {
        sent += piece.length
        const ok = sock.write(Buffer.concat([header, piece, Buffer.from('\r\n')]))
        if (!ok) return void sock.once('drain', pump)
      }
      if (!done && sent >= totalBytes) sock.write('0\r\n\r\n')
    }
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)
      pump()
    })
  })
}

/**
 * Sends `bursts` bursts of 1 MiB of a chunked body, `gapMs` apart, without reading anything
 * until all are sent (its reading is paused), then reads the answer. A server that closes while
 * bytes are still coming resets the connection, and the client's next write fails before it has
 * read the answer. With `declared`, the body has a Content-Length (as a browser's upload has)
 * instead of chunks. Resolves with the status line's code (null: no answer) and the body.
 */
function slowSenderPost(port: number, path: string, bursts: number, gapMs: number, declared = false): Promise<{ status: number | null; body: string; writeError: string | null }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    sock.pause()
    const piece = Buffer.alloc(64 * 1024, 0x61)
    const chunk = declared ? piece : Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')])
    let response = ''
    let writeError: string | null = null
    let done = false
    const finish = () => {
      if (done) return
      done = true
      sock.destroy()
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response)
      resolve({ status: m ? Number(m[1]) : null, body: response.slice(response.indexOf('\r\n\r\n') + 4), writeError })
    }
    sock.on('data', (d) => { response += d.toString('latin1') })
    sock.on('error', (e) => { writeError = e.message; finish() })
    sock.on('end', finish)
    sock.on('close', finish)
    let sent = 0
    const burst = () => {
      if (done) return
      for (let i = 0; i < 16; i++) sock.write(chunk)
      if (++sent < bursts) return void setTimeout(burst, gapMs)
      // All sent: now read what the server answered (it may have answered long ago).
      sock.resume()
    }
    sock.on('connect', () => {
      const length = declared ? `Content-Length: ${bursts * 16 * piece.length}` : 'Transfer-Encoding: chunked'
      sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${length}\r\n\r\n`)
      burst()
    })
  })
}

describe('request bodies are limited while they are read', () => {
  it('refuses a 256 MB chunked login with 413 long before the client has sent it, and memory stays bounded', async () => {
    const total = 256 * 1024 * 1024
    const rssBefore = process.memoryUsage().rss
    const r = await chunkedPost(town.port, '/api/login', total)
    console.log(`chunked login: 413 after ${(r.sent / 1048576).toFixed(1)} MiB sent`)
    expect(r.status).toBe(413)
    expect(r.closedEarly).toBe(true)
    // The server stopped reading near the limit: what the client got onto the wire is the
    // limit plus socket buffers and node-server's short drain, nowhere near 256 MB.
    expect(r.sent).toBeLessThan(total / 2)
    // Same process: the node's heap did not take the body (generous bound: 256 MB not held).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024)
    const h = await fetch(`${town.url}/healthz`)
    expect(h.status).toBe(200)
  })

  it('answers 413 to a client that goes on sending for seconds after it, without resetting the connection', async () => {
    // 12 MiB over ~1.8 s: past the limit (4 MiB) the node answers at once, then goes on reading
    // and dropping what comes (http/linger.ts) instead of closing after node-server's 500 ms drain.
    const r = await slowSenderPost(town.port, '/api/login', 12, 150)
    expect(r.writeError).toBeNull()
    expect(r.status).toBe(413)
    expect(r.body).toContain(`over ${MAX_BODY_BYTES} bytes`)
    const h = await fetch(`${town.url}/healthz`)
    expect(h.status).toBe(200)
  })

  it('answers 413 to a declared oversize body that comes slowly (a browser\'s upload), without resetting the connection', async () => {
    const r = await slowSenderPost(town.port, '/api/login', 12, 150, true)
    expect(r.writeError).toBeNull()
    expect(r.status).toBe(413)
    expect(r.body).toContain(`the limit is ${MAX_BODY_BYTES}`)
  })

  it('reads and drops at most 64 MiB past a 413 from a client that never stops, then cuts it off', async () => {
    // allowHalfOpen: the client goes on writing after the node's FIN, as a hostile one would.
    const r = await new Promise<{ sent: number; status: number | null }>((resolve) => {
      const sock = connect({ port: town.port, host: '127.0.0.1', allowHalfOpen: true })
      const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')])
      let sent = 0
      let answer = ''
      let over = false
      const finish = () => {
        if (over) return
        over = true
        sock.destroy()
        resolve({ sent, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? NaN) || null })
      }
      sock.on('data', (d) => { answer += d.toString('latin1') })
      sock.on('error', finish)
      sock.on('close', finish)
      const pump = () => {
        while (!over && sent < 256 * 1048576) {
          sent += 0x10000
          if (!sock.write(chunk)) return void sock.once('drain', pump)
        }
        finish() // the whole 256 MiB went: the node never cut it off
      }
      sock.on('connect', () => {
        sock.write('POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
        pump()
      })
    })
    console.log(`never-ending login: cut off after ${(r.sent / 1048576).toFixed(1)} MiB`)
    expect(r.status).toBe(413)
    // The limit (4 MiB), 64 MiB dropped, and the sockets' buffers: far below 256 MiB.
    expect(r.sent).toBeGreaterThan(MAX_BODY_BYTES)
    expect(r.sent).toBeLessThan(MAX_BODY_BYTES + LINGER_MAX_BYTES + 32 * 1048576)
    expect((await fetch(`${town.url}/healthz`)).status).toBe(200)
  })

  it('still takes a normal login body and refuses a declared oversize one at once', async () => {
    const ok = await fetch(`${town.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'nobody', password: 'wrongwrongwrong' }) })
    expect([400, 401, 429]).toContain(ok.status)
    const big = await fetch(`${town.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(MAX_BODY_BYTES + 1) })
    expect(big.status).toBe(413)
  })
})
