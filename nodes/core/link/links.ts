/**
 * The links of one node: the WebSocket to its parent (dialled; redialled with jittered backoff
 * when the parent answered but the link failed, or as soon as a probe is answered when the
 * parent could not be reached — probe.ts) and those from its enrolled children (accepted at `/link`). Both ends run a LinkSession; this
 * file is only the transport around it (the `ws` package, Node 20 having no global WebSocket).
 */
import { unwatchFile, watchFile } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { WebSocket, WebSocketServer } from 'ws'
import { LINK_CLOSE_CODES, LINK_PROOF_HEADERS, parentCode, retryAfterOf } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'
import { closeSocket } from './close.ts'
import { childKey, enrolledChildren, enrollmentsFile, readEnrollments } from './enrollment.ts'
import { LinkAuth, ParentAuth } from './link-auth.ts'
import { Outbox } from './outbox.ts'
import { ParentProbe, probeKeeping, PROBE_TIMEOUT_MS } from './probe.ts'
import { wsOnConnected, wsTlsOptions } from './tls-client.ts'
import { TlsResumption } from './tls-resume.ts'
import { parseEnrollmentToken } from './token.ts'
import { FirstFrames } from './pipeline.ts'
import { LinkSession, type Pipelined } from './session.ts'
import { wsTransport } from './ws-transport.ts'
import { attachmentBytesWaiting, laneCounters, type LaneCounters } from './attachment-lane.ts'
import { LinkStats, type PeerStatus } from './status.ts'
import { RecentFigures } from './recent.ts'

const MAX_WS_MESSAGE = 80 * 1024 // a frame is at most 64 KiB; leave room for the WebSocket header
const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 30_000
/**
 * After the parent refused this node — closed the link with 4401 (the key was revoked or
 * replaced) or 4429 (a quota) without saying when, or answered the upgrade with 401/403/429 —
 * the next dial waits at least this long (jittered up to twice it): redialling at once would
 * only be refused again, and would spend the parent's quota and log. A quota that says when
 * (`retry in N s`) is taken at its word (`redialDelay`).
 */
export const REFUSED_WAIT_MS = 60_000
const REFUSAL_CLOSE_CODES: ReadonlySet<number> = new Set([LINK_CLOSE_CODES.quota_exceeded, LINK_CLOSE_CODES.unauthorized])
const REFUSAL_HTTP_STATUSES: ReadonlySet<number> = new Set([401, 403, 429])
/**
 * A refused upgrade's socket: what the child sent behind its request (pipeline.ts) is read and
 * dropped, unparsed, for at most this long and this much, so that the child reads the refusal
 * (status and body) instead of a reset; then the socket is destroyed.
 */
const REFUSAL_DRAIN_MS = 10_000
const REFUSAL_DRAIN_BYTES = 1024 * 1024

/**
 * Answers an upgrade with an HTTP refusal. The child may have written its hello and a window of
 * frames right behind the request (pipeline.ts). Until the link is accepted nothing reads the
 * socket: Node's http server detaches its parser and leaves the socket paused
 * (`readableFlowing = null`) when it emits 'upgrade', so later bytes wait in the stream's buffer
 * and then the kernel's (TCP flow control holds the rest), and the bytes that came in the same
 * read as the request are the `head` buffer. A refusal must not leave them there: a socket
 * nobody reads never sees the child's FIN either, and stays open until the process stops (a
 * stop waits on it: test/attack/pipeline.test.ts); destroyed with bytes unread, it answers
 * with a TCP reset, which can overtake the refusal (the child would see ECONNRESET instead of
 * a 401, and lose its clock retry and quota hint). So they are read and dropped — never
 * parsed — and the socket is destroyed once the child has closed its side, or after
 * REFUSAL_DRAIN_MS / REFUSAL_DRAIN_BYTES (a peer that keeps sending).
 */
export function refuseUpgradeSocket(socket: Duplex, response: string): void {
  let drained = 0
  const timer = setTimeout(() => socket.destroy(), REFUSAL_DRAIN_MS)
  timer.unref()
  socket.on('error', () => {})
  socket.on('close', () => clearTimeout(timer))
  socket.on('end', () => socket.destroy())
  socket.on('data', (d: Buffer) => {
    drained += d.length
    if (drained > REFUSAL_DRAIN_BYTES) socket.destroy()
  })
  socket.end(response)
}

/** Enrolment (a request to the parent, once) may take this long before the dial counts as unanswered. */
const PREPARE_TIMEOUT_MS = 15_000
/**
 * Errors that mean nothing answered at the parent's address (the line or the parent is down),
 * as opposed to a parent that answered and refused or failed: the first make the child probe,
 * the second make it back off.
 */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
])

/** Why a dial failed: refused (wait a minute or two), unreachable (probe) or failed (back off). */
export type DialFailure = 'refused' | 'unreachable' | 'failed'

export function failureOf(e: unknown): DialFailure {
  const err = e as { status?: number; code?: string; message?: string; cause?: { code?: string } }
  if (REFUSAL_HTTP_STATUSES.has(err?.status ?? 0)) return 'refused'
  if (UNREACHABLE_CODES.has(err?.code ?? '') || UNREACHABLE_CODES.has(err?.cause?.code ?? '')) return 'unreachable'
  if (/Opening handshake has timed out/.test(err?.message ?? '')) return 'unreachable' // ws's handshakeTimeout
  return 'failed'
}

/** `p`, or a rejection with code ETIMEDOUT after `ms` (the request itself runs on until the OS gives up). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The wait before the next dial: full jitter over the current backoff after a drop (villages
 * reconnecting after a township outage don't all dial at once); after a refusal, at least
 * REFUSED_WAIT_MS, still jittered.
 */
export function redialDelay(backoff: number, refused: boolean, random: () => number = Math.random, retryAfterMs: number | null = null): number {
  if (refused && retryAfterMs !== null) {
    // A quota's refusal said when (protocol `quotaRefusalText`): not sooner, and only a little later.
    const said = Math.min(retryAfterMs, QUOTA_WAIT_MAX_MS)
    return said + Math.round(random() * quotaJitterMs(said))
  }
  return refused ? Math.round(REFUSED_WAIT_MS * (1 + random())) : Math.round(random() * backoff)
}

/** A quota frees up within the hour; a parent saying more is believed up to this. */
export const QUOTA_WAIT_MAX_MS = 2 * 3_600_000
/** After the wait a quota asked for, up to this much more (villages refused together do not all dial in step). */
export function quotaJitterMs(saidMs: number): number {
  return Math.min(30_000, Math.max(1_000, Math.round(saidMs * 0.2)))
}
const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests' }
const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/ // a pin mismatch is logged where it is found

/** 附件 on a link: bytes of files this node holds that the peer has not been sent, and what moved. */
export interface LinkAttachments extends LaneCounters { bytesWaiting: number }

export interface SyncStatus {
  parent: (PeerStatus & { url: string; waitingUp: number; waitingDown: number; attachments: LinkAttachments }) | null
  children: (PeerStatus & { name: string | null; waitingUp: number; waitingDown: number; attachments: LinkAttachments })[]
}

/** A link lock held in the shared store (its release), or null where there is nothing to hold. */
type HeldLock = (() => Promise<void>) | null

/** What `/api/sync` and `/healthz` count for one peer (cached: `Links.counted`). */
interface PeerCounts { persistedSync: string | null; waiting: number; bytesWaiting: number }

export class Links {
  readonly stats: LinkStats
  /** Figures counted per peer for the polled routes; `/healthz` keeps its own beside them (start.ts). */
  private readonly figures = new RecentFigures<PeerCounts>()
  private readonly unitNames = new RecentFigures<Record<string, string>>()
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE })
  /** The parent's signature for the 101 of an upgrade whose proof was taken (protocol/link-proof.ts). */
  private readonly parentProofs = new WeakMap<IncomingMessage, string>()
  private readonly children = new Map<string, { ws: WebSocket; session: LinkSession; key: string; release: HeldLock }>()
  /** Shared store: this process holds the link to the parent (links.ts `claim`); null: not yet. */
  private parentLock: HeldLock = null
  private parentWs: WebSocket | null = null
  private parentSession: LinkSession | null = null
  private retry: NodeJS.Timeout | null = null
  private backoff = BACKOFF_MIN_MS
  /** Probing the parent after a dial found nothing at its address (probe.ts). */
  private probe: ParentProbe | null = null
  /** The dial under way was started by an answered probe. */
  private dialAfterProbe = false
  /** When the parent was last found unreachable (the probes' pace and the log); null once linked again. */
  private unreachableSince: number | null = null
  /** The TLS session with the parent, resumed by the next probe or dial (tls-resume.ts). */
  private readonly tickets = new TlsResumption()
  private stopped = false
  /** The parent's side of enrollment and challenges (routes in link-routes.ts). */
  readonly auth: LinkAuth
  private readonly parentAuth: ParentAuth | null
  private readonly onStored = () => {
    this.figures.changed()
    this.unitNames.changed()
  }
  private readonly onEnrollments = () => void this.enforceEnrollments().catch((e) => this.log(`applying enrollments.json failed: ${(e as Error).message}`))

  constructor(
    private readonly node: TongbanNode,
    /** `fingerprint`: the parent's certificate SHA-256, pinned at enrollment (see tls-client.ts). */
    private readonly parent: { url: string; token: string; fingerprint?: string | null } | null,
    private readonly log: (msg: string) => void = (m) => console.error(`[${node.config.code}] ${m}`),
  ) {
    this.stats = new LinkStats(node.db)
    // What waits for a peer grows with each stored update and shrinks with its acknowledgements.
    node.docs.on('update', this.onStored)
    this.stats.whenAcked(this.onStored)
    this.auth = new LinkAuth(node)
    this.parentAuth = parent ? new ParentAuth(node, parent.url, parent.fingerprint ?? null) : null
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const sig = this.parentProofs.get(req)
      if (sig) headers.push(`${LINK_PROOF_HEADERS.parentProof}: ${sig}`)
    })
  }

  /** Starts dialling the parent, if this node has one configured, and enforcing enrollments. */
  start(): void {
    if (this.parent) this.dial()
    // The progress lookup asks the child on the way down to a case's window (services/progress.ts).
    this.node.progress.askChild = (child, ask) => this.children.get(child)?.session.asks.ask(ask) ?? Promise.resolve({ outcome: 'unreachable', unit: child })
    // `tongban child add`/`child revoke` write enrollments.json from another process: watch it,
    // so a revoked or replaced key loses its link at once (4401) and the directory says so.
    watchFile(enrollmentsFile(this.node.config.dataDir), { interval: 500 }, this.onEnrollments)
    this.onEnrollments()
  }

  /** Cuts the link of every child whose enrolled key changed or was revoked, and publishes the change. */
  private async enforceEnrollments(): Promise<void> {
    if (this.stopped) return
    for (const [code, c] of this.children) {
      const key = childKey(this.node.config.dataDir, this.node.config.code, code)
      if (!key || key.publicKey !== c.key) {
        this.log(`cut the link of ${code}: its key was revoked or replaced`)
        c.session.close()
        closeSocket(c.ws, LINK_CLOSE_CODES.unauthorized, 'this key was revoked: the unit was re-enrolled or revoked')
        this.children.delete(code)
      }
    }
    this.node.trust.setChildren(readEnrollments(this.node.config.dataDir))
    if (this.node.trust.rootKey) await this.auth.publish()
  }

  /** The `/link` upgrade from a child: enrolled, directly below, proving it holds its enrolled key. */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/link') return false
    const code = String(req.headers['x-tongban-code'] ?? '').slice(0, 12)
    const self = this.node.config.code
    const refuse = (status: number, message: string, extra = '') => {
      this.log(`refused a link from ${code || '(no code)'}: ${message}`)
      refuseUpgradeSocket(socket, `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Forbidden'}\r\nContent-Type: text/plain\r\n${extra}Connection: close\r\n\r\n${message}`)
      return true
    }
    if (parentCode(code) !== self) return refuse(403, `${code} is not a child of ${self}: a node links only to children directly below it`)
    const hint = ` — if this unit was re-enrolled, start it with the new token from \`tongban child add --code ${code}\``
    let taken: Promise<boolean> = Promise.resolve(true)
    if (req.headers[LINK_PROOF_HEADERS.time] !== undefined) {
      // The proof of key made inside the upgrade (protocol/link-proof.ts); the 101 carries ours.
      const v = this.auth.verifyUpgradeProof(req.headers)
      if (v.refusal) {
        const clock = v.refusal.parentTime !== undefined ? `${LINK_PROOF_HEADERS.time}: ${v.refusal.parentTime}\r\n` : ''
        return refuse(v.refusal.status, v.refusal.message + (v.refusal.status === 401 && !clock ? hint : ''), clock)
      }
      this.parentProofs.set(req, v.parentProof)
      taken = this.auth.takeShared(v.nonce, v.expires)
    } else {
      // A child of an earlier version: the challenge asked for beforehand (link-auth.ts).
      const why = this.auth.verifyUpgrade(code, String(req.headers['x-tongban-nonce'] ?? ''), String(req.headers['x-tongban-proof'] ?? ''))
      if (why) return refuse(401, why + hint)
    }
    const key = childKey(this.node.config.dataDir, self, code)!
    const held = this.children.get(code)
    void taken.then((fresh): Promise<HeldLock | false | 'replayed'> | HeldLock | 'replayed' => {
      if (!fresh) return 'replayed'
      return held ? held.release : this.claim(`child-link:${code}`, () => this.children.get(code)?.ws.terminate())
    }).then((release) => {
      if (release === 'replayed') return void refuse(401, 'a replayed proof: another process of this node already took it (a proof is taken once)')
      if (release === false) {
        this.log(`refused a link from ${code}: another process of this node holds its link`)
        refuseUpgradeSocket(socket, `HTTP/1.1 409 Conflict\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nanother process of ${self} holds the link of ${code}: try again later`)
        return
      }
      // Accepted: ws unshifts `head` (the bytes read with the request) back into the socket and
      // starts reading it only now, after this callback has wired the session (the data listener
      // resumes the paused socket on the next tick): bytes the child pipelined while the proof
      // was checked are neither lost nor parsed before the session exists, and come in order.
      this.wss.handleUpgrade(req, socket, head, (ws) => this.acceptChild(code, key.publicKey, ws, release))
    }, (e) => {
      this.log(`refused a link from ${code}: the shared store's link lock failed (${(e as Error).message})`)
      refuseUpgradeSocket(socket, 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
    })
    return true
  }

  /**
   * Several processes of one node on one PostgreSQL: a link (to the parent, or from each child)
   * is held by one process at a time, under a lock that lives as long as the process's lock
   * connection — a process that dies lets go at once, and a child that dials another process is
   * turned away (409) until then. With the embedded store there is one process: always granted.
   * Resolves with the release (null when there is nothing to release), or false when another holds it.
   */
  private async claim(key: string, lost: () => void): Promise<HeldLock | false> {
    if (!this.node.db.holdLock) return null
    return (await this.node.db.holdLock(key, lost)) ?? false
  }

  private acceptChild(code: string, key: string, ws: WebSocket, release: HeldLock): void {
    const old = this.children.get(code)
    if (old) {
      old.session.close()
      closeSocket(old.ws, LINK_CLOSE_CODES.replaced, 'replaced by a newer connection from the same child')
    }
    const session = new LinkSession(this.node, code, true, wsTransport(ws), this.stats, this.log)
    this.children.set(code, { ws, session, key, release })
    // Our hello goes before anything we answer to the child's frames (an ack of a frame it
    // pipelined behind its upgrade must not overtake it: the child accepts only a hello first).
    const opened = session.open().catch((e) => this.log(`link with ${code} failed to open: ${(e as Error).message}`))
    this.wire(ws, session, () => {
      if (this.children.get(code)?.ws !== ws) return
      this.children.delete(code)
      void release?.()
    }, opened)
  }

  /** `probed`: the TLS connection of the probe that found the parent again, to send the upgrade on. */
  private dial(afterProbe = false, probed?: TLSSocket): void {
    if (this.stopped || !this.parent) return void probed?.destroy()
    if (this.node.db.holdLock && !this.parentLock) {
      probed?.destroy()
      // Shared store: only the process holding the parent link dials (see `claim`).
      void this.claim('parent-link', () => {
        this.parentLock = null
        this.parentWs?.terminate()
      }).then((release) => {
        if (release === false) return this.scheduleDial('failed') // another process holds it: try again later
        this.parentLock = release
        this.dial(afterProbe)
      }, (e) => {
        this.log(`cannot take the parent link's lock in the shared store: ${(e as Error).message}`)
        this.scheduleDial('failed')
      })
      return
    }
    this.dialAfterProbe = afterProbe
    void within(this.prepare(), PREPARE_TIMEOUT_MS, 'the enrollment').then((headers) => this.open(headers, probed), (e) => {
      probed?.destroy()
      this.logTls(`cannot link to the parent yet: ${(e as Error).message}`)
      this.scheduleDial(failureOf(e))
    })
  }

  /** Enrolls with the one-time token if it has not been exchanged yet, then signs the proof the upgrade carries. */
  private async prepare(): Promise<ReturnType<ParentAuth['linkHeaders']>> {
    const [pending] = await this.node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'parent_token'`)
    if (pending || !this.node.trust.parentKey || !this.node.trust.rootKey) {
      if (!pending) throw new Error('this node has no key of its parent and no enrollment token: start it with --token from `tongban child add` on the parent')
      await this.parentAuth!.enroll(parseEnrollmentToken(pending.value).secret)
      this.log(`enrolled with the parent ${this.node.parent}: its key${this.node.trust.rootKey ? " and the root's are" : ' is'} pinned`)
      this.onEnrollments() // now able to vouch for our own children in the directory
    }
    return this.parentUsesChallenge ? this.parentAuth!.challengeHeaders() : this.parentAuth!.linkHeaders()
  }

  /**
   * The parent runs a version from before the proof in the upgrade: it refused ours asking for
   * its challenge. Villages are upgraded when someone carries a laptop to a connection, not
   * after their township, so the earlier handshake is kept for them, until this node restarts.
   */
  private parentUsesChallenge = false
  /**
   * This process has linked to the parent with the current protocol (the proof in the upgrade,
   * both hellos through): later dials write the first frames behind the upgrade (pipeline.ts).
   * Never before that — a parent of an earlier version must not see them — and not again after
   * a pipelined dial that got no answer at all, until a link succeeds.
   */
  private pipelineOk = false

  private open({ headers, checkParent }: ReturnType<ParentAuth['linkHeaders']>, probed?: TLSSocket): void {
    if (this.stopped || !this.parent) return void probed?.destroy()
    const url = this.parent.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/link'
    const fingerprint = this.parent.fingerprint ?? null
    const parent = this.node.parent!
    // A reconnect over wss to the pinned certificate: the hello (read while TLS is in flight) and
    // the first window (read while the upgrade is) follow the upgrade request on its connection.
    const first = url.startsWith('wss:') && fingerprint && this.pipelineOk && !this.parentUsesChallenge ? new FirstFrames(this.node, this.stats, parent) : null
    first?.prepare().catch((e) => this.log(`could not prepare the hello for the parent: ${(e as Error)?.message ?? String(e)}`))
    const sent = first ? (socket: TLSSocket) => first.attach(socket, this.log) : undefined
    // The probe's connection, when its certificate is the pinned one: no new TCP and TLS handshake.
    const onProbed = probed && url.startsWith('wss:') ? wsOnConnected(probed, fingerprint, sent, this.tickets) : null
    if (probed && !onProbed) probed.destroy()
    // Over wss with a pin, nothing (not even the proof) is sent until the parent's certificate
    // matches the fingerprint pinned at enrollment; without a pin, the system CAs must vouch for it.
    const ws = new WebSocket(url, {
      headers,
      maxPayload: MAX_WS_MESSAGE, handshakeTimeout: 15_000,
      // Frames are deflated by the link itself (compress.ts) and the parent never negotiates
      // permessage-deflate: not offering it keeps its header (68 B) off every upgrade.
      perMessageDeflate: false,
      ...(onProbed ?? wsTlsOptions(url, fingerprint, (e) => this.logTls(e.message), sent, this.tickets)),
    })
    this.parentWs = ws
    let pipelined: (Pipelined & { frames: number }) | null = null
    let refused = false
    let answered = false // the parent's HTTP answer (an upgrade or a refusal) arrived
    let failure: DialFailure = 'failed'
    let clockRetry = false // refused for the time of our proof: dial again at once, dated by the parent's clock
    let olderParent = false // refused by a parent of an earlier version: dial again at once, its way
    ws.on('upgrade', (res) => {
      answered = true
      // From here `ws` owns the socket: what was written behind the request is what the session goes on from.
      pipelined = first?.handOver() ?? null
      // Nothing is sent on the link until the 101 proves the parent holds its pinned key.
      const why = checkParent(res.headers)
      if (!why) return
      refused = true
      // Whoever answered holds the pinned certificate but not the parent's key (a stolen TLS
      // key): it got at most the one window sent behind the upgrade; no more until a real link.
      this.pipelineOk = false
      this.log(`not linking to the parent: ${why}`)
      ws.terminate()
    })
    ws.on('unexpected-response', (_req, res) => {
      answered = true
      first?.handOver() // refused: nothing is lost, the outbox advances only on the parent's acks
      refused = REFUSAL_HTTP_STATUSES.has(res.statusCode ?? 0)
      const parentTime = Number(res.headers[LINK_PROOF_HEADERS.time])
      if (res.statusCode === 401 && parentTime > 0 && !this.clockRetried) {
        // Dated a second ahead of the parent's clock as heard (it was heard half a round trip late).
        this.parentAuth!.clockOffset = parentTime + 1_000 - Date.now()
        this.clockRetried = clockRetry = true
        refused = false
      }
      let body = ''
      res.on('data', (d: Buffer) => (body = (body + d.toString()).slice(0, 1000)))
      res.on('error', () => {})
      res.on('end', () => {
        this.log(`the parent refused the link (${res.statusCode}): ${body}`)
        if (first?.bytesWritten) this.log(`the ${first.bytesWritten} bytes sent behind the upgrade were not taken: nothing is lost (what waits for the parent moves only on its acks)`)
        // An earlier parent's answer to a proof it does not know (link-auth.ts verifyUpgrade).
        if (res.statusCode === 401 && !this.parentUsesChallenge && /ask \/link\/challenge first/.test(body)) {
          this.parentUsesChallenge = true
          olderParent = true
          refused = false
          this.log('the parent runs an earlier version (it asks for its challenge): linking the earlier way from now on')
        }
      })
      // With this listener `ws` leaves the handshake to us: end it, so 'close' follows and
      // schedules the next dial (else the link would wait for nothing).
      res.on('close', () => ws.terminate())
    })
    ws.on('open', () => {
      this.lastTlsRefusal = ''
      if (pipelined) this.log(`sent the hello and ${pipelined.frames} frames (${first!.bytesWritten} bytes, from ${pipelined.start}) behind the upgrade`)
      const session = new LinkSession(this.node, parent, false, wsTransport(ws), this.stats, this.log, pipelined)
      this.parentSession = session
      void session.ready.then(() => {
        if (!this.parentUsesChallenge) this.pipelineOk = true
        this.backoff = BACKOFF_MIN_MS
        this.unreachableSince = null
        this.dialAfterProbe = false // linked: a later loss is not "right after a probe
        this.clockRetried = false
      })
      this.wire(ws, session, () => {})
      void session.open().catch((e) => this.log(`link to parent failed to open: ${(e as Error).message}`))
    })
    ws.on('error', (e: NodeJS.ErrnoException) => {
      if (!answered) failure = failureOf(e)
      // 'close' follows and schedules the retry; a certificate the link cannot trust is said once.
      if (e.code && TLS_ERRORS.test(e.code)) this.logTls(`the parent's TLS certificate is not trusted (${e.code}): ${e.message}; start with the token \`tongban child add\` prints (it pins the parent's certificate) or --parent-fingerprint`)
    })
    ws.on('close', (code: number, reason: Buffer) => {
      first?.handOver()
      // Bytes went out behind the upgrade and no answer came: the next dial waits for the 101
      // (a middlebox or a parent that resets such a connection), until a link succeeds again.
      if (first && first.bytesWritten > 0 && !answered) {
        this.pipelineOk = false
        this.log('no answer to the upgrade with the first frames behind it: the next dial waits for the answer first')
      }
      // The parent fell silent (a line cut without a reset): as unreachable as a refused
      // connect, so probe and dial the moment it answers instead of a grown backoff.
      const silent = this.parentSession?.closedFor === LINK_CLOSE_CODES.timeout
      this.parentSession?.close()
      this.parentSession = null
      this.parentWs = null
      if (clockRetry || olderParent) this.backoff = BACKOFF_MIN_MS
      const retryAfter = code === LINK_CLOSE_CODES.quota_exceeded ? retryAfterOf(reason.toString()) : null
      this.scheduleDial(clockRetry || olderParent ? 'failed' : refused || REFUSAL_CLOSE_CODES.has(code) ? 'refused' : silent ? 'unreachable' : answered ? 'failed' : failure, retryAfter)
    })
  }

  private lastTlsRefusal = ''
  /** One dial since the last link was redone at once with the parent's clock; a second refusal waits. */
  private clockRetried = false

  /** Logs a TLS refusal of the parent, once until it changes (the dial retries every ≤ 30 s). */
  private logTls(msg: string): void {
    if (msg === this.lastTlsRefusal) return
    this.lastTlsRefusal = msg
    this.log(`not linking to the parent: ${msg}`)
  }

  /**
   * After a failed or dropped link: a refusal waits a minute or two; a parent that could not be
   * reached is probed, and dialled the moment it answers (a backoff grown while offline would
   * leave the child idle for up to 30 s after the line is back); a parent that answered but
   * whose link failed is redialled after the jittered, growing backoff.
   */
  private scheduleDial(failure: DialFailure, retryAfterMs: number | null = null): void {
    if (this.stopped || this.retry || this.probe) return
    // Unreachable again right after a probe was answered (a flapping line, or a proxy that
    // answers for a parent that is down): back off, so answered probes cannot pace the dials.
    if (failure === 'unreachable' && !this.dialAfterProbe) return this.startProbing()
    const refused = failure === 'refused'
    const wait = redialDelay(this.backoff, refused, Math.random, retryAfterMs)
    if (refused) this.log(`the parent refused this node: the next dial in ${Math.round(wait / 1000)} s${retryAfterMs !== null ? ` (its quota said to retry in ${Math.round(retryAfterMs / 1000)} s)` : ''}`)
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2)
    this.retry = setTimeout(() => {
      this.retry = null
      this.dial()
    }, wait)
  }

  private startProbing(): void {
    if (this.unreachableSince === null) {
      this.unreachableSince = Date.now()
      this.log('the parent cannot be reached: probing it every 100–200 ms for a minute, then every 250–500 ms, dialling when it answers')
    }
    const pin = this.parent!.fingerprint ?? null
    // Each probe offers the kept TLS session: a parent that resumes it answers without its certificate.
    const probeWithTicket = (url: string, connected: () => void) => {
      const offered = this.tickets.options(pin)
      return probeKeeping(url, PROBE_TIMEOUT_MS, { ...offered, connected, opened: (socket) => this.tickets.opened(socket, pin, offered) })
    }
    const probe = new ParentProbe(this.parent!.url, (socket) => {
      this.probe = null
      this.log(`the parent answers again (${Math.round((Date.now() - this.unreachableSince!) / 1000)} s after it was found unreachable, ${probe.sent} probes): dialling${socket ? ` on the probe's connection${socket.isSessionReused() ? ', its TLS session resumed' : ''}` : ''}`)
      this.dial(true, socket)
    }, probeWithTicket, Math.random, this.unreachableSince)
    this.probe = probe
    probe.start()
  }

  private wire(ws: WebSocket, session: LinkSession, onGone: () => void, opened: Promise<void> = Promise.resolve()): void {
    // Frames are handled one at a time, in order: the cursor must follow the data.
    let chain = opened
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return closeSocket(ws, LINK_CLOSE_CODES.malformed_frame, 'text message on a binary link')
      session.heard()
      // Nothing a peer sends may end the process: every frame's handling ends in a caught,
      // logged refusal (session.receive closes the link itself; this is the last guard).
      chain = chain
        .then(() => session.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
        .catch((e) => {
          this.log(`link with ${session.peer}: a frame could not be handled: ${(e as Error)?.message ?? String(e)}`)
          closeSocket(ws, LINK_CLOSE_CODES.internal, 'this node failed to handle a frame')
        })
    })
    ws.on('close', () => {
      session.close()
      onGone()
    })
    ws.on('error', () => {})
  }

  /** Drops the parent connection now (tests, and the operator's "go offline"). */
  dropParent(): void {
    this.parentWs?.terminate()
  }

  /**
   * What is counted for a peer (queries), kept about a second or until the store changes
   * (recent.ts): `/api/sync` and `/healthz` are polled, and an idle node then reads no table.
   */
  private counted(peer: string, peerIsChild: boolean): Promise<PeerCounts> {
    return this.figures.get(peer, async () => {
      const out = new Outbox(this.node.db, peer, peerIsChild)
      return {
        persistedSync: await this.stats.persistedSync(peer),
        waiting: await out.waiting((await this.stats.cursor(peer)).acked),
        bytesWaiting: await attachmentBytesWaiting(this.node, out),
      }
    })
  }

  async status(): Promise<SyncStatus> {
    const attachments = (peer: string, c: PeerCounts): LinkAttachments => ({ ...laneCounters(this.node, peer), bytesWaiting: c.bytesWaiting })
    let parent: SyncStatus['parent'] = null
    if (this.parent && this.node.parent) {
      const p = this.node.parent
      const c = await this.counted(p, false)
      parent = { ...this.stats.current(p, c.persistedSync), url: this.parent.url, waitingUp: c.waiting, waitingDown: 0, attachments: attachments(p, c) }
    }
    const children = []
    const codes = enrolledChildren(this.node.config.dataDir)
    const names = codes.length ? await this.unitNames.get('', () => this.node.stats.names()) : {}
    for (const code of codes) {
      const c = await this.counted(code, true)
      children.push({ ...this.stats.current(code, c.persistedSync), name: names[code] ?? null, waitingUp: 0, waitingDown: c.waiting, attachments: attachments(code, c) })
    }
    return { parent, children }
  }

  /**
   * The summary /healthz carries (the UI banner polls it): the parent link with what waits to
   * go up, and how many children are connected — without counting each child's backlog.
   */
  async summary(): Promise<{
    parent: { connected: boolean; lastSyncAt: string | null; waitingUp: number; attachmentBytesUp: number } | null
    children: { enrolled: number; connected: number }
  }> {
    let parent = null
    if (this.parent && this.node.parent) {
      const p = this.node.parent
      const c = await this.counted(p, false)
      const s = this.stats.current(p, c.persistedSync)
      parent = { connected: s.connected, lastSyncAt: s.lastSyncAt, waitingUp: c.waiting, attachmentBytesUp: c.bytesWaiting }
    }
    return { parent, children: { enrolled: enrolledChildren(this.node.config.dataDir).length, connected: this.children.size } }
  }


  async stop(): Promise<void> {
    this.stopped = true
    this.node.docs.off('update', this.onStored)
    this.node.progress.askChild = null
    unwatchFile(enrollmentsFile(this.node.config.dataDir), this.onEnrollments)
    if (this.retry) clearTimeout(this.retry)
    this.probe?.stop()
    this.parentSession?.close()
    if (this.parentWs) closeSocket(this.parentWs, LINK_CLOSE_CODES.going_away, 'node stopping')
    for (const { ws, session, release } of this.children.values()) {
      session.close()
      closeSocket(ws, LINK_CLOSE_CODES.going_away, 'node stopping')
      void release?.()
    }
    void this.parentLock?.()
    this.children.clear()
    this.wss.close()
  }
}
