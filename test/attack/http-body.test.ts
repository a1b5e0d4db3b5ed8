/**
 * A hostile HTTP client: an unauthenticated, chunked (no Content-Length) POST of 256 MB to
 * /api/login is refused with 413 while the client is still sending — the node reads at most
 * about the body limit, and its memory does not grow with what the client sends.
 */
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../nodes/core/http/body.ts'
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

  it('still takes a normal login body and refuses a declared oversize one at once', async () => {
    const ok = await fetch(`${town.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'nobody', password: 'wrongwrongwrong' }) })
    expect([400, 401, 429]).toContain(ok.status)
    const big = await fetch(`${town.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(MAX_BODY_BYTES + 1) })
    expect(big.status).toBe(413)
  })
})
