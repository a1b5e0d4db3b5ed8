/**
 * The attachment lane of one link (PROTOCOL.md, "Attachments"): the bytes of scanned materials
 * travel here, after cases, decisions and the catalogue, only along a case's path, resumable.
 *
 * Pull, not push. The receiver asks (`piece-want`) for the pieces it lacks of every file a case
 * it holds names — from what it already holds, so a cut resumes and a held piece never comes
 * twice — at most MAX_WANTS_IN_FLIGHT at a time (one updates window's worth), and one peer at a
 * time per file. When the last piece is in, the whole is hashed against its name.
 *
 * The sender serves a want only when its updates lane is idle (nothing unsent, the window with
 * room: cases first), and only for a file that a case in the peer's scope names; any other want
 * is logged and answered with an empty piece — the same answer as for a piece it does not hold
 * yet, so asking reveals nothing. Wants waiting here are bounded (MAX_WANTS_QUEUED).
 */
import { missingPieces, PIECE_BYTES, type AttachmentMime, type PieceFrame, type PieceWantFrame, type LinkFrame } from '../../../protocol/index.ts'
import { attachmentsOf } from '../attachments/store.ts'
import type { TongbanNode } from '../node.ts'
import type { Outbox } from './outbox.ts'
import { quotaOf } from './quotas.ts'

/** Our wants unanswered at once: 3 × 16 KB, about one updates window on the slow line. */
export const MAX_WANTS_IN_FLIGHT = 3
/** The peer's wants waiting to be served here; more are answered empty at once. */
export const MAX_WANTS_QUEUED = 8
/** A file the peer could not give (yet) is asked for again after this long. */
export const RETRY_MS = 5_000
/** A want unanswered this long is forgotten (asked again on the next pass). */
const WANT_TIMEOUT_MS = 60_000
/** How many files a pass looks at (the rest on the next pass). */
const PASS_FILES = 200
/** How many files not yet sent whole the waiting figure looks at. */
const WAITING_SCAN = 500

/** What a lane has moved, per node and peer (for /api/sync, and for tests to count). */
export interface LaneCounters {
  piecesSent: number
  pieceBytesSent: number
  piecesReceived: number
  pieceBytesReceived: number
  /** Wants answered empty because the file is not the peer's to have. */
  refusedWants: number
  /** Files completed here from this peer, hash checked. */
  filesReceived: number
}
const counters = new WeakMap<object, Map<string, LaneCounters>>()
export function laneCounters(node: object, peer: string): LaneCounters {
  let m = counters.get(node)
  if (!m) counters.set(node, (m = new Map()))
  let c = m.get(peer)
  if (!c) m.set(peer, (c = { piecesSent: 0, pieceBytesSent: 0, piecesReceived: 0, pieceBytesReceived: 0, refusedWants: 0, filesReceived: 0 }))
  return c
}

/**
 * Pieces this node asks a peer for in an hour stay within this share of the peer's hourly byte
 * quota at this node (quotas.ts): a long backlog of scans slows down, it never closes the link
 * with 4429 on the cases that share it.
 */
export const PIECE_QUOTA_SHARE = 0.75
const HOUR_MS = 3_600_000
const budgets = new WeakMap<object, Map<string, { tokens: number; at: number; perHour: number }>>()
/** Takes one piece's bytes from the hourly budget for asking `peer`; false when the hour's share is spent. */
function takeBudget(node: object, peer: string): boolean {
  let m = budgets.get(node)
  if (!m) budgets.set(node, (m = new Map()))
  let b = m.get(peer)
  if (!b) {
    const perHour = PIECE_QUOTA_SHARE * quotaOf(node, peer).limits.bytesPerHour
    m.set(peer, (b = { tokens: perHour, at: Date.now(), perHour }))
  }
  const now = Date.now()
  b.tokens = Math.min(b.perHour, b.tokens + ((now - b.at) * b.perHour) / HOUR_MS)
  b.at = now
  if (b.tokens < PIECE_BYTES + 64) return false
  b.tokens -= PIECE_BYTES + 64
  return true
}

/** Which lane of a node pulls which file: one peer at a time per file. */
const claims = new WeakMap<object, Map<string, AttachmentLane>>()
const claimsOf = (node: object) => {
  let m = claims.get(node)
  if (!m) claims.set(node, (m = new Map()))
  return m
}

interface Want { caseId: string; hash: string; offset: number; size: number; mime: AttachmentMime; at: number }

export class AttachmentLane {
  private readonly queued: PieceWantFrame[] = []
  private readonly inflight = new Map<string, Want>()
  private readonly notBefore = new Map<string, number>()
  private readonly count: LaneCounters
  private timer: NodeJS.Timeout | null = null
  private nudgeTimer: NodeJS.Timeout | null = null
  private pulling = false
  private pullAgain = false
  private serving = false
  private closed = false
  private unasked = 0

  constructor(
    private readonly node: TongbanNode,
    private readonly peer: string,
    private readonly outbox: Outbox,
    private readonly send: (f: LinkFrame) => void,
    /** True when the updates lane has nothing to send and room in its window. */
    private readonly idle: () => boolean,
    private readonly log: (msg: string) => void,
  ) {
    this.count = laneCounters(node, peer)
  }

  private get store() {
    return attachmentsOf(this.node)
  }

  /** Both hellos are through: start asking, and look again now and then (a refused file, a lost want). */
  start(): void {
    if (this.closed || this.timer) return
    this.timer = setInterval(() => this.nudge(0), RETRY_MS)
    this.timer.unref()
    this.nudge(0)
  }

  /** Something changed (a case may name a new file): look for wants to send, soon. */
  nudge(delayMs = 200): void {
    if (this.closed || !this.timer || this.nudgeTimer) return
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = null
      void this.pull().catch((e) => this.log(`attachment lane with ${this.peer}: looking for files to fetch failed: ${(e as Error)?.message ?? String(e)}`))
    }, delayMs)
    this.nudgeTimer.unref()
  }

  /** Sends wants for what this node lacks of files named by cases on the peer's side of the path. */
  private async pull(): Promise<void> {
    if (this.closed) return
    if (this.pulling) {
      this.pullAgain = true
      return
    }
    this.pulling = true
    try {
      do {
        this.pullAgain = false
        await this.pullOnce()
      } while (this.pullAgain && !this.closed)
    } finally {
      this.pulling = false
    }
  }

  private async pullOnce(): Promise<void> {
    const now = Date.now()
    for (const [k, w] of this.inflight) if (now - w.at > WANT_TIMEOUT_MS) this.inflight.delete(k)
    if (this.inflight.size >= MAX_WANTS_IN_FLIGHT) return
    const files = await this.node.db.query<{ case_id: string; hash: string; size: number; mime: AttachmentMime }>(
      `SELECT DISTINCT ON (e.body->>'hash') e.case_id, e.body->>'hash' AS hash, (e.body->>'size')::int AS size, e.body->>'mime' AS mime
       FROM case_events e LEFT JOIN attachment_blobs b ON b.hash = e.body->>'hash'
       WHERE e.type = 'attached' AND b.complete IS NOT TRUE
       ORDER BY e.body->>'hash', e.at LIMIT ${PASS_FILES}`,
    )
    const mine = claimsOf(this.node)
    for (const f of files) {
      if (this.closed || this.inflight.size >= MAX_WANTS_IN_FLIGHT) return
      if ((this.notBefore.get(f.hash) ?? 0) > now) continue
      const holder = mine.get(f.hash)
      if (holder && holder !== this && !holder.closed) continue
      // Only from a peer on the case's path: one the case itself would be sent to.
      if (!(await this.outbox.inScope(`case:${f.case_id}`))) continue
      mine.set(f.hash, this)
      const asked = new Set([...this.inflight.values()].filter((w) => w.hash === f.hash).map((w) => w.offset))
      const missing = missingPieces(f.size, await this.store.heldOffsets(f.hash)).filter((o) => !asked.has(o))
      for (const offset of missing) {
        if (this.inflight.size >= MAX_WANTS_IN_FLIGHT || this.closed) return
        if (!takeBudget(this.node, this.peer)) return // the hour's share is spent: the timer asks again
        this.inflight.set(`${f.hash}:${offset}`, { caseId: f.case_id, hash: f.hash, offset, size: f.size, mime: f.mime, at: now })
        this.send({ type: 'piece-want', caseId: f.case_id, hash: f.hash, offset })
      }
    }
  }

  /** A piece from the peer: kept if we asked for it; the next want goes out. */
  async onPiece(f: PieceFrame): Promise<void> {
    const key = `${f.hash}:${f.offset}`
    const w = this.inflight.get(key)
    if (!w) {
      // Not asked (or asked so long ago it was forgotten): dropped; logged once in a while.
      if (this.unasked++ % 100 === 0) this.log(`dropped a piece from ${this.peer} that was not asked for (${f.hash.slice(0, 12)}… at ${f.offset}; ${this.unasked} so far)`)
      return
    }
    this.inflight.delete(key)
    if (f.total === 0) {
      // Not given (not held there yet, or not ours): ask again later, perhaps of another peer.
      this.notBefore.set(f.hash, Date.now() + RETRY_MS)
      this.release(f.hash)
    } else if (f.total !== w.size) {
      this.log(`dropped a piece of ${f.hash.slice(0, 12)}… from ${this.peer}: it says the file is ${f.total} bytes, the case says ${w.size}`)
      this.notBefore.set(f.hash, Date.now() + RETRY_MS)
      this.release(f.hash)
    } else {
      this.count.piecesReceived++
      this.count.pieceBytesReceived += f.bytes.length
      const r = await this.store.putPiece(f.hash, w.size, w.mime, f.offset, f.bytes.slice())
      if (r === 'complete') {
        this.count.filesReceived++
        this.release(f.hash)
      } else if (r === 'corrupt') {
        this.log(`attachment ${f.hash.slice(0, 12)}… from ${this.peer} does not hash to its name: its pieces are dropped and asked for again`)
        this.notBefore.set(f.hash, Date.now() + RETRY_MS)
        this.release(f.hash)
      }
    }
    await this.pull()
  }

  private release(hash: string): void {
    const mine = claimsOf(this.node)
    if (mine.get(hash) === this && ![...this.inflight.values()].some((w) => w.hash === hash)) mine.delete(hash)
  }

  /** A want from the peer: queued, served when the updates lane is idle (or answered empty when too many wait). */
  onWant(f: PieceWantFrame): void {
    if (this.queued.length >= MAX_WANTS_QUEUED) {
      this.log(`answered a piece-want from ${this.peer} with nothing: ${MAX_WANTS_QUEUED} already wait`)
      this.send({ type: 'piece', hash: f.hash, offset: f.offset, total: 0, bytes: new Uint8Array(0) })
      return
    }
    this.queued.push(f)
    void this.serve()
  }

  /** Serves queued wants while the updates lane is idle; the session calls it again when it goes idle. */
  async serve(): Promise<void> {
    if (this.serving) return
    this.serving = true
    try {
      while (!this.closed && this.queued.length && this.idle()) {
        const w = this.queued.shift()!
        const bytes = (await this.mayHave(w)) ? await this.store.piece(w.hash, w.offset) : null
        const [blob] = bytes ? await this.node.db.query<{ size: number }>('SELECT size FROM attachment_blobs WHERE hash = $1', [w.hash]) : []
        if (this.closed) return
        if (!bytes || !blob) {
          this.send({ type: 'piece', hash: w.hash, offset: w.offset, total: 0, bytes: new Uint8Array(0) })
          continue
        }
        this.send({ type: 'piece', hash: w.hash, offset: w.offset, total: blob.size, bytes })
        this.count.piecesSent++
        this.count.pieceBytesSent += bytes.length
        await this.node.db.query(
          `INSERT INTO attachment_sent (peer, hash, "offset", bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
          [this.peer, w.hash, w.offset, bytes.length])
      }
    } finally {
      this.serving = false
    }
  }

  /** May the peer have this file? Only when a case in its scope names it. */
  private async mayHave(w: PieceWantFrame): Promise<boolean> {
    const named = await this.node.db.query(
      `SELECT 1 FROM case_events WHERE case_id = $1 AND type = 'attached' AND body->>'hash' = $2 LIMIT 1`, [w.caseId, w.hash])
    if (named.length && (await this.outbox.inScope(`case:${w.caseId}`))) return true
    this.count.refusedWants++
    this.log(`refused a piece-want from ${this.peer} for ${w.hash.slice(0, 12)}… of case ${w.caseId}: not a file of a case on its path (answered with nothing)`)
    return false
  }

  close(): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer)
    this.queued.length = 0
    this.inflight.clear()
    const mine = claimsOf(this.node)
    for (const [h, l] of mine) if (l === this) mine.delete(h)
  }
}

/**
 * Bytes of files this node holds that a peer on their cases' path has not been sent yet (at a
 * village: what waits to go up). Pieces sent once count as sent, even if a cut lost them.
 */
export async function attachmentBytesWaiting(node: TongbanNode, outbox: Outbox): Promise<number> {
  // Files sent whole are left out in SQL; the path is checked for the rest (a bounded few: the
  // banner polls this), so the figure is a lower bound past WAITING_SCAN files.
  const rows = await node.db.query<{ case_id: string; size: number; sent: number }>(
    `SELECT case_id, size, sent FROM (
       SELECT DISTINCT ON (b.hash) e.case_id, b.size,
         coalesce((SELECT sum(s.bytes) FROM attachment_sent s WHERE s.peer = $1 AND s.hash = b.hash), 0)::float8 AS sent
       FROM case_events e JOIN attachment_blobs b ON b.hash = e.body->>'hash' AND b.complete
       WHERE e.type = 'attached' ORDER BY b.hash, e.at) f
     WHERE sent < size LIMIT ${WAITING_SCAN}`,
    [outbox.peer],
  )
  let n = 0
  for (const r of rows) if (await outbox.inScope(`case:${r.case_id}`)) n += r.size - Number(r.sent)
  return n
}
