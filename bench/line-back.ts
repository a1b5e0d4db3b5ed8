/**
 * How soon a village notices its line is back, and how soon its link is up again. A township
 * and a village (real node processes, TLS) with the line between them through the link
 * emulator; the line is cut for a random 5–30 s (seeded) and restored, CYCLES times per line
 * profile. Per cycle it records, from the moment the line is restored:
 *
 * - first through: the first connection the emulator passes to the township (a probe, or with
 *   the old code a dial), polled every 5 ms;
 * - noticed: the village logs that a probe was answered (stderr, timestamped on arrival);
 * - linked: the village's own /healthz (loopback) says its parent link is connected, polled
 *   every 20 ms.
 *
 * Run: node --import tsx bench/line-back.ts
 *   BENCH_CYCLES=8            cycles per profile
 *   BENCH_PROFILES=fast,1mbit,poor
 *   BENCH_ROOT=/path/to/other/checkout   run that checkout's CLI instead (an A/B against an
 *                                         earlier commit: `git archive <commit> | tar -x -C DIR`
 *                                         and a node_modules symlink)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnNode, stopNode, type TreeNode } from '../nodes/core/cli/tree.ts'
import { enrollChild } from '../nodes/core/link/enrollment.ts'
import { pinToken } from '../nodes/core/link/token.ts'
import { trustNode } from '../test/helpers/tls.ts'
import { mulberry32, startLinkEmulator, type LinkEmulator, type LinkProfile } from '../test/tools/link-emulator.ts'
import { median, quantile } from './lib/http-load.ts'

const PROFILES: Record<string, LinkProfile> = {
  fast: { rateBitsPerSec: 100_000_000, rttMs: 2 },
  '1mbit': { rateBitsPerSec: 1_000_000, rttMs: 100 },
  poor: { rateBitsPerSec: 100_000, rttMs: 600, lossRate: 0.02 },
}
const CYCLES = Number(process.env.BENCH_CYCLES ?? 8)
const CHOSEN = (process.env.BENCH_PROFILES ?? 'fast,1mbit,poor').split(',')
const OTHER_ROOT = process.env.BENCH_ROOT
const BIN = OTHER_ROOT ? join(OTHER_ROOT, 'bin/tongban.mjs') : undefined

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` every `everyMs` until true; returns performance.now() at that moment. Bounded. */
async function when(cond: () => boolean | Promise<boolean>, everyMs: number, what: string, timeoutMs = 180_000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await cond()) return performance.now()
    if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`)
    await sleep(everyMs)
  }
}

async function node(root: string, level: 'township' | 'village', code: string, parent?: { node: TreeNode; via: LinkEmulator }): Promise<TreeNode> {
  const dataDir = join(root, code)
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), '[]')
  const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
  const n = await spawnNode({ level, code, name: code, dataDir, port: 0, parentUrl: parent?.via.url().replace(/^http:/, 'https:'), token, bin: BIN })
  trustNode(dataDir)
  return n
}

let lastPollError = ''

async function connected(village: TreeNode): Promise<boolean> {
  try {
    const r = await fetch(`${village.url}/healthz`, { signal: AbortSignal.timeout(30_000) })
    return ((await r.json()) as { sync: { parent: { connected: boolean } } }).sync.parent.connected
  } catch (e) {
    lastPollError = String((e as Error).cause ?? e)
    return false
  }
}

interface Cycle { downMs: number; firstThrough: number; noticed: number | null; linked: number }

async function runProfile(name: string, profile: LinkProfile): Promise<{ cycles: Cycle[]; load: [number, number] }> {
  const root = mkdtempSync(join(tmpdir(), 'tongban-bench-line-back-'))
  const nodes: TreeNode[] = []
  let line: LinkEmulator | null = null
  const loadBefore = loadavg()[0]
  try {
    const town = await node(root, 'township', '511302101000')
    nodes.push(town)
    line = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { ...profile, seed: 11 })
    const village = await node(root, 'village', '511302101201', { node: town, via: line })
    nodes.push(village)
    const answers: number[] = [] // performance.now() of each "answers again" line
    village.proc!.stderr!.on('data', (d: Buffer) => {
      if (d.toString().includes('the parent answers again')) answers.push(performance.now())
    })
    await when(() => connected(village), 100, 'first link', 600_000)
    const random = mulberry32(7)
    const cycles: Cycle[] = []
    for (let i = 0; i < CYCLES; i++) {
      line.setDown(true)
      await when(async () => !(await connected(village)), 50, 'the cut seen')
      const downMs = Math.round(5_000 + random() * 25_000)
      await sleep(downMs)
      const before = line.stats().connections
      const upAt = performance.now()
      line.setDown(false)
      const through = when(() => line!.stats().connections > before, 5, 'a connection through')
      const linked = await when(() => connected(village), 20, 'the link up again')
      const noticed = answers.find((t) => t >= upAt)
      const c = { downMs, firstThrough: Math.round((await through) - upAt), noticed: noticed === undefined ? null : Math.round(noticed - upAt), linked: Math.round(linked - upAt) }
      cycles.push(c)
      console.error(`${name} #${i + 1}: down ${(downMs / 1000).toFixed(1)} s → first through ${c.firstThrough} ms, noticed ${c.noticed ?? '—'} ms, linked ${c.linked} ms`)
      await sleep(1_000 + random() * 2_000) // a spell with the line up before the next cut
    }
    return { cycles, load: [loadBefore, loadavg()[0]] }
  } catch (e) {
    console.error(`last /healthz poll error: ${lastPollError || 'none'}; the line: ${JSON.stringify(line?.stats())}`)
    for (const n of nodes) console.error(`--- ${n.level} ${n.code}, last output:\n${n.log.join('').slice(-4_000)}`)
    throw e
  } finally {
    for (const n of nodes.reverse()) await stopNode(n)
    await line?.close()
    rmSync(root, { recursive: true, force: true })
  }
}

const fmt = (xs: number[]) => (xs.length ? `${Math.round(median(xs))} / ${Math.round(quantile([...xs].sort((a, b) => a - b), 0.9))} / ${Math.max(...xs)}` : '—')

console.log(`line back → noticed → linked; ${OTHER_ROOT ? `CLI of ${OTHER_ROOT}` : 'this checkout'}; ${CYCLES} cycles per profile; ms as median / p90 / max\n`)
console.log('| line | load avg (1 min) before → after | first through | noticed (probe answered) | link up |')
console.log('|---|---|---|---|---|')
for (const name of CHOSEN) {
  const p = PROFILES[name]
  if (!p) throw new Error(`unknown profile ${name}: one of ${Object.keys(PROFILES).join(', ')}`)
  const { cycles, load } = await runProfile(name, p)
  const label = `${name} (${p.rateBitsPerSec / 1000} kbit/s, ${p.rttMs} ms${p.lossRate ? `, ${p.lossRate * 100}% loss` : ''})`
  const noticed = cycles.map((c) => c.noticed).filter((x): x is number => x !== null)
  console.log(`| ${label} | ${load[0].toFixed(2)} → ${load[1].toFixed(2)} | ${fmt(cycles.map((c) => c.firstThrough))} | ${fmt(noticed)} | ${fmt(cycles.map((c) => c.linked))} |`)
}
