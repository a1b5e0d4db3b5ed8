/** The link emulator's own behaviour: integrity, rate, delay, loss as HOL stall, cuts, down, stats. */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, it, expect } from 'vitest'
import { startLinkEmulator, type LinkEmulator, type LinkProfile } from './link-emulator.ts'

interface TestServer {
  port: number
  /** Sockets accepted so far. */
  accepted: number
  /** performance.now() of every 'data' event, with the running byte total. */
  arrivals: { t: number; total: number }[]
  close(): Promise<void>
}

/** A real TCP server on 127.0.0.1:0: 'echo' sends every byte back and ends when the client ends; 'sink' only counts. */
async function startServer(mode: 'echo' | 'sink'): Promise<TestServer> {
  const sockets = new Set<net.Socket>()
  const state: TestServer = { port: 0, accepted: 0, arrivals: [], close: async () => {} }
  let total = 0
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.accepted++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    s.on('data', (chunk: Buffer) => {
      total += chunk.length
      state.arrivals.push({ t: performance.now(), total })
      if (mode === 'echo') s.write(chunk)
    })
    s.on('end', () => s.end())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  state.port = (server.address() as net.AddressInfo).port
  state.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  }
  return state
}

async function withLink<T>(mode: 'echo' | 'sink', profile: LinkProfile, body: (link: LinkEmulator, server: TestServer) => Promise<T>): Promise<T> {
  const server = await startServer(mode)
  const link = await startLinkEmulator({ host: '127.0.0.1', port: server.port }, profile)
  try {
    return await body(link, server)
  } finally {
    await link.close()
    await server.close()
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s))
    s.once('error', reject)
  })
}

/** Writes `data`, half-closes, and collects everything that comes back until the peer's FIN. */
async function echoRoundTrip(port: number, data: Buffer): Promise<Buffer> {
  const s = await connect(port)
  const got: Buffer[] = []
  const done = new Promise<Buffer>((resolve, reject) => {
    s.on('data', (c: Buffer) => got.push(c))
    s.on('end', () => resolve(Buffer.concat(got)))
    s.on('error', reject)
    s.on('close', () => reject(new Error(`closed before end after ${Buffer.concat(got).length} bytes`)))
  })
  s.end(data)
  try {
    return await done
  } finally {
    s.destroy()
  }
}

const waitFor = async (cond: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const execFileAsync = promisify(execFile)

describe('link emulator', () => {
  it('(a) delivers 1 MB intact and in order both ways, and FIN after the data', async () => {
    await withLink('echo', { rateBitsPerSec: 1_000_000_000, rttMs: 2 }, async (link) => {
      const data = randomBytes(1024 * 1024)
      const back = await echoRoundTrip(link.port, data)
      expect(back.length).toBe(data.length)
      expect(back.equals(data)).toBe(true)
      expect(link.stats()).toMatchObject({ bytesUp: data.length, bytesDown: data.length, connections: 1 })
    })
  })

  it('(b) paces at the link rate: 25,000 bytes at 100 kbit/s take at least 2 s, not a burst', async () => {
    await withLink('sink', { rateBitsPerSec: 100_000, rttMs: 100 }, async (link, server) => {
      const s = await connect(link.port)
      const t0 = performance.now()
      s.write(randomBytes(25_000))
      await waitFor(() => server.arrivals.at(-1)?.total === 25_000, 60_000, '25,000 bytes at the sink')
      // Lower bounds only: a loaded machine can stretch the transfer, never shorten it.
      const seconds = (server.arrivals.at(-1)!.t - t0) / 1000
      expect(seconds).toBeGreaterThanOrEqual(1.9)
      // Paced, not bursted: by the middle of the transfer at most about half the bytes are in.
      const mid = server.arrivals.filter((a) => a.t - t0 < 1_050).at(-1)?.total ?? 0
      expect(mid).toBeLessThan(17_000)
      s.destroy()
    })
  })

  it('(c) delays by rtt / 2 one way: 10 bytes with rtt 600 arrive after ≥ 290 ms', async () => {
    await withLink('sink', { rateBitsPerSec: 100_000_000, rttMs: 600 }, async (link, server) => {
      const s = await connect(link.port)
      const t0 = performance.now()
      s.write(Buffer.from('0123456789'))
      await waitFor(() => server.arrivals.at(-1)?.total === 10, 60_000, '10 bytes at the sink')
      const ms = server.arrivals[0].t - t0
      expect(ms).toBeGreaterThanOrEqual(290)
      s.destroy()
    })
  })

  it('(d) cutAll destroys the live connection; cutEveryMs cuts on its own', async () => {
    await withLink('echo', { rateBitsPerSec: 10_000_000, rttMs: 10 }, async (link, server) => {
      const s = await connect(link.port)
      s.on('error', () => {})
      const closed = new Promise<void>((r) => s.once('close', () => r()))
      await waitFor(() => server.accepted === 1, 60_000, 'the upstream connection')
      link.cutAll()
      await closed
      expect(link.stats().cuts).toBe(1)
    })
    await withLink('echo', { rateBitsPerSec: 10_000_000, rttMs: 10, cutEveryMs: 300 }, async (link) => {
      const s = await connect(link.port)
      s.on('error', () => {})
      // The echo server never closes: a close can only be the emulator's own cut.
      await new Promise<void>((r) => s.once('close', () => r()))
      expect(link.stats().cuts).toBeGreaterThanOrEqual(1)
    })
  })

  it('(e) setDown(true) cuts and refuses; setDown(false) accepts again', async () => {
    await withLink('echo', { rateBitsPerSec: 10_000_000, rttMs: 10 }, async (link, server) => {
      const live = await connect(link.port)
      live.on('error', () => {})
      const liveClosed = new Promise<void>((r) => live.once('close', () => r()))
      await waitFor(() => server.accepted === 1, 60_000, 'the upstream connection')
      link.setDown(true)
      await liveClosed

      // Accepted, then destroyed at once: no byte comes back and the target never sees it.
      const refused = net.connect({ host: '127.0.0.1', port: link.port })
      let got = 0
      refused.on('data', (c: Buffer) => (got += c.length))
      refused.on('error', () => {})
      refused.on('connect', () => refused.write('ping'))
      await new Promise<void>((r) => refused.once('close', () => r()))
      await new Promise((r) => setTimeout(r, 100))
      expect(got).toBe(0)
      expect(server.accepted).toBe(1)
      expect(link.stats()).toMatchObject({ connections: 1, refused: 1 })

      link.setDown(false)
      const back = await echoRoundTrip(link.port, Buffer.from('ping'))
      expect(back.toString()).toBe('ping')
      expect(server.accepted).toBe(2)
    })
  })

  it('(f) loss 0.05 with a fixed seed stalls the stream but delivers every byte in order', async () => {
    await withLink('echo', { rateBitsPerSec: 10_000_000, rttMs: 20, lossRate: 0.05, seed: 7 }, async (link) => {
      const data = randomBytes(200 * 1024)
      const t0 = performance.now()
      const back = await echoRoundTrip(link.port, data)
      const ms = performance.now() - t0
      expect(back.equals(data)).toBe(true)
      // ~280 segments cross the link; some are "lost", each costing an RTO (200 ms) of stall on
      // top of the ~180 ms a clean run takes.
      expect(ms).toBeGreaterThanOrEqual(350)
    })
  })

  it('(g) stats count payload bytes up and down separately', async () => {
    await withLink('sink', { rateBitsPerSec: 100_000_000, rttMs: 4 }, async (link, server) => {
      const s = await connect(link.port)
      s.write(randomBytes(3_000))
      await waitFor(() => server.arrivals.at(-1)?.total === 3_000, 60_000, '3,000 bytes at the sink')
      expect(link.stats()).toEqual({ bytesUp: 3_000, bytesDown: 0, connections: 1, cuts: 0, refused: 0 })
      s.destroy()
    })
    await withLink('echo', { rateBitsPerSec: 100_000_000, rttMs: 4 }, async (link) => {
      await echoRoundTrip(link.port, randomBytes(1_000))
      await echoRoundTrip(link.port, randomBytes(500))
      expect(link.stats()).toEqual({ bytesUp: 1_500, bytesDown: 1_500, connections: 2, cuts: 0, refused: 0 })
    })
  })

  it('close() mid-transfer destroys every socket and clears every timer: the process exits by itself', async () => {
    // In a child process, so that nothing but the emulator's own handles can keep the loop alive:
    // 200 KB queued on a 100 kbit/s link would take ~16 s to drain, and cutEveryMs is a ref'd
    // interval, so any timer left behind by close() keeps the child from exiting.
    const script = `
      import net from 'node:net'
      const { startLinkEmulator } = await import(process.env.EMULATOR_URL)
      const server = net.createServer((s) => { s.on('data', () => {}); s.on('error', () => {}) })
      await new Promise((r) => server.listen(0, '127.0.0.1', r))
      const link = await startLinkEmulator({ host: '127.0.0.1', port: server.address().port },
        { rateBitsPerSec: 100_000, rttMs: 600, lossRate: 0.1, cutEveryMs: 20_000 })
      const s = net.connect({ host: '127.0.0.1', port: link.port })
      s.on('error', () => {})
      s.on('close', () => console.log('client closed'))
      await new Promise((r) => s.once('connect', r))
      s.write(Buffer.alloc(200_000))
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, 700))
      server.close()
      await link.close()
      console.log(JSON.stringify({ ...link.stats(), ms: performance.now() - t0 }))
    `
    // Exiting at all is the point (a held handle would keep it alive until the timeout).
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, EMULATOR_URL: new URL('./link-emulator.ts', import.meta.url).href },
      timeout: 120_000,
    })
    expect(stdout).toContain('client closed')
    const stats = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!)
    expect(stats.connections).toBe(1)
    expect(stats.bytesUp).toBeGreaterThan(0) // the transfer was under way...
    expect(stats.bytesUp).toBeLessThan(200_000) // ...and not done
    // ...and paced: at most 100 kbit/s over the time it actually ran (a loaded machine stretches
    // the 700 ms; the bytes may follow the clock, never outrun it), plus a segment of slack.
    expect(stats.bytesUp).toBeLessThanOrEqual((100_000 / 8) * (stats.ms / 1000) + 1_460)
  })
})
