/**
 * A hostile HTTP client: an unauthenticated, chunked (no Content-Length) POST of 256 MB to
 * /api/login is refused with 413 while the client is still sending — the node reads at most
 * about the body limit, and its memory does not grow with what the client sends.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../nodes/core/http/body.ts'
import { LINGER_MAX_BYTES } from '../../nodes/core/http/linger.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { rawPost } from '../helpers/raw-post.ts'
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

describe('request bodies are limited while they are read', () => {
  it('refuses a 256 MB chunked login with 413 long before the client has sent it, and memory stays bounded', async () => {
    const total = 256 * 1024 * 1024
    const rssBefore = process.memoryUsage().rss
    // Past a few times the limit the client stops and waits for the answer, still mid-body (no
    // last chunk): the node must answer without the rest.
    const r = await rawPost({ port: town.port, path: '/api/login', totalBytes: total, pauseAt: 16 * 1024 * 1024 })
    console.log(`chunked login: 413 after ${(r.sent / 1048576).toFixed(1)} MiB sent`)
    expect(r.status).toBe(413)
    // The node answered near the limit: what the client got onto the wire by then is the limit
    // plus the sockets' buffers, nowhere near 256 MB.
    expect(r.sent).toBeLessThan(total / 2)
    // Same process: the node's heap did not take the body (generous bound: 256 MB not held).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024)
    const h = await fetch(`${town.url}/healthz`)
    expect(h.status).toBe(200)
  })

  it('answers 413 to a client that goes on sending for seconds after it, without resetting the connection', async () => {
    // 12 MiB over ~1.8 s: past the limit (4 MiB) the node answers at once, then goes on reading
    // and dropping what comes (http/linger.ts) instead of closing after node-server's 500 ms drain.
    const r = await rawPost({ port: town.port, path: '/api/login', totalBytes: 12 * 1048576, burstGapMs: 150, stopAtAnswer: false })
    expect(r.error).toBeNull()
    expect(r.status).toBe(413)
    expect(r.body).toContain(`over ${MAX_BODY_BYTES} bytes`)
    const h = await fetch(`${town.url}/healthz`)
    expect(h.status).toBe(200)
  })

  it('answers 413 to a declared oversize body that comes slowly (a browser\'s upload), without resetting the connection', async () => {
    const r = await rawPost({ port: town.port, path: '/api/login', totalBytes: 12 * 1048576, burstGapMs: 150, stopAtAnswer: false, declared: true })
    expect(r.error).toBeNull()
    expect(r.status).toBe(413)
    expect(r.body).toContain(`the limit is ${MAX_BODY_BYTES}`)
  })

  it('reads and drops at most 64 MiB past a 413 from a client that never stops, then cuts it off', async () => {
    // allowHalfOpen: the client goes on writing after the node's FIN, as a hostile one would.
    const r = await rawPost({ port: town.port, path: '/api/login', totalBytes: 256 * 1048576, stopAtAnswer: false, allowHalfOpen: true })
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
