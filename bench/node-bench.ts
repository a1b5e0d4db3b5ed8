/**
 * The node benchmark: one village node (长青村 511302101201), real processes on loopback, each
 * run in a fresh temp data dir, driven through the CLI and the HTTP API as an agent's laptop is.
 *
 *  1. cold start: spawn → listening line on a new, empty data dir (first PGlite init), several runs;
 *  2. warm start: the same on an existing data dir after a clean stop (SIGTERM), several runs;
 *  3. intake over HTTP: POST /api/cases, a 50/50 mix of village-level instant items and
 *     county-level promised items, after a warm-up, at concurrency 1 and 8 (p50, p99, cases/s);
 *  4. RSS of a village holding 10,000 cases: filled at concurrency 8, read from
 *     /proc/<pid>/status after settling, after a clean restart, and while serving
 *     GET /api/cases?limit=200 and GET /api/stats.
 *
 * Prints a markdown table and writes it into BENCHMARKS.md (its own section, between markers;
 * the rest of the file is kept). Run: npm run bench:node
 * Knobs (env): BENCH_N (requests per intake run, 2000), BENCH_CASES (10000), BENCH_COLD (3),
 * BENCH_WARM (3), BENCH_NO_WRITE=1 (print only), BENCH_NODE_ARGS (extra node flags for every
 * node process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; implies BENCH_NO_WRITE), BENCH_KEEP=1 (keep the
 * temp data dirs, e.g. to study a store of 10,000 cases).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { Client, load, median, quantile, type LoadResult, type Req } from './lib/http-load.ts'
import { readMem, ROOT, sampleMemDuring, settledMem, startProc, stopProc, userAdd, type BenchProc, type NodeSpec } from './lib/node-proc.ts'
import { residentIdCheck } from '../protocol/people.ts'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)
const N = env('BENCH_N', 2000)
const CASES = env('BENCH_CASES', 10_000)
const COLD = env('BENCH_COLD', 3)
const WARM = env('BENCH_WARM', 3)
const WARMUP = 200
const NODE_ARGS = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : []
const WRITE = !process.env.BENCH_NO_WRITE && NODE_ARGS.length === 0
const AGENT = { name: 'agent', password: 'bench-password' }

// Goals (issue 2).
const GOAL_P50_MS = 10
const GOAL_WARM_MS = 2000
const GOAL_RSS_MB = 300

const CATALOGUE = 'sample'

const root = mkdtempSync(join(tmpdir(), 'tongban-bench-node-'))
const spec = (dir: string): NodeSpec => ({ level: 'village', code: '511302101201', name: '长青村', dataDir: join(root, dir), catalogue: CATALOGUE, nodeArgs: NODE_ARGS })
const live: BenchProc[] = []
const log = (s: string) => process.stderr.write(`[bench:node ${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${s}\n`)
const T0 = performance.now()

async function start(s: NodeSpec): Promise<BenchProc> {
  const p = await startProc(s)
  live.push(p)
  return p
}
async function stop(p: BenchProc): Promise<void> {
  const r = await stopProc(p)
  live.splice(live.indexOf(p), 1)
  if (!r.clean) throw new Error(`node ${p.pid} did not stop cleanly on SIGTERM (exit ${r.code}, ${r.ms.toFixed(0)} ms):\n${p.log.join('').slice(-2000)}`)
}

/** 17 digits and a check character; unique per i. */
function applicant(i: number) {
  const birthYear = 1940 + (i % 70)
  const seq = String(i % 1000).padStart(3, '0')
  return {
    name: `村民${i}`,
    idType: 'resident-id',
    idNumber: withCheck(`511302${birthYear}0${1 + (i % 9)}1${i % 10}${seq}`),
    phone: `139${String(i).padStart(8, '0')}`,
  }
}

interface Item { code: string; name: string; level: string; kind: string; materials: { name: string; required: boolean }[] }

/** POST /api/cases for case number i: even i a village-level instant item, odd i a county-level promised item. */
function intakeReq(villageInstant: Item[], countyPromised: Item[]): (i: number) => Req {
  return (i) => {
    const pool = i % 2 === 0 ? villageInstant : countyPromised
    const item = pool[Math.floor(i / 2) % pool.length]
    return { method: 'POST', path: '/api/cases', body: { itemCode: item.code, applicant: applicant(i), materials: item.materials.filter((m) => m.required).map((m) => m.name) } }
  }
}

function must(r: LoadResult, what: string): LoadResult {
  if (r.errors) throw new Error(`${what}: ${r.errors} of ${r.requests} requests failed; first: ${r.firstError}`)
  return r
}

const ms = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0))
const sec = (x: number) => (x / 1000).toFixed(2)
const mb = (x: number) => x.toFixed(0)
const verdict = (ok: boolean) => (ok ? '✅ pass' : '❌ **miss**')
const cut = (r: LoadResult) => (r.truncatedByDeadline ? ' — stopped at its time limit' : '')

async function main() {
  const load0 = loadavg()
  log(`data dirs under ${root}; catalogue ${CATALOGUE}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`)

  // 1. Cold starts, each on a new, empty data dir.
  const cold: { ms: number; hwm: number; rss: number }[] = []
  for (let r = 0; r < COLD; r++) {
    const p = await start(spec(`cold-${r}`))
    const m = readMem(p.pid)
    cold.push({ ms: p.startMs, hwm: m.hwm, rss: m.rss })
    log(`cold start ${r + 1}/${COLD}: ${ms(p.startMs)} ms (peak RSS ${mb(m.hwm)} MB)`)
    await stop(p)
  }

  // 2. Warm starts on the first data dir (the agent is added while it is stopped).
  const dir = 'cold-0'
  const userAddMs = await userAdd(spec(dir).dataDir, AGENT.name, 'agent', AGENT.password)
  log(`user add: ${ms(userAddMs)} ms`)
  const warm: { ms: number; rss: number }[] = []
  let node!: BenchProc
  for (let r = 0; r < WARM; r++) {
    node = await start(spec(dir))
    warm.push({ ms: node.startMs, rss: readMem(node.pid).rss })
    log(`warm start ${r + 1}/${WARM}: ${ms(node.startMs)} ms (RSS ${mb(warm[r].rss)} MB)`)
    if (r < WARM - 1) await stop(node)
  }
  const idle = await settledMem(node.pid, 10_000)
  log(`idle RSS with 0 cases: ${mb(idle.rss)} MB`)

  // 3. Intake over HTTP.
  let client = new Client(node.url, 16)
  await client.login(AGENT.name, AGENT.password)
  const { items } = await client.json<{ items: Item[] }>({ method: 'GET', path: '/api/catalogue' })
  const villageInstant = items.filter((i) => i.level === 'village' && i.kind === 'instant')
  const countyPromised = items.filter((i) => i.level === 'county' && i.kind === 'promised')
  if (!villageInstant.length || !countyPromised.length) throw new Error(`the catalogue lacks village instant or county promised items (${items.length} items)`)
  const make = intakeReq(villageInstant, countyPromised)
  let made = 0
  const run = async (n: number, concurrency: number, deadlineMs: number, what: string) => {
    const base = made
    const r = must(await load(client, { n, concurrency, deadlineMs, expect: 201, make: (i) => make(base + i) }), what)
    made += r.requests
    log(`${what}: ${r.requests} in ${r.seconds.toFixed(1)} s, p50 ${ms(quantile(r.latencies, 0.5))} ms, p99 ${ms(quantile(r.latencies, 0.99))} ms, ${r.perSecond.toFixed(0)}/s${r.truncatedByDeadline ? ' (stopped at the deadline)' : ''}`)
    return r
  }
  await run(WARMUP, 4, 60_000, 'warm-up')
  const c1 = await run(N, 1, 150_000, 'intake c=1')
  const c8 = await run(N, 8, 150_000, 'intake c=8')

  // 4. Fill to CASES at concurrency 8, then memory.
  const fill = await run(Math.max(0, CASES - made), 8, 480_000, `fill to ${CASES}`)
  const total = (await client.json<{ total: number }>({ method: 'GET', path: '/api/cases?limit=1' })).total
  log(`cases held: ${total}`)
  const afterFill = await settledMem(node.pid)
  log(`RSS after fill, settled (${(afterFill.waitedMs / 1000).toFixed(0)} s): ${mb(afterFill.rss)} MB (peak so far ${mb(afterFill.hwm)} MB)`)
  client.close()
  await stop(node)

  node = await start(spec(dir))
  const warmFull = node.startMs
  log(`warm start with ${total} cases: ${ms(warmFull)} ms`)
  const afterRestart = await settledMem(node.pid)
  log(`RSS after restart, settled: ${mb(afterRestart.rss)} MB (peak ${mb(afterRestart.hwm)} MB)`)

  client = new Client(node.url, 16)
  await client.login(AGENT.name, AGENT.password)
  const readReq = (i: number): Req => ({ method: 'GET', path: i % 2 === 0 ? '/api/cases?limit=200' : '/api/stats' })
  const serving = await sampleMemDuring(node.pid, async () => {
    const mixed = must(await load(client, { n: 400, concurrency: 4, deadlineMs: 60_000, expect: 200, make: readReq }), 'reads')
    const lists = must(await load(client, { n: 100, concurrency: 1, deadlineMs: 30_000, expect: 200, make: () => readReq(0) }), 'list reads')
    const stats = must(await load(client, { n: 100, concurrency: 1, deadlineMs: 30_000, expect: 200, make: () => readReq(1) }), 'stats reads')
    return { mixed, lists, stats }
  })
  const { lists, stats } = serving.result
  const afterServing = readMem(node.pid)
  log(`RSS while serving reads: peak ${mb(serving.peakRss)} MB, after ${mb(afterServing.rss)} MB; list p50 ${ms(quantile(lists.latencies, 0.5))} ms, stats p50 ${ms(quantile(stats.latencies, 0.5))} ms`)
  client.close()
  await stop(node)
  const load1 = loadavg()

  // The report.
  const coldMed = median(cold.map((c) => c.ms))
  const warmMed = median(warm.map((w) => w.ms))
  const p50 = (r: LoadResult) => quantile(r.latencies, 0.5)
  const p99 = (r: LoadResult) => quantile(r.latencies, 0.99)
  const list = (xs: number[], f: (x: number) => string) => xs.map(f).join(', ')
  const rows: [string, string, string, string][] = [
    [`cold start, new data dir (median of ${COLD})`, `${sec(coldMed)} s (runs: ${list(cold.map((c) => c.ms), sec)} s)`, '—', ''],
    ['peak RSS during a cold start (VmHWM)', `${mb(Math.max(...cold.map((c) => c.hwm)))} MB`, '—', ''],
    [`warm start, 0 cases, after a clean stop (median of ${WARM})`, `${sec(warmMed)} s (runs: ${list(warm.map((w) => w.ms), sec)} s)`, '< 2 s', verdict(warmMed < GOAL_WARM_MS)],
    [`warm start, ${total.toLocaleString('en')} cases`, `${sec(warmFull)} s`, '< 2 s', verdict(warmFull < GOAL_WARM_MS)],
    [`intake, concurrency 1 (${c1.requests} × POST /api/cases): p50 / p99`, `${ms(p50(c1))} ms / ${ms(p99(c1))} ms${cut(c1)}`, 'p50 < 10 ms', verdict(p50(c1) < GOAL_P50_MS)],
    ['intake, concurrency 1: throughput', `${c1.perSecond.toFixed(0)} cases/s`, '—', ''],
    [`intake, concurrency 8 (${c8.requests} × POST /api/cases): p50 / p99`, `${ms(p50(c8))} ms / ${ms(p99(c8))} ms${cut(c8)}`, 'p50 < 10 ms', verdict(p50(c8) < GOAL_P50_MS)],
    ['intake, concurrency 8: throughput', `${c8.perSecond.toFixed(0)} cases/s`, '—', ''],
    [`fill to ${CASES.toLocaleString('en')} (concurrency 8, ${fill.requests} cases)`, `${fill.perSecond.toFixed(0)} cases/s, p50 ${ms(p50(fill))} ms / p99 ${ms(p99(fill))} ms`, '—', ''],
    ['RSS, 0 cases, idle after a warm start', `${mb(idle.rss)} MB`, '—', ''],
    [`RSS, ${total.toLocaleString('en')} cases, settled after the fill`, `${mb(afterFill.rss)} MB (peak ${mb(afterFill.hwm)} MB)`, '< 300 MB', verdict(afterFill.rss < GOAL_RSS_MB)],
    [`RSS, ${total.toLocaleString('en')} cases, after a restart, settled`, `${mb(afterRestart.rss)} MB`, '< 300 MB', verdict(afterRestart.rss < GOAL_RSS_MB)],
    [`RSS, ${total.toLocaleString('en')} cases, serving GET /api/cases?limit=200 + GET /api/stats (${serving.result.mixed.requests} reads at concurrency 4${cut(serving.result.mixed)}, then ${lists.requests + stats.requests} at 1)`, `peak ${mb(serving.peakRss)} MB, after ${mb(afterServing.rss)} MB`, '< 300 MB', verdict(serving.peakRss < GOAL_RSS_MB)],
    [`GET /api/cases?limit=200 at ${total.toLocaleString('en')} cases (concurrency 1): p50 / p99`, `${ms(p50(lists))} ms / ${ms(p99(lists))} ms (${lists.requests} requests${cut(lists)})`, '—', ''],
    [`GET /api/stats at ${total.toLocaleString('en')} cases (concurrency 1): p50 / p99`, `${ms(p50(stats))} ms / ${ms(p99(stats))} ms (${stats.requests} requests${cut(stats)})`, '—', ''],
  ]
  const date = new Date().toISOString().slice(0, 10)
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const table = [
    '| measure | figure | goal | |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
  const md = [
    `### ${date} — \`npm run bench:node\``,
    '',
    `Code: ${gitState()}.`,
    `Machine: ${availableParallelism()} CPUs (nproc; ${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, Node ${process.version}, ${osName()}; data dirs on ${fsType(root)} under ${tmpdir()}.`,
    `Load average (1/5/15 min) at the start ${load0.map((x) => x.toFixed(2)).join(' / ')}, at the end ${load1.map((x) => x.toFixed(2)).join(' / ')}; the whole run took ${((performance.now() - T0) / 1000).toFixed(0)} s.`,
    `A village node (511302101201 长青村, \`--catalogue ${CATALOGUE}\`) started through the CLI (\`node bin/tongban.mjs start …\`); intake alternates village-level instant items (${villageInstant.length} of them) and county-level promised items (${countyPromised.length}), required materials only, each applicant new; ${WARMUP} warm-up cases first. Latency is per request, client side, from write to the end of the response body, over keep-alive HTTP/1.1 on loopback. RSS is VmRSS from /proc/<pid>/status of the node process.`,
    '',
    table,
  ].join('\n')
  process.stdout.write(`\n${md}\n\n`)
  process.stdout.write(`raw: ${JSON.stringify({ cold, warm, warmFull, userAddMs, idle, afterFill, afterRestart, serving: { peak: serving.peakRss, after: afterServing.rss }, c1: summary(c1), c8: summary(c8), fill: summary(fill), lists: summary(lists), stats: summary(stats), total, load0, load1 })}\n`)
  if (WRITE) writeSection(md)
}

function summary(r: LoadResult) {
  return { n: r.requests, seconds: +r.seconds.toFixed(2), perSecond: +r.perSecond.toFixed(1), p50: +quantile(r.latencies, 0.5).toFixed(2), p90: +quantile(r.latencies, 0.9).toFixed(2), p99: +quantile(r.latencies, 0.99).toFixed(2), max: +r.latencies[r.latencies.length - 1].toFixed(1) }
}

function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'nodes', 'protocol', 'bin', 'catalogue'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return `commit ${head}${dirty ? ` with uncommitted changes in ${dirty.split('\n').length} file(s) of nodes/, protocol/, bin/, catalogue/` : ''}`
  } catch {
    return 'not a git checkout'
  }
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))
    return m ? m[1] : process.platform
  } catch {
    return process.platform
  }
}

function fsType(path: string): string {
  try {
    return execFileSync('df', ['--output=fstype', path], { encoding: 'utf8' }).trim().split('\n').pop() ?? '?'
  } catch {
    return '?'
  }
}

const BEGIN = '<!-- bench:node (written by npm run bench:node; the latest run replaces this section) -->'
const END = '<!-- /bench:node -->'

/** Replaces this benchmark's section of BENCHMARKS.md with the latest run, keeping everything else. */
function writeSection(md: string): void {
  const file = join(ROOT, 'BENCHMARKS.md')
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const section = `${BEGIN}\n${md}\n${END}`
  const a = text.indexOf(BEGIN)
  const b = text.indexOf(END)
  let out: string
  if (a >= 0 && b > a) out = text.slice(0, a) + section + text.slice(b + END.length)
  else out = `${text.trimEnd()}\n\n## Node: start, intake, memory (\`npm run bench:node\`)\n\n${section}\n`
  writeFileSync(file, out)
  log(`wrote ${file}`)
}

main()
  .catch(async (e) => {
    process.stderr.write(`bench:node failed: ${e instanceof Error ? e.stack : e}\n`)
    process.exitCode = 1
  })
  .finally(async () => {
    for (const p of [...live]) await stopProc(p, 5_000).catch(() => {})
    if (process.env.BENCH_KEEP) log(`kept the data dirs under ${root}`)
    else rmSync(root, { recursive: true, force: true })
  })
