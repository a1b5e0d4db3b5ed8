/**
 * One side of a parent–child link: the same code runs at both ends. It speaks the frames of
 * protocol/PROTOCOL.md over any transport that can send bytes and close:
 *
 * - on open, one hello each way carrying the cursor (the last of the other side's sequences
 *   applied here) and the store's epoch;
 * - each side streams what the other lacks from that cursor, in compressed frames of at most
 *   ~32 KB, with a window of unacknowledged bytes sized for a slow link, so a cut loses at most
 *   one window — and resending it is harmless, Yjs updates being idempotent;
 * - the receiver applies a frame and moves its cursor in one transaction, then acks;
 * - updates that came from the peer are never sent back to it (origin tags);
 * - a peer whose epoch changed (a store restored or rebuilt) gets a repair pass: state
 *   vectors for every document in scope, answered with just what is missing;
 * - every frame is size- and schema-checked: a malformed one closes the link with a named code.
 */
import * as Y from 'yjs'
import {
  decodeFrame, decodeReassembled, decodeUpdatesBody, encodeMessage, encodeUpdatesBody, FrameError, LINK_CLOSE_CODES,
  MAX_MESSAGE_BYTES, PEER_TIMEOUT_MS, PING_INTERVAL_MS, Reassembler, receiveFrom, sendFrom, TARGET_FRAME_BYTES,
  WINDOW_FRAMES, PIECE_BYTES, type LinkFrame,
} from '../../../protocol/index.ts'
import type { DocStore, StoredUpdate } from '../docs/doc-store.ts'
import type { TongbanNode } from '../node.ts'
import { LinkAsks } from './asks.ts'
import { AttachmentLane } from './attachment-lane.ts'
import { compress, decompress } from './compress.ts'
import { childKey } from './enrollment.ts'
import { Outbox } from './outbox.ts'
import { quotaOf, REPAIR_PAGE, REPAIR_PAGE_WAIT_MS, type PeerQuota, type QuotaKind } from './quotas.ts'
import { makeRefuse } from './scope-check.ts'
import type { LinkStats } from './status.ts'

export interface Transport {
  send(bytes: Uint8Array): void
  close(code: number, reason: string): void
}

/** An updates frame read from the outbox and compressed, ready to send: entries after `from` up to `scannedTo`. */
export interface ReadyFrame {
  from: number
  scannedTo: number
  /** Null when nothing after `from` up to `scannedTo` goes to this peer (skip over them). */
  frame: LinkFrame | null
  lastSeq: number
}

/** Reads the next frame's entries after `after` for the peer of `outbox`, and packs them (compressed when smaller). */
export async function readFrame(outbox: Outbox, after: number): Promise<ReadyFrame> {
  const { entries, scannedTo } = await outbox.next(after, TARGET_FRAME_BYTES)
  if (!entries.length) return { from: after, scannedTo, frame: null, lastSeq: 0 }
  const raw = encodeUpdatesBody(entries)
  const packed = compress(raw)
  const useCompressed = packed.length < raw.length
  return { from: after, scannedTo, frame: { type: 'updates', compressed: useCompressed, body: useCompressed ? packed : raw }, lastSeq: entries[entries.length - 1].seq }
}

/**
 * What the child wrote right behind its upgrade request, before the parent's 101 and hello
 * (links.ts, pipeline.ts): its hello, and updates frames streaming from `start` (the cursor the
 * parent acknowledged last) up to `sentTo`, still unacknowledged (`inflight`).
 */
export interface Pipelined {
  start: number
  sentTo: number
  inflight: { lastSeq: number; bytes: number }[]
  /** The last chunk stream id used (the session goes on from it). */
  streamId: number
  /** The next frame, being read when the parent answered: the session's first read, when it starts there. */
  reading: { from: number; frame: Promise<ReadyFrame> } | null
}

/**
 * Unacknowledged bytes in flight. Sized for the slow link (about 4 s at 100 kbit/s): a cut
 * loses at most this much, and a deep window buys nothing when the line is the bottleneck.
 */
export const WINDOW_BYTES = 48 * 1024
/** A peer's clock further off than this (beyond any line delay) is flagged. */
export const CLOCK_TOLERANCE_MS = 5 * 60_000
/**
 * A received frame is applied in slices of at most this many entries, one transaction each
 * (the cursor moves with the last): the node's own writes go first in the store's queue, so
 * a local write waits behind at most one slice of a peer's batch, never a whole 16 MiB body.
 * A crash between slices only means the frame is resent: applying an update twice is harmless.
 * 64: a frame of cases (~32 KB compressed) holds ~55, so it is one slice — each slice costs a
 * few statements whatever its size (PGlite's fixed cost per statement, the rollup's triggers),
 * and 32 cut most frames in two.
 */
export const APPLY_SLICE_ENTRIES = 64
const C = LINK_CLOSE_CODES
/** An update that holds nothing. */
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc())
/** node_meta key of the repair pass this store owes `peer` (session.ts `repair`). */
const repairKey = (peer: string) => `repair_owed:${peer}`
/** The state vector of a document that holds nothing: "send me all of it". */
const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc())

/** This side's hello to `peer`: its cursor of the peer's stream, its epoch and latest sequence. */
export async function helloOf(node: TongbanNode, stats: LinkStats, peer: string, peerIsChild: boolean): Promise<LinkFrame> {
  const cur = await stats.cursor(peer)
  return {
    type: 'hello', code: node.config.code, role: peerIsChild ? 'parent' : 'child',
    epoch: await stats.epoch(), peerEpoch: cur.peerEpoch, received: cur.peerEpoch ? cur.received : 0,
    latest: await node.docs.latestSeq(),
  }
}

export class LinkSession {
  private readonly outbox: Outbox
  private readonly refuse: ReturnType<typeof makeRefuse>
  private readonly reassembler = new Reassembler()
  /** Scanned materials' bytes, after everything else (attachment-lane.ts). */
  private readonly lane: AttachmentLane
  /** The last look at the outbox found nothing to send (the attachment lane may use the line). */
  private caughtUp = false
  /** Questions on this link: the parent asks, the child answers (asks.ts). */
  readonly asks: LinkAsks
  /** This peer's hourly quotas (kept across connections: see quotas.ts). */
  private readonly quota: PeerQuota
  /** Our repair pass on this connection: the documents asked, in order, which are answered (sync-step2), how many from the first are; and who waits for them. */
  private pass: { order: string[]; asked: Set<string>; answered: Set<string>; prefix: number } | null = null
  private repairWake: (() => void) | null = null
  private streamId = 0
  /** Acks wait for their frame's journal sync, in order (see the updates frame). */
  private acking: Promise<void> = Promise.resolve()
  /** Documents the peer asked about in this connection's repair pass (we ask back once each). */
  private readonly asked = new Set<string>()
  private sendCursor = 0
  private inflight: { lastSeq: number; bytes: number }[] = []
  /** The next frame, read and compressed while the window was full: an ack releases it at once. */
  private ahead: ReadyFrame | null = null
  /** Frames the child sent behind its upgrade, to reconcile with the parent's hello (null: none, or done). */
  private pipelined: Pipelined | null = null
  /** A frame read by the pipeline (pipeline.ts) when the parent answered, not yet sent. */
  private reading: Pipelined['reading'] = null
  private helloDone = false
  private pumping = false
  private again = false
  private closed = false
  private lastHeard = Date.now()

  /**
   * The transport got bytes from the peer (before they wait their turn in the frame queue): a
   * peer whose frames queue behind a long apply is alive, and must not be timed out for our delay.
   */
  heard(): void {
    this.lastHeard = Date.now()
  }
  private readonly timer: NodeJS.Timeout
  private readonly onUpdate = (u: { origin: string }) => {
    if (u.origin !== this.outbox.peerOrigin) {
      this.caughtUp = false
      this.pump()
    }
    this.lane.nudge() // a case may now name a file this node lacks
  }
  /** Resolves once both hellos are through (for tests and the status page). */
  readonly ready: Promise<void>
  private markReady!: () => void

  constructor(
    private readonly node: TongbanNode,
    readonly peer: string,
    readonly peerIsChild: boolean,
    private readonly transport: Transport,
    private readonly stats: LinkStats,
    private readonly log: (msg: string) => void,
    pipelined: Pipelined | null = null,
  ) {
    if (pipelined) {
      this.pipelined = pipelined
      this.reading = pipelined.reading
      this.inflight = [...pipelined.inflight]
      this.streamId = pipelined.streamId
    }
    this.outbox = new Outbox(node.db, peer, peerIsChild)
    this.refuse = makeRefuse(node.config.code, peer, peerIsChild, node.trust, node.docs)
    // A child's buckets go with its enrolled key: a re-enrolled child starts afresh (quotas.ts).
    this.quota = quotaOf(node, peer, peerIsChild ? childKey(node.config.dataDir, node.config.code, peer)?.publicKey : undefined)
    this.lane = new AttachmentLane(node, peer, this.outbox, (f) => void this.send(f), () => this.updatesIdle(), log)
    this.asks = new LinkAsks(peer, peerIsChild, (f) => void this.send(f), (a) => node.progress.answer(a), log)
    this.ready = new Promise((r) => (this.markReady = r))
    node.docs.on('update', this.onUpdate)
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > PEER_TIMEOUT_MS) return this.fail(C.timeout, `no frame from the peer for ${PEER_TIMEOUT_MS / 1000} s`)
      this.send({ type: 'ping', time: Date.now() })
    }, PING_INTERVAL_MS)
    this.timer.unref()
  }

  /** Sends our hello; call once the transport is open (a hello sent behind the upgrade is not sent again). */
  async open(): Promise<void> {
    if (this.pipelined) return
    this.send(await helloOf(this.node, this.stats, this.peer, this.peerIsChild))
  }

  /**
   * Feeds one binary message from the transport. Never rejects: whatever the peer sent, the
   * outcome is the frame handled, or the link closed with a code and the reason logged.
   */
  async receive(bytes: Uint8Array): Promise<void> {
    try {
      await this.receiveFrame(bytes)
    } catch (e) {
      this.fail(C.internal, `could not handle a frame: ${(e as Error)?.message ?? String(e)}`)
    }
  }

  private async receiveFrame(bytes: Uint8Array): Promise<void> {
    if (this.closed) return
    this.lastHeard = Date.now()
    this.stats.countIn(this.peer, bytes.length)
    if (this.overQuota('bytesPerHour', bytes.length)) return
    let frame: LinkFrame
    try {
      frame = decodeFrame(bytes)
      if (frame.type === 'chunk') {
        const whole = this.reassembler.push(frame)
        if (!whole) return
        frame = decodeReassembled(whole)
      }
    } catch (e) {
      const code = e instanceof FrameError ? e.closeCode : C.malformed_frame
      return this.fail(code, `malformed frame: ${(e as Error).message}`)
    }
    try {
      await this.handle(frame)
    } catch (e) {
      // A body that fails to inflate or decode is the peer's fault (4400); anything else is ours.
      const code = e instanceof FrameError ? e.closeCode : (e as { code?: string }).code?.startsWith('Z_') ? C.malformed_frame : C.internal
      this.fail(code, `could not handle a ${frame.type} frame: ${(e as Error).message}`)
    }
  }

  private async handle(f: LinkFrame): Promise<void> {
    if (!this.helloDone && f.type !== 'hello') return this.fail(C.malformed_frame, `expected hello, got ${f.type}`)
    switch (f.type) {
      case 'hello': {
        if (this.helloDone) return this.fail(C.malformed_frame, 'a second hello')
        if (f.code !== this.peer) return this.fail(C.out_of_scope, `this link belongs to ${this.peer}, not ${f.code}`)
        if (f.role !== (this.peerIsChild ? 'child' : 'parent')) return this.fail(C.out_of_scope, `${f.code} says it is the ${f.role} on this link`)
        const cur = await this.stats.cursor(this.peer)
        // Both ends reach the same decision from the two hellos (PROTOCOL.md, "Resuming"): a
        // cursor counted in a store that was since rebuilt or restored is void.
        const send = sendFrom(f, { epoch: await this.stats.epoch(), latest: await this.node.docs.latestSeq() })
        const recv = receiveFrom(f, { peerEpoch: cur.peerEpoch, received: cur.received })
        this.sendCursor = send.after
        const p = this.pipelined
        this.pipelined = null
        // Frames sent behind the upgrade streamed from the cursor the peer acknowledged last. When
        // the peer's hello resumes at or after that, they stand: go on after the later of the
        // two. When it resumes before (its store restored or rebuilt: "Resuming"), rewind and
        // send again from there — the pipelined frames are applied too (updates are idempotent)
        // and stay in the window until acknowledged.
        if (p && !send.repair && send.after >= p.start) this.sendCursor = Math.max(send.after, p.sentTo)
        else if (p) this.log(`link with ${this.peer}: it resumes at ${send.after}, before the ${p.start} this node streamed from behind the upgrade: sending again from there`)
        // The pass is owed from now until it is through, in this store: once the cursor below
        // counts in the peer's new epoch, no later hello would call for it again — a pass cut
        // short (a drop, a stop, a refusal over quota) would be lost with the connection.
        if (send.repair || recv.repair) await this.oweRepair('')
        await this.stats.setReceived(this.peer, recv.after, f.epoch)
        this.helloDone = true
        this.stats.connected(this.peer, true)
        this.markReady()
        this.lane.start()
        const owed = await this.repairOwed()
        if (owed !== null) {
          // One pass an hour: a peer that changes its epoch at will would have us send a state
          // vector for every document in scope each time. A pass taken up again where it was cut
          // short is not charged again: it only goes on (each page moves it on), so a peer that
          // drops the link mid-pass gets no more than one pass in all. Refused, it stays owed,
          // and runs on the first link after the quota frees up.
          if (owed === '' && this.overQuota('repairsPerHour', 1)) return
          void this.repair(owed).catch((e) => this.fail(C.internal, `the repair pass failed: ${(e as Error)?.message ?? String(e)}`))
        }
        this.pump()
        return
      }
      case 'updates': {
        const body = f.compressed ? decompress(f.body, MAX_MESSAGE_BYTES) : f.body
        if (this.overQuota('bytesPerHour', body.length - f.body.length)) return
        const entries = decodeUpdatesBody(body)
        // The quota of new documents is taken for the whole frame before any of it is applied. A
        // frame of one slice (a frame of cases is ~55 entries) takes it from the store's own read
        // of the held documents, inside its transaction (`admit`); a longer one asks the store first.
        const whole = entries.length <= APPLY_SLICE_ENTRIES
        let fresh: string[] = []
        if (!whole) {
          fresh = await this.newDocs(entries.map((e) => e.docId))
          if (this.overQuota('newDocsPerHour', fresh.length)) return
        }
        const last = entries.length ? entries[entries.length - 1].seq : 0
        // One journal sync for the frame, then the listeners (links onward, publishers) hear of
        // all of it at once — also when a slice fails: what earlier slices committed is announced.
        const stored: StoredUpdate[] = []
        let applied = false
        try {
          for (let at = 0; at < entries.length; at += APPLY_SLICE_ENTRIES) {
            const slice = entries.slice(at, at + APPLY_SLICE_ENTRIES)
            const final = at + APPLY_SLICE_ENTRIES >= entries.length
            const out = await this.applyIsolating(slice, {
              refuse: this.refuse, applied: this.refuse.applied,
              inTx: final ? (tx) => this.stats.saveReceived(tx, this.peer, last) : undefined,
              announce: false,
              admit: whole ? (created) => !this.overQuota('newDocsPerHour', created.length) : undefined,
            })
            if (out.declined) return // over quota: the link is closed, the frame neither applied nor acked
            if (whole) fresh = out.fresh
            stored.push(...out.stored)
            this.logRefused(out.refused)
            if (this.closed) break
          }
          applied = !this.closed
          await this.ownCasesBack(fresh)
        } finally {
          // The sync runs while the next frame is applied; the ack waits for it (and for the
          // acks before it), so an ack still means "on disk here", in order.
          const synced = this.node.docs.announce(stored)
          synced.catch(() => {}) // handled in its turn below
          this.acking = this.acking.then(() => synced).then(
            () => void (applied && this.send({ type: 'ack', seq: last })),
            (e) => this.fail(C.internal, `could not make a frame durable: ${(e as Error)?.message ?? String(e)}`),
          ).catch((e) => this.fail(C.internal, `could not acknowledge a frame: ${(e as Error)?.message ?? String(e)}`))
        }
        return
      }
      case 'ack': {
        while (this.inflight.length && this.inflight[0].lastSeq <= f.seq) this.inflight.shift()
        // The room is free now: the frame read ahead goes before the cursor's write (a village's
        // store takes tens of ms for it; the next dial resumes from the parent's hello anyway).
        this.pump()
        await this.stats.saveAcked(this.peer, f.seq)
        return
      }
      case 'sync-step1': {
        if (this.overQuota('stateVectorsPerHour', 1)) return
        if (!this.peerIsChild && !(await this.node.docs.has(f.docId))) {
          // The parent offers a document we do not hold at all: this store was rebuilt or
          // restored (a replaced laptop), and its routes are gone with it, so we cannot tell
          // whether it is ours. Nothing to give; ask for it — the parent answers only within our
          // scope, and what comes is checked like any update.
          this.send({ type: 'sync-step2', docId: f.docId, update: EMPTY_UPDATE })
          if (!this.asked.has(f.docId)) {
            this.asked.add(f.docId)
            this.send({ type: 'sync-step1', docId: f.docId, stateVector: EMPTY_STATE_VECTOR })
          }
          return
        }
        if (!(await this.outbox.inScope(f.docId))) {
          // A document the peer may not hold (a case off its path): refused, and answered with
          // nothing — the same answer whether this node holds it or not, so asking reveals nothing.
          this.log(`refused state vector for ${f.docId} from ${this.peer}: not in its scope (${scopeHint(f.docId)})${this.peerIsChild ? '; asked back, in case this node lost it' : ''}`)
          this.send({ type: 'sync-step2', docId: f.docId, update: EMPTY_UPDATE })
          // A child may hold what this node lost: a parent restored from a backup lost the
          // documents that came after it, and their routes with them, so the child's cases look
          // out of scope here — and the child streams them no more (its cursor is past them).
          // Ask back once, with an empty state vector whether this node holds the document or
          // not (so the question reveals nothing either): what the child sends is checked like
          // any of its updates (its subtree's cases and events only), and
          // counted in its quotas.
          if (this.peerIsChild && !this.asked.has(f.docId)) {
            this.asked.add(f.docId)
            this.send({ type: 'sync-step1', docId: f.docId, stateVector: EMPTY_STATE_VECTOR })
          }
          return
        }
        const doc = await this.node.docs.get(f.docId)
        this.send({ type: 'sync-step2', docId: f.docId, update: Y.encodeStateAsUpdate(doc, f.stateVector) })
        // Ask back once: the peer may hold what we lost (updates are never echoed, so only a
        // state-vector exchange brings our own lost updates back).
        if (!this.asked.has(f.docId)) {
          this.asked.add(f.docId)
          this.send({ type: 'sync-step1', docId: f.docId, stateVector: Y.encodeStateVector(doc) })
        }
        return
      }
      case 'sync-step2': {
        this.repairAnswered(f.docId)
        const { refused, fresh, declined } = await this.applyIsolating([{ docId: f.docId, update: f.update }], {
          refuse: this.refuse, admit: (created) => !this.overQuota('newDocsPerHour', created.length),
        })
        if (declined) return
        for (const r of refused) this.log(`refused repair of ${r.docId} from ${this.peer}: ${r.reason}`)
        if (!refused.length) await this.ownCasesBack(fresh)
        return
      }
      case 'ping': {
        this.send({ type: 'pong', time: f.time })
        // A clock far off is flagged, not believed: event times are the author's clock (the
        // Lamport order decides outcomes), so a laptop hours off makes due dates wrong. Said once
        // per change of its sign, and shown in /api/sync for the operator.
        const skew = f.time - Date.now()
        const before = this.stats.skew(this.peer, skew)
        const off = Math.abs(skew) > CLOCK_TOLERANCE_MS
        if (off && (before === null || Math.abs(before) <= CLOCK_TOLERANCE_MS || Math.sign(before) !== Math.sign(skew))) {
          this.log(`the clock of ${this.peer} is ${Math.round(Math.abs(skew) / 60_000)} min ${skew > 0 ? 'ahead of' : 'behind'} this node's: the times it records (intake, decisions) are off by as much — set its clock`)
        }
        return
      }
      case 'pong':
        this.stats.rtt(this.peer, Date.now() - f.time)
        return
      case 'error':
        this.log(`${this.peer} closed the link: ${f.message} (${f.code})`)
        return this.close()
      case 'chunk':
        return // reassembled in receive()
      case 'piece-want':
        return this.lane.onWant(f)
      case 'piece':
        return this.lane.onPiece(f)
      case 'ask':
        return this.asks.onAsk(f)
      case 'answer':
        return this.asks.onAnswer(f)
    }
  }

  /**
   * Asks the peer for what it has of every document we hold in its scope, and offers ours —
   * paged: REPAIR_PAGE state vectors, then on once at most half a page waits for its answer
   * (or after REPAIR_PAGE_WAIT_MS), so thousands of documents are never thousands of frames at
   * once, and a peer that does not answer gets one page at a time. Documents go in id order,
   * after `from` (where a pass cut short got to): the store keeps the last document up to which
   * every one was answered, so a pass cut short goes on from there on the next link, and the
   * pass is owed no more once all are answered.
   */
  private async repair(from: string): Promise<void> {
    const docIds = (await this.outbox.docsInScope()).filter((d) => d > from).sort()
    const pass = (this.pass = { order: docIds, asked: new Set(docIds), answered: new Set<string>(), prefix: 0 })
    this.log(`repair pass with ${this.peer}: ${docIds.length} documents${from ? ` (going on after ${from}, where the last one was cut short)` : ''}`)
    let saved = from
    const save = async () => {
      const upTo = pass.prefix ? pass.order[pass.prefix - 1] : from
      if (upTo !== saved && !this.closed) await this.oweRepair((saved = upTo))
    }
    for (let at = 0; at < docIds.length && !this.closed; at += REPAIR_PAGE) {
      for (const docId of docIds.slice(at, at + REPAIR_PAGE)) {
        if (this.closed) return
        const doc = await this.node.docs.get(docId)
        this.asked.add(docId)
        this.send({ type: 'sync-step1', docId, stateVector: Y.encodeStateVector(doc) })
      }
      const sent = Math.min(at + REPAIR_PAGE, docIds.length)
      await this.repairWait(() => sent - pass.answered.size <= REPAIR_PAGE / 2)
      await save()
    }
    await this.repairWait(() => pass.answered.size === docIds.length)
    if (this.closed) return
    if (pass.answered.size < docIds.length) {
      await save()
      this.log(`repair pass with ${this.peer}: ${docIds.length - pass.answered.size} of ${docIds.length} documents not answered yet: asked again on the next link`)
      return
    }
    await this.node.db.query(`DELETE FROM node_meta WHERE key = $1`, [repairKey(this.peer)])
    this.log(`repair pass with ${this.peer}: done`)
  }

  /** Resolves once `done()` holds (checked at each answer), the link closes, or REPAIR_PAGE_WAIT_MS passes. */
  private repairWait(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        this.repairWake = null
        resolve()
      }
      const timer = setTimeout(finish, REPAIR_PAGE_WAIT_MS)
      timer.unref()
      this.repairWake = () => {
        if (this.closed || done()) finish()
      }
      this.repairWake()
    })
  }

  private repairAnswered(docId: string): void {
    const pass = this.pass
    if (!pass?.asked.has(docId) || pass.answered.has(docId)) return
    pass.answered.add(docId)
    while (pass.prefix < pass.order.length && pass.answered.has(pass.order[pass.prefix])) pass.prefix++
    this.repairWake?.()
  }

  /** The repair pass this store owes the peer: '' from the start, a document id to go on after; null when none. */
  private async repairOwed(): Promise<string | null> {
    const [row] = await this.node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = $1`, [repairKey(this.peer)])
    return row ? row.value : null
  }

  private async oweRepair(after: string): Promise<void> {
    await this.node.db.query(`INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [repairKey(this.peer), after])
  }

  /**
   * Takes `n` of the peer's hourly `kind` quota; over it, the link is closed with 4429
   * (answered with an error frame, logged) and true returned: the frame is not handled.
   */
  private overQuota(kind: QuotaKind, n: number): boolean {
    const refusal = this.quota.take(kind, n)
    if (!refusal) return false
    this.fail(C.quota_exceeded, refusal)
    return true
  }

  /**
   * Logs what was refused, a few lines per slice at most: a peer sending thousands of bad
   * entries must not turn into thousands of synchronous log writes (they stall the window).
   */
  private logRefused(refused: { docId: string; reason: string }[]): void {
    for (const r of refused.slice(0, 3)) this.log(`refused ${r.docId} from ${this.peer}: ${r.reason}`)
    if (refused.length > 3) this.log(`refused ${refused.length - 3} more entries from ${this.peer} in this batch`)
  }

  /** Those of `docIds` (distinct) this node does not hold yet. */
  private async newDocs(docIds: string[]): Promise<string[]> {
    const distinct = [...new Set(docIds)]
    if (!distinct.length) return []
    const rows = await this.node.db.query<{ doc_id: string }>('SELECT DISTINCT doc_id FROM doc_updates WHERE doc_id = ANY($1::text[])', [distinct])
    const held = new Set(rows.map((r) => r.doc_id))
    return distinct.filter((d) => !held.has(d))
  }

  /**
   * A case numbered under this node's own code that it did not hold has come over the link: this
   * store lost it (restored from a backup, or rebuilt) and the day's case sequence may lag behind
   * its number — the next intake would take that number again (the same document id for another
   * application, refused everywhere it goes). Move the sequences past the numbers held now.
   */
  private async ownCasesBack(fresh: string[]): Promise<void> {
    const own = `case:${this.node.config.code}-`
    if (!fresh.some((d) => d.startsWith(own))) return
    await this.node.cases.realignSequence().catch((e) => this.log(`could not move the case numbers past those ${this.peer} brought back: ${(e as Error)?.message ?? String(e)}`))
  }

  /** Streams what the peer lacks while the window has room. */
  pump(): void {
    if (!this.helloDone || this.closed) return
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    void (async () => {
      try {
        do {
          this.again = false
          while (!this.closed) {
            // The frame read ahead while the window was full, if it still starts where we are
            // (a rewind or new stored updates after an empty look void it).
            let next = this.ahead && this.ahead.from === this.sendCursor ? this.ahead : null
            this.ahead = null
            const room = () => this.inflight.length < WINDOW_FRAMES && this.inflightBytes() < WINDOW_BYTES
            // The window is full and the next frame is ready: the ack that frees room sends it.
            if (next && !room()) {
              this.ahead = next
              break
            }
            if (!next && this.reading) {
              // The pipeline's read under way when the parent answered: taken if the stream goes on there.
              const r = this.reading
              this.reading = null
              if (r.from === this.sendCursor) next = await r.frame
            }
            next ??= await readFrame(this.outbox, this.sendCursor)
            if (this.closed) break
            if (next.from !== this.sendCursor) continue // rewound meanwhile
            if (!next.frame) {
              if (next.scannedTo === this.sendCursor) {
                this.caughtUp = true
                break
              }
              this.sendCursor = next.scannedTo
              continue
            }
            if (!room()) {
              // Read and compressed while the window is full (PGlite and deflate take tens of
              // ms at a village): held until an ack frees room, then sent without that delay.
              this.ahead = next
              break
            }
            const bytes = this.send(next.frame)
            this.inflight.push({ lastSeq: next.lastSeq, bytes })
            this.sendCursor = next.scannedTo
          }
        } while (this.again && !this.closed)
      } catch (e) {
        this.fail(e instanceof FrameError ? e.closeCode : C.internal, `sending failed: ${(e as Error).message}`)
      } finally {
        this.pumping = false
        void this.lane.serve().catch((e) => this.fail(C.internal, `serving attachment pieces failed: ${(e as Error)?.message ?? String(e)}`))
      }
    })()
  }

  /** Nothing to send and room in the window: the attachment lane may send a piece now. */
  private updatesIdle(): boolean {
    return this.helloDone && !this.closed && !this.pumping && this.caughtUp && this.inflightBytes() + PIECE_BYTES <= WINDOW_BYTES
  }

  private inflightBytes(): number {
    return this.inflight.reduce((a, f) => a + f.bytes, 0)
  }

  /** Sends a frame (in chunk frames when it is over a frame's size); returns the bytes sent. */
  private send(f: LinkFrame): number {
    if (this.closed) return 0
    let n = 0
    for (const bytes of encodeMessage(f, this.streamId = (this.streamId + 1) % 1_000_000)) {
      this.stats.countOut(this.peer, bytes.length)
      this.transport.send(bytes)
      n += bytes.length
    }
    return n
  }

  /** The close code this end gave the link when it closed it (null: the peer or the transport closed it). */
  closedFor: number | null = null

  /**
   * Applies a batch of the peer's updates. When the store fails it for what an update holds — a
   * value the schemas let through that a column does not take (PostgreSQL's data exceptions,
   * SQLSTATE class 22, and NOT NULL or CHECK violations), which would fail it again at every
   * redial and wedge the link — the updates are applied one at a time (the quota was taken with
   * the batch) and the ones that fail alone are refused and logged like any other refusal. Any
   * other failure (the disk, the store, a race) still fails the frame: nothing is acked that is
   * not stored.
   */
  private async applyIsolating(entries: { docId: string; update: Uint8Array }[], opts: NonNullable<Parameters<DocStore['applyBatch']>[2]>): Promise<Applied> {
    const origin = this.outbox.peerOrigin as never
    try {
      return await this.node.docs.applyBatch(entries, origin, opts)
    } catch (e) {
      if (!isDataError(e)) throw e
      const out: Applied = { stored: [], refused: [], fresh: [] }
      for (const [i, entry] of entries.entries()) {
        const last = i === entries.length - 1
        try {
          const one = await this.node.docs.applyBatch([entry], origin, { ...opts, admit: undefined, inTx: last ? opts.inTx : undefined })
          out.stored.push(...one.stored)
          out.refused.push(...one.refused)
          out.fresh.push(...one.fresh)
        } catch (e1) {
          if (!isDataError(e1)) throw e1
          out.refused.push({ docId: entry.docId, reason: `this node's store cannot hold what it carries (${(e1 as Error).message})` })
          // The frame's cursor still moves past it: saved on its own when it was the last.
          if (last && opts.inTx) await this.node.docs.applyBatch([], origin, { inTx: opts.inTx, announce: false })
        }
      }
      return out
    }
  }

  private fail(code: number, reason: string): void {
    if (this.closed) return
    this.closedFor = code
    this.log(`link with ${this.peer} closed: ${reason} (${code})`)
    try {
      // The codec cuts the message to MAX_ERROR_MESSAGE_BYTES of UTF-8 (whole characters).
      this.send({ type: 'error', code, message: reason })
    } catch {
      /* the transport is already gone */
    }
    try {
      // The transport cuts the close reason to 123 bytes of UTF-8 (protocol/utf8.ts closeReason).
      this.transport.close(code, reason)
    } catch (e) {
      this.log(`closing the link with ${this.peer} failed: ${(e as Error)?.message ?? String(e)}`)
    }
    this.close()
  }

  /** Stops the session (the transport closed, or we are stopping). */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    this.lane.close()
    this.asks.close()
    this.repairWake?.()
    this.reassembler.clear()
    this.node.docs.off('update', this.onUpdate)
    this.stats.connected(this.peer, false)
  }
}

type Applied = Awaited<ReturnType<DocStore['applyBatch']>>

/** A failure of the store caused by the values a statement carried, not by the store (see applyIsolating). */
function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  return typeof code === 'string' && (code.startsWith('22') || code === '23502' || code === '23514')
}

/** Why a document may be out of a peer's scope, for the log: the rule of its kind (outbox.ts inScope). */
function scopeHint(docId: string): string {
  if (docId.startsWith('case:')) return 'a case goes only to the nodes on its path'
  if (docId.startsWith('stats:') || docId.startsWith('watch:')) return "a unit's statistics and warnings go up to its ancestors only"
  return 'a document goes only where its kind is sent'
}
