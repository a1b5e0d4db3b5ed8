/**
 * The probe the child runs while its parent cannot be reached (probe.ts), and how a failed
 * dial is classified (links.ts `failureOf`): real sockets on loopback for what a probe counts
 * as an answer, fake timers for its pace.
 */
import { X509Certificate } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startLinkEmulator, type LinkEmulator } from '../../../test/tools/link-emulator.ts'
import { tempDir } from '../../../test/helpers/template.ts'
import { loadOrCreateCertificate } from '../tls.ts'
import { failureOf } from './links.ts'
import { ParentProbe, PROBE_CONNECT_TIMEOUT_MS, PROBE_HOLD_MS, PROBE_MAX_GAP_MS, PROBE_MAX_IN_FLIGHT, PROBE_MIN_GAP_MS, PROBE_QUICK_FOR_MS, PROBE_QUICK_MAX_GAP_MS, PROBE_QUICK_MIN_GAP_MS, probeGap, probeKeeping, probeOnce } from './probe.ts'
import { checkPin, wsOnConnected } from './tls-client.ts'
import { TlsResumption } from './tls-resume.ts'
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

describe('probes resume the TLS session of the pinned parent (tls-resume.ts)', () => {
  /** A TLS server that holds each connection open a moment (its tickets go out after the handshake). */
  async function tlsServer(dir: string): Promise<{ url: string; pin: string }> {
    const { cert, key } = await loadOrCreateCertificate(dir, '511302101000', 'self-signed')
    const port = await listen(tls.createServer({ cert, key }, (s) => void s.on('error', () => {}).setTimeout(2_000, () => s.destroy())))
    return { url: `https://127.0.0.1:${port}`, pin: normalizeFingerprint(new X509Certificate(cert).fingerprint256)! }
  }
  const kept: tls.TLSSocket[] = []
  const probeWith = async (url: string, tickets: TlsResumption | null, pin: string): Promise<tls.TLSSocket> => {
    const offered = tickets?.options(pin) ?? {}
    const s = await probeKeeping(url, 8_000, { ...offered, opened: (socket) => tickets?.opened(socket, pin, offered) })
    if (typeof s !== 'object') throw new Error(`no connection kept: ${s}`)
    kept.push(s)
    return s
  }
  afterEach(() => {
    for (const s of kept.splice(0)) s.destroy()
  })

  it('a probe offers the ticket of a pinned connection; the resumed connection shows no certificate and passes the pin by resumption alone', async () => {
    const parent = await tlsServer(join(tmp.dir, 'parent'))
    const tickets = new TlsResumption()
    expect(tickets.options(parent.pin)).toEqual({}) // nothing kept before a pinned connection
    const first = await probeWith(parent.url, tickets, parent.pin)
    expect(first.isSessionReused()).toBe(false)
    expect(wsOnConnected(first, parent.pin, undefined, tickets)).not.toBeNull() // pinned by its certificate: its tickets are kept
    for (let i = 0; i < 200 && !tickets.has(parent.pin); i++) await new Promise((r) => setTimeout(r, 10))
    expect(tickets.has(parent.pin)).toBe(true)
    expect(tickets.options('ab'.repeat(32))).toEqual({}) // never offered to another pin

    const second = await probeWith(parent.url, tickets, parent.pin)
    expect(second.isSessionReused()).toBe(true)
    expect(second.getPeerCertificate()?.fingerprint256).toBeUndefined() // no certificate on a resumption...
    expect(checkPin(second, parent.pin)).not.toBeNull() // ...so the certificate check alone refuses it
    expect(checkPin(second, parent.pin, tickets)).toBeNull() // the resumption of our ticket stands for the pin
    expect(wsOnConnected(second, parent.pin, undefined, tickets)).not.toBeNull()
    expect(wsOnConnected(second, 'ab'.repeat(32), undefined, tickets)).toBeNull() // resumed under another pin
  })

  it('hostile: an impostor with another certificate cannot resume the ticket, and a resumption nobody offered is not the pin', async () => {
    const parent = await tlsServer(join(tmp.dir, 'parent2'))
    const impostor = await tlsServer(join(tmp.dir, 'impostor'))
    expect(impostor.pin).not.toBe(parent.pin)
    const tickets = new TlsResumption()
    expect(wsOnConnected(await probeWith(parent.url, tickets, parent.pin), parent.pin, undefined, tickets)).not.toBeNull()
    for (let i = 0; i < 200 && !tickets.has(parent.pin); i++) await new Promise((r) => setTimeout(r, 10))
    // The parent's ticket, offered to whoever answers at the parent's address (a man in the
    // middle, a stolen laptop's server): it holds no secret of that handshake, so it must show
    // its certificate, and that is not the pinned one.
    const mitm = await probeWith(impostor.url, tickets, parent.pin)
    expect(mitm.isSessionReused()).toBe(false)
    expect(checkPin(mitm, parent.pin, tickets)?.code).toBe('ERR_TONGBAN_PIN_MISMATCH')
    expect(wsOnConnected(mitm, parent.pin, undefined, tickets)).toBeNull()
    // A resumed connection that was not opened through `opened` (the ticket was not offered by
    // this resumption's book-keeping) is not taken as pinned.
    const unbooked = await probeWith(parent.url, null, parent.pin).catch(() => null)
    const offered = tickets.options(parent.pin)
    const stray = await probeKeeping(parent.url, 8_000, { session: offered.session })
    if (typeof stray !== 'object') throw new Error('no connection')
    kept.push(stray)
    expect(stray.isSessionReused()).toBe(true)
    expect(checkPin(stray, parent.pin, tickets)).not.toBeNull()
    expect(unbooked?.isSessionReused()).toBe(false) // no ticket offered: a full handshake
  })
})

describe('ParentProbe', () => {
  afterEach(() => vi.useRealTimers())

  it('probes five to ten times a second for the first minute of an outage, two to four times after', async () => {
    expect(probeGap(() => 0, true)).toBe(PROBE_QUICK_MIN_GAP_MS)
    expect(probeGap(() => 0.999_999, true)).toBe(PROBE_QUICK_MAX_GAP_MS)
    vi.useFakeTimers()
    const asked: number[] = []
    const since = Date.now()
    const probe = new ParentProbe('https://parent.example', () => {}, async () => {
      asked.push(Date.now() - since)
      return false
    }, () => 0.5, since)
    probe.start()
    await vi.advanceTimersByTimeAsync(PROBE_QUICK_FOR_MS + 10_000)
    probe.stop()
    const gaps = asked.slice(1).map((t, i) => [asked[i], t - asked[i]] as const)
    const quick = (PROBE_QUICK_MIN_GAP_MS + PROBE_QUICK_MAX_GAP_MS) / 2
    const slow = (PROBE_MIN_GAP_MS + PROBE_MAX_GAP_MS) / 2
    expect(gaps.filter(([at]) => at < PROBE_QUICK_FOR_MS - quick).every(([, gap]) => gap === quick)).toBe(true)
    expect(gaps.filter(([at]) => at >= PROBE_QUICK_FOR_MS).every(([, gap]) => gap === slow)).toBe(true)
    expect(gaps.filter(([at]) => at >= PROBE_QUICK_FOR_MS).length).toBeGreaterThan(10_000 / slow - 2)
  })

  it('a probe whose connect went through holds the next ones until it is answered or fails, at most PROBE_HOLD_MS', async () => {
    vi.useFakeTimers()
    const asked: number[] = []
    const pending: ((ok: boolean) => void)[] = []
    const t0 = Date.now()
    const probe = new ParentProbe('https://parent.example', () => {}, (_url, connected) => {
      asked.push(Date.now() - t0)
      if (asked.length === 3) connected() // the line carries packets again: this one is on its way
      return new Promise<boolean>((r) => pending.push(r))
    }, () => 0, t0)
    probe.start()
    await vi.advanceTimersByTimeAsync(3 * PROBE_QUICK_MIN_GAP_MS + 1)
    expect(asked).toHaveLength(3)
    // No more while the connected one is out, for PROBE_HOLD_MS...
    await vi.advanceTimersByTimeAsync(PROBE_HOLD_MS - PROBE_QUICK_MIN_GAP_MS)
    expect(asked).toHaveLength(3)
    // ...then the pace resumes (a middle box may complete connects for a parent that never answers).
    await vi.advanceTimersByTimeAsync(2 * PROBE_QUICK_MIN_GAP_MS)
    expect(asked.length).toBeGreaterThan(3)
    // A connected probe that fails releases the hold at once.
    const before = asked.length
    const probe2Asked: number[] = []
    let fail: ((ok: boolean) => void) | null = null
    const probe2 = new ParentProbe('https://parent.example', () => {}, (_url, connected) => {
      probe2Asked.push(Date.now())
      if (probe2Asked.length === 1) {
        connected()
        return new Promise<boolean>((r) => (fail = r))
      }
      return Promise.resolve(false)
    }, () => 0, Date.now())
    probe.stop()
    expect(asked.length).toBe(before)
    probe2.start()
    await vi.advanceTimersByTimeAsync(PROBE_QUICK_MIN_GAP_MS * 3 + 1)
    expect(probe2Asked).toHaveLength(1) // held
    fail!(false)
    await vi.advanceTimersByTimeAsync(PROBE_QUICK_MIN_GAP_MS + 1)
    expect(probe2Asked).toHaveLength(2)
    probe2.stop()
  })

  it('a probe that starts after the first minute of the outage goes at the slower pace at once', async () => {
    vi.useFakeTimers()
    const asked: number[] = []
    const probe = new ParentProbe('https://parent.example', () => {}, async () => {
      asked.push(Date.now())
      return false
    }, () => 0, Date.now() - PROBE_QUICK_FOR_MS - 1)
    probe.start()
    await vi.advanceTimersByTimeAsync(5_000)
    probe.stop()
    for (let i = 1; i < asked.length; i++) expect(asked[i] - asked[i - 1]).toBe(PROBE_MIN_GAP_MS)
    expect(asked.length).toBeGreaterThan(10)
  })

  it('probes two to four times a second after the quick minute, jittered, and stops at the first answer', async () => {
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
    }, () => 0.5, Date.now() - PROBE_QUICK_FOR_MS)
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
    expect(most).toBe(PROBE_MAX_IN_FLIGHT)
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
