/**
 * What this node owes one peer: its stored updates after the peer's cursor that the scopes
 * send that way, never those that came from that peer (no echo).
 */
import { noticeEnds, sendsDown, sendsUp, subtreePrefix, type DocRef } from '../../../protocol/index.ts'
import type { Db } from '../store/db.ts'

export interface OutEntry {
  seq: number
  docId: string
  update: Uint8Array
}

interface Row {
  seq: number
  doc_id: string
  origin: string
  update?: Uint8Array
  origin_code: string | null
  /** Every handler the case has had (its path is the union of the routes to them). */
  handlers: string[] | null
}

/**
 * The most stored updates a backlog count looks at (see `waiting`): about a day of a village's
 * work. Reading 2,000 rows took 13–30 ms in PGlite at load 13, over the 20 ms a poll may cost.
 */
export const BACKLOG_SCAN = 500

export class Outbox {
  /** The origin tag updates from this peer carry: those are never sent back to it. */
  readonly peerOrigin: string

  constructor(
    private readonly db: Db,
    readonly peer: string,
    readonly peerIsChild: boolean,
  ) {
    this.peerOrigin = peerIsChild ? `child:${peer}` : 'parent'
  }

  private wanted(r: Row): boolean {
    if (r.origin === this.peerOrigin) return false
    const [kind, rest] = [r.doc_id.slice(0, r.doc_id.indexOf(':')), r.doc_id.slice(r.doc_id.indexOf(':') + 1)]
    let ref: DocRef
    if (kind === 'case') {
      if (!r.origin_code || !r.handlers?.length) return false
      ref = { kind, originCode: r.origin_code, handlers: r.handlers }
    } else if (kind === 'catalogue') ref = { kind, scope: rest }
    else if (kind === 'stats') ref = { kind, nodeCode: rest.slice(0, 12), rollup: rest.endsWith(':sum') }
    else if (kind === 'directory') ref = { kind }
    else if (kind === 'escrow') ref = { kind, nodeCode: rest }
    else if (kind === 'watch') ref = { kind, nodeCode: rest }
    else if (kind === 'notice') {
      const ends = noticeEnds(rest)
      if (!ends) return false
      ref = { kind, ...ends }
    } else return false
    return this.peerIsChild ? sendsDown(this.peer, ref) : sendsUp(this.peer, ref)
  }

  /**
   * The next entries after `after`, up to about `maxBytes` of updates; `scannedTo` is the last
   * sequence looked at (entries not for this peer are skipped over).
   *
   * Only the updates that may go in this frame are read (issue 11, goal 1): a frame holds ~55
   * cases of the up to `maxRows` rows looked at, and reading all 400 rows' updates took most of
   * a village's time between frames (BENCHMARKS.md, "Session 10: the village's frames read
   * faster").
   * An update is left out (NULL) when it would take the updates before it in this read (those
   * not from the peer, counted as below) past `maxBytes`; the entries stop at the first one left
   * out, and `scannedTo` before it. The first one not from the peer is always read.
   */
  async next(after: number, maxBytes: number, maxRows = 400): Promise<{ entries: OutEntry[]; scannedTo: number }> {
    // The peer's own updates are passed over, so their bytes are not read: right after a
    // child's batch is applied, the link back to it walks every update the batch brought.
    const rows = await this.db.query<Row>(
      `SELECT seq, doc_id, origin, CASE WHEN origin = $3 OR (before > 0 AND before + octet_length(update) > $4) THEN NULL ELSE update END AS update, origin_code, handlers
       FROM (SELECT u.seq::float8 AS seq, u.doc_id, u.origin, u.update, r.origin_code, r.handlers,
               coalesce(sum(CASE WHEN u.origin = $3 THEN 0 ELSE octet_length(u.update) + length(u.doc_id) + 8 END) OVER (ORDER BY u.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
             FROM (SELECT * FROM doc_updates WHERE seq > $1 ORDER BY seq LIMIT $2) u LEFT JOIN doc_routes r ON r.doc_id = u.doc_id) t
       ORDER BY seq`,
      [after, maxRows, this.peerOrigin, maxBytes],
    )
    const entries: OutEntry[] = []
    let bytes = 0
    let scannedTo = after
    for (const r of rows) {
      if (this.wanted(r)) {
        // Past what this read carries (wanted rows are never the peer's own): the next read goes on here.
        const update = r.update
        if (update == null) break
        if (entries.length && bytes + update.length > maxBytes) break
        entries.push({ seq: Number(r.seq), docId: r.doc_id, update })
        bytes += update.length + r.doc_id.length + 8
      }
      scannedTo = Number(r.seq)
    }
    return { entries, scannedTo }
  }

  /**
   * How many updates after `after` are waiting for this peer, among the next BACKLOG_SCAN
   * stored: /healthz and /api/sync ask on every poll, and a store of a year (a county whose
   * parent never acknowledged) holds a million rows past the cursor. Past that many the figure
   * is a lower bound: `backlogBeyondScan` says when.
   */
  async waiting(after: number): Promise<number> {
    const rows = await this.db.query<Row>(
      `SELECT u.seq::float8 AS seq, u.doc_id, u.origin, r.origin_code, r.handlers
       FROM doc_updates u LEFT JOIN doc_routes r ON r.doc_id = u.doc_id WHERE u.seq > $1 ORDER BY u.seq LIMIT $2`,
      [after, BACKLOG_SCAN],
    )
    return rows.filter((r) => this.wanted(r)).length
  }

  /** Are there stored updates after `after` that `waiting` and `waitingCases` did not look at? */
  async backlogBeyondScan(after: number): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM doc_updates WHERE seq > $1 ORDER BY seq OFFSET $2 LIMIT 1', [after, BACKLOG_SCAN])).length > 0
  }

  /**
   * The cases with updates after `after` waiting for this peer (at a village: the cases not yet
   * sent up). Reads only the next BACKLOG_SCAN updates past the cursor, like `waiting`.
   */
  async waitingCases(after: number): Promise<string[]> {
    const rows = await this.db.query<Row>(
      `SELECT u.seq::float8 AS seq, u.doc_id, u.origin, r.origin_code, r.handlers
       FROM (SELECT seq, doc_id, origin FROM doc_updates WHERE seq > $1 ORDER BY seq LIMIT $2) u LEFT JOIN doc_routes r ON r.doc_id = u.doc_id WHERE u.doc_id LIKE 'case:%'`,
      [after, BACKLOG_SCAN],
    )
    return [...new Set(rows.filter((r) => this.wanted(r)).map((r) => r.doc_id.slice('case:'.length)))]
  }

  /** Should this peer hold this document? */
  async inScope(docId: string): Promise<boolean> {
    const [r] = await this.db.query<Row>(
      `SELECT $1::text AS doc_id, ''::text AS origin, 0::float8 AS seq, r.origin_code, r.handlers
       FROM (SELECT 1) one LEFT JOIN doc_routes r ON r.doc_id = $1`,
      [docId],
    )
    return this.wanted(r)
  }

  /** Every document this peer should hold (for the repair pass). */
  async docsInScope(): Promise<string[]> {
    // Toward a child, a case can be on its path only if its window or one of its handlers is in
    // the child's subtree: those routes, and the few documents that are not cases — not every
    // update of a county's year (a million rows) each time a township connects. `wanted` decides.
    const rows = this.peerIsChild
      ? await this.db.query<Row>(
        `SELECT r.doc_id, ''::text AS origin, 0::float8 AS seq, r.origin_code, r.handlers FROM doc_routes r
         WHERE r.origin_code LIKE $1 OR EXISTS (SELECT 1 FROM unnest(r.handlers) h WHERE h LIKE $1)
         UNION ALL
         SELECT DISTINCT u.doc_id, '', 0, NULL::text, NULL::text[] FROM doc_updates u WHERE u.doc_id < 'case:' OR u.doc_id >= 'case;'`,
        [`${subtreePrefix(this.peer)}%`],
      )
      : await this.db.query<Row>(
        `SELECT DISTINCT ON (u.doc_id) u.doc_id, ''::text AS origin, 0::float8 AS seq, r.origin_code, r.handlers
         FROM doc_updates u LEFT JOIN doc_routes r ON r.doc_id = u.doc_id`,
      )
    return rows.filter((r) => this.wanted(r)).map((r) => r.doc_id)
  }
}
