/**
 * The province exchange of one node: its outbox (fed by the projection) and its pusher, opened
 * with the node when `--province-url` is given, stopped with it.
 */
import type { Application, CaseRoute, Folded } from '../../../protocol/index.ts'
import type { Db, Queryable } from '../store/db.ts'
import type { ProvinceConfig } from './config.ts'
import { ProvinceOutbox, type OutboxRow } from './outbox.ts'
import { ProvincePusher } from './pusher.ts'

/** /healthz counts pending and failed records up to this many (then says "more"). */
export const HEALTH_COUNT_BOUND = 10_000

export class ProvinceExchange {
  readonly outbox: ProvinceOutbox
  readonly pusher: ProvincePusher

  constructor(db: Db, private readonly config: ProvinceConfig, self: { code: string; name: string }, private readonly now: () => Date) {
    this.outbox = new ProvinceOutbox(db, self)
    this.pusher = new ProvincePusher(this.outbox, config, self.code, now)
  }

  /** The projection's hook: the case as just folded, in the transaction that stores it. */
  onCase(app: Application, f: Folded, route: CaseRoute, tx: Queryable): Promise<void> {
    return this.outbox.enqueue(app, f, route, tx, this.now())
  }

  /**
   * What /healthz says (no login, polled by every open page): counts and times only, bounded —
   * the address and the province's messages are for administrators (`GET /api/province`).
   */
  async health(): Promise<Record<string, unknown>> {
    const s = await this.outbox.summary({ bound: HEALTH_COUNT_BOUND })
    return { pending: s.pending, pendingMore: s.pendingMore, failed: s.failed, failedMore: s.failedMore, lastSuccess: s.lastSuccess, lastErrorAt: s.lastErrorAt, oldestPending: s.oldestPending }
  }

  /** `GET /api/province`: exact counts, the last success and error, and one page of the records in a state. */
  async view(q: { state: OutboxRow['state']; page: number; pageSize: number }): Promise<Record<string, unknown>> {
    const list = await this.outbox.list(q.state, q.page, q.pageSize)
    const { pendingMore: _p, failedMore: _f, ...s } = await this.outbox.summary({ acked: true })
    return { configured: true, url: this.config.url, ...s, list: { state: q.state, page: q.page, pageSize: q.pageSize, total: list.total, records: list.rows } }
  }

  async retry(keys: string[] | undefined): Promise<number> {
    const n = await this.outbox.retry(keys, this.now())
    if (n) this.pusher.kick()
    return n
  }

  start(): void {
    this.pusher.start()
  }

  stop(): Promise<void> {
    return this.pusher.stop()
  }
}
