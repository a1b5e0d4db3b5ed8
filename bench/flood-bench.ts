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
 * Two floods, one after the other, each on a link of its own:
 * - forged: the cases carry signatures that do not verify (a flood of forgeries), so the
 *   township refuses every one at the link's signature check and stores none;
 * - signed: the cases are validly signed by the village (a key the township knows, as if it had
 *   enrolled it), so the township checks, stores and projects every one.
 *
 * Staff take cases in one at a time (POST /api/cases at concurrency 1): BENCH_N requests idle,
 * then BENCH_N under each flood. Prints p50/p99 of each and their ratio to idle.
 * Run: npm run bench:flood   (BENCH_N=300 by default)
 */
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { compress } from '../nodes/core/link/compress.ts'
import { LINK_QUOTAS } from '../nodes/core/link/quotas.ts'
import { startNode } from '../nodes/core/start.ts'
import { memoryKeys } from '../nodes/core/trust/keys.ts'
import { decodeFrame, encodeFrame, encodeUpdatesBody, signingText, type Application, type UpdateEntry } from '../protocol/index.ts'
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
/**
 * Forgeries are refused fast (nothing is stored), so the forged flood sends its frames round and
 * round until the intakes are done. That is as good as fresh forgeries: none is stored, and the
 * township's cache of signature checks (50,000 answers, oldest out first) has forgotten a forgery
 * by the time it comes again, as long as there are more than 50,000 of them.
 */
const FORGED_FRAMES = Number(process.env.BENCH_FORGED_FRAMES ?? 800)
/** The village's own key pair: the signed flood is what a real (compromised) village could send. */
const village = memoryKeys()
function frames(count: number, first: number, seqFrom: number, make: (i: number) => Application): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let f = 0, k = 0, seq = seqFrom; f < count; f++) {
    const entries: UpdateEntry[] = []
    for (let j = 0; j < PER_FRAME; j++, k++) {
      const c = make(first + k)
      const doc = new Y.Doc()
      doc.getMap('case').set('application', c)
      entries.push({ seq: ++seq, docId: `case:${c.id}`, update: Y.encodeStateAsUpdate(doc) })
    }
    out.push(encodeFrame({ type: 'updates', compressed: true, body: compress(encodeUpdatesBody(entries)) }))
  }
  return out
}
const tPrep = performance.now()
// Forged: makeCase's placeholder `sig` (random-looking bytes, not the village's signature).
const forged = frames(FORGED_FRAMES, 100_000, 0, (i) => makeCase(i, { origin: BENCH_VILLAGE }))
// Signed: the village's Ed25519 signature over the application, as its node signs at intake.
// Case numbers 1…40,000 (dates 2026-11-23…26), apart from the forged ones (100,001 on).
const signed = frames(FLOOD_FRAMES, 0, FLOOD_FRAMES * PER_FRAME, (i) => {
  const { sig: _placeholder, ...app } = makeCase(i, { origin: BENCH_VILLAGE })
  return { ...app, sig: village.sign(signingText('application', app)) } as Application
})
log(`prepared ${FORGED_FRAMES * PER_FRAME} forged and ${FLOOD_FRAMES * PER_FRAME} signed cases in ${((performance.now() - tPrep) / 1000).toFixed(1)} s`)

const root = mkdtempSync(join(tmpdir(), 'tongban-bench-flood-'))
const town = await startNode({ level: 'township', code: BENCH_TOWNSHIP, name: '镇', dataDir: join(root, 'town'), catalogue: 'sample' })
await town.node.users.add({ name: 'staff', role: 'staff', password: 'bench-password' })
// The township knows the village's key, as after `tongban child add` and the village's enrollment.
town.node.trust.setChildren([{ code: BENCH_VILLAGE, name: '村', key: { alg: village.alg, publicKey: village.publicKey }, retired: [] }])
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
async function flood(prepared: Uint8Array[], epoch: string, cycle: boolean): Promise<{ stop(): Promise<{ frames: number; cases: number; ranOutAfter: number | null }> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  wss.on('connection', (ws) => {
    const links = town.links as unknown as { acceptChild: (...a: unknown[]) => void }
    if (links.acceptChild.length >= 3) links.acceptChild(BENCH_VILLAGE, 'bench-key', ws)
    else links.acceptChild(BENCH_VILLAGE, ws)
  })
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)
  const opened = new Promise<void>((r) => ws.once('open', () => r()))
  let sent = 0
  let acks = 0
  let stopped = false
  const takenAtStart = taken + 0
  /** Intakes the window had made (of this phase) when the child had no more frames and all were acked. */
  let ranOutAfter: number | null = null
  const fill = () => {
    while (!stopped && (cycle || sent < prepared.length) && sent - acks < WINDOW) ws.send(prepared[sent++ % prepared.length])
  }
  ws.on('message', (d: Buffer) => {
    const f = decodeFrame(new Uint8Array(d))
    if (f.type === 'ack') {
      acks++ // one ack per updates frame, once all its slices are applied
      fill()
      if (ranOutAfter === null && !cycle && acks >= prepared.length) ranOutAfter = taken - takenAtStart
    }
  })
  ws.on('close', (code, reason) => stopped || log(`the flood link closed: ${code} ${reason}`))
  await opened
  // Frames after our hello are taken in order once both hellos are through: start at once.
  ws.send(encodeFrame({ type: 'hello', code: BENCH_VILLAGE, role: 'child', epoch, peerEpoch: '', received: 0, latest: 0 }))
  fill()
  return {
    async stop() {
      stopped = true
      ws.close()
      await new Promise((r) => wss.close(() => r(null)))
      return { frames: sent, cases: acks * PER_FRAME, ranOutAfter }
    },
  }
}

const storedFromVillage = async () =>
  Number((await town.node.db.query<{ n: number }>(`SELECT count(DISTINCT doc_id)::int AS n FROM doc_updates WHERE doc_id LIKE $1`, [`case:${BENCH_VILLAGE}-%`]))[0].n)
const la = () => loadavg().map((x) => x.toFixed(2)).join(' / ')
const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms`
try {
  log(`load average (1/5/15 min) at the start: ${la()}`)
  await intake(30) // warm-up
  const idle = await intake(N)
  log(`idle:  ${fmt(idle)}, max ${idle[idle.length - 1].toFixed(1)} ms (${N} intakes)`)
  const rows: { name: string; xs: number[] }[] = [{ name: 'idle', xs: idle }]
  for (const [kind, prepared, cycle] of [['forged', forged, true], ['signed', signed, false]] as const) {
    const before = await storedFromVillage()
    const f = await flood(prepared, `bench-flood-${kind}`, cycle)
    await new Promise((r) => setTimeout(r, 1000)) // the flood under way
    const t0 = performance.now()
    const busy = await intake(N)
    const secs = (performance.now() - t0) / 1000
    const sent = await f.stop()
    await new Promise((r) => setTimeout(r, 500)) // the last batch applied
    const stored = (await storedFromVillage()) - before
    const slow = busy.filter((x) => x > 2 * quantile(idle, 0.5)).length
    const ranOut = sent.ranOutAfter !== null ? `; THE FLOOD RAN OUT after ${sent.ranOutAfter} of the ${N} intakes` : ''
    log(`${kind} flood: ${fmt(busy)}, max ${busy[busy.length - 1].toFixed(1)} ms, ${slow} of ${N} over 2× the idle p50 (${N} intakes in ${secs.toFixed(1)} s; the child sent ${sent.frames} frames, ${sent.cases} cases acked, ${stored} stored${ranOut})`)
    rows.push({ name: `${kind} flood: ${sent.cases.toLocaleString('en')} cases acked, ${stored.toLocaleString('en')} stored${ranOut ? ` (ran out after ${sent.ranOutAfter} intakes)` : ''}`, xs: busy })
  }
  log(`load average (1/5/15 min) at the end: ${la()}`)
  const p = (xs: number[], q: number) => quantile(xs, q)
  let out = '| intake at the township (concurrency 1) | p50 | p99 | p50 / idle | p99 / idle |\n|---|---|---|---|---|\n'
  for (const r of rows) {
    out += `| ${r.name} | ${p(r.xs, 0.5).toFixed(1)} ms | ${p(r.xs, 0.99).toFixed(1)} ms | ${(p(r.xs, 0.5) / p(idle, 0.5)).toFixed(2)}× | ${(p(r.xs, 0.99) / p(idle, 0.99)).toFixed(2)}× |\n`
  }
  process.stdout.write(`${out}\n(goal: within 2× of idle; ${N} intakes each)\n`)
} finally {
  staff.close()
  await town.stop()
  rmSync(root, { recursive: true, force: true })
}
