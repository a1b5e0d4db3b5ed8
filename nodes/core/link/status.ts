/**
 * Link bookkeeping: cursors persisted per peer (in the data's own transactions), and the live
 * figures `GET /api/sync` shows — connected, last successful sync, bytes each way, RTT.
 */
import { randomBytes } from 'node:crypto'
import { planOnce, type Db, type Queryable } from '../store/db.ts'

/** Once a frame at the receiver: planned once (`planOnce`, store/db.ts), a key lookup. */
const SAVE_RECEIVED = planOnce('UPDATE link_cursors SET received = $2, last_sync_at = $3 WHERE peer = $1')

export interface PeerStatus {
  peer: string
  connected: boolean
  lastSyncAt: string | null
  bytesSent: number
  bytesReceived: number
  rttMs: number | null
  /** How far the peer's clock is ahead (+) or behind (−) ours, from its pings (null until one came). */
  clockSkewMs: number | null
}

export class LinkStats {
  private readonly live = new Map<string, { connected: boolean; sent: number; received: number; rtt: number | null; skew: number | null; lastSyncAt: string | null }>()
  private epochValue: string | null = null
  private readonly ackListeners: (() => void)[] = []

  constructor(private readonly db: Db) {}

  private entry(peer: string) {
    let e = this.live.get(peer)
    if (!e) this.live.set(peer, (e = { connected: false, sent: 0, received: 0, rtt: null, skew: null, lastSyncAt: null }))
    return e
  }

  /** This store's identity, made on first use: a rebuilt store gets a new one. */
  async epoch(): Promise<string> {
    if (this.epochValue) return this.epochValue
    const [row] = await this.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'epoch'`)
    if (row) return (this.epochValue = row.value)
    const e = randomBytes(8).toString('hex')
    await this.db.query(`INSERT INTO node_meta (key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING`, [e])
    return this.epoch()
  }

  async cursor(peer: string): Promise<{ received: number; acked: number; peerEpoch: string }> {
    await this.db.query('INSERT INTO link_cursors (peer) VALUES ($1) ON CONFLICT (peer) DO NOTHING', [peer])
    const [r] = await this.db.query<{ received: number; acked: number; peer_epoch: string }>(
      'SELECT received::float8 AS received, acked::float8 AS acked, peer_epoch FROM link_cursors WHERE peer = $1', [peer])
    return { received: Number(r.received), acked: Number(r.acked), peerEpoch: r.peer_epoch }
  }

  /** Called inside the transaction that applies the peer's frame: data and cursor commit together. */
  async saveReceived(tx: Queryable, peer: string, seq: number): Promise<void> {
    const at = new Date().toISOString()
    // Set, not maxed: after a reset of the peer's store its sequence starts again from 1.
    await tx.query(SAVE_RECEIVED, [peer, seq, at])
    this.entry(peer).lastSyncAt = at
  }

  async saveAcked(peer: string, seq: number): Promise<void> {
    const at = new Date().toISOString()
    const e = this.entry(peer)
    await this.db.query(
      'UPDATE link_cursors SET acked = GREATEST(acked, $2), last_sync_at = $3 WHERE peer = $1',
      [peer, seq, at],
    )
    e.lastSyncAt = at
    for (const fn of this.ackListeners) fn()
  }

  /** Calls `fn` when a peer acknowledged (what waits for it shrank): cached backlog figures count again (recent.ts). */
  whenAcked(fn: () => void): void {
    this.ackListeners.push(fn)
  }

  /** Where the peer resumes (from the hellos) and the store epoch that cursor counts in. */
  async setReceived(peer: string, received: number, peerEpoch: string): Promise<void> {
    await this.db.query('UPDATE link_cursors SET received = $2, peer_epoch = $3 WHERE peer = $1', [peer, received, peerEpoch])
  }

  connected(peer: string, on: boolean): void {
    const e = this.entry(peer)
    e.connected = on
    if (on) e.lastSyncAt = new Date().toISOString()
  }

  countIn(peer: string, n: number): void {
    this.entry(peer).received += n
  }

  countOut(peer: string, n: number): void {
    this.entry(peer).sent += n
  }

  rtt(peer: string, ms: number): void {
    this.entry(peer).rtt = ms
  }

  /** Records the peer's clock skew; returns the previous one (to log a change once). */
  skew(peer: string, ms: number): number | null {
    const e = this.entry(peer)
    const before = e.skew
    e.skew = ms
    return before
  }

  async status(peer: string): Promise<PeerStatus> {
    return this.current(peer, await this.persistedSync(peer))
  }

  /** The last sync stored for `peer` (by an earlier run, or another process sharing the store). */
  async persistedSync(peer: string): Promise<string | null> {
    const [r] = await this.db.query<{ last_sync_at: string | null }>('SELECT last_sync_at FROM link_cursors WHERE peer = $1', [peer])
    return r?.last_sync_at ? new Date(r.last_sync_at).toISOString() : null
  }

  /** The figures held in memory, with `persisted` (persistedSync) for a peer not synced since this start. */
  current(peer: string, persisted: string | null): PeerStatus {
    const e = this.entry(peer)
    return {
      peer, connected: e.connected, lastSyncAt: e.lastSyncAt ?? persisted,
      bytesSent: e.sent, bytesReceived: e.received, rttMs: e.rtt, clockSkewMs: e.skew,
    }
  }
}
