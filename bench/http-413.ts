/**
 * How often a client that sends an oversize chunked body reads the node's 413 rather than a TCP
 * reset (http/linger.ts). A Hono app on the node's own server layer (server.ts `listen`) with the
 * node's body reader (http/body.ts); the client writes 64 KiB chunks as fast as the socket takes
 * them, up to BENCH_MB MiB, and either stops writing at the first byte of the answer (STOP=1,
 * the default) or goes on to the end (STOP=0). Prints how many of BENCH_N posts got each status
 * (null: the connection failed before the client read a status line).
 *
 *   node --import tsx bench/http-413.ts
 *   BENCH_ROOT=/tmp/before STOP=0 BENCH_N=100 node --import tsx bench/http-413.ts   # another tree
 */
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { Hono } from 'hono'

const root = resolve(process.env.BENCH_ROOT ?? new URL('..', import.meta.url).pathname)
const { listen } = await import(`${root}/nodes/core/server.ts`)
const { jsonBody } = await import(`${root}/nodes/core/http/body.ts`)
const n = Number(process.env.BENCH_N ?? 30)
const total = Number(process.env.BENCH_MB ?? 16) * 1048576
const stopOnAnswer = process.env.STOP !== '0'

const app = new Hono()
app.post('/x', async (c) => c.json({ got: await jsonBody(c) }))
app.onError((e, c) => c.json({ error: (e as Error).message }, 413))
const served = await listen(app, 0)

function post(): Promise<number | null> {
  return new Promise((done) => {
    const sock = connect(served.port, '127.0.0.1')
    const piece = Buffer.alloc(64 * 1024, 0x61)
    const chunk = Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')])
    let sent = 0
    let answer = ''
    let over = false
    const finish = () => {
      if (over) return
      over = true
      sock.destroy()
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer)
      done(m ? Number(m[1]) : null)
    }
    sock.on('data', (d) => {
      answer += d.toString('latin1')
      if ((stopOnAnswer || sent >= total) && /^HTTP\/1\.1 \d{3}/.test(answer)) finish()
    })
    sock.on('error', finish)
    sock.on('close', finish)
    const pump = () => {
      while (!over && sent < total) {
        sent += piece.length
        if (!sock.write(chunk)) return void sock.once('drain', pump)
      }
      // Everything sent: done once the answer is here (the node closes only when the client does).
      if (!over && /^HTTP\/1\.1 \d{3}/.test(answer)) finish()
    }
    sock.on('connect', () => {
      sock.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
      pump()
    })
  })
}

const seen: Record<string, number> = {}
for (let i = 0; i < n; i++) {
  const status = String(await post())
  seen[status] = (seen[status] ?? 0) + 1
}
console.log(`${root}: ${n} posts of ${total / 1048576} MiB, ${stopOnAnswer ? 'stopping at the answer' : 'sending to the end'}: ${JSON.stringify(seen)}; load ${(await import('node:os')).loadavg()[0].toFixed(2)}`)
await served.close()
process.exit(0)
