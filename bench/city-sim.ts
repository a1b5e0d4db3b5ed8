/**
 * The city of 3,131 units with 12 months of statistics (issue 11 goal 2), and its dashboard.
 *
 * A real city node process (PGlite, TLS) is filled by its four counties, played from this one
 * process over the real link: each county's key enrolled with a one-time token, the challenge
 * answered, frames of Yjs updates sent and acknowledged — what a county node sends its city.
 * Below each county are its 44 townships and ~740 villages: their figures (bench/lib/
 * city-sim-data.ts: ~1.1 million cases a year) are rolled up with the protocol's buildRollup
 * as the nodes do, so what reaches the city is each county's rollup of its subtree per month and
 * dimension, and its own raw statistics (for parents older than rollups).
 *
 * Then every dashboard request is timed at the city: GET /api/stats for a day, a month, a
 * quarter and the year; groupBy item, day and child; by origin and handler; under the city, a
 * county, a township and a village — and the dashboard page's own four requests at once.
 * Reported: p50/p95 per request kind, the rows and bytes the city holds for them, its RSS and
 * data dir, and how long the fill took. Also what the city would hold if every unit's raw
 * statistics went to every ancestor (the design before rollups), counted from the same figures.
 *
 * Run: npx tsx bench/city-sim.ts   (env: SIM_REPEAT=20 per request, SIM_YEAR=2026, SIM_DIR)
 * Before/after on one filled city: SIM_KEEP=1 SIM_DIR=D fills D once; then
 * `SIM_MEASURE_ONLY=1 SIM_DIR=<a copy of D> [BENCH_ROOT=<an older checkout>] npx tsx bench/city-sim.ts`
 * times the dashboard with this checkout's node, or that checkout's (`git archive <commit> | tar
 * -x -C DIR` with a node_modules link). Reported per kind: p50/p95 and the answer's bytes.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { decodeFrame, encodeFrame, encodeMessage, encodeUpdatesBody, type LinkFrame } from '../protocol/index.ts'
import { compress } from '../nodes/core/link/compress.ts'
import { rollupDocId } from '../protocol/stats-rollup.ts'
import { enrollChild } from '../nodes/core/link/enrollment.ts'
import { statsDocId, writeCounts, writeItemNames, writeName } from '../nodes/core/stats/stats-doc.ts'
import { spawnNode, startTree, stopTree, type TreeNode } from '../nodes/core/cli/tree.ts'
import { childHello, enroll, identity, proofHeaders, type Identity } from '../test/helpers/link-client.ts'
import { login, type Remote } from '../test/helpers/remote.ts'
import { trustNode } from '../test/helpers/tls.ts'
import { CITY, COUNTIES, cityUnits, countyMonth, itemName, monthsOf, type Unit } from './lib/city-sim-data.ts'
import { readMem } from './lib/node-proc.ts'

const REPEAT = Number(process.env.SIM_REPEAT ?? 20)
/** Only time the dashboard, on a city a previous run filled and kept (SIM_DIR, SIM_KEEP=1). */
const MEASURE_ONLY = !!process.env.SIM_MEASURE_ONLY
const YEAR = Number(process.env.SIM_YEAR ?? 2026)
/** Another checkout whose node serves the timing (measure-only runs: its store exists already). */
const OTHER_BIN = process.env.BENCH_ROOT ? join(process.env.BENCH_ROOT, 'bin/tongban.mjs') : undefined
const dir = process.env.SIM_DIR ?? mkdtempSync('/tmp/p4-rollup-sim-')
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a)

interface CountyLink { who: Identity; ws: WebSocket; seq: number; acked: number; streams: number; closed?: string }

/** A county on its link to the city: enrolled, challenged, hello sent; acks counted. */
async function connect(city: TreeNode, who: Identity, ca: string): Promise<CountyLink> {
  const token = enrollChild(city.dataDir, CITY, who.code)
  const r = await enroll(city.url, who, token)
  if (r.status !== 200) throw new Error(`enrollment of ${who.code} refused: ${r.status} ${JSON.stringify(r.body)}`)
  const headers = await proofHeaders(city.url, CITY, who)
  const ws = new WebSocket(city.url.replace(/^http/, 'ws') + '/link', { headers, ca })
  const link: CountyLink = { who, ws, seq: 0, acked: 0, streams: 0 }
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_q, res) => reject(new Error(`link of ${who.code} refused: ${res.statusCode}`)))
    ws.once('error', reject)
  })
  ws.on('message', (d: Buffer) => {
    let f: LinkFrame
    try {
      f = decodeFrame(new Uint8Array(d))
    } catch {
      return // a chunk of a larger message (the city's catalogue going down): not needed here
    }
    if (f.type === 'ack') link.acked = Math.max(link.acked, f.seq)
  })
  // A node closes a link it has heard nothing on for 60 s: keep it alive, as a county's node does.
  const keepalive = setInterval(() => ws.send(encode({ type: 'ping', time: Date.now() })), 10_000)
  ws.on('close', (code, reason) => {
    clearInterval(keepalive)
    link.closed = `${code} ${reason}`
    if (code !== 1000) log(`link of ${who.code} closed ${code} ${reason}`)
  })
  ws.send(encode(childHello(who.code, 1_000_000)))
  return link
}

const encode = (f: LinkFrame) => encodeFrame(f)

function docUpdate(write: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  doc.transact(() => write(doc))
  return Y.encodeStateAsUpdate(doc)
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}

/** Bytes of the last answer of each path (its JSON as sent). */
const answerBytes = new Map<string, number>()

async function timed(remote: Remote, path: string): Promise<number> {
  const t0 = performance.now()
  const r = await remote('GET', path)
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`)
  const ms = performance.now() - t0
  answerBytes.set(path, Buffer.byteLength(JSON.stringify(r.body)))
  return ms
}

async function main(): Promise<void> {
  const loadBefore = load()
  log(`dir ${dir}, load ${loadBefore}`)
  const units = cityUnits()
  const names = new Map(units.map((u) => [u.code, u.name]))
  // Every county's documents of the year, made before the city starts (the fill times the link and the city only).
  const planned: { month: string; county: string; docId: string; update: Uint8Array }[] = []
  let rollupKeys = 0
  let rawRowsOld = 0
  let cases = 0
  let expectedAccepted = 0
  const g0 = performance.now()
  for (const month of MEASURE_ONLY ? [] : monthsOf(YEAR)) {
    for (const c of COUNTIES) {
      const cm = countyMonth(units, c, month)
      cases += cm.cases
      for (const dim of ['origin', 'handler'] as const) {
        // What the old design sent the city: every unit's own rows, from every unit below.
        for (const m of cm.own[dim].values()) rawRowsOld += m.size
        const rollup = cm.rollup[dim]
        rollupKeys += rollup.size
        if (dim === 'origin') expectedAccepted += [...rollup.entries()].filter(([k]) => k.startsWith('u|') && k.endsWith(c)).reduce((s, [, v]) => s + v.accepted, 0)
        const unitsIn = new Set<string>()
        const items = new Set<string>()
        for (const k of rollup.keys()) (k[0] === 'i' ? items : unitsIn).add(k.slice(13))
        planned.push({ month, county: c, docId: rollupDocId(c, month, dim), update: docUpdate((doc) => {
          writeCounts(doc, rollup)
          writeName(doc, names.get(c)!)
          writeItemNames(doc, new Map([...items].map((i) => [i, itemName(i)])))
          writeItemNames(doc, new Map([...unitsIn].map((u) => [u, names.get(u)!])), 'names')
        }) })
        planned.push({ month, county: c, docId: statsDocId(c, month, dim), update: docUpdate((doc) => {
          writeCounts(doc, cm.own[dim].get(c) ?? new Map())
          writeName(doc, names.get(c)!)
        }) })
      }
    }
  }
  const genMs = performance.now() - g0
  log(`generated ${cases} cases' statistics in ${(genMs / 1000).toFixed(1)} s: ${planned.length} documents`)
  let nodes: TreeNode[] = []
  try {
    nodes = MEASURE_ONLY
      ? [await spawnNode({ level: 'city', code: CITY, name: '模拟市', dataDir: join(dir, `city-${CITY}`), port: 0, catalogue: 'sample', bin: OTHER_BIN }, 30 * 60_000)]
      : await startTree(dir, [{ level: 'city', code: CITY, name: '模拟市' }])
    log(`city up (${OTHER_BIN ?? 'this checkout'}), load ${load()}`)
    const city = nodes[0]
    trustNode(city)
    const ca = readFileSync(join(city.dataDir, 'tls', 'cert.pem'), 'utf8')
    const counties = new Map<string, CountyLink>()
    if (!MEASURE_ONLY) {
      for (const c of COUNTIES) counties.set(c, await connect(city, identity(c, names.get(c)), ca))
      log('4 counties enrolled and linked over TLS')
    }

    // Fill: month by month, each county's rollups (both dimensions) and its own raw documents.
    const t0 = performance.now()
    let bytes = 0
    let docs = 0
    for (const month of MEASURE_ONLY ? [] : monthsOf(YEAR)) {
      for (const p of planned.filter((x) => x.month === month)) {
        const link = counties.get(p.county)!
        const frame: LinkFrame = { type: 'updates', compressed: true, body: compress(encodeUpdatesBody([{ seq: ++link.seq, docId: p.docId, update: p.update }])) }
        for (const piece of encodeMessage(frame, ++link.streams)) link.ws.send(piece)
        bytes += p.update.length
        docs++
        // One document in flight: a link's frames are handled in order, so a ping queued behind
        // minutes of updates would not be heard, and the city closes a link silent for 60 s.
        await waitFor(`the city's ack of ${p.docId}`, () => {
          if (link.closed) throw new Error(`the link of ${link.who.code} closed: ${link.closed}`)
          return link.acked >= link.seq
        }, 600_000)
      }
      // One month in flight at a time: the city acknowledges what it stored.
      await waitFor(`the city's acks of ${month}`, () => {
        const closed = [...counties.values()].find((l) => l.closed)
        if (closed) throw new Error(`the link of ${closed.who.code} closed: ${closed.closed}`)
        return [...counties.values()].every((l) => l.acked >= l.seq)
      }, 900_000)
      log(`${month} stored at the city (${docs} documents, ${(bytes / 1e6).toFixed(1)} MB so far, load ${load()})`)
    }
    const staff = await login(city.url, 'staff')
    if (!MEASURE_ONLY) await waitFor('the year in the city\'s figures', async () => (await staff('GET', '/api/stats?groupBy=child')).body.totals.accepted === expectedAccepted, 600_000)
    const fillMs = performance.now() - t0
    log(`filled in ${(fillMs / 1000).toFixed(1)} s; ${cases} cases, accepted ${expectedAccepted}`)

    // The dashboard's requests.
    const county = COUNTIES[1]
    const township = units.find((u: Unit) => u.level === 'township' && u.parent === county)!.code
    const village = units.find((u: Unit) => u.level === 'village' && u.parent === township)!.code
    const ranges: Record<string, [string, string]> = {
      day: [`${YEAR}-03-16`, `${YEAR}-03-16`],
      month: [`${YEAR}-03-01`, `${YEAR}-03-31`],
      quarter: [`${YEAR}-04-01`, `${YEAR}-06-30`],
      year: [`${YEAR}-01-01`, `${YEAR}-12-31`],
      'mid-month span': [`${YEAR}-02-10`, `${YEAR}-11-20`],
      'across years': [`${YEAR - 1}-12-20`, `${YEAR}-01-10`],
      'all time': ['', ''],
    }
    const unders: Record<string, string | undefined> = { city: undefined, county, township, village }
    const results: { kind: string; p50: number; p95: number; n: number; bytes: number }[] = []
    const all: number[] = []
    for (const [rname, [from, to]] of Object.entries(ranges)) {
      for (const [uname, under] of Object.entries(unders)) {
        for (const groupBy of ['item', 'day', 'child']) {
          const ts: number[] = []
          let bytes = 0
          for (const by of ['origin', 'handler']) {
            const q = new URLSearchParams({ ...(from ? { from, to } : {}), groupBy, by, ...(under ? { under } : {}) })
            await timed(staff, `/api/stats?${q}`) // one warm-up
            for (let i = 0; i < REPEAT; i++) ts.push(await timed(staff, `/api/stats?${q}`))
            bytes = Math.max(bytes, answerBytes.get(`/api/stats?${q}`) ?? 0)
          }
          all.push(...ts)
          results.push({ kind: `${rname} ${groupBy} under=${uname}`, p50: pct(ts, 50), p95: pct(ts, 95), n: ts.length, bytes })
          log(`${rname} ${groupBy} under=${uname}: p95 ${pct(ts, 95).toFixed(1)} ms, ${bytes} B (load ${load()})`)
        }
      }
    }
    // The dashboard page: its four requests at once (a year, the city; then a county).
    const page: number[] = []
    for (const under of [undefined, county, township]) {
      for (let i = 0; i < REPEAT; i++) {
        const base = { from: `${YEAR}-01-01`, to: `${YEAR}-12-31`, by: 'origin', ...(under ? { under } : {}) }
        const t = performance.now()
        await Promise.all([
          ...['child', 'item', 'day'].map((groupBy) => timed(staff, `/api/stats?${new URLSearchParams({ ...base, groupBy })}`)),
          timed(staff, '/api/cases?status=submitted,accepted&limit=1000'),
        ])
        page.push(performance.now() - t)
      }
    }
    const mem = readMem(city.proc!.pid!)
    const du = execFileSync('du', ['-sb', city.dataDir]).toString().split('\t')[0]
    const loadAfter = load()
    console.log('\n| request (both dimensions) | n | p50 ms | p95 ms | bytes (the larger of the two) |\n|---|---|---|---|---|')
    for (const r of results) console.log(`| ${r.kind} | ${r.n} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.bytes} |`)
    console.log(`| every GET /api/stats above | ${all.length} | ${pct(all, 50).toFixed(1)} | ${pct(all, 95).toFixed(1)} |`)
    console.log(`| dashboard page (4 requests at once: year; city, county, township) | ${page.length} | ${pct(page, 50).toFixed(1)} | ${pct(page, 95).toFixed(1)} |`)
    console.log(JSON.stringify({
      units: units.length + 1, cases, fillSeconds: +(fillMs / 1000).toFixed(1), generateSeconds: +(genMs / 1000).toFixed(1),
      documents: docs, updateBytes: bytes, rollupKeys, rawRowsOldDesign: rawRowsOld,
      cityRssMB: Math.round(mem.rss), cityPeakRssMB: Math.round(mem.hwm), cityDataDirMB: Math.round(Number(du) / 1e6),
      worstP95: Math.max(...results.map((r) => r.p95)), loadBefore, loadAfter,
    }, null, 2))
    for (const l of counties.values()) l.ws.close(1000)
  } finally {
    await stopTree(nodes)
    if (!process.env.SIM_DIR && !process.env.SIM_KEEP) rmSync(dir, { recursive: true, force: true })
  }
}

await main()
process.exit(0)
