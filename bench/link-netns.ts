/**
 * The link on a real network stack: the township and the village as real node processes in two
 * network namespaces (tb-town, tb-vil), joined only by a shaped line (bench/netns: TUN devices
 * and a user-space shaper — rate, half the RTT each way, seeded loss, a tail-drop buffer), so
 * the kernel's own TCP does the retransmissions, congestion control and head-of-line blocking
 * that test/tools/link-emulator.ts imitates. The emulator stays the tool of the tests and of
 * bench/link-bench.ts; this profile checks that its figures hold on a real stack.
 *
 * Per line profile (fast 100 Mbit/s 2 ms; 1mbit 1 Mbit/s 100 ms; poor 100 kbit/s 600 ms 2%):
 *  1. a plain-TCP check of the line (handshake ≈ 1 RTT, a bulk transfer's rate, the loss seen);
 *  2. ours: township (catalogue: sample) and village enrolled to it over the line; per N the
 *     line is cut (the shaper drops everything, silently, as a dead line does), N cases are
 *     taken in at the village (bench/lib/cases.ts, through its API on the management veth),
 *     the village is left to find the link dead (its peer timeout), then the line comes back.
 *     Measured from the restore: first SYN through (a probe or the dial), the village's link
 *     up, and all N at the township; bytes on the line counted at the shaper (IP bytes, all
 *     that took line time including lost packets, and the TCP payload, retransmissions included);
 *  3. stock y-websocket (bench/netns/yws-peer.ts: server in tb-town, client in tb-vil, doc
 *     filled offline): from the client's dial to all N at the server, bytes likewise.
 * The floor is raw JSON × 8 / rate + 4 RTT (as bench/link-bench.ts); the wire time is the IP
 * bytes actually sent up × 8 / rate.
 *
 * Run (root; not part of npm test):  node --import tsx bench/link-netns.ts
 *   BENCH_PROFILES=fast,1mbit,poor   BENCH_N=100,1000   BENCH_N_POOR=100,1000,5000 (poor line's sizes)
 *   BENCH_N_YWS=... (y-websocket's sizes, default the profile's)
 *   TONGBAN_LINK_QUOTA_SCALE=10 for N = 5,000 (the nodes read it: a village may bring 1,500 new documents an hour)
 *   BENCH_PARTS=sync,lineback (lineback: one case across a short and a long silent cut, see lineBack)
 *   BENCH_KEEP_LOGS=DIR (copy both nodes' output there)   BENCH_LINEBACK_CYCLES=2   BENCH_SYSTEMS=tongban,y-websocket   BENCH_SEED=1   BENCH_ROOT=/path/to/other/checkout (its nodes)
 *   node --import tsx bench/link-netns.ts --cleanup   removes namespaces left by a killed run
 */
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, setGlobalDispatcher } from 'undici'
import type { ChildProcess } from 'node:child_process'
import { enrollChild } from '../nodes/core/link/enrollment.ts'
import { pinToken } from '../nodes/core/link/token.ts'
import { login, type Remote } from '../test/helpers/remote.ts'
import { BENCH_TOWNSHIP, BENCH_VILLAGE, intakeBody, makeCases, rawJsonBytes } from './lib/cases.ts'
import { ADDR, NS_TOWN, NS_VIL, checkLine, setupLine, spawnIn, teardownSync, waitFor, type Line, type LineProfile, type ShaperStats } from './netns/net.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
// BENCH_ROOT runs another checkout's nodes (`git archive <commit> | tar -x -C DIR` with a
// node_modules symlink): a fixed commit while others edit this working tree, or a before/after.
const NODE_ROOT = process.env.BENCH_ROOT ?? ROOT
const BIN = join(NODE_ROOT, 'bin/tongban.mjs')
const PASSWORD = 'bench-password'
const TOWN_PORT = 8443
const VIL_PORT = 8444
const YWS_PORT = 1234

const PROFILES: Record<string, LineProfile> = {
  fast: { name: 'fast', rateBitsPerSec: 100_000_000, rttMs: 2, lossRate: 0 },
  '1mbit': { name: '1mbit', rateBitsPerSec: 1_000_000, rttMs: 100, lossRate: 0 },
  poor: { name: 'poor', rateBitsPerSec: 100_000, rttMs: 600, lossRate: 0.02 },
}
const CHOSEN = (process.env.BENCH_PROFILES ?? 'fast,1mbit,poor').split(',').filter(Boolean)
const SIZES = (process.env.BENCH_N ?? '100,1000').split(',').map(Number).filter((n) => n > 0)
const SIZES_POOR = (process.env.BENCH_N_POOR ?? process.env.BENCH_N ?? '100,1000,5000').split(',').map(Number).filter((n) => n > 0)
/** Sizes for y-websocket alone (default: the profile's). */
const SIZES_YWS = process.env.BENCH_N_YWS ? process.env.BENCH_N_YWS.split(',').map(Number).filter((n) => n > 0) : null
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'tongban,y-websocket').split(',')
const SEED = Number(process.env.BENCH_SEED ?? 1)
const PARTS = (process.env.BENCH_PARTS ?? 'sync').split(',')
const LINEBACK_CYCLES = Number(process.env.BENCH_LINEBACK_CYCLES ?? 2)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` every `everyMs` until true; returns performance.now() then. Bounded in time and count. */
async function when(cond: () => Promise<boolean> | boolean, everyMs: number, what: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (let i = 0; i < 10_000_000; i++) {
    try {
      if (await cond()) return performance.now()
    } catch { /* not yet */ }
    if (performance.now() > deadline) break
    await sleep(everyMs)
  }
  throw new Error(`no ${what} within ${timeoutMs} ms`)
}

// The nodes' self-signed certificates name 127.0.0.1, not the namespaces' addresses: the bench's
// own client trusts exactly those certificates (chain by CA list, identity by fingerprint). A new
// agent for each certificate added, without TLS session reuse: the next profile's nodes have the
// same addresses and new certificates.
const trustedPems: string[] = []
const trustedFps = new Set<string>()
let dispatcher: Agent | null = null
function trust(dataDir: string): void {
  const pem = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8')
  trustedPems.push(pem)
  trustedFps.add(new X509Certificate(pem).fingerprint256)
  void dispatcher?.close().catch(() => {})
  dispatcher = new Agent({
    connect: {
      ca: [...trustedPems],
      maxCachedSessions: 0,
      checkServerIdentity: (_host: string, cert: { fingerprint256?: string }) => (cert.fingerprint256 && trustedFps.has(cert.fingerprint256) ? undefined : new Error('not a certificate of this bench\'s nodes')),
    },
  })
  setGlobalDispatcher(dispatcher)
}

interface NsNode { proc: ChildProcess; mgmtUrl: string; dataDir: string; log: string[] }

async function startNode(ns: string, dataDir: string, args: string[]): Promise<NsNode> {
  const proc = spawnIn(ns, process.execPath, [BIN, 'start', '--data', dataDir, '--host', '0.0.0.0', ...args], { cwd: NODE_ROOT })
  const log: string[] = []
  // Every line the node prints also goes to <data dir>.log (kept with BENCH_KEEP_LOGS=DIR).
  const file = `${dataDir}.log`
  const keep = (d: Buffer) => {
    log.push(d.toString())
    if (log.length > 300) log.splice(0, log.length - 300)
    try {
      appendFileSync(file, `${new Date().toISOString()} ${d.toString()}`)
    } catch {
      // The pair's dir is removed when its profile ends; a stopping node's last lines go nowhere.
    }
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  proc.stdin!.end()
  await waitFor(proc, /listening on https?:\/\//, 300_000, `${ns} node listening`)
  trust(dataDir)
  return { proc, mgmtUrl: '', dataDir, log }
}

async function stopNode(n: NsNode): Promise<void> {
  const p = n.proc
  if (p.exitCode !== null || p.signalCode !== null) return
  await new Promise<void>((r) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000)
    p.once('exit', () => { clearTimeout(t); r() })
    p.kill('SIGTERM')
  })
}

interface Pair { root: string; town: NsNode; village: NsNode; agent: Remote; staff: Remote; next: number }

async function startPair(): Promise<Pair> {
  const root = mkdtempSync('/tmp/p2-netns-')
  const townDir = join(root, BENCH_TOWNSHIP)
  const vilDir = join(root, BENCH_VILLAGE)
  for (const [dir, role] of [[townDir, 'staff'], [vilDir, 'agent']] as const) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'users.seed.json'), JSON.stringify([{ name: role, role, password: PASSWORD }]))
  }
  // A failed start leaves no data dir behind (its processes die with the namespaces).
  try {
    const town = await startNode(NS_TOWN, townDir, ['--level', 'township', '--code', BENCH_TOWNSHIP, '--name', BENCH_TOWNSHIP, '--port', String(TOWN_PORT), '--catalogue', 'sample'])
    town.mgmtUrl = `https://${ADDR.townMgmt}:${TOWN_PORT}`
    const token = pinToken(enrollChild(townDir, BENCH_TOWNSHIP, BENCH_VILLAGE), townDir)
    const village = await startNode(NS_VIL, vilDir, ['--level', 'village', '--code', BENCH_VILLAGE, '--name', BENCH_VILLAGE, '--port', String(VIL_PORT), '--parent', `https://${ADDR.townLine}:${TOWN_PORT}`, '--token', token])
    village.mgmtUrl = `https://${ADDR.vilMgmt}:${VIL_PORT}`
    const agent = await login(village.mgmtUrl, 'agent', PASSWORD)
    const staff = await login(town.mgmtUrl, 'staff', PASSWORD)
    await when(async () => (await agent('GET', '/api/catalogue')).body.items.some((i: { level: string }) => i.level === 'township'), 250, 'catalogue at the village', 600_000)
    return { root, town, village, agent, staff, next: 0 }
  } catch (e) {
    rmSync(root, { recursive: true, force: true })
    throw e
  }
}

async function stopPair(p: Pair): Promise<void> {
  await stopNode(p.village)
  await stopNode(p.town)
  if (process.env.BENCH_KEEP_LOGS) {
    mkdirSync(process.env.BENCH_KEEP_LOGS, { recursive: true })
    for (const code of [BENCH_TOWNSHIP, BENCH_VILLAGE]) cpSync(join(p.root, `${code}.log`), join(process.env.BENCH_KEEP_LOGS, `${code}-${Date.now()}.log`))
  }
  rmSync(p.root, { recursive: true, force: true })
}

async function linked(p: Pair): Promise<boolean> {
  const r = await fetch(`${p.village.mgmtUrl}/healthz`, { signal: AbortSignal.timeout(30_000) })
  return ((await r.json()) as { sync: { parent: { connected: boolean } } }).sync.parent.connected
}

/** Polls the village's link every `everyMs` in the background; `stop` gives when it was first up (null: not seen). */
function watchLinked(p: Pair, everyMs: number): { stop(): Promise<number | null> } {
  let at: number | null = null
  let polling = true
  const loop = (async () => {
    for (let i = 0; polling && i < 1_000_000; i++) {
      try {
        if (await linked(p)) { at = performance.now(); return }
      } catch { /* busy */ }
      await sleep(everyMs)
    }
  })()
  return { async stop() { polling = false; await loop; return at } }
}

const countAt = async (r: Remote) => (await r('GET', '/api/cases?limit=1')).body.total as number

interface Row {
  profile: string; system: string; n: number; rawJson: number
  /** From the line back (ours) or the client's dial (y-websocket) to all N at the receiver. */
  seconds: number
  /** Ours: ms from the restore to the first SYN through, and to the village's link up. */
  firstSynMs?: number | null; linkedMs?: number
  upBytes: number; upPayload: number; downBytes: number; lost: number; upPackets: number; queueDrops: number
  floor: number; wire: number; load: [number, number]
}

function delta(a: ShaperStats, b: ShaperStats) {
  return {
    upBytes: b.up.bytes - a.up.bytes, upPayload: b.up.payload - a.up.payload, downBytes: b.dn.bytes - a.dn.bytes,
    lost: b.up.lost - a.up.lost + b.dn.lost - a.dn.lost, upPackets: b.up.packets - a.up.packets,
    queueDrops: b.up.queueDrops - a.up.queueDrops + b.dn.queueDrops - a.dn.queueDrops,
  }
}

const floorOf = (raw: number, p: LineProfile) => (raw * 8) / p.rateBitsPerSec + (4 * p.rttMs) / 1000

async function tongbanRun(line: Line, p: Pair, n: number): Promise<Row> {
  const prof = line.profile
  const load0 = loadavg()[0]
  const from = p.next
  p.next += n
  const before = await countAt(p.staff)
  await sleep(2_000) // statistics and catalogue traffic settle
  await line.cmd('down')
  // Intake while the village has not yet found the link dead: what it sends meanwhile goes into
  // the void, as on a line that died without a word.
  let next = from
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < from + n) {
      const i = next++
      const r = await p.agent('POST', '/api/cases', intakeBody(i))
      if (r.status !== 201) throw new Error(`intake failed: ${r.status} ${JSON.stringify(r.body)}`)
    }
  }))
  const rawJson = rawJsonBytes(makeCases(from + n).slice(from))
  await when(async () => !(await linked(p)), 500, 'the village to find its link dead', 300_000)
  await sleep(1_000)
  const s0 = await line.cmd('stats')
  const tUp = performance.now()
  await line.cmd('up')
  const watch = watchLinked(p, 50)
  const timeout = Math.max(300_000, floorOf(rawJson, prof) * 6_000)
  let tDone: number
  let linkedAt: number | null
  try {
    tDone = await when(async () => (await countAt(p.staff)) >= before + n, 100, `${n} cases at the township`, timeout)
  } finally {
    linkedAt = await watch.stop()
  }
  const s1 = await line.cmd('stats')
  const d = delta(s0, s1)
  return {
    profile: prof.name, system: 'tongban', n, rawJson, seconds: (tDone - tUp) / 1000,
    firstSynMs: s1.synAfterUpMs, linkedMs: linkedAt === null ? undefined : Math.round(linkedAt - tUp),
    ...d, floor: floorOf(rawJson, prof), wire: (d.upBytes * 8) / prof.rateBitsPerSec, load: [load0, loadavg()[0]],
  }
}

async function ywsRun(line: Line, n: number): Promise<Row> {
  const prof = line.profile
  const load0 = loadavg()[0]
  const script = join(ROOT, 'bench/netns/yws-peer.ts')
  const server = spawnIn(NS_TOWN, process.execPath, ['--import', 'tsx', script, 'server', String(YWS_PORT), String(n)], { cwd: ROOT })
  const client = spawnIn(NS_VIL, process.execPath, ['--import', 'tsx', script, 'client', `ws://${ADDR.townLine}:${YWS_PORT}`, String(n)], { cwd: ROOT })
  try {
    await Promise.all([waitFor(server, /LISTENING/, 120_000, 'y-websocket server'), waitFor(client, /READY/, 300_000, 'y-websocket client')])
    const done = waitFor(server, /DONE \d+/, Math.max(300_000, floorOf(rawJsonBytes(makeCases(n)), prof) * 6_000), `${n} cases at the y-websocket server`)
    const s0 = await line.cmd('stats')
    const t0 = performance.now()
    client.stdin!.write('go\n')
    await done
    const t1 = performance.now()
    const s1 = await line.cmd('stats')
    const d = delta(s0, s1)
    const rawJson = rawJsonBytes(makeCases(n))
    return { profile: prof.name, system: 'y-websocket', n, rawJson, seconds: (t1 - t0) / 1000, ...d, floor: floorOf(rawJson, prof), wire: (d.upBytes * 8) / prof.rateBitsPerSec, load: [load0, loadavg()[0]] }
  } finally {
    for (const c of [client, server]) {
      c.stdin!.end()
      c.kill('SIGKILL')
    }
  }
}

interface Back { kind: 'short' | 'long'; downMs: number; deadSeenMs: number | null; firstSynMs: number | null; linkedMs: number | null; caseMs: number }

/**
 * The line comes back: one case taken in during a silent cut, then the line restored. `short`:
 * a 10 s cut, within the peer timeout (the village never drops its link: the kernel's TCP
 * retransmits into the void with a growing RTO); `long`: past it (the village finds the link
 * dead first, then the line returns 5 s later). From the restore: the first SYN through, the
 * village's link up again (long only), the case at the township.
 */
async function lineBack(line: Line, p: Pair, kind: 'short' | 'long'): Promise<Back> {
  await when(() => linked(p), 200, 'the link up before a cut', 300_000)
  await sleep(2_000)
  const before = await countAt(p.staff)
  const tDown = performance.now()
  await line.cmd('down')
  const r = await p.agent('POST', '/api/cases', intakeBody(p.next++))
  if (r.status !== 201) throw new Error(`intake failed: ${r.status} ${JSON.stringify(r.body)}`)
  let deadSeenMs: number | null = null
  if (kind === 'short') await sleep(10_000 - (performance.now() - tDown))
  else {
    deadSeenMs = Math.round((await when(async () => !(await linked(p)), 200, 'the village to find its link dead', 300_000)) - tDown)
    await sleep(5_000)
  }
  const tUp = performance.now()
  await line.cmd('up')
  const watch = kind === 'long' ? watchLinked(p, 20) : null
  let caseAt: number
  let linkedAt: number | null = null
  try {
    caseAt = await when(async () => (await countAt(p.staff)) > before, 50, 'the case at the township', 300_000)
  } finally {
    linkedAt = (await watch?.stop()) ?? null
  }
  const s = await line.cmd('stats')
  return { kind, downMs: Math.round(tUp - tDown), deadSeenMs, firstSynMs: s.synAfterUpMs, linkedMs: linkedAt === null ? null : Math.round(linkedAt - tUp), caseMs: Math.round(caseAt - tUp) }
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`

async function main() {
  if (process.argv.includes('--cleanup')) {
    teardownSync()
    return
  }
  const rows: Row[] = []
  const backs: (Back & { profile: string; load: number })[] = []
  const checks: string[] = []
  for (const name of CHOSEN) {
    const prof = PROFILES[name]
    if (!prof) throw new Error(`unknown profile ${name}: one of ${Object.keys(PROFILES).join(', ')}`)
    const sizes = name === 'poor' ? SIZES_POOR : SIZES
    const line = await setupLine(prof, SEED)
    try {
      const c = await checkLine(line)
      const check = `${name} (${prof.rateBitsPerSec / 1000} kbit/s, ${prof.rttMs} ms${prof.lossRate ? `, ${prof.lossRate * 100}% loss` : ''}; buffer ${line.queueBytes} B): TCP handshake ${c.connectMs.toFixed(1)} ms, bulk ${kb(c.bulkBytes)} in ${c.bulkSeconds.toFixed(2)} s = ${(c.mbitPerSec * 1000).toFixed(0)} kbit/s, loss ${(c.upLoss * 100).toFixed(1)}% of ${c.upPackets} packets up, ${c.queueDrops} tail drops`
      console.log(`line check: ${check}`)
      checks.push(check)
      if (SYSTEMS.includes('tongban')) {
        const pair = await startPair()
        try {
          if (PARTS.includes('sync')) {
            for (const n of sizes) {
              const r = await tongbanRun(line, pair, n)
              rows.push(r)
              console.log(JSON.stringify(r))
            }
          }
          if (PARTS.includes('lineback')) {
            for (const kind of ['short', 'long'] as const) {
              for (let i = 0; i < LINEBACK_CYCLES; i++) {
                const b = await lineBack(line, pair, kind)
                backs.push({ profile: name, load: loadavg()[0], ...b })
                console.log(JSON.stringify(backs[backs.length - 1]))
              }
            }
          }
        } catch (e) {
          console.error(`--- township, last output:\n${pair.town.log.join('').slice(-3_000)}\n--- village, last output:\n${pair.village.log.join('').slice(-3_000)}`)
          throw e
        } finally {
          await stopPair(pair)
        }
      }
      if (SYSTEMS.includes('y-websocket') && PARTS.includes('sync')) {
        for (const n of SIZES_YWS ?? sizes) {
          const r = await ywsRun(line, n)
          rows.push(r)
          console.log(JSON.stringify(r))
        }
      }
    } finally {
      await line.close()
    }
  }
  if (backs.length) {
    console.log('\n| line | cut | cut length (ms) | village found the link dead after (ms) | first SYN after restore (ms) | link up after restore (ms) | case at the township after restore (ms) | load 1 min |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const b of backs) console.log(`| ${b.profile} | ${b.kind} | ${b.downMs} | ${b.deadSeenMs ?? '— (kept)'} | ${b.firstSynMs ?? '— (none)'} | ${b.linkedMs ?? '—'} | ${b.caseMs} | ${b.load.toFixed(1)} |`)
  }
  console.log(`\nnodes: ${NODE_ROOT}`)
  console.log('\nline checks:')
  for (const c of checks) console.log(`- ${c}`)
  console.log('\n| line | system | N | raw JSON | time (s) | floor (s) | time/floor | IP bytes up | wire time (s) | time/wire | TCP payload up | IP bytes down | packets lost | tail drops | first SYN / link up after restore (ms) | time from first SYN (s) | load 1 min before → after |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.profile} | ${r.system} | ${r.n} | ${kb(r.rawJson)} | ${r.seconds.toFixed(2)} | ${r.floor.toFixed(2)} | ${(r.seconds / r.floor).toFixed(2)} | ${kb(r.upBytes)} | ${r.wire.toFixed(2)} | ${(r.seconds / r.wire).toFixed(2)} | ${kb(r.upPayload)} | ${kb(r.downBytes)} | ${r.lost} | ${r.queueDrops} | ${r.system === 'tongban' ? `${r.firstSynMs ?? '—'} / ${r.linkedMs ?? '—'}` : '(dial at 0)'} | ${r.firstSynMs != null ? (r.seconds - r.firstSynMs / 1000).toFixed(2) : r.seconds.toFixed(2)} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`)
  }
}

try {
  await main()
} finally {
  teardownSync()
}
