/**
 * Intake latency at a township's window, idle and while one child floods it (issue 7, class 7:
 * "keep the window's own intake latency within 2× of idle under any one peer's flood").
 *
 * One process: a township node (in-process, real PGlite store, real HTTP server) and a hostile
 * child on a real WebSocket that sends new case documents as fast as the township acks them
 * (a window of 8 frames of ~100 cases each, the way a village sends), with the per-link quotas
 * lifted so the flood lasts the whole measurement: what is measured is the store's scheduling
 * (the node's own writes before link batches, batches applied in slices), not the quota. The
 * child is admitted on a listener of its own, straight into the node's link code (what it would
 * get after authenticating: this bench measures load, not authentication).
 *
 * Staff take cases in one at a time (POST /api/cases at concurrency 1): BENCH_N requests idle,
 * then BENCH_N under the flood. Prints p50/p99 of both and their ratio.
 * Run: npm run bench:flood   (BENCH_N=300 by default)
 */
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { compress } from '../nodes/core/link/compress.ts'
import { LINK_QUOTAS } from '../nodes/core/link/quotas.ts'
import { startNode } from '../nodes/core/start.ts'
import { decodeFrame, encodeFrame, encodeUpdatesBody, type UpdateEntry } from '../protocol/index.ts'
import { intakeBody, makeCase, BENCH_TOWNSHIP, BENCH_VILLAGE } from './lib/cases.ts'
import { Client, quantile } from './lib/http-load.ts'

const N = Number(process.env.BENCH_N ?? 300)
const PER_FRAME = 100
const WINDOW = 8
const log = (s: string) => process.stderr.write(`[bench:flood] ${s}\n`)

for (const q of Object.values(LINK_QUOTAS)) Object.assign(q, { newDocsPerHour: 1e9, bytesPerHour: 1e12, stateVectorsPerHour: 1e9 })

/**
 * The flood's frames, made before measuring (making them is the attacker's CPU, not the
 * node's: in this one process it would otherwise be counted against the window).
 */
const FLOOD_FRAMES = Number(process.env.BENCH_FLOOD_FRAMES ?? 400)
const prepared: Uint8Array[] = []
for (let f = 0, seq = 0; f < FLOOD_FRAMES; f++) {
  const entries: UpdateEntry[] = []
  for (let k = 0; k < PER_FRAME; k++) {
    const c = makeCase(100_000 + seq, { origin: BENCH_VILLAGE })
    const doc = new Y.Doc()
    doc.getMap('case').set('application', c)
    entries.push({ seq: ++seq, docId: `case:${c.id}`, update: Y.encodeStateAsUpdate(doc) })
  }
  prepared.push(encodeFrame({ type: 'updates', compressed: true, body: compress(encodeUpdatesBody(entries)) }))
}

const root = mkdtempSync(join(tmpdir(), 'tongban-bench-flood-'))
const town = await startNode({ level: 'township', code: BENCH_TOWNSHIP, name: '镇', dataDir: join(root, 'town'), catalogue: 'sample' })
await town.node.users.add({ name: 'staff', role: 'staff', password: 'bench-password' })
const staff = new Client(town.url, 1)
await staff.login('staff', 'bench-password')

let taken = 0
async function intake(n: number): Promise<number[]> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    const r = await staff.send({ method: 'POST', path: '/api/cases', body: intakeBody(taken++) })
    if (r.status !== 201 && r.status !== 200) throw new Error(`intake: ${r.status} ${r.body.slice(0, 300)}`)
    ms.push(performance.now() - t)
  }
  return ms.sort((a, b) => a - b)
}

/** The hostile child: admitted on its own listener into the node's link code. */
async function flood(): Promise<{ stop(): Promise<{ frames: number; cases: number }> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  wss.on('connection', (ws) => {
    const links = town.links as unknown as { acceptChild: (...a: unknown[]) => void }
    if (links.acceptChild.length >= 3) links.acceptChild(BENCH_VILLAGE, 'bench-key', ws)
    else links.acceptChild(BENCH_VILLAGE, ws)
  })
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)
  const opened = new Promise<void>((r) => ws.once('open', () => r()))
  let seq = 0
  let acked = 0
  let frames = 0
  let stopped = false
  const fill = () => {
    while (!stopped && frames < prepared.length && seq - acked < WINDOW * PER_FRAME) {
      ws.send(prepared[frames++])
      seq += PER_FRAME
    }
  }
  ws.on('message', (d: Buffer) => {
    const f = decodeFrame(new Uint8Array(d))
    if (f.type === 'ack') {
      acked = f.seq
      fill()
    }
  })
  ws.on('close', (code, reason) => stopped || log(`the flood link closed: ${code} ${reason}`))
  await opened
  // Frames after our hello are taken in order once both hellos are through: start at once.
  ws.send(encodeFrame({ type: 'hello', code: BENCH_VILLAGE, role: 'child', epoch: 'bench-flood', peerEpoch: '', received: 0, latest: 0 }))
  fill()
  return {
    async stop() {
      stopped = true
      ws.close()
      await new Promise((r) => wss.close(() => r(null)))
      return { frames, cases: acked }
    },
  }
}

const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms`
try {
  await intake(30) // warm-up
  const idle = await intake(N)
  log(`idle:  ${fmt(idle)} (${N} intakes)`)
  const f = await flood()
  await new Promise((r) => setTimeout(r, 1000)) // the flood under way
  const busy = await intake(N)
  const sent = await f.stop()
  log(`flood: ${fmt(busy)} (${N} intakes; the child sent ${sent.frames} frames, ${sent.cases} cases acked)`)
  const ratio = quantile(busy, 0.5) / quantile(idle, 0.5)
  process.stdout.write(`| intake at the township | p50 | p99 |\n|---|---|---|\n| idle | ${quantile(idle, 0.5).toFixed(1)} ms | ${quantile(idle, 0.99).toFixed(1)} ms |\n| one child flooding (${sent.cases} cases acked) | ${quantile(busy, 0.5).toFixed(1)} ms | ${quantile(busy, 0.99).toFixed(1)} ms |\n\np50 under flood / idle: ${ratio.toFixed(2)}× (goal ≤ 2×)\n`)
} finally {
  staff.close()
  await town.stop()
  rmSync(root, { recursive: true, force: true })
}
