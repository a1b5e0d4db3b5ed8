/**
 * Dashboard reads with one and with two city processes on one PostgreSQL (issue 11, goal 4):
 * the same database of cases, the same closed-loop load of `GET /api/stats` and
 * `GET /api/cases?limit=50` split across the processes as a load balancer would, one run.
 *
 *   node --import tsx bench/city-processes.ts            (BENCH_CASES=2000 BENCH_REQUESTS=2000)
 *   BENCH_CPU_PER_PROCESS=0.4 node --import tsx bench/city-processes.ts
 *
 * Prints req/s and p50/p95 for each, the load average before and after, and the CPU each part
 * used during each read load: on a 2-core machine PostgreSQL and the load generator share the
 * cores with the node processes, so a second process only splits the same CPU. With
 * BENCH_CPU_PER_PROCESS (root, Linux cgroups) each city process gets that many CPUs of its own
 * quota — as each would have its own machine behind a load balancer — and what is left of the
 * machine serves PostgreSQL and the load.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres } from '../test/helpers/postgres.ts'
import { residentIdCheck } from '../protocol/people.ts'
import { Client, load, quantile, type LoadResult } from './lib/http-load.ts'
import { cpuSecondsOfTree, limitCpu } from './lib/cpu-limit.ts'
import { cpuSeconds, startProc, stopProc, type BenchProc } from './lib/node-proc.ts'

const CASES = Number(process.env.BENCH_CASES ?? 2000)
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000)
const CONCURRENCY = 8
const CPU_PER_PROCESS = process.env.BENCH_CPU_PER_PROCESS ? Number(process.env.BENCH_CPU_PER_PROCESS) : null
const CITY = '511300000000'
const PASSWORD = 'password10'
const ITEM = { itemCode: 'S-004', materials: ['项目备案信息表', '项目单位营业执照', '项目符合产业政策的声明'] }

const applicant = (i: number) => {
  const first17 = `5113001990010${String(i % 10_000).padStart(4, '0')}`
  return { name: `申请人${i}`, idType: 'resident-id', idNumber: first17 + residentIdCheck(first17), phone: `139${String(i).padStart(8, '0')}` }
}

/** Requests over `clients` in turn, as a round-robin balancer would send them. */
async function readLoad(clients: Client[]): Promise<LoadResult> {
  const parts = await Promise.all(clients.map((c, k) => load(c, {
    n: Math.ceil(REQUESTS / clients.length), concurrency: CONCURRENCY / clients.length, deadlineMs: 300_000, expect: 200,
    make: (i) => ({ method: 'GET', path: (i + k) % 2 ? '/api/stats?groupBy=item' : '/api/cases?limit=50' }),
  })))
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b)
  const seconds = Math.max(...parts.map((p) => p.seconds))
  const errors = parts.reduce((a, p) => a + p.errors, 0)
  return { requests: latencies.length, errors, firstError: parts.find((p) => p.firstError)?.firstError, seconds, perSecond: (latencies.length - errors) / seconds, latencies, truncatedByDeadline: parts.some((p) => p.truncatedByDeadline) }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-bench-city-'))
  const pg = await startPostgres()
  const procs: BenchProc[] = []
  const unlimit: (() => void)[] = []
  try {
    const url = await pg.createDatabase('bench_city')
    const start = (name: string) => startProc({ level: 'city', code: CITY, name: '南充市', dataDir: join(dir, name), catalogue: 'sample', startArgs: ['--database-url', url] })
    const a = await start('a')
    procs.push(a)
    // The user lives in the shared database: added through A's data dir while A runs.
    const r = spawnSync(process.execPath, ['bin/tongban.mjs', 'user', 'add', '--data', join(dir, 'a'), '--database-url', url, '--name', 'staff', '--role', 'staff', '--password', PASSWORD], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`user add: ${r.stderr}`)
    const ca = new Client(a.url)
    await ca.login('staff', PASSWORD)
    const t0 = performance.now()
    const made = await load(ca, { n: CASES, concurrency: 4, deadlineMs: 600_000, expect: 201, make: (i) => ({ method: 'POST', path: '/api/cases', body: { ...ITEM, applicant: applicant(i) } }) })
    console.log(`filled ${made.requests - made.errors} cases through A in ${((performance.now() - t0) / 1000).toFixed(1)} s${made.errors ? ` (${made.errors} errors: ${made.firstError})` : ''}`)
    const b = await start('b')
    procs.push(b)
    if (CPU_PER_PROCESS) for (const p of [a, b]) unlimit.push(limitCpu(p.pid, CPU_PER_PROCESS))
    const cb = new Client(b.url)
    await cb.login('staff', PASSWORD)
    await readLoad([ca]) // warm both: caches, the prepared plans of PostgreSQL
    await readLoad([cb])
    const before = loadavg()[0]
    /** The load, with the CPU seconds each part used meanwhile. */
    const measured = async (clients: Client[]) => {
      const c0 = [cpuSeconds(a.pid), cpuSeconds(b.pid), cpuSecondsOfTree(pg.pid()), process.cpuUsage()] as const
      const r = await readLoad(clients)
      const self = process.cpuUsage(c0[3])
      const cpu = { a: cpuSeconds(a.pid) - c0[0], b: cpuSeconds(b.pid) - c0[1], pg: cpuSecondsOfTree(pg.pid()) - c0[2], load: (self.user + self.system) / 1e6 }
      return { r, cpu }
    }
    const one = await measured([ca])
    const two = await measured([ca, cb])
    const after = loadavg()[0]
    const line = (what: string, x: LoadResult) => `${what}: ${x.perSecond.toFixed(0)} req/s, p50 ${quantile(x.latencies, 0.5).toFixed(1)} ms, p95 ${quantile(x.latencies, 0.95).toFixed(1)} ms (${x.requests} requests, ${x.errors} errors${x.firstError ? `: ${x.firstError}` : ''})`
    console.log(`GET /api/stats?groupBy=item and /api/cases?limit=50 alternately, ${CONCURRENCY} in flight, ${CASES} cases in the store`)
    if (CPU_PER_PROCESS) console.log(`each city process limited to ${CPU_PER_PROCESS} CPU (cgroup quota)`)
    const cpuLine = (x: typeof one) => `  CPU used per second of the load: A ${(x.cpu.a / x.r.seconds).toFixed(2)}, B ${(x.cpu.b / x.r.seconds).toFixed(2)}, PostgreSQL ${(x.cpu.pg / x.r.seconds).toFixed(2)}, the load generator ${(x.cpu.load / x.r.seconds).toFixed(2)}`
    console.log(line('one process ', one.r))
    console.log(cpuLine(one))
    console.log(line('two processes', two.r))
    console.log(cpuLine(two))
    console.log(`ratio two/one: ${(two.r.perSecond / one.r.perSecond).toFixed(2)}; load average ${before.toFixed(1)} before, ${after.toFixed(1)} after`)
    ca.close()
    cb.close()
  } finally {
    for (const p of procs) await stopProc(p).catch(() => {})
    for (const u of unlimit) u()
    await pg.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
