/**
 * The peers of bench/link-bench.ts on the same emulated link: stock y-websocket (one room holding
 * the cases), PouchDB replication to express-pouchdb, and automerge-repo over its WebSocket
 * adapter. Each carries the same N cases (bench/lib/cases.ts) taken in offline, then the link comes
 * up; each run is its own process (bench/peers/run-one.ts), bounded by a timeout.
 *
 * Run: npm run bench:peers
 * Env: BENCH_N=100,1000 (sizes), BENCH_PEERS=y-websocket,pouchdb,automerge-repo,
 *      BENCH_PEER_TIMEOUT_S=600 (per run), BENCH_SKIP=automerge-repo:5000,... (peer:N pairs to skip),
 *      BENCH_SEED=1
 */
import { spawn } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { PeerProfile, PeerResult } from './peers/common.ts'

const RATE = 100_000
const RTT = 600
const LOSS = 0.02
const SIZES = (process.env.BENCH_N ?? '100,1000').split(',').map(Number).filter((n) => n > 0)
const PEERS = (process.env.BENCH_PEERS ?? 'y-websocket,pouchdb,automerge-repo').split(',').filter(Boolean)
const TIMEOUT_S = Number(process.env.BENCH_PEER_TIMEOUT_S ?? 600)
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean))
const SEED = Number(process.env.BENCH_SEED ?? 1)

type Row = PeerResult & { peer: string; name?: string; skipped?: boolean }

function runOne(peer: string, n: number, profile: PeerProfile): Promise<Row> {
  const script = fileURLToPath(new URL('./peers/run-one.ts', import.meta.url))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, peer, String(n)], {
      env: { ...process.env, PEER_PROFILE: JSON.stringify(profile) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d; if (err.length > 20_000) err = err.slice(-10_000) })
    // The run bounds itself; this is the backstop for a hung process (setup, cleanup, a busy loop).
    const hard = setTimeout(() => child.kill('SIGKILL'), profile.timeoutMs + (profile.settleMs ?? 60_000) + 180_000)
    child.on('close', (code, signal) => {
      clearTimeout(hard)
      const line = out.split('\n').find((l) => l.startsWith('PEER-RESULT '))
      if (line) return resolve(JSON.parse(line.slice('PEER-RESULT '.length)) as Row)
      resolve({
        peer, n, seconds: null, bytesUp: 0, bytesDown: 0, finished: false, rawJson: 0,
        note: `run died (${signal ?? `exit ${code}`}): ${err.trim().split('\n').slice(-3).join(' ').slice(0, 300)}`,
      })
    })
  })
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`
const floorOf = (raw: number) => (raw * 8) / RATE + (4 * RTT) / 1000

async function main() {
  const profile: PeerProfile = { rateBitsPerSec: RATE, rttMs: RTT, lossRate: LOSS, seed: SEED, timeoutMs: TIMEOUT_S * 1000, settleMs: 60_000 }
  console.log(`# peers on the emulated link: ${RATE / 1000} kbit/s, ${RTT} ms RTT, ${LOSS * 100}% loss, seed ${SEED}; N = ${SIZES.join(', ')}; timeout ${TIMEOUT_S} s a run`)
  const rows: Row[] = []
  const started = performance.now()
  const loads: number[] = []
  for (const n of SIZES) {
    for (const peer of PEERS) {
      if (SKIP.has(`${peer}:${n}`)) {
        rows.push({ peer, n, seconds: null, bytesUp: 0, bytesDown: 0, finished: false, rawJson: 0, note: 'skipped (BENCH_SKIP)', skipped: true })
        continue
      }
      const t = performance.now()
      const loadBefore = loadavg()[0]
      const row = await runOne(peer, n, { ...profile, seed: SEED + n })
      const loadAfter = loadavg()[0]
      loads.push(loadBefore, loadAfter)
      rows.push(row)
      console.log(JSON.stringify({ ...row, wallSeconds: +((performance.now() - t) / 1000).toFixed(1), load1: [+loadBefore.toFixed(1), +loadAfter.toFixed(1)] }))
    }
  }
  const names = new Map(rows.filter((r) => r.name).map((r) => [r.peer, r.name!]))
  console.log(`\nwall time ${((performance.now() - started) / 60_000).toFixed(1)} min; machine load (1-min average, ${cpus().length} cores) before/after each run: ${loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : 'n/a'}`)
  console.log('\n| peer | N | raw JSON | time (s) | floor (s) | time/floor | bytes up | up/raw | bytes down | down/up | up / down after settling | notes |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    const raw = r.rawJson
    const name = names.get(r.peer) ?? r.peer
    if (r.skipped || raw === 0) {
      console.log(`| ${name} | ${r.n} | | | | | | | | | | ${r.note} |`)
      continue
    }
    const floor = floorOf(raw)
    const time = r.finished && r.seconds !== null ? r.seconds.toFixed(1) : `> ${TIMEOUT_S} (not finished)`
    const ratio = r.finished && r.seconds !== null ? (r.seconds / floor).toFixed(2) : '—'
    const downUp = r.bytesUp > 0 ? `${((r.bytesDown / r.bytesUp) * 100).toFixed(1)}%` : '—'
    const settled = r.settledUp !== undefined && r.settledDown !== undefined ? `${kb(r.settledUp)} / ${kb(r.settledDown)}` : '—'
    console.log(`| ${name} | ${r.n} | ${kb(raw)} | ${time} | ${floor.toFixed(1)} | ${ratio} | ${kb(r.bytesUp)} | ${(r.bytesUp / raw).toFixed(2)} | ${kb(r.bytesDown)} | ${downUp} | ${settled} | ${r.note.replaceAll('|', '\\|')} |`)
  }
}

await main()
