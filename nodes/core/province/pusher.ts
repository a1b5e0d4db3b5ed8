/**
 * The background pusher: takes the due records from the outbox in bounded batches, posts them
 * to the province with a per-request timeout, and records each record's fate from the
 * province's per-record acknowledgements. Nothing is pushed twice: a record leaves the pending
 * state only on an acknowledgement (taken or duplicate) or a refusal, and its key is its
 * idempotency key, so a resend after a lost answer counts once at the province. Network errors,
 * timeouts, 5xx, 408/429 and refused credentials are retried with backoff; a record the province
 * refuses (per record, or a request it refuses as such) is marked failed with the reason.
 */
import {
  backoffMs, ProvinceCaseRecordSchema, ProvinceRatingRecordSchema, ProvinceResponseSchema, type ProvinceAck, type ProvinceKind,
} from '../../../protocol/index.ts'
import { PROVINCE_DEFAULTS, type ProvinceConfig } from './config.ts'
import type { DueRecord, ProvinceOutbox } from './outbox.ts'

/** A claimed record's lease outlasts its request's timeout by this much. */
const LEASE_MARGIN_MS = 60_000

const PATHS: Record<ProvinceKind, string> = { case: 'cases', rating: 'ratings' }
const SCHEMAS = { case: ProvinceCaseRecordSchema, rating: ProvinceRatingRecordSchema }

export class ProvincePusher {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false
  private inflight: AbortController | null = null
  private readonly batchSize: number
  private readonly timeoutMs: number
  private readonly backoff: { baseMs: number; capMs: number }
  private readonly pollMs: number
  private readonly random: () => number
  private readonly auth: string

  constructor(private readonly outbox: ProvinceOutbox, private readonly config: ProvinceConfig, private readonly source: string, private readonly now: () => Date) {
    this.batchSize = config.batchSize ?? PROVINCE_DEFAULTS.batchSize
    this.timeoutMs = config.timeoutMs ?? PROVINCE_DEFAULTS.timeoutMs
    this.backoff = config.backoff ?? PROVINCE_DEFAULTS.backoff
    this.pollMs = config.pollMs ?? PROVINCE_DEFAULTS.pollMs
    this.random = config.random ?? Math.random
    this.auth = 'Basic ' + Buffer.from(`${config.credentials.clientId}:${config.credentials.clientSecret}`).toString('base64')
  }

  start(): void {
    this.schedule(0)
  }

  /** Look now (a case changed, a retry was asked for) instead of at the next poll. */
  kick(): void {
    if (this.stopped) return
    if (this.running) this.again = true
    else this.schedule(0)
  }

  /** Stops polling, abandons a request in flight (its records stay pending), and waits for the round to end. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.inflight?.abort(new Error('the node is stopping'))
    await this.running
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.round().catch((e) => console.error(`[${this.source}] province push failed:`, e)).finally(() => {
        this.running = null
        this.schedule(this.again ? 0 : this.pollMs)
        this.again = false
      })
    }, ms)
    this.timer.unref()
  }

  /** Sends due records until none is due or a request did not fully succeed. */
  private async round(): Promise<void> {
    while (!this.stopped) {
      // Leased for longer than a request may take: another process sends none of them meanwhile.
      const now = this.now()
      const due = await this.outbox.claim(now, this.batchSize, new Date(now.getTime() + this.timeoutMs + LEASE_MARGIN_MS))
      if (!due.length) return
      let clean = true
      // One kind per request (each has its own endpoint).
      for (const kind of [...new Set(due.map((d) => d.kind))]) {
        const batch = due.filter((d) => d.kind === kind)
        if (this.stopped) {
          await this.outbox.release(batch.map((d) => d.key), this.now())
          continue
        }
        if (!(await this.send(kind, batch))) clean = false
      }
      if (!clean) return
    }
  }

  /** Posts one batch; answers whether every record was acknowledged. */
  private async send(kind: ProvinceKind, batch: DueRecord[]): Promise<boolean> {
    // The stored payload is read back like any input: a record that no longer matches the schema is never sent.
    const bad: { key: string; reason: string }[] = []
    const good: DueRecord[] = []
    for (const d of batch) {
      const r = SCHEMAS[kind].safeParse(d.payload)
      if (r.success && r.data.key === d.key) good.push(d)
      else bad.push({ key: d.key, reason: `the stored record does not match the exchange's schema: ${r.success ? 'its key differs' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` })
    }
    await this.outbox.failed(bad)
    if (!good.length) return !bad.length
    const ac = new AbortController()
    this.inflight = ac
    const timer = setTimeout(() => ac.abort(new TimeoutError()), this.timeoutMs)
    let res: Response
    let text: string
    try {
      res = await fetch(`${this.config.url.replace(/\/+$/, '')}/${PATHS[kind]}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: this.auth, 'x-tongban-source': this.source },
        body: JSON.stringify({ source: this.source, records: good.map((d) => d.payload) }),
        signal: ac.signal,
      })
      text = await boundedText(res, MAX_ANSWER_BYTES)
    } catch (e) {
      if (this.stopped) {
        // Abandoned on stop: the records stay pending, due again at the next start.
        await this.outbox.release(good.map((d) => d.key), this.now())
        return false
      }
      const why = ac.signal.reason instanceof TimeoutError
        ? `省平台 ${Math.round(this.timeoutMs / 1000)} 秒内未答复 (no answer within ${this.timeoutMs} ms)`
        : e instanceof AnswerTooLongError ? `省平台答复过长 (${e.message})` : `无法连接省平台 (cannot reach the province: ${causeOf(e)})`
      await this.retryLater(good, why)
      return false
    } finally {
      clearTimeout(timer)
      this.inflight = null
      ac.abort() // a no-op once the answer is read whole; else it tears down what is left of it
    }
    const parsed = parseResults(text)
    if (res.ok || (parsed && res.status >= 400 && res.status < 500 && ![401, 403, 408, 429].includes(res.status))) {
      if (!parsed) {
        await this.retryLater(good, `省平台答复无法识别 (HTTP ${res.status} without per-record results: ${snippet(text)})`)
        return false
      }
      return this.apply(good, parsed)
    }
    const why = `省平台拒绝请求 (HTTP ${res.status}: ${snippet(text)})`
    if (res.status >= 400 && res.status < 500 && ![401, 403, 408, 429].includes(res.status)) {
      // The request as such is refused (wrong address, an envelope it does not take): sending it
      // again unchanged cannot help, so the records wait, failed, for someone to fix and retry.
      await this.outbox.failed(good.map((d) => ({ key: d.key, reason: why })))
      await this.outbox.noteError(why, this.now())
      return false
    }
    await this.retryLater(good, res.status === 401 || res.status === 403 ? `省平台拒绝了凭据 (HTTP ${res.status}: check --province-credentials)` : why)
    return false
  }

  /** Each record by its acknowledgement (several for one key: taken beats refused beats not taken). */
  private async apply(batch: DueRecord[], acks: ProvinceAck[]): Promise<boolean> {
    const byKey = new Map<string, ProvinceAck>()
    const rank = { accepted: 3, duplicate: 3, rejected: 2, error: 1 }
    for (const a of acks) {
      const had = byKey.get(a.key)
      if (!had || rank[a.status] > rank[had.status]) byKey.set(a.key, a)
    }
    const now = this.now()
    const acked: string[] = []
    const failed: { key: string; reason: string }[] = []
    const later: DueRecord[] = []
    const reasons = new Map<string, string>()
    for (const d of batch) {
      const a = byKey.get(d.key)
      if (a?.status === 'accepted' || a?.status === 'duplicate') acked.push(d.key)
      else if (a?.status === 'rejected') failed.push({ key: d.key, reason: `省平台退回 (${a.code ?? 'rejected'}): ${a.message ?? 'no reason given'}` })
      else {
        later.push(d)
        reasons.set(d.key, a ? `省平台暂未接收 (${a.code ?? 'error'}): ${a.message ?? 'no reason given'}` : '省平台未确认此记录 (no acknowledgement for this record)')
      }
    }
    await this.outbox.acked(acked, now)
    await this.outbox.failed(failed)
    await this.outbox.later(later.map((d) => ({ key: d.key, at: this.nextAt(d, now), reason: reasons.get(d.key)! })))
    if (acked.length) await this.outbox.noteSuccess(now)
    if (failed.length || later.length) await this.outbox.noteError((failed[0]?.reason ?? reasons.get(later[0].key))!, now)
    return !failed.length && !later.length
  }

  private async retryLater(batch: DueRecord[], why: string): Promise<void> {
    const now = this.now()
    await this.outbox.later(batch.map((d) => ({ key: d.key, at: this.nextAt(d, now), reason: why })))
    await this.outbox.noteError(why, now)
  }

  private nextAt(d: DueRecord, now: Date): Date {
    return new Date(now.getTime() + backoffMs(d.attempts + 1, this.backoff, this.random()))
  }
}

class TimeoutError extends Error {}
class AnswerTooLongError extends Error {}

/** The most of an answer read: acknowledgements for a full batch take a few KB. */
const MAX_ANSWER_BYTES = 1 << 20

/** The body as text, refusing (as a failed request) one longer than `max` bytes. */
async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      // Not awaited: a cancel can wait on the far side; the request's abort cuts the connection.
      void reader.cancel().catch(() => {})
      throw new AnswerTooLongError(`the answer is longer than ${max} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseResults(text: string): ProvinceAck[] | null {
  try {
    const r = ProvinceResponseSchema.safeParse(JSON.parse(text))
    return r.success ? r.data.results : null
  } catch {
    return null
  }
}

/** The start of an answer, for the error shown to an administrator (bounded, one line). */
function snippet(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim()
  return s ? (s.length > 200 ? s.slice(0, 200) + '…' : s) : 'empty body'
}

function causeOf(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause
  return c?.code ?? c?.message ?? (e as Error).message ?? String(e)
}
