/**
 * The probe the child runs while its parent cannot be reached (probe.ts), and how a failed
 * dial is classified (links.ts `failureOf`): real sockets on loopback for what a probe counts
 * as an answer, fake timers for its pace.
 */
import { createServer as createHttpServer } from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startLinkEmulator, type LinkEmulator } from '../../../test/tools/link-emulator.ts'
import { tempDir } from '../../../test/helpers/template.ts'
import { loadOrCreateCertificate } from '../tls.ts'
import { failureOf } from './links.ts'
import { ParentProbe, PROBE_MAX_GAP_MS, PROBE_MIN_GAP_MS, probeGap, probeKeeping, probeOnce } from './probe.ts'
import { wsOnConnected } from './tls-client.ts'
import { normalizeFingerprint } from '../tls.ts'

const tmp = tempDir('tongban-probe-')
const servers: net.Server[] = []
const sockets = new Set<net.Socket>()
let tlsPort = 0

/** A listener on 127.0.0.1:0; closed, with every connection it took, after the file. */
async function listen<S extends net.Server>(server: S): Promise<number> {
  servers.push(server)
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as net.AddressInfo).port
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

beforeAll(async () => {
  const { cert, key } = await loadOrCreateCertificate(tmp.dir, '511302101000', 'self-signed')
  tlsPort = await listen(tls.createServer({ cert, key }, (s) => s.on('error', () => {}).end()))
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()))
  tmp.cleanup()
})

describe('probeOnce', () => {
  it('is answered by a TLS server, and by an http server over plain http', async () => {
    expect(await probeOnce(`https://127.0.0.1:${tlsPort}`)).toBe(true)
    const httpPort = await listen(createHttpServer((_req, res) => res.writeHead(404).end()))
    expect(await probeOnce(`http://127.0.0.1:${httpPort}`)).toBe(true)
  })

  it('is not answered by a closed port, a connect that is reset, or a silent peer (after its timeout)', async () => {
    expect(await probeOnce(`https://127.0.0.1:${await closedPort()}`)).toBe(false)
    // A middle box that completes the TCP connect and then drops it, as a NAT or the link
    // emulator does while the line is down: a bare connect would call this "up".
    const resetting = await listen(net.createServer((s) => s.on('error', () => {}).resetAndDestroy()))
    expect(await probeOnce(`https://127.0.0.1:${resetting}`)).toBe(false)
    expect(await probeOnce(`http://127.0.0.1:${resetting}`)).toBe(false)
    const silent = await listen(net.createServer((s) => void s.on('error', () => {})))
    expect(await probeOnce(`https://127.0.0.1:${silent}`, 300)).toBe(false)
  })

  it('through the link emulator: not answered while the line is down, answered once it is up', async () => {
    let link: LinkEmulator | null = null
    try {
      link = await startLinkEmulator({ host: '127.0.0.1', port: tlsPort }, { rateBitsPerSec: 10_000_000, rttMs: 20 })
      link.setDown(true)
      expect(await probeOnce(link.url().replace(/^http:/, 'https:'))).toBe(false)
      link.setDown(false)
      expect(await probeOnce(link.url().replace(/^http:/, 'https:'))).toBe(true)
    } finally {
      await link?.close()
    }
  })
})

describe('probeKeeping: the answering connection serves the dial', () => {
  it('keeps an answered TLS connection open, usable only under the pinned certificate', async () => {
    const kept = await probeKeeping(`https://127.0.0.1:${tlsPort}`)
    if (typeof kept !== 'object') throw new Error(`no connection kept: ${kept}`)
    try {
      expect(kept.destroyed).toBe(false)
      const pin = normalizeFingerprint(kept.getPeerCertificate().fingerprint256)
      expect(wsOnConnected(kept, pin)).toMatchObject({ rejectUnauthorized: false })
      expect(wsOnConnected(kept, 'ab'.repeat(32))).toBeNull() // another certificate: the ordinary dial instead
      expect(wsOnConnected(kept, null)).toBeNull() // no pin: the probe did not check the CAs
    } finally {
      kept.destroy()
    }
    expect(await probeKeeping(`https://127.0.0.1:${await closedPort()}`)).toBe(false)
  })

  it('ParentProbe hands the answering connection over once, and ends a later one', async () => {
    const late = { destroyed: false, destroy() { this.destroyed = true } }
    const first = { destroyed: false, destroy() { this.destroyed = true } }
    const resolvers: ((v: unknown) => void)[] = []
    const got: unknown[] = []
    const probe = new ParentProbe('https://parent.example', (socket) => got.push(socket), () => new Promise((r) => resolvers.push(r as (v: unknown) => void)) as never, () => 0)
    probe.start()
    while (resolvers.length < 2) await new Promise((r) => setTimeout(r, 50)) // two probes in flight (gaps of 500 ms)
    resolvers[0](first)
    await new Promise((r) => setTimeout(r, 10))
    resolvers[1](late)
    await new Promise((r) => setTimeout(r, 10))
    expect(got).toEqual([first])
    expect(first.destroyed).toBe(false)
    expect(late.destroyed).toBe(true)
  })
})

describe('ParentProbe', () => {
  afterEach(() => vi.useRealTimers())

  it('probes two to four times a second, jittered, and stops at the first answer', async () => {
    expect(probeGap(() => 0)).toBe(PROBE_MIN_GAP_MS)
    expect(probeGap(() => 0.999_999)).toBe(PROBE_MAX_GAP_MS)
    expect(PROBE_MAX_GAP_MS).toBeLessThanOrEqual(500)
    const gap = probeGap(() => 0.5)
    vi.useFakeTimers()
    const answers = [false, false, false, true]
    const asked: number[] = []
    let answered = 0
    const probe = new ParentProbe('https://parent.example', () => answered++, async () => {
      asked.push(Date.now())
      return answers.shift() ?? true
    }, () => 0.5)
    probe.start()
    await vi.advanceTimersByTimeAsync(gap - 1)
    expect(asked).toHaveLength(0) // never at once: the dial that just failed was the first try
    await vi.advanceTimersByTimeAsync(10_000)
    expect(answered).toBe(1)
    expect(probe.sent).toBe(4)
    for (let i = 1; i < asked.length; i++) expect(asked[i] - asked[i - 1]).toBe(gap)
  })

  it('keeps a bounded number of probes in flight on a line that swallows them, and stop() ends it', async () => {
    vi.useFakeTimers()
    let inFlight = 0
    let most = 0
    const probe = new ParentProbe('https://parent.example', () => {}, () => {
      inFlight++
      most = Math.max(most, inFlight)
      return new Promise<boolean>(() => {}) // never answered
    }, () => 0)
    probe.start()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(most).toBe(8)
    probe.stop()
    const sent = probe.sent
    await vi.advanceTimersByTimeAsync(60_000)
    expect(probe.sent).toBe(sent)
  })
})

describe('failureOf (links.ts)', () => {
  it('a refusal, an address where nothing answers, and a parent that answered but failed', () => {
    expect(failureOf(Object.assign(new Error('/link/challenge answered 429'), { status: 429 }))).toBe('refused')
    expect(failureOf(Object.assign(new Error('/link/challenge answered 401'), { status: 401 }))).toBe('refused')
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']) {
      expect(failureOf(Object.assign(new Error(code), { code }))).toBe('unreachable')
    }
    expect(failureOf(new Error('Opening handshake has timed out'))).toBe('unreachable')
    expect(failureOf(Object.assign(new Error('/link/challenge answered 500'), { status: 500 }))).toBe('failed')
    expect(failureOf(Object.assign(new Error('pin'), { code: 'ERR_TONGBAN_PIN_MISMATCH' }))).toBe('failed')
  })
})
