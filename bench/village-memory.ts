/**
 * Where a settled village's memory goes: one village started through the CLI on a store made by
 * a first start, read after BENCH_SETTLE_MS from /proc/<pid>/smaps and split by kind — the node
 * binary's own pages (file-backed), glibc's malloc arenas of threads (64 MB-aligned anonymous
 * mappings: where V8's background compiles allocate), the main thread's malloc heap ([heap]),
 * PGlite's WASM memory (its 128 MB mapping: what of it is touched), and the other anonymous
 * memory (the V8 heap, compiled code, stacks) — plus the RSS of the node's child processes
 * (tsx's esbuild services, before the bundle). Each variant runs RUNS times, one after another.
 *
 * Run: node --import tsx bench/village-memory.ts
 *   BENCH_ROOT=/path/to/other/checkout   that checkout's CLI (the bundle's variants are skipped there)
 *   BENCH_SETTLE_MS=30000  BENCH_RUNS=2  BENCH_VARIANTS=1,3 (which of the variants below)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, startProc, stopProc } from './lib/node-proc.ts'

const CHECKOUT = process.env.BENCH_ROOT ?? ROOT
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 30_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 2)
const KINDS = ['file', 'arenas', 'heap', 'wasm', 'anon'] as const

/** A process's RSS by kind, MB. */
function rssByKind(pid: number): Record<(typeof KINDS)[number], number> {
  const out = { file: 0, arenas: 0, heap: 0, wasm: 0, anon: 0 }
  let kind: keyof typeof out = 'anon'
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line)
    if (m) {
      const [from, to] = [parseInt(m[1], 16), parseInt(m[2], 16)]
      const size = to - from
      kind = m[4] === '[heap]' ? 'heap' : m[3] !== '0' ? 'file' : size === 128 * 2 ** 20 ? 'wasm' : from % 2 ** 26 === 0 && size <= 2 ** 26 ? 'arenas' : 'anon'
    } else if (line.startsWith('Rss:')) out[kind] += Number(line.split(/\s+/)[1]) / 1024
  }
  return out
}

/** The children of `pid`, every thread's (tsx's esbuild services are its loader thread's). */
const childrenOf = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
const rssOf = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

const ALL_VARIANTS: { name: string; env: Record<string, string> }[] = process.env.BENCH_ROOT
  ? [{ name: 'as built', env: {} }]
  : [
      { name: 'bundle, Liftoff only (default)', env: {} },
      { name: 'bundle, TurboFan tier-up', env: { TONGBAN_WASM_TIER_UP: '1' } },
      { name: 'tsx, TurboFan tier-up', env: { TONGBAN_TSX: '1', TONGBAN_WASM_TIER_UP: '1' } },
    ]
/** BENCH_VARIANTS=2,3 runs only those (1-based). */
const variants = process.env.BENCH_VARIANTS ? process.env.BENCH_VARIANTS.split(',').map((i) => ALL_VARIANTS[Number(i) - 1]) : ALL_VARIANTS

const dir = mkdtempSync(join(tmpdir(), 'tongban-bench-village-mem-'))
const spec = { level: 'village' as const, code: '511302101201', name: '长青村', dataDir: join(dir, 'village'), bin: join(CHECKOUT, 'bin/tongban.mjs') }
try {
  await stopProc(await startProc(spec, 600_000)) // the first start makes the store
  const load0 = loadavg()[0]
  const rows: string[] = []
  for (const v of variants) {
    for (let run = 0; run < RUNS; run++) {
      const saved = { ...process.env }
      Object.assign(process.env, v.env)
      const p = await startProc(spec, 600_000)
      process.env = saved
      await new Promise((r) => setTimeout(r, SETTLE_MS))
      const kinds = rssByKind(p.pid)
      const children = childrenOf(p.pid).reduce((sum, c) => sum + rssOf(c), 0)
      const total = rssOf(p.pid) + children
      rows.push(`| ${v.name} | ${(p.startMs / 1000).toFixed(1)} s | **${Math.round(total)} MB** | ${KINDS.map((k) => Math.round(kinds[k])).join(' | ')} | ${Math.round(children)} MB |`)
      await stopProc(p)
    }
  }
  console.log(`one village, CLI of ${CHECKOUT}, settled ${SETTLE_MS / 1000} s; load average (1 min) ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}\n`)
  console.log(`| variant | start | RSS with children | ${KINDS.join(' | ')} | children |`)
  console.log(`|---|---|---|${KINDS.map(() => '---|').join('')}---|`)
  for (const r of rows) console.log(r)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
