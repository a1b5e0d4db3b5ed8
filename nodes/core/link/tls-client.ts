/**
 * Client-side TLS towards the parent, pinned to the certificate fingerprint taken at enrollment.
 *
 * Node checks a certificate's chain before any `checkServerIdentity` hook runs, so a pinned
 * self-signed certificate cannot be checked there. Instead the chain check is off
 * (`rejectUnauthorized: false`) and the request is held back until the handshake is done: the
 * peer's certificate fingerprint is compared with the pin, and only on a match does the request —
 * headers with the token, and body — leave this machine. On a mismatch nothing is sent.
 * Without a pin, Node's ordinary verification (system CAs, host name) applies.
 */
import type { ClientRequest } from 'node:http'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { checkParentUrl, normalizeFingerprint } from '../tls.ts'
import type { TlsResumption } from './tls-resume.ts'

export class PinMismatchError extends Error {
  readonly code = 'ERR_TONGBAN_PIN_MISMATCH'
}

/**
 * Null when `socket`'s peer certificate has the pinned fingerprint, or when it resumed a TLS
 * session kept from a connection with that certificate (`resumption`, tls-resume.ts: a resumed
 * handshake shows no certificate); otherwise why not.
 */
export function checkPin(socket: TLSSocket, fingerprint: string, resumption?: TlsResumption): PinMismatchError | null {
  const cert = socket.getPeerCertificate()
  const got = cert && cert.fingerprint256 ? normalizeFingerprint(cert.fingerprint256) : null
  if (got === fingerprint) return null
  if (got === null && resumption?.resumedUnder(socket, fingerprint)) return null
  return new PinMismatchError(
    `the parent's TLS certificate (sha256 ${got ?? 'none'}) is not the one pinned at enrollment (sha256 ${fingerprint}): ` +
    'refusing to send anything — a man in the middle, or the parent has a new certificate (then re-enroll, or start with --parent-fingerprint)',
  )
}

/**
 * Holds `req` until its TLS handshake completes, then checks the pin: on a match calls `send`
 * (which writes the body and ends the request); on a mismatch destroys the request with a
 * PinMismatchError and calls `refused`. With `resumption`, the request was opened offering its
 * ticket: a resumed session counts as the pin, and the tickets of a matching connection are kept.
 */
export function holdUntilPinned(req: ClientRequest, fingerprint: string, send: () => void, refused: (e: PinMismatchError) => void = () => {}, resumption?: { tickets: TlsResumption; offered: { session?: Buffer } }): void {
  req.once('socket', (socket) => {
    const tls = socket as TLSSocket
    resumption?.tickets.opened(tls, fingerprint, resumption.offered)
    const check = () => {
      const err = checkPin(tls, fingerprint, resumption?.tickets)
      if (err) {
        refused(err)
        req.destroy(err)
      } else {
        resumption?.tickets.keepTickets(tls, fingerprint)
        send()
      }
    }
    // Always a fresh socket (ws makes its own; pinnedFetch uses agent: false): still handshaking.
    tls.once('secureConnect', check)
  })
}

/**
 * The TLS options for a `ws` client dialling `url`: pinned when `fingerprint` is given
 * (chain check off, request held until the pin matches), Node's defaults otherwise. `sent`
 * (pinned only) is told once the upgrade request has been written to the pinned connection:
 * what it writes to `socket` then follows the request (pipeline.ts).
 */
export function wsTlsOptions(url: string, fingerprint: string | null, refused: (e: PinMismatchError) => void, sent?: (socket: TLSSocket) => void, tickets?: TlsResumption): Record<string, unknown> {
  if (!url.startsWith('wss:') || !fingerprint) return {}
  // `ws` hands its options to `tls.connect`: the kept ticket (if any) is offered there.
  const offered = tickets?.options(fingerprint) ?? {}
  return {
    rejectUnauthorized: false,
    ...offered,
    finishRequest: (req: ClientRequest) => holdUntilPinned(req, fingerprint, () => endThen(req, sent), refused, tickets && { tickets, offered }),
  }
}

/** Ends `req` (the upgrade: headers, no body) and tells `sent` once it has been written to its socket. */
function endThen(req: ClientRequest, sent?: (socket: TLSSocket) => void): void {
  // 'finish': the request has been handed to the socket, so bytes written now come after it.
  if (sent) req.once('finish', () => req.socket && sent(req.socket as TLSSocket))
  req.end()
}

/**
 * The `ws` options that send the upgrade on `socket`, a TLS connection already made (the probe's
 * that found the parent again, probe.ts), or null when it cannot serve: it is gone, or there is
 * no pin to check it against (the probe did not check the CAs), or its certificate is not the
 * pinned one (the ordinary dial then finds and says so). The pin is checked here, before the
 * upgrade — the proof it carries — is written.
 */
export function wsOnConnected(socket: TLSSocket, fingerprint: string | null, sent?: (socket: TLSSocket) => void, tickets?: TlsResumption): Record<string, unknown> | null {
  if (!fingerprint || socket.destroyed || !socket.writable || checkPin(socket, fingerprint, tickets)) return null
  tickets?.keepTickets(socket, fingerprint)
  return { rejectUnauthorized: false, createConnection: () => socket, finishRequest: (req: ClientRequest) => endThen(req, sent) }
}

export interface PinnedInit {
  method?: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  signal?: AbortSignal
  /** Bounds the response body (default 8 MiB). */
  maxBytes?: number
}

/**
 * A small fetch for requests to the parent: https pinned to `fingerprint` (or verified against
 * the system CAs when null); plain http only to a loopback address. Resolves with a WHATWG
 * Response holding the whole body.
 */
export function pinnedFetch(url: string, init: PinnedInit = {}, fingerprint: string | null): Promise<Response> {
  const bad = checkParentUrl(url)
  if (bad) return Promise.reject(new Error(bad))
  const u = new URL(url)
  const secure = u.protocol === 'https:'
  const maxBytes = init.maxBytes ?? 8 * 1024 * 1024
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body)
  const headers: Record<string, string> = { ...init.headers }
  if (body) headers['content-length'] = String(body.length)
  const options: RequestOptions = {
    method: init.method ?? 'GET', headers, agent: false, signal: init.signal,
    ...(secure && fingerprint ? { rejectUnauthorized: false } : {}),
  }
  return new Promise<Response>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(u, options, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (d: Buffer) => {
        size += d.length
        if (size > maxBytes) {
          req.destroy(new Error(`${url}: response larger than ${maxBytes} bytes`))
          return
        }
        chunks.push(d)
      })
      res.on('end', () => {
        const h = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) h.append(k, x)
        const status = res.statusCode ?? 0
        const nullBody = status === 204 || status === 304 || (status >= 100 && status < 200)
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h }))
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    const send = () => req.end(body)
    if (secure && fingerprint) holdUntilPinned(req, fingerprint, send)
    else send()
  })
}
