/**
 * A county's year at real size (issue 11, goal 2): a county node holding 250,000 cases, filled
 * once by bench/county-fill.ts, started as a process on a copy of that data dir and measured over
 * HTTP on loopback — the routes its users and its UI banner call, its starts, its memory, its disk.
 *
 * Before/after from one run: with COUNTY_OLD=<dir of an older checkout> (e.g.
 * `git archive <commit> | tar -x -C DIR` plus a node_modules link), the same measurements run
 * first on that code, on its own copy of the same filled store, then on this checkout.
 *
 * Run: node --import tsx bench/county-size.ts
 * Knobs (env): COUNTY_BASE (the filled data dir, /tmp/county-size-250k/base), COUNTY_OLD,
 * BENCH_N (requests per route, 50), BENCH_ROUTE_S (seconds at most per route, 30).
 * COUNTY_PARTS=stats: only the dashboard — after the first start, every GET /api/stats of
 * range × groupBy × 受理地/办理地 × the county, a township and a village (BENCH_N each), p95 per
 * range, groupBy and level over both dimensions; no warm starts, no lists.
 * The node is started with a parent URL that nobody answers (port 9): the case of the issue, a
 * county whose parent is configured but has never acknowledged anything.
 */
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { Client, quantile } from './lib/http-load.ts'
import { quietCpu, readMem, ROOT, sampleMemDuring, settledMem, startProc, stopProc, userAdd, type BenchProc, type NodeSpec } from './lib/node-proc.ts'
import { COUNTY, countyUnits } from './lib/county-fill.ts'

const BASE = process.env.COUNTY_BASE ?? '/tmp/county-size-250k/base'
const OLD = process.env.COUNTY_OLD
const N = Number(process.env.BENCH_N ?? 50)
const ROUTE_S = Number(process.env.BENCH_ROUTE_S ?? 30)
const CASES = Number(process.env.COUNTY_CASES ?? 250_000)
const STATS_ONLY = process.env.COUNTY_PARTS === 'stats'
const USER = { name: 'bench', password: 'bench-password-1' }
const la = () => loadavg().map((x) => x.toFixed(2)).join(' / ')
const log = (s: string) => process.stderr.write(`[county-size ${new Date().toISOString().slice(11, 19)}] ${s}\n`)

interface Figures { [k: string]: string }

async function timeRoute(c: Client, path: string): Promise<{ p50: number; p95: number; n: number; status: number }> {
  const ms: number[] = []
  let status = 0
  const until = performance.now() + ROUTE_S * 1000
  // One warm-up; then N requests, or as many as fit in ROUTE_S (3 at least).
  for (let i = -1; i < N && (i < 3 || performance.now() < until); i++) {
    const t0 = performance.now()
    const r = await c.send({ method: 'GET', path }).catch((e: Error) => ({ status: 0, body: e.message }))
    if (i >= 0) ms.push(performance.now() - t0)
    status = r.status
    if (!status) return { p50: NaN, p95: NaN, n: ms.length, status } // no answer in 60 s
  }
  ms.sort((a, b) => a - b)
  return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), n: ms.length, status }
}

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))

async function measure(label: string, bin: string | undefined): Promise<Figures> {
  const dir = join(BASE, '..', `work-${label}`)
  execFileSync('rm', ['-rf', dir])
  log(`${label}: copying ${BASE} (load ${la()})`)
  execFileSync('cp', ['-a', BASE, dir])
  // Ready once /healthz answers (the goal: a warm start < 2 s to the first /healthz 200).
  const spec: NodeSpec = { ...COUNTY, dataDir: dir, startArgs: ['--parent', 'http://127.0.0.1:9'], readyPath: '/healthz', ...(bin ? { bin } : {}) }
  const out: Figures = {}
  const procs: BenchProc[] = []
  try {
    // First start: the older code has no migration to run; this checkout's applies 015 (the rollup's backfill) once.
    let p = await startProc(spec, 30 * 60_000)
    procs.push(p)
    out['first start on the filled store (migrations)'] = `${(p.startMs / 1000).toFixed(1)} s`
    // An upgraded node runs on after its first start: its one-time passes (a migration's
    // backfill, the first statistics and supervision passes) finish before the next stop.
    const settle = await quietCpu(p.pid, 5 * 60_000)
    out['work after the first start, until idle'] = `${settle.cpuS.toFixed(1)} s of CPU over ${(settle.waitedMs / 1000).toFixed(0)} s${settle.quiet ? '' : ' (not idle yet)'}`
    log(`${label}: first start ${out['first start on the filled store (migrations)']}, then ${out['work after the first start, until idle']} (load ${la()})`)
    await stopProc(procs.pop()!)
    await userAdd(dir, USER.name, 'staff', USER.password, bin)
    if (STATS_ONLY) {
      p = await startProc(spec, 10 * 60_000)
      procs.push(p)
      await quietCpu(p.pid, 5 * 60_000)
      Object.assign(out, await statsMatrix(p.url, label))
      await stopProc(procs.pop()!)
      return out
    }
    const warm: number[] = []
    const ready: number[] = []
    for (let i = 0; i < 3; i++) {
      p = await startProc(spec, 10 * 60_000)
      warm.push(p.startMs)
      ready.push(p.readyMs)
      if (i < 2) await stopProc(p)
    }
    procs.push(p)
    // What a warm start still does after it answers (O(what changed since the stop) is the goal), then measured idle.
    const after = await quietCpu(p.pid, 5 * 60_000)
    out['work after the warm start, until idle'] = `${after.cpuS.toFixed(1)} s of CPU over ${(after.waitedMs / 1000).toFixed(0)} s${after.quiet ? '' : ' (not idle yet)'}`
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]
    out['warm start (median of 3)'] = `${(med(warm) / 1000).toFixed(2)} s (${warm.map((x) => (x / 1000).toFixed(2)).join(', ')})`
    out['warm start to the first /healthz 200 (median of 3)'] = `${(med(ready) / 1000).toFixed(2)} s (${ready.map((x) => (x / 1000).toFixed(2)).join(', ')})`
    const settled = await settledMem(p.pid)
    out['RSS settled after the warm start'] = `${settled.rss.toFixed(0)} MB`
    const c = new Client(p.url, 4)
    await c.login(USER.name, USER.password)
    const pgBytes = Number(execFileSync('du', ['-sb', join(dir, 'pgdata')]).toString().split('\t')[0])
    const year = { from: new Date(Date.now() - 366 * 86_400_000).toISOString().slice(0, 10), to: new Date().toISOString().slice(0, 10) }
    const month = { from: `${year.to.slice(0, 7)}-01`, to: year.to }
    const township = countyUnits()[1].code
    const deep = await c.json<{ cases: { id: string; createdAt: string }[] }>({ method: 'GET', path: '/api/cases?limit=1&offset=200000' })
    const cursor = deep.cases.length ? encodeURIComponent(`${deep.cases[0].createdAt}~${deep.cases[0].id}`) : ''
    const routes: [string, string][] = [
      ['GET /healthz', '/healthz'],
      ['GET /api/sync', '/api/sync'],
      ['GET /api/cases?limit=200', '/api/cases?limit=200'],
      ['GET /api/cases?limit=200&offset=200000', '/api/cases?limit=200&offset=200000'],
      ['GET /api/cases?limit=200&cursor=(case 200,000)', `/api/cases?limit=200&cursor=${cursor}`],
      ['GET /api/cases?status=delivered&limit=200', '/api/cases?status=delivered&limit=200'],
      ['GET /api/cases?status=submitted,accepted&limit=1000 (dashboard, queue)', '/api/cases?status=submitted,accepted&limit=1000'],
      ['GET /api/stats, the year by item', `/api/stats?from=${year.from}&to=${year.to}&groupBy=item`],
      ['GET /api/stats, the year by item, 办理地', `/api/stats?from=${year.from}&to=${year.to}&groupBy=item&by=handler`],
      ['GET /api/stats, the year by day, 办理地', `/api/stats?from=${year.from}&to=${year.to}&groupBy=day&by=handler`],
      ['GET /api/stats, the year by unit, 办理地', `/api/stats?from=${year.from}&to=${year.to}&groupBy=child&by=handler`],
      ['GET /api/stats, this month by item, 办理地', `/api/stats?from=${month.from}&to=${month.to}&groupBy=item&by=handler`],
      ['GET /api/stats, all time by item, 办理地', '/api/stats?groupBy=item&by=handler'],
      [`GET /api/stats, the year, drill-down to a township`, `/api/stats?from=${year.from}&to=${year.to}&groupBy=item&under=${township}`],
    ]
    const { peakRss } = await sampleMemDuring(p.pid, async () => {
      for (const [name, path] of routes) {
        const r = await timeRoute(c, path)
        out[name] = r.status === 200 ? `p50 ${f(r.p50)} ms, p95 ${f(r.p95)} ms (${r.n})` : r.status ? `HTTP ${r.status}` : 'no answer in 60 s'
        log(`${label}: ${name}: ${out[name]} (load ${la()})`)
      }
    })
    out['RSS peak while serving these reads'] = `${peakRss.toFixed(0)} MB (after: ${readMem(p.pid).rss.toFixed(0)} MB)`
    c.close()
    await stopProc(procs.pop()!)
    const total = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
    out['data dir (du -sb)'] = `${(total / 1e9).toFixed(2)} GB (pgdata ${(pgBytes / 1e9).toFixed(2)} GB before the reads)`
    out[`bytes per case (data dir / ${CASES})`] = `${(total / CASES).toFixed(0)} B`
  } finally {
    for (const p of procs) await stopProc(p).catch(() => {})
    execFileSync('rm', ['-rf', dir])
  }
  return out
}

/**
 * The dashboard's every request at the county: ranges (the data runs over the 365 days before
 * the fill's day) × groupBy × both dimensions × the county, a township and a village.
 */
async function statsMatrix(url: string, label: string): Promise<Figures> {
  const c = new Client(url, 4)
  await c.login(USER.name, USER.password)
  const day = (n: number) => new Date(Date.now() + 8 * 3600_000 - n * 86_400_000).toISOString().slice(0, 10)
  const today = day(0)
  const prev = (m: string, n: number) => { const [y, mm] = m.split('-').map(Number); const t = y * 12 + mm - 1 - n; return `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}` }
  const lastMonth = prev(today.slice(0, 7), 1) // the last whole month of data
  const mEnd = (m: string) => new Date(Date.UTC(Number(m.slice(0, 4)), Number(m.slice(5, 7)), 0)).toISOString().slice(0, 10)
  const ranges: Record<string, [string, string]> = {
    'one day': [`${lastMonth}-16`, `${lastMonth}-16`],
    'a month': [`${lastMonth}-01`, mEnd(lastMonth)],
    'a quarter': [`${prev(lastMonth, 2)}-01`, mEnd(lastMonth)],
    'the year (12 whole months)': [`${prev(lastMonth, 11)}-01`, mEnd(lastMonth)],
    'this year (dashboard)': [`${today.slice(0, 4)}-01-01`, today],
    'last 30 days (dashboard)': [day(29), today],
    'mid-month span': [`${prev(lastMonth, 9)}-10`, `${lastMonth}-20`],
    'across years': [`${Number(today.slice(0, 4)) - 1}-12-20`, `${today.slice(0, 4)}-01-10`],
    'all time': ['', ''],
  }
  const [county, township, village] = [COUNTY.code, countyUnits()[1].code, countyUnits()[2].code]
  const out: Figures = {}
  for (const [rname, [from, to]] of Object.entries(ranges)) {
    for (const [lname, under] of [['county', undefined], ['township', township], ['village', village]] as const) {
      for (const groupBy of ['item', 'day', 'child']) {
        const ms: number[] = []
        let bytes = 0
        for (const by of ['origin', 'handler']) {
          const q = new URLSearchParams({ ...(from ? { from, to } : {}), groupBy, by, ...(under ? { under } : {}) })
          for (let i = -1; i < N; i++) {
            const t0 = performance.now()
            const r = await c.send({ method: 'GET', path: `/api/stats?${q}` })
            if (r.status !== 200) throw new Error(`${label}: /api/stats?${q}: HTTP ${r.status}`)
            if (i >= 0) ms.push(performance.now() - t0)
            bytes = Math.max(bytes, Buffer.byteLength(r.body))
          }
        }
        ms.sort((a, b) => a - b)
        const k = `GET /api/stats ${rname} (${from || '…'}–${to || '…'}) by ${groupBy}, under the ${lname}${lname === 'county' ? '' : ` (${county.slice(0, 6)}…)`}`
        out[k] = `p50 ${f(quantile(ms, 0.5))} ms, p95 ${f(quantile(ms, 0.95))} ms (${ms.length}), ${(bytes / 1000).toFixed(1)} kB`
        log(`${label}: ${k}: ${out[k]} (load ${la()})`)
      }
    }
  }
  c.close()
  return out
}

log(`start, load ${la()}, ${cpus().length} CPUs, base ${BASE}`)
const loadStart = la()
const old = OLD ? await measure('before', join(OLD, 'bin/tongban.mjs')) : null
const now = await measure('after', undefined)
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
console.log(`\nLoad average (1/5/15 min) at the start ${loadStart}, at the end ${la()}. Code: ${commit}${OLD ? ` (before: ${OLD})` : ''}.\n`)
console.log(old ? '| measure | before | after |\n|---|---|---|' : '| measure | figure |\n|---|---|')
for (const k of Object.keys(now)) console.log(old ? `| ${k} | ${old[k] ?? '—'} | ${now[k]} |` : `| ${k} | ${now[k]} |`)
