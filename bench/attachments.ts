/**
 * 附件 on the poor line (issue 10, part 1): N cases, each with one scan of 200 KB (random bytes:
 * a JPEG does not compress), taken in offline at a village behind 100 kbit/s, 600 ms RTT, 2% loss
 * and a cut every 20 s; then the line comes up. Measures when every case's application is at the
 * township against when the first scan is whole there (cases first), when all scans are whole,
 * the bytes up against the scans' and cases' size, and the time against the floor (those bytes ÷
 * the rate). Run: node --import tsx bench/attachments.ts  (BENCH_N=50, BENCH_KB=200)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopNode, type TreeNode } from '../nodes/core/cli/tree.ts'
import { startLinkEmulator, type LinkEmulator } from '../test/tools/link-emulator.ts'
import { eventually, login } from '../test/helpers/remote.ts'
import { benchNode, BENCH_PASSWORD } from './lib/tree-procs.ts'
import { intakeBody } from './lib/cases.ts'

const RATE = 100_000
const RTT = 600
const LOSS = 0.02
const CUT_EVERY_MS = 20_000
const N = Number(process.env.BENCH_N ?? 50)
const SIZE = Number(process.env.BENCH_KB ?? 200) * 1024
const VILLAGE = '511302101201'

async function run() {
  const root = mkdtempSync(join(tmpdir(), 'tongban-bench-attach-'))
  const procs: TreeNode[] = []
  let line: LinkEmulator | null = null
  try {
    const town = await benchNode(root, 'township', '511302101000', undefined, { catalogue: 'sample' })
    procs.push(town)
    line = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: RATE, rttMs: RTT, lossRate: LOSS, seed: N, cutEveryMs: CUT_EVERY_MS })
    const village = await benchNode(root, 'village', VILLAGE, { node: town, url: line.url() })
    procs.push(village)
    const agent = await login(village.url, 'agent', BENCH_PASSWORD)
    const staff = await login(town.url, 'staff', BENCH_PASSWORD)
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items.some((i: any) => i.level === 'township'), 300_000, 'catalogue at the village', 250)
    await new Promise((r) => setTimeout(r, 2_000)) // statistics and catalogue traffic settle
    line.setDown(true)
    const token = ((await (await fetch(`${village.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'agent', password: BENCH_PASSWORD }) })).json()) as { token: string }).token
    let caseJson = 0
    for (let i = 0; i < N; i++) {
      const r = await agent('POST', '/api/cases', intakeBody(i))
      if (r.status !== 201) throw new Error(`intake failed: ${JSON.stringify(r.body)}`)
      const file = new Uint8Array(randomBytes(SIZE))
      file.set([0xff, 0xd8, 0xff, 0xe0])
      const up = await fetch(`${village.url}/api/cases/${r.body.id}/attachments?name=scan${i}.jpg`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: file })
      if (up.status !== 201) throw new Error(`upload failed: ${up.status} ${await up.text()}`)
      caseJson += Buffer.byteLength(JSON.stringify((await agent('GET', `/api/cases/${r.body.id}`)).body))
    }
    await new Promise((r) => setTimeout(r, 1_000))
    const s0 = line.stats()
    const t0 = performance.now()
    line.setDown(false)
    let casesAt = 0
    let firstFileAt = 0
    let allFilesAt = 0
    const files = async () => ((await staff('GET', '/api/sync')).body.children.find((c: any) => c.peer === VILLAGE)?.attachments.filesReceived ?? 0) as number
    await eventually(async () => {
      const now = (performance.now() - t0) / 1000
      if (!casesAt && (await staff('GET', '/api/cases?limit=1')).body.total >= N) casesAt = now
      const f = await files()
      if (f >= 1 && !firstFileAt) firstFileAt = now
      if (f >= N) allFilesAt = now
      return allFilesAt > 0
    }, 3_600_000, `${N} scans at the township`, 500)
    const s1 = line.stats()
    const payload = N * SIZE + caseJson
    return { n: N, size: SIZE, caseJson, casesAt, firstFileAt, allFilesAt, up: s1.bytesUp - s0.bytesUp, down: s1.bytesDown - s0.bytesDown, cuts: s1.cuts - s0.cuts, floor: (payload * 8) / RATE, payload }
  } finally {
    for (const p of procs.reverse()) await stopNode(p)
    await line?.close()
    rmSync(root, { recursive: true, force: true })
  }
}

const r = await run()
console.log(JSON.stringify(r))
console.log('\n| N × scan | cases at township (s) | first scan whole (s) | all scans (s) | floor (s) | time/floor | bytes up | up / (scans + cases) | bytes down | cuts |')
console.log('|---|---|---|---|---|---|---|---|---|---|')
console.log(`| ${r.n} × ${r.size / 1024} KB | ${r.casesAt.toFixed(1)} | ${r.firstFileAt.toFixed(1)} | ${r.allFilesAt.toFixed(1)} | ${r.floor.toFixed(1)} | ${(r.allFilesAt / r.floor).toFixed(2)} | ${(r.up / 1024).toFixed(0)} KB | ${(r.up / r.payload).toFixed(3)} | ${(r.down / 1024).toFixed(0)} KB | ${r.cuts} |`)
