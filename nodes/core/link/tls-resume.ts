/**
 * Resuming the TLS session with the parent (a session ticket: RFC 8446 §2.2). A resumed
 * handshake carries no certificate and no signature: on the emulated poor line (100 kbit/s) it
 * is ~1.0 KB less down — 80 ms before the child can write its upgrade — for ~0.3 KB more up
 * (the ticket rides in the ClientHello). Every probe offers it, so the probe that finds the
 * parent again is answered sooner.
 *
 * What a resumption proves: the far end holds the secret of the earlier handshake the ticket came
 * from. Tickets are kept only from connections whose certificate matched the pin (kept after
 * the check), under that pin, and offered only to connections pinned to the same; so a
 * connection that resumed one of ours is the pinned parent, although it shows no certificate
 * (Node's `getPeerCertificate()` is empty on a resumed session): `resumedUnder` is then its pin
 * check (tls-client.ts `checkPin`). A man in the middle cannot resume: he does not have the
 * secret, so he must show a certificate, and it is not the pinned one.
 *
 * Forward secrecy is kept: OpenSSL resumes TLS 1.3 with a fresh ECDHE (psk_dhe_ke), so a
 * ticket key read later from the parent's memory opens no recorded link. The parent's ticket
 * keys live in its process: after it restarts, or at another process of a city sharing one
 * PostgreSQL, the ticket is declined and the handshake is a full one (the certificate checked
 * again) — nothing fails. Only TLS 1.3's tickets are kept (they arrive after the handshake, when
 * the pin has been checked); a TLS 1.2 parent gets full handshakes.
 */
import type { TLSSocket } from 'node:tls'

export class TlsResumption {
  /** The newest ticket from a connection pinned to `pin`. */
  private kept: { pin: string; session: Buffer } | null = null
  /** Connections opened offering a kept ticket, and the pin it was kept under. */
  private readonly offered = new WeakMap<TLSSocket, string>()

  /** `tls.connect` options for a new connection to the parent pinned to `pin`: its ticket, if one is kept. */
  options(pin: string | null): { session?: Buffer } {
    return pin && this.kept?.pin === pin ? { session: this.kept.session } : {}
  }

  /** `socket` was opened with `options(pin)`: a resumption on it will stand for `pin`. */
  opened(socket: TLSSocket, pin: string | null, options: { session?: Buffer }): void {
    if (pin && options.session) this.offered.set(socket, pin)
  }

  /** Whether `socket` resumed a session offered under `pin`. */
  resumedUnder(socket: TLSSocket, pin: string): boolean {
    return socket.isSessionReused() && this.offered.get(socket) === pin
  }

  /** `socket`'s pin has just been checked: keep the tickets the parent sends on it from now on. */
  keepTickets(socket: TLSSocket, pin: string): void {
    socket.on('session', (session: Buffer) => {
      this.kept = { pin, session }
    })
  }

  /** Whether a ticket is kept for `pin` (for the log and the tests). */
  has(pin: string | null): boolean {
    return Boolean(pin && this.kept?.pin === pin)
  }
}
