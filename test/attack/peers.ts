/**
 * Hostile peers over real sockets, speaking protocol's encoders (or not): a child dialling a
 * node's /link, and a parent a node dials. Both authenticate for real, with node keys
 * (test/helpers/link-client.ts): the hostile child is an enrolled village gone bad (a stolen
 * laptop: its key was registered with the one-time token, it answers the challenge), the hostile
 * parent an enrolled township gone bad (the village pinned its key at enrollment and checks its
 * signature on every challenge). What is under test is what a node does with their frames.
 * Every wait is bounded.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import {
  decodeFrame, encodeFrame, EnrollRequestSchema, LINK_PROOF_HEADERS, LinkChallengeRequestSchema, linkProofText, linkUpgradeText,
  type EnrollResponse, type LinkFrame, type NodeKeyRef,
} from '../../protocol/index.ts'
import { verifySignature } from '../../nodes/core/trust/keys.ts'
import { proofHeaders, type Identity } from '../helpers/link-client.ts'

export interface RawLink {
  ws: WebSocket
  /** Frames received, decoded (a frame that does not decode is recorded as its error). */
  frames: (LinkFrame | { type: 'undecodable'; error: string })[]
  opened: Promise<void>
  /** The close the other side chose: code and reason (as bytes, to check the 123-byte cut). */
  closed: Promise<{ code: number; reason: Buffer }>
  send(f: LinkFrame | Uint8Array): void
}

function wrap(ws: WebSocket, opened: Promise<void>): RawLink {
  const frames: RawLink['frames'] = []
  ws.on('message', (d: Buffer) => {
    try {
      frames.push(decodeFrame(new Uint8Array(d)))
    } catch (e) {
      frames.push({ type: 'undecodable', error: (e as Error).message })
    }
  })
  ws.on('error', () => {})
  const closed = new Promise<{ code: number; reason: Buffer }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason })))
  return {
    ws, frames, opened, closed,
    send: (f) => ws.send(f instanceof Uint8Array ? f : encodeFrame(f)),
  }
}

/**
 * Dials `url`/link as the enrolled child `who` (see `enroll` in link-client.ts): a fresh
 * challenge from `parent`, answered with `who`'s key, then the upgrade.
 */
export async function dialAsChild(url: string, parent: string, who: Identity): Promise<RawLink> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/link', { headers: await proofHeaders(url, parent, who) })
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  opened.catch(() => {})
  return wrap(ws, opened)
}

export interface FakeParent {
  url: string
  /** Links accepted (each after a challenge signed with the parent's key). */
  connections: number
  /** Enrollments answered (the child's token exchanged for its key). */
  enrollments: number
  /** Upgrades asked for (accepted or refused). */
  upgrades: number
  /** `older` only: upgrades accepted on the earlier handshake, their proof checked against the enrolled key. */
  challengedLinks: number
  /** Bytes that came in the same read as an upgrade request, behind it (a child pipelining its first frames). */
  headBytes: number
  close(): Promise<void>
}

/**
 * A parent gone bad that a real child dials: `me` (code and key) answers `POST /link/enroll`
 * with its own key as parent and root (the child pins it) and `POST /link/challenge` with its
 * signature over both nonces (the child checks it against the pin), then accepts the upgrade;
 * each connection is handed to `onLink`. It takes any token and any proof: it is the one lying.
 * `refuseUpgrade` (asked at each upgrade): an HTTP status to refuse it with instead.
 * `older`: a parent of the version before the proof in the upgrade, which refuses such an
 * upgrade as that version did (401, "ask /link/challenge first") and takes only the earlier
 * handshake: a nonce it issued, the child's signature over both nonces by its enrolled key.
 */
export async function fakeParent(me: Identity, onLink: (link: RawLink) => void, opts: { refuseUpgrade?: () => number | null; signer?: Identity['keys']; older?: boolean; tls?: { cert: string; key: string } } = {}): Promise<FakeParent> {
  const self = { code: me.code, alg: me.keys.alg, publicKey: me.keys.publicKey }
  const enrolled = new Map<string, NodeKeyRef>()
  const issued = new Map<string, { code: string; childNonce: string }>()
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    let text = ''
    for await (const chunk of req) text += chunk
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return reply(400, { error: { code: 'bad_request', message: 'not JSON' } })
    }
    if (req.method === 'POST' && req.url === '/link/enroll') {
      const r = EnrollRequestSchema.safeParse(body)
      if (!r.success) return reply(400, { error: { code: 'bad_request', message: r.error.issues[0]?.message } })
      state.enrollments++
      enrolled.set(r.data.code, { alg: r.data.alg, publicKey: r.data.publicKey })
      return reply(200, { parent: self, root: self, chain: [] } satisfies EnrollResponse)
    }
    if (req.method === 'POST' && req.url === '/link/challenge') {
      const r = LinkChallengeRequestSchema.safeParse(body)
      if (!r.success) return reply(400, { error: { code: 'bad_request', message: r.error.issues[0]?.message } })
      const nonce = randomBytes(24).toString('base64url')
      issued.set(nonce, { code: r.data.code, childNonce: r.data.nonce })
      return reply(200, { nonce, sig: me.keys.sign(linkProofText('link-parent', me.code, r.data.code, nonce, r.data.nonce)) })
    }
    reply(404, { error: { code: 'not_found', message: `${req.method} ${req.url}` } })
  }
  const handler = (req: IncomingMessage, res: ServerResponse) => void answer(req, res).catch(() => res.destroy())
  // `tls`: https (and wss), for a child that pins this certificate (its token ends in its fingerprint).
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createServer(handler)
  server.prependListener('upgrade', (_req: IncomingMessage, _socket: unknown, head: Buffer) => void (state.headBytes += head.length))
  const wss = new WebSocketServer({
    server, path: '/link',
    verifyClient: (info, done) => {
      state.upgrades++
      const status = opts.refuseUpgrade?.() ?? null
      if (status) return done(false, status, 'refused by the test')
      if (!opts.older) return done(true)
      const h = (k: string) => String(info.req.headers[k] ?? '')
      const asked = issued.get(h('x-tongban-nonce'))
      issued.delete(h('x-tongban-nonce'))
      const code = h('x-tongban-code')
      const key = enrolled.get(code)
      if (!asked || !key || asked.code !== code || !verifySignature(key, linkProofText('link-child', me.code, code, h('x-tongban-nonce'), asked.childNonce), h('x-tongban-proof'))) {
        return done(false, 401, 'no open challenge for this link: ask /link/challenge first (a challenge serves one link within a minute)')
      }
      state.challengedLinks++
      done(true)
    },
  })
  // The 101 carries the parent's proof over the child's (protocol/link-proof.ts), signed with
  // `opts.signer` when a test plays a parent that does not hold the key the child pinned.
  wss.on('headers', (headers: string[], req: IncomingMessage) => {
    const h = (k: string) => String(req.headers[k] ?? '')
    const text = linkUpgradeText('link-parent', me.code, h(LINK_PROOF_HEADERS.code), Number(h(LINK_PROOF_HEADERS.time)), h(LINK_PROOF_HEADERS.nonce))
    headers.push(`${LINK_PROOF_HEADERS.parentProof}: ${(opts.signer ?? me.keys).sign(text)}`)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const state: FakeParent = {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: 0,
    enrollments: 0,
    upgrades: 0,
    challengedLinks: 0,
    headBytes: 0,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate()
      wss.close(() => server.close(() => r()))
      server.closeAllConnections()
    }),
  }
  wss.on('connection', (ws) => {
    state.connections++
    onLink(wrap(ws, Promise.resolve()))
  })
  return state
}

export const childHello = (code: string, epoch = 'hostile-epoch', latest = 0): LinkFrame =>
  ({ type: 'hello', code, role: 'child', epoch, peerEpoch: '', received: 0, latest })
export const parentHello = (code: string, epoch = 'hostile-epoch'): LinkFrame =>
  ({ type: 'hello', code, role: 'parent', epoch, peerEpoch: '', received: 0, latest: 0 })
