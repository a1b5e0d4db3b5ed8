/**
 * Is the parent reachable again? While the line to the parent is down, the child does not dial
 * (each dial costs the parent a signed challenge, and a failed one spends the child's challenge
 * quota); it probes, cheaply and often, and dials as soon as a probe is answered.
 *
 * A probe must cross the whole path to the parent process: a TCP connect alone is not enough,
 * because whatever sits in between — a NAT box, a reverse proxy, the project's link emulator —
 * may complete the connect while the parent behind it is gone. So over https a probe is a TLS
 * handshake (the ServerHello comes from whoever holds the certificate; nothing is sent, the
 * parent does no signing of ours and no request is logged), and over plain http (loopback only)
 * a `HEAD /link/challenge` whose first byte of answer is enough.
 *
 * An answered TLS probe is not thrown away: its connection — TCP and TLS done, the certificate
 * still to be checked — is handed to the dial (`probeKeeping`), which checks the pin and sends
 * its upgrade on it at once: on a 600 ms line that is one round trip (and the certificate's
 * bytes) fewer between the line coming back and the first frame.
 *
 * Probes start two to four times a second (jittered, so villages back after a township outage
 * do not probe in step; the wait for the next one is all the line's return costs before the
 * dial, 0.19 s on average instead of 0.39 s at one every 0.5–1 s), each bounded in time; on a line that swallows packets (no reset, no answer)
 * a few run at once, so a probe started after the line returns is not stuck behind one that
 * was sent into the void.
 */
import net from 'node:net'
import tls from 'node:tls'

/** The gap between two probes: uniform in [PROBE_MIN_GAP_MS, PROBE_MAX_GAP_MS). */
export const PROBE_MIN_GAP_MS = 250
export const PROBE_MAX_GAP_MS = 500
/** A probe not answered within this is counted as failed (and its socket destroyed). */
export const PROBE_TIMEOUT_MS = 8_000
/** At most this many probes in flight (only reached on a line that drops packets silently). */
const MAX_IN_FLIGHT = 8

/** The wait before the next probe, jittered over [PROBE_MIN_GAP_MS, PROBE_MAX_GAP_MS). */
export function probeGap(random: () => number = Math.random): number {
  return Math.round(PROBE_MIN_GAP_MS + random() * (PROBE_MAX_GAP_MS - PROBE_MIN_GAP_MS))
}

/**
 * One probe of `url` (the parent's http(s) URL): resolves true once the far end answers (the
 * TLS handshake completes, or the first byte of an http answer arrives), false on any error,
 * reset or after `timeoutMs`. Never rejects.
 */
export function probeOnce(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return probe(url, timeoutMs, false).then((r) => r !== false)
}

/**
 * As `probeOnce`, but over https an answer resolves with the connected TLS socket itself, left
 * open for the caller (who must check its certificate before sending anything on it, and end it).
 */
export function probeKeeping(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean | tls.TLSSocket> {
  return probe(url, timeoutMs, true)
}

function probe(url: string, timeoutMs: number, keep: boolean): Promise<boolean | tls.TLSSocket> {
  const u = new URL(url)
  const secure = u.protocol === 'https:'
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = Number(u.port || (secure ? 443 : 80))
  return new Promise((resolve) => {
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      // Kept: the caller's now. Answered: leave politely (close_notify / FIN, then gone); otherwise just go.
      if (ok && keep && secure) return resolve(socket as tls.TLSSocket)
      if (ok) socket.destroySoon()
      else socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    const socket: net.Socket = secure
      // The certificate is not checked here: the dial that follows checks the pin (or the CAs)
      // before it sends anything. A probe only asks whether anyone holding a TLS key answers.
      ? tls.connect({ host, port, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) }, () => finish(true))
      : net.connect({ host, port }, () => socket.write(`HEAD /link/challenge HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`))
    if (!secure) socket.once('data', () => finish(true))
    socket.on('error', () => finish(false))
    socket.once('close', () => finish(false))
  })
}

/**
 * Probes `url` every 250–500 ms until one probe is answered, then calls `onAnswer` once and
 * stops. `stop()` ends it early; probes in flight are left to their timeout and ignored.
 */
export class ParentProbe {
  private timer: NodeJS.Timeout | null = null
  private inFlight = 0
  private stopped = false
  /** Probes sent so far (for the log and the tests). */
  sent = 0

  constructor(
    private readonly url: string,
    /** Called once, with the answering probe's TLS connection when it kept one. */
    private readonly onAnswer: (socket?: tls.TLSSocket) => void,
    private readonly probe: (url: string) => Promise<boolean | tls.TLSSocket> = probeKeeping,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.fire()
      this.schedule()
    }, probeGap(this.random))
  }

  private fire(): void {
    if (this.stopped || this.inFlight >= MAX_IN_FLIGHT) return
    this.inFlight++
    this.sent++
    void this.probe(this.url).then((ok) => {
      this.inFlight--
      const socket = typeof ok === 'object' ? ok : undefined
      if (!ok || this.stopped) return void socket?.destroy() // a later answer than the one taken
      this.stop()
      this.onAnswer(socket)
    })
  }
}
