/**
 * The village notices the line is back by probing, not after a backoff grown while offline
 * (links.ts, probe.ts): a township and a village, real node processes, the line between them
 * through the link emulator. The line is cut and held down long enough that a doubling backoff
 * would have grown to its cap; while it is down the village probes five to ten times a second (in
 * the outage's first minute) and no faster; once it is back the village's next dial comes from an
 * answered probe, which resumed the TLS session of the link before, and the link is up again. How soon is a figure for `npm run bench:line-back` (BENCHMARKS.md), not an
 * assertion here: the test waits for conditions.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnNode, stopNode, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { PROBE_QUICK_MIN_GAP_MS } from '../../nodes/core/link/probe.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'
import { trustNode } from '../helpers/tls.ts'
import { startLinkEmulator, type LinkEmulator } from '../tools/link-emulator.ts'

const tmp = tempDir('tongban-line-back-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
let town: TreeNode, village: TreeNode
let line: LinkEmulator

async function start(level: 'township' | 'village', code: string, parent?: { node: TreeNode; via: LinkEmulator }): Promise<TreeNode> {
  const dataDir = join(tmp.dir, code)
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([{ name: 'staff', role: level === 'village' ? 'agent' : 'staff', password: 'password1' }]))
  const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
  // TLS passes through the emulator (a TCP proxy); the village pins the township's certificate.
  const n = await spawnNode({ level, code, name: code, dataDir, port: 0, parentUrl: parent?.via.url().replace(/^http:/, 'https:'), token })
  trustNode(dataDir)
  return n
}

/** The village's own view of its parent link (`/healthz`, on loopback, not over the line). */
async function parentConnected(): Promise<boolean> {
  const r = await fetch(`${village.url}/healthz`, { signal: AbortSignal.timeout(120_000) })
  return ((await r.json()) as { sync: { parent: { connected: boolean } } }).sync.parent.connected
}

const villageLog = () => village.log.join('')
const count = (text: string, what: string) => text.split(what).length - 1

describe('the line comes back', () => {
  beforeAll(async () => {
    town = await start('township', TOWN)
    line = await startLinkEmulator({ host: '127.0.0.1', port: town.port }, { rateBitsPerSec: 1_000_000, rttMs: 100 })
    village = await start('village', VILLAGE, { node: town, via: line })
    await eventually(parentConnected, 120_000, 'the first link village → township')
  }, 300_000)

  afterAll(async () => {
    for (const n of [village, town]) if (n) await stopNode(n)
    await line?.close()
    tmp.cleanup()
  }, 300_000)

  it('while it is down the village probes every 100–200 ms; once back, a probe resuming the TLS session is answered and the link is up', async () => {
    line.setDown(true)
    await eventually(async () => !(await parentConnected()), 60_000, 'the village to see its link cut')
    const downAt = Date.now()
    const refusedBefore = line.stats().refused
    // Thirty attempts at the address: a doubling backoff from 250 ms would have reached its 30 s
    // cap long before (and would take ~10 minutes to make them), so a quick return below can
    // only come from the probe.
    await eventually(async () => line.stats().refused - refusedBefore >= 30, 240_000, '30 probes of the cut line', 100)
    const downMs = Date.now() - downAt
    const attempts = line.stats().refused - refusedBefore
    // Not hammering: no two probes closer than PROBE_QUICK_MIN_GAP_MS (the pace of an outage's
    // first minute; slower after), plus the one dial that found the line down (and one at each
    // edge of the window).
    expect(attempts, `${attempts} attempts in ${downMs} ms`).toBeLessThanOrEqual(Math.floor(downMs / PROBE_QUICK_MIN_GAP_MS) + 3)
    expect(count(villageLog(), 'the parent cannot be reached: probing')).toBe(1) // said once, not per probe
    expect(villageLog()).not.toContain('the parent answers again')

    const connectionsBefore = line.stats().connections
    const upAt = Date.now()
    line.setDown(false)
    await eventually(parentConnected, 120_000, 'the link up again after the line came back', 20)
    console.log(`line back → link up: ${Date.now() - upAt} ms (a figure for bench/line-back.ts; the line was down ${downMs} ms)`)
    expect(villageLog()).toContain('the parent answers again')
    // One probe, whose TLS connection then carries the upgrade (with the proof of key inside
    // it): one connection, a few more only if the line dropped one or a probe was still in
    // flight, not a connection a second until a backoff runs out.
    expect(villageLog()).toContain("dialling on the probe's connection")
    // The probe offered the ticket of the link before the cut, and the township took it (no
    // certificate on the line): the pin held by resumption, and the link came up on it.
    expect(villageLog()).toContain("dialling on the probe's connection, its TLS session resumed")
    expect(line.stats().connections - connectionsBefore).toBeGreaterThanOrEqual(1)
    expect(line.stats().connections - connectionsBefore).toBeLessThanOrEqual(4)
  }, 600_000)

  it('a second outage is probed again, from the start', async () => {
    line.setDown(true)
    await eventually(async () => !(await parentConnected()), 60_000, 'the village to see its link cut again')
    const refusedBefore = line.stats().refused
    await eventually(async () => line.stats().refused - refusedBefore >= 3, 120_000, 'probes of the cut line', 100)
    line.setDown(false)
    await eventually(parentConnected, 120_000, 'the link up again', 20)
    expect(count(villageLog(), 'the parent cannot be reached: probing')).toBe(2)
    expect(count(villageLog(), 'the parent answers again')).toBe(2)
  }, 600_000)
})
