/**
 * Who is at the other end of a link, proven with node keys (protocol/trust.ts):
 *
 * - `POST /link/enroll` (parent side): the child's one-time token, exchanged once for the
 *   registration of its public key; the parent vouches for the key in the unit directory and
 *   answers with its own key, the root's and the chain of entries up to the root, which the
 *   child pins.
 * - `POST /link/challenge`: the child sends a nonce, the parent answers with a nonce of its own
 *   and its signature over both (the child checks it against the pinned parent key: a machine
 *   in the middle cannot answer); the child opens `/link` with its signature over both. A nonce
 *   serves one upgrade within a minute: nothing a listener records can be replayed. Kept for
 *   children of earlier versions; a child now proves its key inside the upgrade itself
 *   (protocol/link-proof.ts: one round trip fewer, and no TLS handshake of its own).
 */
import { randomBytes } from 'node:crypto'
import {
  ancestors, LINK_PROOF_HEADERS, LINK_PROOF_WINDOW_MS, LinkUpgradeProofSchema, linkUpgradeText, EnrollRequestSchema, EnrollResponseSchema, LinkChallengeRequestSchema, LinkChallengeSchema, linkProofText,
  type EnrollResponse, type NodeKeyRef,
} from '../../../protocol/index.ts'
import { appendEntry, DIRECTORY_DOC, readEntries } from '../docs/directory-doc.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { TongbanNode } from '../node.ts'
import { verifySignature } from '../trust/keys.ts'
import { savePins } from '../trust/trust.ts'
import { childKey, readEnrollments, redeemToken } from './enrollment.ts'
import { pinnedFetch } from './tls-client.ts'

const NONCE_TTL_MS = 60_000
const MAX_NONCES = 2_000
const MAX_NONCES_PER_CHILD = 8

const nonce = () => randomBytes(24).toString('base64url')
/** Proofs in the upgrade taken within the window, remembered until they are too old to be taken: at most this many. */
const MAX_SEEN_PROOFS = 5_000
const MAX_SEEN_PER_CHILD = 256

/** Why an upgrade's proof in one trip was refused: the HTTP status, and the parent's clock when the time was wrong. */
export interface ProofRefusal { status: 401 | 429; message: string; parentTime?: number }

/** The parent's side: enrollment, challenges, and the check of an upgrade. */
export class LinkAuth {
  private readonly nonces = new Map<string, { code: string; childNonce: string; expires: number }>()
  /** Child nonces of proofs taken in the upgrade, until they leave the window (replay guard). */
  private readonly seen = new Map<string, { code: string; expires: number }>()
  /** What `seen` held before this process started is gone: older proofs are not taken. */
  private readonly startedAt = Date.now()

  constructor(private readonly node: TongbanNode) {}

  private get self(): string {
    return this.node.config.code
  }

  /** `POST /link/enroll`. */
  async enroll(body: unknown): Promise<EnrollResponse> {
    const req = parseOr400(EnrollRequestSchema, body, 'enrollment')
    const { trust } = this.node
    const root = trust.rootKey
    const r = redeemToken(this.node.config.dataDir, this.self, req)
    if (!r.ok) throw new ApiError('unauthenticated', r.reason)
    trust.setChildren(readEnrollments(this.node.config.dataDir))
    // Not yet linked to the root itself: the child learns the root on a later dial (its token,
    // now bound to its key, is asked again until the answer carries the root).
    if (root) await this.publish(req.code)
    // With the child's own entries: a replaced laptop learns the keys it held before (retired
    // now), so its earlier cases, signed with them, check when they come back to it.
    const line = new Set([...ancestors(this.self), this.self])
    const entries = readEntries(await this.node.docs.get(DIRECTORY_DOC))
    const own = entries.filter((e) => e.code === req.code).slice(-6)
    const chain = [...entries.filter((e) => line.has(e.code)).slice(-(16 - own.length)), ...own]
    return { parent: { code: this.self, alg: trust.keys.alg, publicKey: trust.keys.publicKey }, root, chain }
  }

  /**
   * Writes into the directory what enrollments.json says of `code` (or of every child): its
   * active key vouched for under its current name, and every retired key revoked. Idempotent: entries already there are not repeated.
   */
  async publish(code?: string): Promise<void> {
    const all = readEnrollments(this.node.config.dataDir).filter((e) => !code || e.code === code)
    await this.node.docs.change(DIRECTORY_DOC, (doc) => {
      const entries = readEntries(doc).filter((e) => e.vouchedBy === this.self)
      const at = new Date().toISOString()
      for (const e of all) {
        const mine = entries.filter((x) => x.code === e.code)
        const serial = () => mine.reduce((m, x) => Math.max(m, x.serial), 0) + 1
        const want: { key: NodeKeyRef; status: 'active' | 'revoked' }[] = [
          ...e.retired.map((key) => ({ key, status: 'revoked' as const })),
          ...(e.key ? [{ key: e.key, status: 'active' as const }] : []),
        ]
        for (const w of want) {
          const last = mine.filter((x) => x.publicKey === w.key.publicKey).sort((a, b) => b.serial - a.serial)[0]
          // Unchanged (a rename re-vouches the active key under the new name, same code).
          const renamed = w.status === 'active' && !!e.name && last?.name !== e.name
          if ((last?.status === w.status && !renamed) || (!last && w.status === 'revoked')) continue
          const entry = this.node.trust.vouch({ code: e.code, name: e.name ?? e.code, ...w.key }, w.status, serial(), at)
          appendEntry(doc, entry)
          mine.push(entry)
        }
      }
    })
  }

  /** `POST /link/challenge`. */
  challenge(body: unknown): { nonce: string; sig: string } {
    const req = parseOr400(LinkChallengeRequestSchema, body, 'challenge')
    if (!childKey(this.node.config.dataDir, this.self, req.code)) throw new ApiError('unauthenticated', `${req.code} is not enrolled here (or its key was revoked): run \`tongban child add --code ${req.code}\` on this node`)
    this.sweep()
    if ([...this.nonces.values()].filter((n) => n.code === req.code).length >= MAX_NONCES_PER_CHILD || this.nonces.size >= MAX_NONCES) {
      throw new ApiError('rate_limited', 'too many open link challenges: wait a minute and dial again')
    }
    const n = nonce()
    this.nonces.set(n, { code: req.code, childNonce: req.nonce, expires: Date.now() + NONCE_TTL_MS })
    return { nonce: n, sig: this.node.trust.keys.sign(linkProofText('link-parent', this.self, req.code, n, req.nonce)) }
  }

  /** Checks an upgrade's proof; null when the child proved it holds its enrolled key, else why not. */
  verifyUpgrade(code: string, parentNonce: string, proof: string): string | null {
    const n = this.nonces.get(parentNonce)
    this.nonces.delete(parentNonce) // one use, whatever the outcome
    if (!n || n.expires < Date.now() || n.code !== code) return 'no open challenge for this link: ask /link/challenge first (a challenge serves one link within a minute)'
    const key = childKey(this.node.config.dataDir, this.self, code)
    if (!key) return `${code} is not enrolled here (or its key was revoked)`
    return verifySignature(key, linkProofText('link-child', this.self, code, parentNonce, n.childNonce), proof) ? null : `the proof is not signed by ${code}'s enrolled key`
  }

  /**
   * Checks a proof of key made inside the upgrade (protocol/link-proof.ts): signed by `code`'s
   * enrolled key, for this parent, dated within the window of this clock and not before this
   * process started, its nonce never taken before. Returns the refusal, or null and the
   * parent's signature for the 101 (`x-tongban-parent-proof`).
   */
  verifyUpgradeProof(headers: Record<string, string | string[] | undefined>): { refusal: ProofRefusal; parentProof?: undefined } | { refusal: null; parentProof: string; nonce: string; expires: number } {
    const H = LINK_PROOF_HEADERS
    const r = LinkUpgradeProofSchema.safeParse({ code: headers[H.code], time: headers[H.time], nonce: headers[H.nonce], proof: headers[H.proof] })
    const refuse = (message: string, status: 401 | 429 = 401, parentTime?: number) => ({ refusal: { status, message, parentTime } })
    if (!r.success) return refuse(`the link's proof headers are malformed: ${r.error.issues[0]?.message}`)
    const { code, time, nonce: childNonce, proof } = r.data
    const now = Date.now()
    if (Math.abs(now - time) > LINK_PROOF_WINDOW_MS) {
      return refuse(`a stale proof: dated ${Math.round((now - time) / 1000)} s from this node's clock (at most ${LINK_PROOF_WINDOW_MS / 1000} s either way) — a replay, or the unit's clock is off: set it`, 401, now)
    }
    if (time < this.startedAt) return refuse('a stale proof: dated before this node started (a proof is taken once; redial)', 401, now)
    const key = childKey(this.node.config.dataDir, this.self, code)
    if (!key) return refuse(`${code} is not enrolled here (or its key was revoked)`)
    if (!verifySignature(key, linkUpgradeText('link-child', this.self, code, time, childNonce), proof)) return refuse(`the proof is not signed by ${code}'s enrolled key`)
    for (const [k, v] of this.seen) if (v.expires < now) this.seen.delete(k)
    if (this.seen.has(childNonce)) return refuse('a replayed proof: this one was already used to open a link (a proof is taken once)')
    if (this.seen.size >= MAX_SEEN_PROOFS || [...this.seen.values()].filter((v) => v.code === code).length >= MAX_SEEN_PER_CHILD) {
      return refuse('too many links opened in the last minutes: wait a minute and dial again', 429)
    }
    this.seen.set(childNonce, { code, expires: time + LINK_PROOF_WINDOW_MS })
    return { refusal: null, parentProof: this.node.trust.keys.sign(linkUpgradeText('link-parent', this.self, code, time, childNonce)), nonce: childNonce, expires: time + LINK_PROOF_WINDOW_MS }
  }

  /**
   * Several processes of one node on one PostgreSQL (a load balancer in front): a proof one
   * process took must not open a link at another, whose `seen` never heard of it. The nonce is
   * recorded in the shared store (a node_meta row until the proof expires; expired rows go at
   * the next take). False: another process took it. With the embedded store, one process: true.
   */
  async takeShared(nonce: string, expires: number): Promise<boolean> {
    const { db } = this.node
    if (!db.holdLock) return true
    await db.query(`DELETE FROM node_meta WHERE key LIKE 'link-proof:%' AND value::bigint < $1`, [Date.now()])
    const rows = await db.query(`INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key`, [`link-proof:${nonce}`, String(expires)])
    return rows.length === 1
  }

  private sweep(): void {
    const now = Date.now()
    for (const [k, v] of this.nonces) if (v.expires < now) this.nonces.delete(k)
  }
}

/** The child's side: everything a dial needs before the WebSocket opens. */
export class ParentAuth {
  constructor(private readonly node: TongbanNode, private readonly url: string, private readonly fingerprint: string | null) {}

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await pinnedFetch(this.url.replace(/\/$/, '') + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), maxBytes: 256 * 1024,
    }, this.fingerprint)
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new Error(`${path} answered ${res.status} with something that is not JSON`)
    }
    // The status goes with the error: a refusal (401, 403, 429) makes the next dial wait longer (links.ts).
    if (!res.ok) throw Object.assign(new Error(`${path} answered ${res.status}: ${(json as { error?: { message?: string } })?.error?.message ?? text.slice(0, 200)}`), { status: res.status })
    return json
  }

  /** Exchanges the one-time token for the registration of this node's key, and pins what the parent answers. */
  async enroll(tokenSecret: string): Promise<void> {
    const { trust, config } = this.node
    const r = EnrollResponseSchema.safeParse(await this.post('/link/enroll', {
      code: config.code, name: config.name, token: tokenSecret, alg: trust.keys.alg, publicKey: trust.keys.publicKey,
    }))
    if (!r.success) throw new Error(`the parent's enrollment answer is malformed: ${r.error.issues[0]?.message}`)
    if (r.data.parent.code !== this.node.parent) throw new Error(`the enrollment was answered by ${r.data.parent.code}, not this node's parent ${this.node.parent}`)
    const pins = { root: r.data.root, parent: r.data.parent, chain: r.data.chain }
    await savePins(this.node.db, pins)
    trust.pin(pins)
    // Nothing replayable stays behind: from now on the key proves who we are. (Until the answer
    // names the root the token is kept — it is bound to this key now, so no one else can use it.)
    if (pins.root) await this.node.db.query(`DELETE FROM node_meta WHERE key = 'parent_token'`)
  }

  /**
   * The parent's clock minus ours, learned from a refusal for the time (`x-tongban-time`): the
   * next proof is dated by the parent's clock, so a unit whose clock is off still links.
   */
  clockOffset = 0

  /**
   * The headers that open the link, proving this node holds its enrolled key in the upgrade
   * itself (protocol/link-proof.ts), and the check of the parent's answer: null when the 101's
   * `x-tongban-parent-proof` is signed by the parent key pinned at enrollment, else why not.
   */
  /**
   * The headers of the earlier handshake, for a parent not yet upgraded (links.ts falls back to
   * it when the parent asks for a challenge): a fresh `POST /link/challenge`, its signature over
   * both nonces checked against the pinned parent key before anything is sent, and the child's
   * signature over them in the upgrade. One round trip and one connection more than the proof in
   * the upgrade, and as safe: the parent's nonce is taken once, within a minute.
   */
  async challengeHeaders(): Promise<ReturnType<ParentAuth['linkHeaders']>> {
    const { trust, config } = this.node
    const parentKey = trust.parentKey
    if (!parentKey) throw new Error('not enrolled with the parent yet')
    const childNonce = nonce()
    const r = LinkChallengeSchema.safeParse(await this.post('/link/challenge', { code: config.code, nonce: childNonce }))
    if (!r.success) throw new Error(`the parent's challenge is malformed: ${r.error.issues[0]?.message}`)
    if (!verifySignature(parentKey, linkProofText('link-parent', parentKey.code, config.code, r.data.nonce, childNonce), r.data.sig)) {
      throw new Error(`the node at ${this.url} could not prove it is ${parentKey.code} (its answer is not signed by the key pinned at enrollment)`)
    }
    return {
      headers: {
        'x-tongban-code': config.code,
        'x-tongban-nonce': r.data.nonce,
        'x-tongban-proof': trust.keys.sign(linkProofText('link-child', parentKey.code, config.code, r.data.nonce, childNonce)),
      },
      checkParent: () => null, // proven by the challenge's signature, before the upgrade
    }
  }

  linkHeaders(): { headers: Record<string, string>; checkParent: (headers: Record<string, string | string[] | undefined>) => string | null } {
    const { trust, config } = this.node
    const parentKey = trust.parentKey
    if (!parentKey) throw new Error('not enrolled with the parent yet')
    const H = LINK_PROOF_HEADERS
    const childNonce = nonce()
    const time = Date.now() + this.clockOffset
    return {
      headers: {
        [H.code]: config.code,
        [H.time]: String(time),
        [H.nonce]: childNonce,
        [H.proof]: trust.keys.sign(linkUpgradeText('link-child', parentKey.code, config.code, time, childNonce)),
      },
      checkParent: (h) => {
        const sig = String(h[H.parentProof] ?? '')
        return verifySignature(parentKey, linkUpgradeText('link-parent', parentKey.code, config.code, time, childNonce), sig)
          ? null
          : `the node at ${this.url} could not prove it is ${parentKey.code} (its answer is not signed by the key pinned at enrollment)`
      },
    }
  }
}
