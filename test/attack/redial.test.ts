/**
 * A village the parent refused does not hammer it: after a close with 4429 (a quota) or 4401
 * (its key revoked), or an upgrade answered 401, the next dial waits at least a minute, jittered
 * (links.ts `redialDelay`); after a plain drop it redials with the short backoff. The parent is
 * an enrolled township gone bad (test/attack/peers.ts), over real sockets. Asserted from what
 * the village does and says it will do, never from the clock.
 */
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { quotaJitterMs, REFUSED_WAIT_MS, redialDelay } from '../../nodes/core/link/links.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { LINK_CLOSE_CODES, quotaRefusalText, retryAfterOf } from '../../protocol/index.ts'
import { identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'
import { fakeParent, parentHello, type FakeParent } from './peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-redial-')
const TOWN = '511302101000'
const C = LINK_CLOSE_CODES

afterAll(() => tmp.cleanup())

describe('redialDelay', () => {
  it('after a refusal: at least a minute, jittered; after a drop: full jitter over the backoff', () => {
    expect(redialDelay(30_000, true, () => 0)).toBe(REFUSED_WAIT_MS)
    expect(redialDelay(250, true, () => 0.999)).toBeGreaterThan(REFUSED_WAIT_MS)
    expect(REFUSED_WAIT_MS).toBeGreaterThanOrEqual(60_000)
    expect(redialDelay(250, false, () => 0.5)).toBe(125)
    expect(redialDelay(30_000, false, () => 1)).toBe(30_000)
  })

  it('after a quota that said when: not sooner than said, not later than said plus its jitter', () => {
    expect(redialDelay(30_000, true, () => 0, 3_000)).toBe(3_000)
    expect(redialDelay(30_000, true, () => 1, 3_000)).toBe(3_000 + quotaJitterMs(3_000))
    expect(quotaJitterMs(3_000)).toBe(1_000)
    expect(quotaJitterMs(3_600_000)).toBe(30_000)
    // The reason is cut to 123 bytes on the wire: the time comes first and survives the cut.
    const reason = quotaRefusalText(2_500, `511302101201 may use ${'x'.repeat(200)}`)
    expect(retryAfterOf(Buffer.from(reason).subarray(0, 123).toString())).toBe(3_000)
    expect(retryAfterOf(quotaRefusalText(null, 'too much'))).toBeNull()
    expect(retryAfterOf('quota: new docs')).toBeNull()
  })
})

describe('a village redials a parent that refused it only after a minute', () => {
  let logged: string[] = []
  let parent: FakeParent | undefined
  let village: RunningNode | undefined
  beforeEach(() => {
    logged = []
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')))
  })
  afterEach(async () => {
    await village?.stop()
    await parent?.close()
    village = parent = undefined
    vi.restoreAllMocks()
  })

  /** The wait the village announced after a refusal, in seconds. */
  const announced = () => {
    const line = logged.find((l) => l.includes('the parent refused this node: the next dial in'))
    return line ? Number(/next dial in (\d+) s/.exec(line)![1]) : null
  }

  it('a plain drop is redialled; a close with 4429 waits at least a minute', async () => {
    let mode: 'drop' | 'quota' = 'drop'
    parent = await fakeParent(identity(TOWN, '镇'), (link) => {
      link.send(parentHello(TOWN))
      if (mode === 'drop') return void link.ws.close(1000, 'bye')
      link.send({ type: 'error', code: C.quota_exceeded, message: 'quota: new docs' })
      link.ws.close(C.quota_exceeded, 'quota: new docs')
    })
    village = await startNode({ level: 'village', code: '511302101201', name: '村', dataDir: join(tmp.dir, 'v1'), loadDataDir: await pgliteTemplate(), parentUrl: parent.url, token: 'refusing-parent-token' })
    await waitFor('a redial after a plain drop', () => parent!.connections >= 2, 60_000)
    expect(announced()).toBeNull()
    mode = 'quota'
    await waitFor('the village to announce its wait after 4429', () => announced() !== null, 60_000)
    expect(announced()).toBeGreaterThanOrEqual(REFUSED_WAIT_MS / 1000)
    expect((await fetch(`${village.url}/healthz`)).status).toBe(200)
  })

  it('a close with 4429 that says "retry in 3 s" is redialled after 3 s, not a minute', async () => {
    let refusedAt = 0
    let redialledAt = 0
    parent = await fakeParent(identity(TOWN, '镇'), (link) => {
      link.send(parentHello(TOWN))
      if (refusedAt) return void (redialledAt ||= performance.now())
      const reason = quotaRefusalText(3_000, '511302101203 may use 1500 new docs per hour on this link; this needs 40 more')
      link.send({ type: 'error', code: C.quota_exceeded, message: reason })
      link.ws.close(C.quota_exceeded, reason)
      refusedAt = performance.now()
    })
    village = await startNode({ level: 'village', code: '511302101203', name: '村', dataDir: join(tmp.dir, 'v3'), loadDataDir: await pgliteTemplate(), parentUrl: parent.url, token: 'refusing-parent-token' })
    await waitFor('the village to announce its wait after 4429', () => announced() !== null, 60_000)
    expect(logged.some((l) => l.includes('its quota said to retry in 3 s'))).toBe(true)
    expect(announced()).toBeGreaterThanOrEqual(3)
    expect(announced()).toBeLessThanOrEqual(3 + quotaJitterMs(3_000) / 1000)
    await waitFor('the village to dial again', () => redialledAt > 0, 120_000)
    // Not sooner than said (timers never fire early; the refusal was sent before refusedAt was taken).
    expect(redialledAt - refusedAt).toBeGreaterThanOrEqual(3_000 - 50)
  })

  it('a parent of an earlier version (it asks for its challenge) is dialled again at once, its way', async () => {
    parent = await fakeParent(identity(TOWN, '镇'), (link) => link.send(parentHello(TOWN)), { older: true })
    village = await startNode({ level: 'village', code: '511302101204', name: '村', dataDir: join(tmp.dir, 'v4'), loadDataDir: await pgliteTemplate(), parentUrl: parent.url, token: 'older-parent-token' })
    await waitFor('a link on the earlier handshake', () => parent!.challengedLinks >= 1, 120_000)
    expect(logged.some((l) => l.includes('the parent runs an earlier version'))).toBe(true)
    expect(announced()).toBeNull() // not taken as a refusal (that waits a minute or more)
    expect(parent.upgrades).toBe(2) // the proof refused, then the challenge taken
    expect(parent.connections).toBe(1)
  })

  it('an upgrade answered 401 ends the handshake and waits at least a minute', async () => {
    parent = await fakeParent(identity(TOWN, '镇'), () => {}, { refuseUpgrade: () => 401 })
    village = await startNode({ level: 'village', code: '511302101202', name: '村', dataDir: join(tmp.dir, 'v2'), loadDataDir: await pgliteTemplate(), parentUrl: parent.url, token: 'refusing-parent-token' })
    await waitFor('the village to announce its wait after a 401', () => announced() !== null, 60_000)
    expect(logged.some((l) => l.includes('the parent refused the link (401)'))).toBe(true)
    expect(announced()).toBeGreaterThanOrEqual(REFUSED_WAIT_MS / 1000)
    expect(parent.upgrades).toBe(1)
  })
})
