/**
 * A small closed-loop HTTP load generator (no autocannon here): `concurrency` workers on one
 * keep-alive agent, each sending its next request as soon as the last one is answered, bounded
 * by a request count and a deadline. Latency is measured per request from just before it is
 * written to the end of its response body.
 */
import { Agent, request } from 'node:http'

export interface Req {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
}

export interface Res {
  status: number
  body: string
}

export class Client {
  private readonly agent: Agent
  private readonly host: string
  private readonly port: number
  token = ''

  constructor(base: string, maxSockets = 16) {
    const u = new URL(base)
    this.host = u.hostname
    this.port = Number(u.port)
    this.agent = new Agent({ keepAlive: true, maxSockets })
  }

  send(r: Req): Promise<Res> {
    const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body))
    const headers: Record<string, string | number> = {}
    if (this.token) headers.authorization = `Bearer ${this.token}`
    if (payload) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = payload.length
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, method: r.method, path: r.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      })
      req.setTimeout(60_000, () => req.destroy(new Error(`${r.method} ${r.path}: no answer in 60 s`)))
      req.on('error', reject)
      req.end(payload)
    })
  }

  async login(name: string, password: string): Promise<void> {
    const r = await this.send({ method: 'POST', path: '/api/login', body: { name, password } })
    if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${r.body}`)
    this.token = (JSON.parse(r.body) as { token: string }).token
  }

  async json<T = any>(r: Req, expect = 200): Promise<T> {
    const res = await this.send(r)
    if (res.status !== expect) throw new Error(`${r.method} ${r.path}: ${res.status} ${res.body.slice(0, 500)}`)
    return JSON.parse(res.body) as T
  }

  close(): void {
    this.agent.destroy()
  }
}

export interface LoadResult {
  requests: number
  errors: number
  firstError?: string
  seconds: number
  /** Completed requests per second over the whole run. */
  perSecond: number
  /** Latencies in ms, sorted ascending. */
  latencies: number[]
  truncatedByDeadline: boolean
}

/**
 * Runs `n` requests made by `make(i)` with `concurrency` in flight, stopping early (and saying
 * so) if `deadlineMs` passes. A request whose status is not `expect` counts as an error.
 */
export async function load(client: Client, opts: { n: number; concurrency: number; deadlineMs: number; expect: number; make: (i: number) => Req }): Promise<LoadResult> {
  const latencies: number[] = []
  let next = 0
  let errors = 0
  let firstError: string | undefined
  let truncated = false
  const t0 = performance.now()
  const stopAt = t0 + opts.deadlineMs
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    for (;;) {
      if (next >= opts.n) return
      if (performance.now() > stopAt) {
        truncated = true
        return
      }
      const i = next++
      const r = opts.make(i)
      const s = performance.now()
      try {
        const res = await client.send(r)
        latencies.push(performance.now() - s)
        if (res.status !== opts.expect) {
          errors++
          firstError ??= `${r.method} ${r.path}: ${res.status} ${res.body.slice(0, 300)}`
        }
      } catch (e) {
        errors++
        firstError ??= `${r.method} ${r.path}: ${(e as Error).message}`
      }
    }
  }))
  const seconds = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  return { requests: latencies.length, errors, firstError, seconds, perSecond: (latencies.length - errors) / seconds, latencies, truncatedByDeadline: truncated }
}

/** The q-quantile (0..1) of ascending `sorted`, nearest-rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil(q * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function median(xs: number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5)
}
