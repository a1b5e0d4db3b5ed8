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
 * Probes start five to ten times a second for the first minute after the parent was found
 * unreachable, then two to four times (jittered, so villages back after a township outage do not
 * probe in step). The wait for the next probe is all the line's return costs before the dial:
 * 0.08 s on average in the first minute (most outages are a dropped line or a restart), 0.19 s
 * after it, where a probe is a SYN (and a reset, when the parent's host answers for it) that
 * would go on for hours on a metered line. Each probe is bounded in time; on a line that
 * swallows packets (no reset, no answer) a few run at once, so a probe started after the line
 * returns is not stuck behind one that was sent into the void. Once a probe's TCP connect is
 * through, the next ones wait for its answer (PROBE_HOLD_MS at most): after the line's return
 * they would only put more ClientHellos on the line ahead of the cases.
 *
 * A probe offers the TLS session kept from the last link (tls-resume.ts): the parent that
 * resumes it answers without its certificate, ~1 KB less down before the dial.
 */
import net from 'node:net'
import tls from 'node:tls'

/** The gap between two probes: uniform in [PROBE_MIN_GAP_MS, PROBE_MAX_GAP_MS)... */
export const PROBE_MIN_GAP_MS = 250
export const PROBE_MAX_GAP_MS = 500
/** ...and in [PROBE_QUICK_MIN_GAP_MS, PROBE_QUICK_MAX_GAP_MS) for the first PROBE_QUICK_FOR_MS of an outage. */
export const PROBE_QUICK_MIN_GAP_MS = 100
export const PROBE_QUICK_MAX_GAP_MS = 200
export const PROBE_QUICK_FOR_MS = 60_000
/** A probe not answered within this is counted as failed (and its socket destroyed). */
export const PROBE_TIMEOUT_MS = 8_000
/**
 * A probe whose TCP connect is not through within this is given up: on a line that swallows
 * packets its SYN and the kernel's one retransmission (Linux's first RTO is 1 s) went nowhere,
 * and a newer probe is already on its way. Without it, eight probes held for their whole
 * timeout would pace the probing at one a second on such a line.
 */
export const PROBE_CONNECT_TIMEOUT_MS = 2_000
/** At most this many probes in flight (only reached on a line that drops packets silently). */
export const PROBE_MAX_IN_FLIGHT = 16
/**
 * Once a probe's TCP connect has completed (the line carries packets again), no other probe
 * starts for this long or until that one is answered or fails: its TLS answer is a round trip
 * and a ClientHello away (0.7–0.8 s on a 600 ms, 100 kbit/s line), and the probes the pace would
 * start meanwhile would each put a ClientHello (0.4–0.7 KB) on the line the cases wait for. Bounded,
 * because a middle box may complete connects for a parent that never answers.
 */
export const PROBE_HOLD_MS = 1_500

/** The wait before the next probe, jittered over [PROBE_MIN_GAP_MS, PROBE_MAX_GAP_MS), or the quick range. */
export function probeGap(random: () => number = Math.random, quick = false): number {
  const [min, max] = quick ? [PROBE_QUICK_MIN_GAP_MS, PROBE_QUICK_MAX_GAP_MS] : [PROBE_MIN_GAP_MS, PROBE_MAX_GAP_MS]
  return Math.round(min + random() * (max - min))
}

/** How a probe's TLS connection is opened: the ticket to offer, and who is told of the socket and of its TCP connect. */
export interface ProbeTls {
  session?: Buffer
  opened?: (socket: tls.TLSSocket) => void
  connected?: () => void
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
export function probeKeeping(url: string, timeoutMs = PROBE_TIMEOUT_MS, withTls: ProbeTls = {}): Promise<boolean | tls.TLSSocket> {
  return probe(url, timeoutMs, true, withTls)
}

function probe(url: string, timeoutMs: number, keep: boolean, withTls: ProbeTls = {}): Promise<boolean | tls.TLSSocket> {
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
      clearTimeout(connecting)
      // Kept: the caller's now. Answered: leave politely (close_notify / FIN, then gone); otherwise just go.
      if (ok && keep && secure) return resolve(socket as tls.TLSSocket)
      if (ok) socket.destroySoon()
      else socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    const connecting = setTimeout(() => finish(false), Math.min(timeoutMs, PROBE_CONNECT_TIMEOUT_MS))
    const socket: net.Socket = secure
      // The certificate is not checked here: the dial that follows checks the pin (or the CAs)
      // before it sends anything. A probe only asks whether anyone holding a TLS key answers.
      ? tls.connect({ host, port, rejectUnauthorized: false, ...(withTls.session ? { session: withTls.session } : {}), ...(net.isIP(host) ? {} : { servername: host }) }, () => finish(true))
      : net.connect({ host, port }, () => socket.write(`HEAD /link/challenge HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`))
    if (secure) withTls.opened?.(socket as tls.TLSSocket)
    else socket.once('data', () => finish(true))
    socket.once('connect', () => {
      clearTimeout(connecting)
      withTls.connected?.()
    })
    socket.on('error', () => finish(false))
    socket.once('close', () => finish(false))
  })
}

/**
 * Probes `url` every 100–200 ms until PROBE_QUICK_FOR_MS after `since` (when the parent was found
 * unreachable), every 250–500 ms after, until one probe is answered; then calls `onAnswer` once
 * and stops. `stop()` ends it early; probes in flight are left to their timeout and ignored.
 */
export class ParentProbe {
  private timer: NodeJS.Timeout | null = null
  private inFlight = 0
  /** Probes connected and waiting for their answer, and when the last one connected (PROBE_HOLD_MS). */
  private connected = 0
  private connectedAt = 0
  private stopped = false
  /** Probes sent so far (for the log and the tests). */
  sent = 0

  constructor(
    private readonly url: string,
    /** Called once, with the answering probe's TLS connection when it kept one. */
    private readonly onAnswer: (socket?: tls.TLSSocket) => void,
    /** One probe; it calls `connected` when its TCP connect completes. */
    private readonly probe: (url: string, connected: () => void) => Promise<boolean | tls.TLSSocket> = (url, connected) => probeKeeping(url, PROBE_TIMEOUT_MS, { connected }),
    private readonly random: () => number = Math.random,
    /** When the parent was found unreachable (Date.now()): the quick pace runs for a minute from then. */
    private readonly since: number = Date.now(),
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
    }, probeGap(this.random, Date.now() - this.since < PROBE_QUICK_FOR_MS))
  }

  private fire(): void {
    if (this.stopped || this.inFlight >= PROBE_MAX_IN_FLIGHT) return
    if (this.connected > 0 && Date.now() - this.connectedAt < PROBE_HOLD_MS) return // one is on its way through
    this.inFlight++
    this.sent++
    let connected = false
    void this.probe(this.url, () => {
      if (connected) return
      connected = true
      this.connected++
      this.connectedAt = Date.now()
    }).then((ok) => {
      this.inFlight--
      if (connected) this.connected--
      const socket = typeof ok === 'object' ? ok : undefined
      if (!ok || this.stopped) return void socket?.destroy() // a later answer than the one taken
      this.stop()
      this.onAnswer(socket)
    })
  }
}
