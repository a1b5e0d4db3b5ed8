/**
 * The province outbox (migration 014): the records owed to the province, written in the
 * transaction that projects a case — so a record exists exactly when its case does, and a
 * province that is down loses nothing — and their fate: acknowledged, refused for good (failed,
 * with the province's reason), or pending with its next attempt.
 */
import { provinceRecords, type Application, type CaseRoute, type Folded, type ProvinceKind, stagesOf } from '../../../protocol/index.ts'
import type { Db, Queryable } from '../store/db.ts'

export interface DueRecord {
  key: string
  kind: ProvinceKind
  payload: unknown
  attempts: number
}

export interface OutboxRow {
  key: string
  kind: ProvinceKind
  caseId: string
  /** The stage of a case record (受理, 办结 …); null for a rating. */
  stage: string | null
  state: 'pending' | 'failed' | 'acked'
  attempts: number
  nextAt: string
  lastError: string | null
  createdAt: string
  ackedAt: string | null
}

export class ProvinceOutbox {
  constructor(private readonly db: Db, private readonly self: { code: string; name: string }) {}

  /**
   * Called by the projection with the case as just folded: enqueues the records of every stage
   * it has reached and its rating, once each (the key makes a re-projection a no-op). Costs
   * nothing for a case with no reportable stage, and two statements otherwise.
   */
  async enqueue(app: Application, f: Folded, route: CaseRoute, tx: Queryable, now: Date): Promise<void> {
    if (!stagesOf(f).length && f.rating === null) return
    const handler = f.handlerCode ?? app.handlerCode
    const [n] = await tx.query<{ item: string | null; units: Record<string, string> | null }>(
      `SELECT coalesce((SELECT name FROM catalogue_items WHERE code = $1), (SELECT name FROM item_names WHERE code = $1)) AS item,
        (SELECT jsonb_object_agg(code, name) FROM units WHERE code = ANY($2::text[])) AS units`,
      [app.itemCode, [app.originCode, handler]],
    )
    const units = { ...n?.units, [this.self.code]: this.self.name }
    const recs = provinceRecords(this.self.code, app, f, route, { item: n?.item ?? app.itemCode, unit: (c) => units[c] ?? c })
    const rows = [...recs.case.map((r) => ({ key: r.key, kind: 'case', payload: r })), ...recs.rating.map((r) => ({ key: r.key, kind: 'rating', payload: r }))]
    if (!rows.length) return
    await tx.query(
      `INSERT INTO province_outbox (record_key, kind, case_id, payload, next_at, created_at)
       SELECT r->>'key', r->>'kind', $1, r->'payload', $3, $3 FROM jsonb_array_elements($2::jsonb) AS r
       ON CONFLICT (record_key) DO NOTHING`,
      [app.id, JSON.stringify(rows), now.toISOString()],
    )
  }

  /**
   * Claims up to `limit` pending records due by `now`, oldest first: their next attempt moves to
   * `leaseUntil`, in the statement that reads them, and rows another process holds are skipped
   * (several processes of one node may share a PostgreSQL store, each with its pusher). So no
   * two pushers send a record at once, and a pusher that dies mid-request leaves its records to
   * be sent again when the lease runs out.
   */
  async claim(now: Date, limit: number, leaseUntil: Date): Promise<DueRecord[]> {
    const rows = await this.db.query<DueRecord>(
      `UPDATE province_outbox o SET next_at = $3
       FROM (SELECT record_key FROM province_outbox WHERE state = 'pending' AND next_at <= $1
             ORDER BY next_at, record_key LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE o.record_key = d.record_key
       RETURNING o.record_key AS key, o.kind, o.payload, o.attempts`,
      [now.toISOString(), limit, leaseUntil.toISOString()],
    )
    return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Claimed records not sent after all (the node is stopping): due again now. */
  async release(keys: string[], now: Date): Promise<void> {
    if (!keys.length) return
    await this.db.query(`UPDATE province_outbox SET next_at = $2 WHERE record_key = ANY($1::text[]) AND state = 'pending'`, [keys, now.toISOString()])
  }

  /**
   * The province holds these (taken now, or already): never sent again. An acknowledged record's
   * next_at becomes its acknowledgement time, so the one (state, next_at) index also lists the
   * acknowledged, newest first, without sorting a table that only grows.
   */
  async acked(keys: string[], now: Date): Promise<void> {
    if (!keys.length) return
    await this.db.query(
      `UPDATE province_outbox SET state = 'acked', acked_at = $2, next_at = $2, last_error = NULL, attempts = attempts + 1
       WHERE record_key = ANY($1::text[]) AND state <> 'acked'`,
      [keys, now.toISOString()],
    )
  }

  /** Refused for good: kept with the reason, sent again only when someone asks (retry). */
  async failed(fails: { key: string; reason: string }[]): Promise<void> {
    if (!fails.length) return
    await this.db.query(
      `UPDATE province_outbox o SET state = 'failed', attempts = o.attempts + 1, last_error = v.reason
       FROM unnest($1::text[], $2::text[]) AS v(key, reason) WHERE o.record_key = v.key AND o.state = 'pending'`,
      [fails.map((f) => f.key), fails.map((f) => f.reason)],
    )
  }

  /** Not taken this time: tried again at its own next time. */
  async later(retries: { key: string; at: Date; reason: string }[]): Promise<void> {
    if (!retries.length) return
    await this.db.query(
      `UPDATE province_outbox o SET attempts = o.attempts + 1, next_at = v.at, last_error = v.reason
       FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS v(key, at, reason) WHERE o.record_key = v.key AND o.state = 'pending'`,
      [retries.map((r) => r.key), retries.map((r) => r.at.toISOString()), retries.map((r) => r.reason)],
    )
  }

  /** Failed records (all, or those named) go back to pending, due now; answers how many. */
  async retry(keys: string[] | undefined, now: Date): Promise<number> {
    const rows = await this.db.query(
      `UPDATE province_outbox SET state = 'pending', attempts = 0, next_at = $2
       WHERE state = 'failed' AND ($1::text[] IS NULL OR record_key = ANY($1::text[])) RETURNING record_key`,
      [keys ?? null, now.toISOString()],
    )
    return rows.length
  }

  async noteSuccess(now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO province_status (id, last_success) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET last_success = EXCLUDED.last_success`,
      [now.toISOString()],
    )
  }

  async noteError(message: string, now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO province_status (id, last_error, last_error_at) VALUES (1, $1, $2)
       ON CONFLICT (id) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = EXCLUDED.last_error_at`,
      [message, now.toISOString()],
    )
  }

  /**
   * Counts by state, the last success and error, and the oldest pending record's age. `bound`
   * caps the pending and failed counts (what /healthz polls: a province down for a week leaves
   * many pending rows, and the banner asks every few seconds); the acknowledged count, which
   * only grows, is counted only when asked for (the status page).
   */
  async summary(o: { bound?: number; acked?: boolean } = {}): Promise<{
    pending: number; pendingMore: boolean; failed: number; failedMore: boolean; acked: number | null
    lastSuccess: string | null; lastError: string | null; lastErrorAt: string | null; oldestPending: string | null
  }> {
    const cap = o.bound ?? 1_000_000_000
    // Each count reads the (state, next_at) index, and at most cap + 1 entries of it.
    const [r] = await this.db.query<Record<string, unknown>>(
      `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM province_outbox WHERE state = 'pending' LIMIT $1) p) AS pending,
         (SELECT count(*)::int FROM (SELECT 1 FROM province_outbox WHERE state = 'failed' LIMIT $1) f) AS failed,
         CASE WHEN $2 THEN (SELECT count(*)::int FROM province_outbox WHERE state = 'acked') END AS acked,
         (SELECT min(created_at) FROM (SELECT created_at FROM province_outbox WHERE state = 'pending' ORDER BY next_at LIMIT $1) o) AS oldest,
         s.last_success, s.last_error, s.last_error_at
       FROM (SELECT 1) AS one LEFT JOIN province_status s ON s.id = 1`,
      [cap + 1, o.acked ?? false],
    )
    const pending = Number(r.pending)
    const failed = Number(r.failed)
    return {
      pending: Math.min(pending, cap), pendingMore: pending > cap, failed: Math.min(failed, cap), failedMore: failed > cap,
      acked: r.acked == null ? null : Number(r.acked),
      lastSuccess: iso(r.last_success), lastError: (r.last_error as string | null) ?? null, lastErrorAt: iso(r.last_error_at), oldestPending: iso(r.oldest),
    }
  }

  /** One page of the records in `state`, and how many there are. */
  async list(state: OutboxRow['state'], page: number, pageSize: number): Promise<{ total: number; rows: OutboxRow[] }> {
    const [{ n }] = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM province_outbox WHERE state = $1', [state])
    // By the (state, next_at) index: pending by their next attempt, acknowledged newest first
    // (next_at is the acknowledgement time, see acked), failed ones (few) by age.
    const order = state === 'pending' ? 'next_at, record_key' : state === 'acked' ? 'next_at DESC, record_key' : 'created_at, record_key'
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT record_key, kind, case_id, payload->>'stage' AS stage, state, attempts, next_at, last_error, created_at, acked_at FROM province_outbox
       WHERE state = $1 ORDER BY ${order} LIMIT $2 OFFSET $3`,
      [state, pageSize, (page - 1) * pageSize],
    )
    return {
      total: Number(n),
      rows: rows.map((r) => ({
        key: r.record_key as string, kind: r.kind as ProvinceKind, caseId: r.case_id as string, stage: (r.stage as string | null) ?? null, state: r.state as OutboxRow['state'],
        attempts: Number(r.attempts), nextAt: iso(r.next_at)!, lastError: (r.last_error as string | null) ?? null, createdAt: iso(r.created_at)!, ackedAt: iso(r.acked_at),
      })),
    }
  }
}

function iso(v: unknown): string | null {
  if (v == null) return null
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()
}
