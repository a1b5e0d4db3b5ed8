/**
 * A child that speaks the link for real — its own key, the one-time enrollment, the
 * challenge–response — and then sends whatever a test wants: how the attack suites play a
 * stolen village laptop or a compromised township against a real node.
 */
import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import {
  decodeFrame, encodeFrame, encodeUpdatesBody, eventIdText, LINK_PROOF_HEADERS, linkProofText, linkUpgradeText, signingText,
  type Application, type CaseEvent, type EnrollResponse, type LinkFrame,
} from '../../protocol/index.ts'
import { compress } from '../../nodes/core/link/compress.ts'
import { contentId, memoryKeys, type NodeKeys } from '../../nodes/core/trust/keys.ts'
import type { UnsignedEvent } from '../../nodes/core/trust/trust.ts'

export interface Identity {
  code: string
  name: string
  keys: NodeKeys
}

export const identity = (code: string, name = code): Identity => ({ code, name, keys: memoryKeys() })

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json().catch(() => null) }
}

/** `POST /link/enroll` with `token` for `who`'s key. */
export function enroll(url: string, who: Identity, token: string): Promise<{ status: number; body: EnrollResponse | any }> {
  return post(url, '/link/enroll', { code: who.code, name: who.name, token: token.split('#')[0], alg: who.keys.alg, publicKey: who.keys.publicKey })
}

/** Answers a fresh challenge as `who` (signing with `signer`, by default who's own key): the upgrade headers. */
export async function proofHeaders(url: string, parent: string, who: Identity, signer: NodeKeys = who.keys): Promise<Record<string, string>> {
  const childNonce = randomBytes(24).toString('base64url')
  const r = await post(url, '/link/challenge', { code: who.code, nonce: childNonce })
  if (r.status !== 200) throw new Error(`challenge refused (${r.status}): ${r.body?.error?.message}`)
  return {
    'x-tongban-code': who.code,
    'x-tongban-nonce': r.body.nonce,
    'x-tongban-proof': signer.sign(linkProofText('link-child', parent, who.code, r.body.nonce, childNonce)),
  }
}

/**
 * The proof of key made inside the upgrade (protocol/link-proof.ts), as `who` for `parent`:
 * dated `time` (now by default), with a fresh nonce unless one is given, signed by `signer`.
 */
export function upgradeProofHeaders(parent: string, who: Identity, o: { time?: number; nonce?: string; signer?: NodeKeys } = {}): Record<string, string> {
  const time = o.time ?? Date.now()
  const nonce = o.nonce ?? randomBytes(24).toString('base64url')
  return {
    [LINK_PROOF_HEADERS.code]: who.code,
    [LINK_PROOF_HEADERS.time]: String(time),
    [LINK_PROOF_HEADERS.nonce]: nonce,
    [LINK_PROOF_HEADERS.proof]: (o.signer ?? who.keys).sign(linkUpgradeText('link-child', parent, who.code, time, nonce)),
  }
}

export interface Link {
  ws: WebSocket
  frames: LinkFrame[]
  /** Resolves with the HTTP status when the upgrade is refused, or 101 once open. */
  status: Promise<number>
  closed: Promise<{ code: number; reason: string }>
  send(f: LinkFrame | Uint8Array): void
}

/** Opens `/link` with `headers`. */
export function openLink(url: string, headers: Record<string, string>): Link {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/link', { headers })
  const frames: LinkFrame[] = []
  ws.on('message', (d: Buffer) => {
    try {
      frames.push(decodeFrame(new Uint8Array(d)))
    } catch { /* a chunk of a larger message: not needed here */ }
  })
  ws.on('error', () => {})
  const status = new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101))
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0))
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  return { ws, frames, status, closed, send: (f) => ws.send(f instanceof Uint8Array ? f : encodeFrame(f)) }
}

export const childHello = (code: string, latest = 1000): LinkFrame => ({ type: 'hello', code, role: 'child', received: 0, latest, epoch: `e${randomBytes(6).toString('hex')}`, peerEpoch: '' })

export function updatesFrame(entries: { seq: number; docId: string; update: Uint8Array }[]): Uint8Array {
  return encodeFrame({ type: 'updates', compressed: true, body: compress(encodeUpdatesBody(entries)) })
}

/** An application signed by `signer` (the origin's key unless a test forges it). */
export function signedApplication(app: Omit<Application, 'sig'>, signer: NodeKeys): Application {
  return { ...app, sig: signer.sign(signingText('application', app)) } as Application
}

/** An event with its content id, signed by `signer`. */
export function signedEvent(e: UnsignedEvent, signer: NodeKeys): CaseEvent {
  const withId = { ...e, id: contentId(eventIdText(e)) }
  return { ...withId, sig: signer.sign(signingText('event', withId)) } as CaseEvent
}

/** The Yjs update a case document gets from these writes, on top of `base` (the state the writer holds). */
export function caseUpdate(write: (doc: Y.Doc) => void, base?: Uint8Array): { update: Uint8Array; state: Uint8Array } {
  const doc = new Y.Doc()
  if (base) Y.applyUpdate(doc, base)
  const before = Y.encodeStateVector(doc)
  write(doc)
  return { update: Y.encodeStateAsUpdate(doc, before), state: Y.encodeStateAsUpdate(doc) }
}
