/**
 * A village behind a poor link (100 kbit/s, 600 ms RTT, 2% loss, emulated) takes in county
 * cases offline, then connects: all reach the county. Cuts during the transfer slow it but
 * never restart it from zero: what was acknowledged stays acknowledged, and the bytes sent stay
 * within one window per cut of a clean run. Then a township is killed (-9) mid-transfer:
 * after its restart nothing is lost and nothing is applied twice.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnNode, stopNode, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { trustNode } from '../helpers/tls.ts'
import { WINDOW_BYTES } from '../../nodes/core/link/session.ts'
import { startLinkEmulator, type LinkEmulator } from '../tools/link-emulator.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { writeFileSync } from 'node:fs'
import { residentIdCheck } from '../../protocol/people.ts'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)

const tmp = tempDir('tongban-poor-')
const N = Number(process.env.TONGBAN_POOR_N ?? 1000)
let county: TreeNode, town: TreeNode, village: TreeNode
let upLink: LinkEmulator, townLink: LinkEmulator
let agent: Remote, countyStaff: Remote, items: any[]

async function node(level: 'county' | 'township' | 'village', code: string, parent?: { node: TreeNode; via: LinkEmulator }, port = 0) {
  const dataDir = join(tmp.dir, code)
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([{ name: level === 'village' ? 'agent' : 'staff', role: level === 'village' ? 'agent' : 'staff', password: 'password1' }]))
  const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
  // TLS passes through the emulator (a TCP proxy): the child pins its parent's certificate.
  const n = await spawnNode({ level, code, name: code, dataDir, port, parentUrl: parent?.via.url().replace(/^http:/, 'https:'), token, catalogue: level === 'county' ? 'sample' : undefined })
  trustNode(dataDir)
  return n
}

async function intake(n: number, tag: string): Promise<string[]> {
  const item = items.find((i) => i.level === 'county' && i.kind === 'promised')
  const materials = item.materials.filter((m: any) => m.required).map((m: any) => m.name)
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await agent('POST', '/api/cases', {
      itemCode: item.code, materials,
      applicant: { name: `${tag}申请人${i}`, idType: 'resident-id', idNumber: withCheck(`5113021990010${String(i).padStart(4, '0')}`), phone: `139${String(i).padStart(8, '0')}` },
    })
    expect(r.status).toBe(201)
    ids.push(r.body.id)
  }
  return ids
}

const countAtCounty = async (prefix: string) =>
  ((await countyStaff('GET', `/api/cases?limit=1000&handler=511302000000`)).body.cases as any[]).filter((c) => c.applicantName.startsWith(prefix)).length

describe('a poor link', () => {
  beforeAll(async () => {
    county = await node('county', '511302000000')
    townLink = await startLinkEmulator({ host: '127.0.0.1', port: county.port }, { rateBitsPerSec: 100_000_000, rttMs: 2 })
    town = await node('township', '511302101000', { node: county, via: townLink })
    upLink = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: 100_000, rttMs: 600, lossRate: 0.02, seed: 42 })
    village = await node('village', '511302101201', { node: town, via: upLink })
    agent = await login(village.url, 'agent', 'password1')
    countyStaff = await login(county.url, 'staff', 'password1')
    items = await eventually(async () => {
      const r = await agent('GET', '/api/catalogue')
      return r.body.items.some((i: any) => i.level === 'county') && r.body.items
    }, 60_000, 'the catalogue at the village over the slow link', 250)
  }, 300_000)

  afterAll(async () => {
    for (const n of [village, town, county]) if (n) await stopNode(n)
    await upLink?.close()
    await townLink?.close()
    tmp.cleanup()
  }, 300_000)

  it(`${N} cases taken in offline all reach the county through cuts; no restart from zero`, async () => {
    upLink.setDown(true)
    await intake(N, '甲')
    const before = upLink.stats()
    upLink.setDown(false)
    // Cut the link every 5 s while the transfer runs (stricter than the 20 s of the issue) — but
    // only once more cases have arrived since the last cut: on a loaded machine a reconnect alone
    // can take 5 s, and cuts on the clock would then test the machine, not the link.
    let cuts = 0
    let lastCount = 0
    let countAtCut = -1
    const cutter = setInterval(async () => {
      if (lastCount <= countAtCut) return
      countAtCut = lastCount
      upLink.cutAll()
      cuts++
    }, 5_000)
    try {
      await eventually(async () => {
        const n = await countAtCounty('甲')
        expect(n).toBeGreaterThanOrEqual(lastCount) // acknowledged cases never go away
        lastCount = n
        return n === N
      }, 240_000, `all ${N} cases at the county`, 500)
    } finally {
      clearInterval(cutter)
    }
    const sent = upLink.stats().bytesUp - before.bytesUp
    // Each case is ~300 bytes of JSON; compressed, the clean transfer is well under that.
    // Each cut may cost at most one window resent (plus the reconnect's handshake).
    const bound = N * 300 * 0.6 + (cuts + 1) * (WINDOW_BYTES + 2_048)
    expect(sent, `sent ${sent} bytes with ${cuts} cuts`).toBeLessThan(bound)
  }, 600_000) // N intakes by HTTP, then up to 240 s of transfer: past 300 s at load ~30 beside another test run

  it('kill -9 of the township mid-transfer loses nothing and applies nothing twice', async () => {
    upLink.setDown(true)
    const ids = await intake(300, '乙')
    // Some carry an event too: a doubled application would show as a doubled event.
    for (const id of ids.slice(0, 20)) expect((await agent('POST', `/api/cases/${id}/events`, { type: 'withdrawn', reason: '申请人撤回' })).status).toBe(200)
    upLink.setDown(false)
    await eventually(async () => {
      const r = await (await login(town.url, 'staff', 'password1'))('GET', '/api/cases?limit=1000')
      return r.body.cases.filter((c: any) => c.applicantName.startsWith('乙')).length > 30
    }, 120_000, 'the transfer to be under way at the township', 100)
    town.proc!.kill('SIGKILL')
    await new Promise((r) => town.proc!.once('exit', r))
    town = await spawnNode({ level: 'township', code: '511302101000', name: '511302101000', dataDir: join(tmp.dir, '511302101000'), port: town.port })
    await eventually(async () => (await countAtCounty('乙')) === 300, 240_000, 'all 300 at the county', 500)
    for (const [i, id] of ids.slice(0, 40).entries()) {
      const v = (await countyStaff('GET', `/api/cases/${id}`)).body
      expect(v.events).toHaveLength(i < 20 ? 1 : 0) // one withdrawal each for the first 20, none doubled
      expect(v.status).toBe(i < 20 ? 'withdrawn' : 'submitted')
    }
    const list = (await countyStaff('GET', '/api/cases?limit=1000')).body.cases as any[]
    const seen = new Set<string>()
    for (const c of list) {
      expect(seen.has(c.id)).toBe(false)
      seen.add(c.id)
    }
  }, 600_000) // 300 intakes, a transfer, a kill -9 and a restart, then up to 240 s
})
