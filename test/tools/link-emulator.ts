/**
 * Link emulator: a TCP proxy on 127.0.0.1 that makes a loopback connection behave like a poor
 * rural link (e.g. 100 kbit/s, 600 ms RTT, 2% loss, cut every 20 s), for tests and benchmarks
 * that run two node processes on one machine.
 *
 * Why a proxy: the kernels these tests run on have no netem (tc qdisc), so rate, delay and loss
 * cannot be imposed on loopback from outside. Instead the proxy paces every byte itself:
 *
 * - rate: per direction, each segment (≤ 1460 bytes) departs at max(now, previous departure) +
 *   its serialisation time (bytes · 8 / rate), so throughput never exceeds the link rate;
 * - delay: it arrives one-way-delay (rtt / 2) after its departure;
 * - loss: TCP never loses bytes, it retransmits; so a "lost" segment (seeded random, per segment)
 *   arrives one retransmission timeout (max(200 ms, rtt)) late, and since arrivals are kept
 *   monotonic it stalls every byte behind it (head-of-line blocking), as the receiver would see;
 * - cuts: every live connection can be destroyed on a period, on demand, or while "down".
 *
 * All randomness comes from a seeded PRNG (mulberry32), one stream per connection and direction.
 * Memory is bounded: a source is paused while > 64 KB of its bytes are undelivered, and delivery
 * waits for the destination's 'drain'. Half-close (FIN) travels in order behind queued data.
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'

export interface LinkProfile {
  /** Link rate in bit/s, applied independently in each direction, e.g. 100_000. */
  rateBitsPerSec: number
  /** Round-trip time in ms; the one-way delay is rtt / 2 in each direction. */
  rttMs: number
  /** Fraction of ~1460-byte segments "lost": delivered one RTO (max(200 ms, rtt)) late, in order. */
  lossRate?: number
  /** Cut (destroy both sockets of) every live connection on this period. */
  cutEveryMs?: number
  /** Seeds all randomness; default 1. */
  seed?: number
  /** Told of every delivery (bytes handed to the far side): counting a link's round trips. */
  trace?: (e: { at: number; conn: number; dir: 'up' | 'down'; bytes: number }) => void
}

export interface LinkStats {
  /** Payload bytes forwarded client → target. */
  bytesUp: number
  /** Payload bytes forwarded target → client. */
  bytesDown: number
  /** Connections accepted and proxied (cumulative; refused ones are not counted). */
  connections: number
  /** Connections destroyed by a cut (cutAll, cutEveryMs, setDown(true)). */
  cuts: number
  /** Connections accepted while down and destroyed at once (each a dial or probe into a cut line). */
  refused: number
}

export interface LinkEmulator {
  /** Listening port on 127.0.0.1. */
  port: number
  /** `http://127.0.0.1:${port}${path}`. */
  url(path?: string): string
  stats(): LinkStats
  /** Cuts every live connection now. */
  cutAll(): void
  /** When down, existing connections are cut and new ones are accepted then destroyed at once. */
  setDown(down: boolean): void
  /** Stops listening, destroys every socket, clears every timer. */
  close(): Promise<void>
}

/** Largest segment paced as one unit (a typical TCP MSS). */
const SEGMENT = 1460
/** Pause a source when more than this many of its bytes are undelivered... */
const HIGH_WATER = 64 * 1024
/** ...and resume it once the backlog is down to this. */
const LOW_WATER = 32 * 1024
/** Timers may fire up to ~1 ms early relative to performance.now(); treat that as due. */
const SLACK_MS = 1

const noop = () => {}

/**
 * Destroys a socket with an RST, so the peer sees ECONNRESET and 'close' even if it allows
 * half-open connections (a plain destroy() sends a FIN, which such a peer takes as a half-close).
 */
function reset(s: net.Socket): void {
  if (s.destroyed) return
  if (s.connecting) {
    s.destroy() // resetAndDestroy would wait for the connection first
    return
  }
  try {
    s.resetAndDestroy()
  } catch {
    s.destroy()
  }
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Mixes the seed with a connection number and direction into an independent stream seed. */
function streamSeed(seed: number, conn: number, dir: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (conn + 1) ^ (h >>> 13), 0xc2b2ae35)
  h = Math.imul(h ^ (dir + 1) ^ (h >>> 16), 0x27d4eb2f)
  return (h ^ (h >>> 15)) >>> 0
}

type Item = { at: number; buf: Buffer } | { at: number; end: 'fin' | 'rst' }

interface Timing {
  msPerByte: number
  oneWayMs: number
  rtoMs: number
  lossRate: number
}

/** One direction of one connection: src's bytes, paced, into dst. */
class Pipe {
  private queue: Item[] = []
  private queued = 0 // undelivered payload bytes
  private lastDeparture = 0
  private lastArrival = 0
  private timer: NodeJS.Timeout | null = null
  private waitingDrain = false
  private pausedByUs = false
  /** A FIN/RST is queued: nothing more comes from src. */
  private finished = false
  /** Cut, or dst is gone: everything is dropped. */
  dead = false

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly timing: Timing,
    private readonly random: () => number,
    private readonly count: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead || this.finished) return
    const now = performance.now()
    const { msPerByte, oneWayMs, rtoMs, lossRate } = this.timing
    for (let off = 0; off < chunk.length; off += SEGMENT) {
      const buf = chunk.subarray(off, Math.min(off + SEGMENT, chunk.length))
      const departure = Math.max(now, this.lastDeparture) + buf.length * msPerByte
      this.lastDeparture = departure
      let at = departure + oneWayMs
      if (lossRate > 0 && this.random() < lossRate) at += rtoMs
      at = Math.max(at, this.lastArrival) // in-order delivery: a late segment holds back the rest
      this.lastArrival = at
      this.queue.push({ at, buf })
      this.queued += buf.length
    }
    if (this.queued > HIGH_WATER && !this.pausedByUs) {
      this.pausedByUs = true
      this.src.pause()
    }
    this.arm()
  }

  /** The source ended (fin) or vanished (rst): pass that on behind the queued bytes. */
  pushEnd(kind: 'fin' | 'rst'): void {
    if (this.dead || this.finished) return
    this.finished = true
    const at = Math.max(performance.now() + this.timing.oneWayMs, this.lastArrival)
    this.lastArrival = at
    this.queue.push({ at, end: kind })
    this.arm()
  }

  kill(): void {
    this.dead = true
    this.queue = []
    this.queued = 0
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.pausedByUs) {
      this.pausedByUs = false
      this.src.resume() // let it read on (into nothing) so it sees its peer's FIN and closes
    }
  }

  private arm(): void {
    if (this.dead || this.timer || this.waitingDrain || this.queue.length === 0) return
    const delay = Math.max(0, this.queue[0].at - performance.now())
    this.timer = setTimeout(() => {
      this.timer = null
      this.flush()
    }, delay)
  }

  private flush(): void {
    if (this.dead) return
    const due = performance.now() + SLACK_MS
    const out: Buffer[] = []
    let bytes = 0
    let end: 'fin' | 'rst' | null = null
    while (this.queue.length > 0 && this.queue[0].at <= due) {
      const item = this.queue.shift()!
      if ('buf' in item) {
        out.push(item.buf)
        bytes += item.buf.length
      } else {
        end = item.end
        break // nothing can follow an end
      }
    }
    if (bytes > 0) {
      this.queued -= bytes
      this.count(bytes)
      const ok = this.dst.write(out.length === 1 ? out[0] : Buffer.concat(out, bytes))
      if (!ok && !end) {
        this.waitingDrain = true
        this.dst.once('drain', () => {
          this.waitingDrain = false
          this.arm()
        })
      }
    }
    if (this.pausedByUs && this.queued <= LOW_WATER) {
      this.pausedByUs = false
      this.src.resume()
    }
    if (end === 'fin') this.dst.end()
    else if (end === 'rst') this.dst.destroySoon() // flush what was written, then go away
    if (end) {
      this.kill()
      return
    }
    this.arm()
  }
}

export async function startLinkEmulator(target: { host: string; port: number }, profile: LinkProfile): Promise<LinkEmulator> {
  const { rateBitsPerSec, rttMs } = profile
  if (!(rateBitsPerSec > 0)) throw new Error(`link emulator: rateBitsPerSec must be > 0, got ${rateBitsPerSec}`)
  if (!(rttMs >= 0)) throw new Error(`link emulator: rttMs must be >= 0, got ${rttMs}`)
  const lossRate = profile.lossRate ?? 0
  if (!(lossRate >= 0 && lossRate < 1)) throw new Error(`link emulator: lossRate must be in [0, 1), got ${lossRate}`)
  const seed = profile.seed ?? 1
  const timing: Timing = {
    msPerByte: rateBitsPerSec === Infinity ? 0 : (8 * 1000) / rateBitsPerSec,
    oneWayMs: rttMs / 2,
    rtoMs: Math.max(200, rttMs),
    lossRate,
  }

  const stats: LinkStats = { bytesUp: 0, bytesDown: 0, connections: 0, cuts: 0, refused: 0 }
  const live = new Set<{ cut(): void }>()
  const sockets = new Set<net.Socket>() // every socket we hold, for close()
  let down = false
  let closed = false
  let cutTimer: NodeJS.Timeout | null = null

  const track = (s: net.Socket) => {
    sockets.add(s)
    s.on('error', noop) // ECONNRESET, EPIPE, ECONNREFUSED...: 'close' follows and handles it
    s.once('close', () => sockets.delete(s))
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    track(client)
    if (closed || down) {
      if (!closed) stats.refused++
      reset(client)
      return
    }
    const id = stats.connections++
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
    track(upstream)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const { trace } = profile
    const up = new Pipe(client, upstream, timing, mulberry32(streamSeed(seed, id, 0)), (n) => {
      stats.bytesUp += n
      trace?.({ at: performance.now(), conn: id, dir: 'up', bytes: n })
    })
    const downPipe = new Pipe(upstream, client, timing, mulberry32(streamSeed(seed, id, 1)), (n) => {
      stats.bytesDown += n
      trace?.({ at: performance.now(), conn: id, dir: 'down', bytes: n })
    })
    let open = 2
    const conn = {
      cut() {
        up.kill()
        downPipe.kill()
        reset(client)
        reset(upstream)
      },
    }
    live.add(conn)

    const wire = (s: net.Socket, from: Pipe, into: Pipe) => {
      s.on('data', (chunk: Buffer) => from.push(chunk))
      s.on('end', () => from.pushEnd('fin'))
      s.once('close', () => {
        into.kill() // nothing can be written to a closed socket
        if (!s.readableEnded) from.pushEnd('rst') // vanished without a FIN: the peer goes too, after the bytes in flight
        if (--open === 0) live.delete(conn)
      })
    }
    wire(client, up, downPipe)
    wire(upstream, downPipe, up)
  })
  server.on('error', noop)

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port

  const cutAll = () => {
    for (const c of [...live]) {
      live.delete(c)
      stats.cuts++
      c.cut()
    }
  }

  if (profile.cutEveryMs && profile.cutEveryMs > 0) {
    cutTimer = setInterval(cutAll, profile.cutEveryMs)
  }

  return {
    port,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    stats: () => ({ ...stats }),
    cutAll,
    setDown(d: boolean) {
      down = d
      if (d) cutAll()
    },
    async close() {
      if (closed) return
      closed = true
      if (cutTimer) clearInterval(cutTimer)
      cutTimer = null
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const c of [...live]) c.cut()
      live.clear()
      for (const s of [...sockets]) reset(s)
      await stopped
    },
  }
}
