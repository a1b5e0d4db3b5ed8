/**
 * The link on a poor rural line: 100 kbit/s, 600 ms RTT, 2% loss (the emulator of
 * test/tools), cases of ~300 bytes of JSON taken in offline at a village, then the link comes
 * up. Measures time, bytes up and bytes down to sync N cases to the township, beside the floor
 * (raw JSON bytes ÷ rate + 4 RTT); a reconnect with nothing new; and on loopback the latency
 * from a village's 201 to the case at the county, and from a city catalogue change to the
 * last of 8 villages. Run: npm run bench:link  (BENCH_N=100,1000 to choose sizes)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { loadavg, tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { spawnNode, stopNode, type TreeNode } from '../nodes/core/cli/tree.ts'
import { enrollChild } from '../nodes/core/link/enrollment.ts'
import { pinToken } from '../nodes/core/link/token.ts'
import { trustNode } from '../test/helpers/tls.ts'
import type { Level } from '../protocol/index.ts'
import { startLinkEmulator, type LinkEmulator, type LinkProfile } from '../test/tools/link-emulator.ts'
import { eventually, login, type Remote } from '../test/helpers/remote.ts'
import { benchNode, BENCH_PASSWORD } from './lib/tree-procs.ts'
import { intakeBody, makeCases, rawJsonBytes } from './lib/cases.ts'
import { residentIdCheck } from '../protocol/people.ts'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)

const RATE = 100_000
const RTT = 600
const LOSS = 0.02
const SIZES = (process.env.BENCH_N ?? '100,1000,5000').split(',').map(Number)

function applicantFor(i: number) {
  return { name: `村民${i}`, idType: 'resident-id', idNumber: withCheck(`51130219${String(50 + (i % 50)).padStart(2, '0')}0101${String(i % 1000).padStart(3, '0')}`), phone: `139${String(i).padStart(8, '0')}` }
}

async function intakeMany(agent: Remote, n: number, concurrency = 8): Promise<number> {
  let next = 0
  let rawJson = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++
      // The same applications the peers carry (bench/lib/cases.ts), taken in through the API.
      const r = await agent('POST', '/api/cases', intakeBody(i))
      if (r.status !== 201) throw new Error(`intake failed: ${JSON.stringify(r.body)}`)
      const full = await agent('GET', `/api/cases/${r.body.id}`)
      const { events: _e, status: _s, dueDate: _d, flagged: _f, rating: _r, acceptedAt: _a, completedAt: _c, ...application } = full.body
      rawJson += Buffer.byteLength(JSON.stringify(application))
    }
  }))
  return rawJson
}

async function countAt(remote: Remote): Promise<number> {
  return (await remote('GET', '/api/cases?limit=1')).body.total as number
}

interface Row { n: number; rawJson: number; seconds: number; up: number; down: number; floor: number }

async function poorLinkRun(n: number): Promise<Row> {
  const root = mkdtempSync(join(tmpdir(), 'tongban-bench-link-'))
  const procs: TreeNode[] = []
  let link: LinkEmulator | null = null
  try {
    const town = await benchNode(root, 'township', '511302101000', undefined, { catalogue: 'sample' })
    procs.push(town)
    link = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: RATE, rttMs: RTT, lossRate: LOSS, seed: n })
    const village = await benchNode(root, 'village', '511302101201', { node: town, url: link.url() })
    procs.push(village)
    const agent = await login(village.url, 'agent', BENCH_PASSWORD)
    const staff = await login(town.url, 'staff', BENCH_PASSWORD)
    const items = await eventually(async () => {
      const r = await agent('GET', '/api/catalogue')
      return r.body.items.length > 0 && r.body.items
    }, 120_000, 'catalogue at the village', 250)
    // Township-level items (bench/lib/cases.ts rotates over them): their cases go exactly one hop, over the poor link.
    if (!items.some((i: any) => i.level === 'township')) throw new Error('no township items in the catalogue')
    await new Promise((r) => setTimeout(r, 2_000)) // let statistics and catalogue traffic settle
    link.setDown(true)
    const rawJson = await intakeMany(agent, n)
    const generated = rawJsonBytes(makeCases(n))
    if (generated !== rawJson) console.warn(`raw JSON: ${rawJson} bytes stored at the village, ${generated} from bench/lib/cases.ts (the peers' figure)`)
    await new Promise((r) => setTimeout(r, 1_000)) // statistics of the offline intake are written too
    const s0 = link.stats()
    const t0 = performance.now()
    link.setDown(false)
    await eventually(async () => (await countAt(staff)) >= n, 900_000, `${n} cases at the township`, 200)
    const seconds = (performance.now() - t0) / 1000
    const s1 = link.stats()
    return { n, rawJson, seconds, up: s1.bytesUp - s0.bytesUp, down: s1.bytesDown - s0.bytesDown, floor: (rawJson * 8) / RATE + (4 * RTT) / 1000 }
  } finally {
    for (const p of procs.reverse()) await stopNode(p)
    await link?.close()
    rmSync(root, { recursive: true, force: true })
  }
}

/** A reconnect with nothing new: bytes each way over the new connection, and time to connected. */
async function reconnectRun(): Promise<{ upBytes: number; downBytes: number; msToConnected: number }> {
  const root = mkdtempSync(join(tmpdir(), 'tongban-bench-reconnect-'))
  const procs: TreeNode[] = []
  let link: LinkEmulator | null = null
  try {
    const town = await benchNode(root, 'township', '511302101000', undefined, { catalogue: 'sample' })
    procs.push(town)
    link = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: RATE, rttMs: RTT, lossRate: 0, seed: 1 })
    const village = await benchNode(root, 'village', '511302101201', { node: town, url: link.url() })
    procs.push(village)
    const agent = await login(village.url, 'agent', BENCH_PASSWORD)
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items.length > 0, 120_000, 'catalogue', 250)
    await new Promise((r) => setTimeout(r, 3_000)) // quiet
    const connected = async () => (await agent('GET', '/api/sync')).body.parent.connected
    link.cutAll()
    await eventually(async () => !(await connected()), 10_000, 'the drop to be seen', 20)
    const s0 = link.stats()
    const t0 = performance.now()
    await eventually(connected, 60_000, 'the reconnect', 10)
    const ms = performance.now() - t0
    await new Promise((r) => setTimeout(r, 2 * RTT)) // anything that follows the hellos
    const s1 = link.stats()
    return { upBytes: s1.bytesUp - s0.bytesUp, downBytes: s1.bytesDown - s0.bytesDown, msToConnected: ms }
  } finally {
    for (const p of procs.reverse()) await stopNode(p)
    await link?.close()
    rmSync(root, { recursive: true, force: true })
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]

/**
 * On loopback: a village's 201 to the case at its county; the same to the case at the other
 * county (通办: village → township → county → city → other county, 4 hops); a city catalogue
 * change to the last of 8 villages.
 */
async function loopbackRun(cases = 100): Promise<{ p50: number; p95: number; cross: { p50: number; p95: number }; catalogueMs: number[] }> {
  const root = mkdtempSync(join(tmpdir(), 'tongban-bench-loop-'))
  const { startTree, stopTree } = await import('../nodes/core/cli/tree.ts')
  const nodes = await startTree(root)
  const { trustNode } = await import('../test/helpers/tls.ts')
  nodes.forEach(trustNode)
  try {
    const url = (code: string) => nodes.find((n) => n.code === code)!.url
    const agent = await login(url('511302101201'), 'agent', 'tongban-demo')
    const county = await login(url('511302000000'), 'staff', 'tongban-demo')
    const items = await eventually(async () => {
      const r = await agent('GET', '/api/catalogue')
      return r.body.items.length > 0 && r.body.items
    }, 60_000, 'catalogue', 100)
    const item = items.find((i: any) => i.level === 'county' && i.kind === 'promised')
    const materials = item.materials.filter((m: any) => m.required).map((m: any) => m.name)
    const lat: number[] = []
    for (let i = 0; i < cases; i++) {
      const r = await agent('POST', '/api/cases', { itemCode: item.code, applicant: applicantFor(i), materials })
      const t0 = performance.now()
      await eventually(async () => (await county('GET', `/api/cases/${r.body.id}`)).status === 200, 10_000, 'case at county', 2)
      lat.push(performance.now() - t0)
    }
    const county2 = await login(url('511303000000'), 'staff', 'tongban-demo')
    await eventually(async () => (await agent('GET', '/api/units?level=county&q=511303000000')).body.units.length === 1, 60_000, 'county 2 in the directory', 100)
    const cross: number[] = []
    for (let i = 0; i < cases; i++) {
      const r = await agent('POST', '/api/cases', { itemCode: item.code, applicant: applicantFor(cases + i), materials, handlerCode: '511303000000' })
      const t0 = performance.now()
      await eventually(async () => (await county2('GET', `/api/cases/${r.body.id}`)).status === 200, 10_000, 'case at county 2', 2)
      cross.push(performance.now() - t0)
    }
    const admin = await login(url('511300000000'), 'admin', 'tongban-demo')
    const villages = await Promise.all(nodes.filter((n) => n.level === 'village').map((n) => login(n.url, 'agent', 'tongban-demo')))
    const catalogueMs: number[] = []
    for (let k = 0; k < 5; k++) {
      const code = `S-9${String(k).padStart(2, '0')}`
      const t0 = performance.now()
      const r = await admin('POST', '/api/catalogue/items', { code, name: `基准事项${k}`, department: '市政务服务管理局', level: 'city', kind: 'promised', legalDays: 20, promisedDays: 10, materials: [{ name: '申请书', required: true }] })
      if (r.status !== 201) throw new Error(JSON.stringify(r.body))
      await Promise.all(villages.map((v) => eventually(async () => (await v('GET', `/api/catalogue/items/${code}`)).status === 200, 20_000, 'item at village', 5)))
      catalogueMs.push(performance.now() - t0)
    }
    return { p50: pct(lat, 50), p95: pct(lat, 95), cross: { p50: pct(cross, 50), p95: pct(cross, 95) }, catalogueMs }
  } finally {
    await stopTree(nodes)
    rmSync(root, { recursive: true, force: true })
  }
}

/** Line profiles of the `line` part (the same as bench/line-back.ts and the issue's). */
const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url))
const LINES: Record<string, LinkProfile> = {
  fast: { rateBitsPerSec: 100_000_000, rttMs: 2 },
  '1mbit': { rateBitsPerSec: 1_000_000, rttMs: 100 },
  poor: { rateBitsPerSec: 100_000, rttMs: 600, lossRate: 0.02 },
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ 100)
}

/**
 * CPU seconds of a process's main thread (JS, WASM, and what runs synchronously on it) and of
 * its other threads together (V8's GC and compiler workers, libuv's pool: Node 20 leaves them
 * all named `node`, so they are told apart by thread id only).
 */
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = tid === String(pid) ? 'main' : 'other threads'
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100)
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out
}

interface LineRow {
  line: string; n: number; rawJson: number
  /** From the line coming up / from the village's first connection through it, to the township holding all N. */
  seconds: number; fromDial: number
  up: number; down: number; wire: number; floor: number
  /** The township's CPU from the line coming up to done, per case received. */
  cpuMsPerCase: number
  /** The township's own `GET /api/cases?limit=1`, polled during the catch-up. */
  api: { n: number; p50: number; p95: number; max: number; failed: string[] }
  load: [number, number]
  /** BENCH_THREADS=1: the township's CPU ms per case on its main thread and on its other threads. */
  threads?: Record<string, number>
}

/**
 * The receiver at work: N township cases taken in offline at a village, then the line comes up
 * (fast loopback, 1 Mbit/s 100 ms, or the poor line); the clock runs to the township holding all
 * N. The township's CPU (from /proc) over the same span gives milliseconds per case; its own
 * list route is polled (one request at a time) to show whether it stays responsive meanwhile.
 * BENCH_ROOT runs another checkout's CLI for both nodes (a before/after of one run);
 * BENCH_CPU_PROF=DIR writes the township's V8 CPU profile there (node --cpu-prof).
 * BENCH_POLL_MS (default 20) spaces the polls (they are counted in the township's CPU: a larger
 * value shows what they cost; the end is then seen up to that much late, so read the CPU, not
 * the time). BENCH_TOWN_NODE_OPTIONS adds Node/V8 flags to the township only (V8's GC flags, say).
 * BENCH_WARM=W sends W cases through first, unmeasured (a township whose JIT is warm).
 * BENCH_PERF=FILE records the township's threads with `perf record` over the catch-up.
 * BENCH_THREADS=1 adds the township's CPU a case on its main thread and on the others.
 * BENCH_MARKS=1 prints the line's coming up, the dial and the end on the township's monotonic clock
 * (process.hrtime, µs), to place a statement log or a trace of the township on the catch-up.
 */
async function lineRun(lineName: string, n: number): Promise<LineRow> {
  const profile = LINES[lineName]
  if (!profile) throw new Error(`unknown line ${lineName} (${Object.keys(LINES).join(', ')})`)
  const bin = process.env.BENCH_ROOT ? join(process.env.BENCH_ROOT, 'bin/tongban.mjs') : undefined
  const root = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), 'tongban-bench-line-'))
  const procs: TreeNode[] = []
  let link: LinkEmulator | null = null
  const spawnOne = async (level: Level, code: string, parent?: { node: TreeNode; url: string }, nodeOptions?: string): Promise<TreeNode> => {
    const dataDir = join(root, code)
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([{ name: level === 'village' ? 'agent' : 'staff', role: level === 'village' ? 'agent' : 'staff', password: BENCH_PASSWORD }]))
    const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
    const saved = process.env.NODE_OPTIONS
    if (nodeOptions) process.env.NODE_OPTIONS = `${saved ?? ''} ${nodeOptions}` // spawn copies the environment now
    try {
      const node = await spawnNode({ level, code, name: code, dataDir, port: 0, parentUrl: parent?.url.replace(/^http:/, 'https:'), token, catalogue: parent ? undefined : 'sample', bin })
      trustNode(dataDir)
      return node
    } finally {
      if (nodeOptions) process.env.NODE_OPTIONS = saved
    }
  }
  try {
    const prof = process.env.BENCH_CPU_PROF
    const townOptions = [prof ? `--import ${join(ROOT_DIR, 'bench/lib/cpu-profile.mjs')}` : '', process.env.BENCH_TOWN_NODE_OPTIONS ?? ''].join(' ').trim()
    const town = await spawnOne('township', '511302101000', undefined, townOptions || undefined)
    procs.push(town)
    const traced: { at: number; conn: number; dir: 'up' | 'down'; bytes: number }[] = []
    link = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { ...profile, seed: n, trace: process.env.BENCH_TRACE ? (e) => traced.push(e) : undefined })
    const village = await spawnOne('village', '511302101201', { node: town, url: link.url() })
    procs.push(village)
    const agent = await login(village.url, 'agent', BENCH_PASSWORD)
    const staff = await login(town.url, 'staff', BENCH_PASSWORD)
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items?.length > 0, 120_000, 'catalogue at the village', 250)
    await new Promise((r) => setTimeout(r, 2_000)) // statistics and catalogue traffic settle
    const warm = Number(process.env.BENCH_WARM ?? 0)
    if (warm > 0) {
      // BENCH_WARM=W: a catch-up of W cases first, not measured, so the measured one runs on a
      // township whose receive path V8 has already compiled (the first catch-up of a process pays that).
      link.setDown(true)
      await intakeMany(agent, warm)
      const had = await countAt(staff)
      link.setDown(false)
      await eventually(async () => (await countAt(staff)) >= had + warm, 300_000, `the ${warm} warm-up cases at the township`, 50)
      await new Promise((r) => setTimeout(r, 2_000))
    }
    link.setDown(true)
    const rawJson = await intakeMany(agent, n)
    await new Promise((r) => setTimeout(r, 1_000))
    // BENCH_PERF=FILE: `perf record` of every thread of the township over the catch-up (V8's workers, libuv's pool too).
    const perf = process.env.BENCH_PERF ? spawn('perf', ['record', '-F', '1999', '-g', '-p', String(town.proc!.pid!), '-o', process.env.BENCH_PERF], { stdio: 'ignore' }) : null
    if (perf) await new Promise((r) => setTimeout(r, 300))
    const before = await countAt(staff)
    const s0 = link.stats()
    const load0 = loadavg()[0]
    const cpu0 = cpuSeconds(town.proc!.pid!)
    const threads0 = process.env.BENCH_THREADS ? cpuByThread(town.proc!.pid!) : null
    const pollMs = Number(process.env.BENCH_POLL_MS ?? 20)
    const t0 = performance.now()
    const mono0 = process.hrtime.bigint() / 1000n // the clock of V8's CPU profiles (µs): the span to look at in BENCH_CPU_PROF's profile
    link.setDown(false)
    let dialAt = 0
    const dial = setInterval(() => {
      if (!dialAt && link!.stats().connections > s0.connections) dialAt = performance.now()
    }, 2)
    const lat: number[] = []
    const failed: string[] = []
    try {
      for (;;) {
        const q0 = performance.now()
        let total = 0
        try {
          total = await countAt(staff)
        } catch (e) {
          // A failed poll is counted (its time too); a township that died ends the run with its log.
          if (town.proc!.exitCode !== null || town.proc!.signalCode !== null) throw new Error(`the township exited: ${town.log.join('').slice(-3000)}`)
          failed.push(String((e as Error).cause ?? e))
        }
        lat.push(performance.now() - q0)
        if (total >= before + n) break
        if (performance.now() - t0 > 1_800_000) throw new Error(`${n} cases not at the township in 30 min (${total - before})`)
        await new Promise((r) => setTimeout(r, pollMs))
      }
    } finally {
      clearInterval(dial)
    }
    const t1 = performance.now()
    if (process.env.BENCH_TRACE) printTrace(traced.filter((e) => e.at >= t0 && e.at <= t1), t0, profile.rttMs)
    const cpu1 = cpuSeconds(town.proc!.pid!)
    if (perf) {
      perf.kill('SIGINT')
      await new Promise((r) => perf.once('exit', r))
    }
    let threads: Record<string, number> | undefined
    if (threads0) {
      threads = {}
      for (const [name, s] of cpuByThread(town.proc!.pid!)) threads[name] = Math.round(((s - (threads0.get(name) ?? 0)) * 1000 / n) * 1000) / 1000
    }
    if (process.env.BENCH_CPU_PROF || process.env.BENCH_MARKS) {
      // The monotonic clock of V8's profiles and of process.hrtime in the township (µs): line up, dial, all counted.
      const at = (t: number) => mono0 + BigInt(Math.round((t - t0) * 1000))
      console.log(`catch-up in the township's clock (µs): line up ${mono0}, dial ${dialAt ? at(dialAt) : '-'}, done ${at(t1)}`)
    }

    const s1 = link.stats()
    const up = s1.bytesUp - s0.bytesUp
    const rttS = profile.rttMs / 1000
    return {
      line: lineName, n, rawJson, seconds: (t1 - t0) / 1000, fromDial: (t1 - (dialAt || t0)) / 1000,
      up, down: s1.bytesDown - s0.bytesDown, wire: (up * 8) / profile.rateBitsPerSec, floor: (rawJson * 8) / profile.rateBitsPerSec + 4 * rttS,
      cpuMsPerCase: ((cpu1 - cpu0) * 1000) / n,
      api: { n: lat.length, p50: pct(lat, 50), p95: pct(lat, 95), max: Math.max(...lat), failed },
      load: [load0, loadavg()[0]],
      threads,
    }
  } finally {
    for (const p of procs.reverse()) await stopNode(p)
    await link?.close()
    rmSync(root, { recursive: true, force: true })
  }
}

/**
 * BENCH_TRACE=1: what crossed the line from its coming up to done, as bursts (deliveries of one
 * connection and direction less than a quarter RTT apart), in time from the line coming up —
 * the round trips a link makes, to count.
 */
function printTrace(events: { at: number; conn: number; dir: 'up' | 'down'; bytes: number }[], t0: number, rttMs: number): void {
  const bursts: { from: number; to: number; conn: number; dir: string; bytes: number }[] = []
  for (const e of events) {
    const b = bursts.findLast((x) => x.conn === e.conn && x.dir === e.dir)
    if (b && e.at - b.to < rttMs / 4) {
      b.to = e.at
      b.bytes += e.bytes
    } else bursts.push({ from: e.at, to: e.at, conn: e.conn, dir: e.dir, bytes: e.bytes })
  }
  bursts.sort((a, b) => a.from - b.from)
  for (const b of bursts) console.log(`  +${((b.from - t0) / 1000).toFixed(3)}–${((b.to - t0) / 1000).toFixed(3)} s  connection ${b.conn}  ${b.dir === 'up' ? 'village → township' : 'township → village'}  ${b.bytes} B`)
}

async function main() {
  const what = (process.env.BENCH_PARTS ?? 'poor,reconnect,loopback').split(',')
  if (what.includes('line')) {
    process.env.TONGBAN_LINK_QUOTA_SCALE ??= '10' // 5,000 new cases in a run are over a village's 1,500 an hour
    const rows: LineRow[] = []
    for (const lineName of (process.env.BENCH_LINES ?? 'fast,1mbit,poor').split(',')) {
      for (const n of SIZES) {
        const r = await lineRun(lineName, n)
        rows.push(r)
        console.log(JSON.stringify(r))
      }
    }
    console.log('\n| line | N | raw JSON | from line up (s) | from dial (s) | cases/s (from dial) | bytes up | wire time of bytes up (s) | time / wire | floor (s) | time / floor | township CPU ms/case | GET /api/cases?limit=1 p50 / p95 / max (ms, n) | load 1 min |')
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const r of rows) {
      console.log(`| ${r.line} | ${r.n} | ${(r.rawJson / 1024).toFixed(0)} KB | ${r.seconds.toFixed(2)} | ${r.fromDial.toFixed(2)} | ${(r.n / r.fromDial).toFixed(0)} | ${(r.up / 1024).toFixed(1)} KB | ${r.wire.toFixed(2)} | ${(r.seconds / r.wire).toFixed(2)} | ${r.floor.toFixed(1)} | ${(r.seconds / r.floor).toFixed(2)} | ${r.cpuMsPerCase.toFixed(2)} | ${r.api.p50.toFixed(0)} / ${r.api.p95.toFixed(0)} / ${r.api.max.toFixed(0)} (${r.api.n}) | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`)
    }
  }
  if (what.includes('loopback')) {
    const l = await loopbackRun()
    console.log(`\nloopback, village 201 → case at county (100 cases, polled every 2 ms): p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms`)
    console.log(`loopback, village 201 → case at the other county, 4 hops through the city (100 cases, polled every 2 ms): p50 ${l.cross.p50.toFixed(1)} ms, p95 ${l.cross.p95.toFixed(1)} ms`)
    console.log(`loopback, city catalogue change → last of 8 villages (5 changes): ${l.catalogueMs.map((x) => x.toFixed(0)).join(', ')} ms`)
  }
  if (what.includes('reconnect')) {
    const r = await reconnectRun()
    console.log(`\nreconnect with nothing new (600 ms RTT): ${r.upBytes} bytes up, ${r.downBytes} bytes down on the new connection (WebSocket upgrade included), connected again ${r.msToConnected.toFixed(0)} ms after the drop was seen (includes the jittered backoff)`)
  }
  if (!what.includes('poor')) return
  const rows: Row[] = []
  for (const n of SIZES) {
    const r = await poorLinkRun(n)
    rows.push(r)
    console.log(JSON.stringify(r))
  }
  console.log('\n| N | raw JSON | time (s) | floor (s) | time/floor | bytes up | up/raw | bytes down | down/up |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.n} | ${(r.rawJson / 1024).toFixed(0)} KB | ${r.seconds.toFixed(1)} | ${r.floor.toFixed(1)} | ${(r.seconds / r.floor).toFixed(2)} | ${(r.up / 1024).toFixed(1)} KB | ${(r.up / r.rawJson).toFixed(2)} | ${(r.down / 1024).toFixed(1)} KB | ${(r.down / r.up * 100).toFixed(1)}% |`)
  }
}

await main()
