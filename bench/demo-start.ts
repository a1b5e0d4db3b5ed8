/**
 * `tongban demo` as a user starts it: the time from the command to its last URL line (first
 * start into an empty data dir, then a second start of the same dir), and the memory of its 15
 * node processes — the sum of their RSS sampled every 500 ms while the tree starts (peak),
 * right after the last URL, and after a minute (settled), with the villages' range. Each node
 * is read from /proc/<pid>/status; the demo's own process is counted separately.
 *
 * Run: node --import tsx bench/demo-start.ts
 *   BENCH_ROOT=/path/to/other/checkout   that checkout's CLI (an A/B against an earlier commit)
 *   BENCH_SETTLE_MS=60000                how long to wait before the settled reading
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { readMem, ROOT } from './lib/node-proc.ts'

const CHECKOUT = process.env.BENCH_ROOT ?? ROOT
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 60_000)
const BASE_PORT = 20_000 + Math.floor(Math.random() * 400) * 50
const START_TIMEOUT_MS = 1_200_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The children of `pid` (every thread's). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
  } catch {
    return []
  }
}

/** `pid` and all its descendants (a node's own helpers, e.g. tsx's esbuild service, count as the node's). */
function withDescendants(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(withDescendants)]
}

/** The node processes the demo started: its children, by their command line. */
function nodePids(demo: number): { pid: number; level: string }[] {
  return childrenOf(demo).flatMap((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const at = cmd.indexOf('--level')
      return at >= 0 ? [{ pid, level: cmd[at + 1] }] : []
    } catch {
      return []
    }
  })
}

/** The RSS of `pids` and their descendants, MB. */
function rssOf(pids: { pid: number }[]): number {
  let sum = 0
  for (const pid of pids.flatMap((p) => withDescendants(p.pid))) {
    try {
      sum += readMem(pid).rss
    } catch {
      /* gone */
    }
  }
  return sum
}

interface Run { ms: number; urls: number; peakMb: number; demo: ChildProcess; stop(): Promise<void> }

/** Starts the demo on `data`; resolves once it has printed its last line, with timing and peak RSS. */
async function startDemo(data: string): Promise<Run> {
  const t0 = performance.now()
  const demo = spawn(process.execPath, [join(CHECKOUT, 'bin/tongban.mjs'), 'demo', '--data', data, '--base-port', String(BASE_PORT)], { cwd: CHECKOUT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let peakMb = 0
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssOf(nodePids(demo.pid!)))), 500)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start within ${START_TIMEOUT_MS} ms:\n${out}`)), START_TIMEOUT_MS)
      const onData = (d: Buffer) => {
        out += d.toString()
        if (out.includes('login at any URL')) (clearTimeout(timer), resolve())
      }
      demo.stdout!.on('data', onData)
      demo.stderr!.on('data', onData)
      demo.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the demo exited (${code}) before starting:\n${out}`))))
    })
  } catch (e) {
    demo.kill('SIGINT')
    throw e
  } finally {
    clearInterval(sampler)
  }
  const ms = performance.now() - t0
  peakMb = Math.max(peakMb, rssOf(nodePids(demo.pid!)))
  return {
    ms, peakMb, demo, urls: (out.match(/https:\/\/127\.0\.0\.1:\d+/g) ?? []).length,
    async stop() {
      let timer: NodeJS.Timeout | undefined
      const gone = new Promise((r) => demo.once('exit', r))
      demo.kill('SIGINT')
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 120_000)))])
      clearTimeout(timer)
      if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL')
    },
  }
}

const data = mkdtempSync(join(tmpdir(), 'tongban-bench-demo-'))
const fmt = (mb: number) => `${(mb / 1024).toFixed(2)} GB`
try {
  const load0 = loadavg()[0]
  const first = await startDemo(data)
  const nodes = nodePids(first.demo.pid!)
  const afterStart = rssOf(nodes)
  await sleep(SETTLE_MS)
  const settled = rssOf(nodes)
  const villages = nodes.filter((n) => n.level === 'village').map((n) => rssOf([n]))
  const demoSelf = readMem(first.demo.pid!).rss
  const load1 = loadavg()[0]
  await first.stop()
  const second = await startDemo(data)
  const load2 = loadavg()[0]
  await second.stop()
  console.log(`tongban demo, CLI of ${CHECKOUT}; load average (1 min) ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} after the settle, ${load2.toFixed(2)} after the second start\n`)
  console.log('| first start: last URL | URLs | node RSS: peak during start / after start / settled (' + SETTLE_MS / 1000 + ' s) | village settled | demo process | second start |')
  console.log('|---|---|---|---|---|---|')
  console.log(`| ${(first.ms / 1000).toFixed(1)} s | ${first.urls} | ${fmt(first.peakMb)} / ${fmt(afterStart)} / ${fmt(settled)} | ${Math.round(Math.min(...villages))}–${Math.round(Math.max(...villages))} MB | ${Math.round(demoSelf)} MB | ${(second.ms / 1000).toFixed(1)} s |`)
} finally {
  rmSync(data, { recursive: true, force: true })
}
