/**
 * How often a client that sends an oversize chunked body reads the node's 413 rather than a TCP
 * reset (http/linger.ts). A Hono app on the node's own server layer (server.ts `listen`) with the
 * node's body reader (http/body.ts); the client (test/helpers/raw-post.ts) writes 64 KiB chunks
 * as fast as the socket takes them, up to BENCH_MB MiB, and either stops writing at the first
 * byte of the answer (STOP=1, the default) or goes on to the end (STOP=0). Prints how many of
 * BENCH_N posts got each status (null: the connection failed before the client read a status line).
 *
 *   node --import tsx bench/http-413.ts
 *   BENCH_ROOT=/tmp/before STOP=0 BENCH_N=100 node --import tsx bench/http-413.ts   # another tree
 */
import { resolve } from 'node:path'
import { Hono } from 'hono'
import { rawPost } from '../test/helpers/raw-post.ts'

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

const seen: Record<string, number> = {}
for (let i = 0; i < n; i++) {
  const status = String((await rawPost({ port: served.port, path: '/x', totalBytes: total, stopAtAnswer: stopOnAnswer })).status)
  seen[status] = (seen[status] ?? 0) + 1
}
console.log(`${root}: ${n} posts of ${total / 1048576} MiB, ${stopOnAnswer ? 'stopping at the answer' : 'sending to the end'}: ${JSON.stringify(seen)}; load ${(await import('node:os')).loadavg()[0].toFixed(2)}`)
await served.close()
process.exit(0)
