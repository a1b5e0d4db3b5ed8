/**
 * The proof of key inside the upgrade (protocol/link-proof.ts, issue 11 goal 1: one round trip
 * instead of a challenge first). Still nothing replayable: a proof is taken once, only within
 * the window of the parent's clock and not from before the parent started; every refusal is
 * answered (401 with a message, the parent's clock when the time was wrong) and logged. The
 * parent's answer proves its key too, and a child whose clock is off links after one refusal.
 */
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { LINK_PROOF_HEADERS, LINK_PROOF_WINDOW_MS, linkUpgradeText } from '../../protocol/index.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { LinkAuth, ParentAuth } from '../../nodes/core/link/link-auth.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { memoryKeys, verifySignature } from '../../nodes/core/trust/keys.ts'
import { enroll, identity, upgradeProofHeaders } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'
import { fakeParent, parentHello, type FakeParent } from './peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-upgrade-proof-')
const CITY = '511300000000'
const COUNTY = '511302000000'
const OTHER = '511303000000'
const TOWN = '511302101000'
const cityDir = join(tmp.dir, 'city')
let city: RunningNode
let county: RunningNode
const other = identity(OTHER, '高坪区')
const logged: string[] = []

const parentLinkUp = async (n: RunningNode) => (await n.links.status()).parent?.connected === true

/** A WebSocket upgrade of `/link` with `headers`, answered: its status, headers and body (the socket is then dropped). */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + '/link', {
      headers: { ...headers, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: 101, headers: res.headers, body: '' })
    })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')))
  const template = await pgliteTemplate()
  city = await startNode({ level: 'city', code: CITY, name: '南充市', dataDir: cityDir, loadDataDir: template })
  county = await startNode({ level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, 'county'), parentUrl: city.url, token: enrollChild(cityDir, CITY, COUNTY), loadDataDir: template })
  expect((await enroll(city.url, other, enrollChild(cityDir, CITY, OTHER))).status).toBe(200)
  await waitFor('the county to link to the city', () => parentLinkUp(county), 120_000)
}, 240_000)

afterAll(async () => {
  await county?.stop()
  await city?.stop()
  vi.restoreAllMocks()
  tmp.cleanup()
})

describe('a proof of key in the upgrade', () => {
  it('opens the link, and the 101 carries the parent\'s signature over the same values', async () => {
    const headers = upgradeProofHeaders(CITY, other)
    const r = await upgrade(city.url, headers)
    expect(r.status).toBe(101)
    const text = linkUpgradeText('link-parent', CITY, OTHER, Number(headers[LINK_PROOF_HEADERS.time]), headers[LINK_PROOF_HEADERS.nonce])
    expect(verifySignature(city.node.trust.keys, text, String(r.headers[LINK_PROOF_HEADERS.parentProof]))).toBe(true)
  })

  it('a replayed proof is refused with 401, said and logged', async () => {
    const headers = upgradeProofHeaders(CITY, other)
    expect((await upgrade(city.url, headers)).status).toBe(101)
    const again = await upgrade(city.url, headers)
    expect(again.status).toBe(401)
    expect(again.body).toMatch(/replayed/)
    expect(logged.some((l) => l.includes(`refused a link from ${OTHER}: a replayed proof`))).toBe(true)
  })

  it('a stale or future-dated proof is refused with 401 and the parent\'s clock', async () => {
    for (const skew of [-(LINK_PROOF_WINDOW_MS + 60_000), LINK_PROOF_WINDOW_MS + 60_000]) {
      const before = Date.now()
      const r = await upgrade(city.url, upgradeProofHeaders(CITY, other, { time: Date.now() + skew }))
      expect(r.status).toBe(401)
      expect(r.body).toMatch(/stale proof/)
      expect(Number(r.headers[LINK_PROOF_HEADERS.time])).toBeGreaterThanOrEqual(before)
    }
    expect(logged.some((l) => l.includes(`refused a link from ${OTHER}: a stale proof`))).toBe(true)
  })

  it('a proof from before the parent started is not taken (what it remembered died with the old process)', () => {
    const fresh = new LinkAuth(city.node) // as after a restart
    const v = fresh.verifyUpgradeProof(upgradeProofHeaders(CITY, other, { time: Date.now() - 5_000 }))
    expect(v.refusal?.status).toBe(401)
    expect(v.refusal?.message).toMatch(/before this node started/)
    expect(v.refusal?.parentTime).toBeGreaterThan(0)
  })

  it('a proof signed with another key, for another parent, or malformed is refused with 401', async () => {
    expect((await upgrade(city.url, upgradeProofHeaders(CITY, other, { signer: memoryKeys() }))).status).toBe(401)
    expect((await upgrade(city.url, upgradeProofHeaders('511400000000', other))).status).toBe(401)
    const bad = await upgrade(city.url, { ...upgradeProofHeaders(CITY, other), [LINK_PROOF_HEADERS.time]: 'soon' })
    expect(bad.status).toBe(401)
    expect(bad.body).toMatch(/malformed/)
  })

  it('the child checks the parent\'s answer against the key it pinned', () => {
    const auth = new ParentAuth(county.node, city.url, null)
    const { headers, checkParent } = auth.linkHeaders()
    const text = linkUpgradeText('link-parent', CITY, COUNTY, Number(headers[LINK_PROOF_HEADERS.time]), headers[LINK_PROOF_HEADERS.nonce])
    expect(checkParent({ [LINK_PROOF_HEADERS.parentProof]: city.node.trust.keys.sign(text) })).toBeNull()
    expect(checkParent({ [LINK_PROOF_HEADERS.parentProof]: memoryKeys().sign(text) })).toMatch(/could not prove it is/)
    expect(checkParent({})).toMatch(/could not prove it is/)
  })

  it('a child whose clock is off links again after one refusal, without the refused wait', async () => {
    ;(county.links as unknown as { parentAuth: ParentAuth }).parentAuth.clockOffset = -30 * 60_000
    const from = logged.length
    county.links.dropParent()
    await waitFor('the county to refuse its stale proof', () => logged.slice(from).some((l) => l.includes(`refused a link from ${COUNTY}: a stale proof`)), 120_000)
    await waitFor('the county to link again', () => parentLinkUp(county), 120_000)
    expect(logged.slice(from).some((l) => l.includes('the parent refused this node'))).toBe(false)
  })
})

describe('a parent that cannot prove its key', () => {
  let parent: FakeParent | undefined
  afterAll(async () => parent?.close())

  it('gets no frame from the child, which says why', async () => {
    let frames = -1
    parent = await fakeParent(identity(TOWN, '镇'), (link) => {
      link.send(parentHello(TOWN))
      setTimeout(() => (frames = link.frames.length), 2_000)
    }, { signer: memoryKeys() })
    const village = await startNode({ level: 'village', code: '511302101201', name: '村', dataDir: join(tmp.dir, 'v'), loadDataDir: await pgliteTemplate(), parentUrl: parent.url, token: 'impostor-parent-token' })
    try {
      await waitFor('the village to refuse the impostor', () => logged.some((l) => l.includes(`could not prove it is ${TOWN}`)), 60_000)
      expect(parent.enrollments).toBe(1)
      // The village dropped the connection at the 101, before its hello: nothing reached the impostor.
      await waitFor('the impostor to count what it got', () => frames >= 0 || parent!.connections === 0, 30_000)
      expect(Math.max(frames, 0)).toBe(0)
    } finally {
      await village.stop()
    }
  })
})
