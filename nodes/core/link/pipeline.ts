/**
 * The first frames behind the upgrade (issue 11): on a reconnect the child writes its hello and
 * up to one window of updates frames right behind its upgrade request, on the same socket, as
 * masked WebSocket binary messages — instead of waiting a round trip for the 101 and the
 * parent's hello. The hello is read while the TLS handshake is in flight, the frames while the
 * upgrade is (not before it leaves: see `frames`); each is written as soon as it is ready, until
 * the parent's answer arrives (then `ws` owns the socket, and the session goes on from what was
 * written: `handOver`).
 *
 * Why this is safe (SECURITY.md, "6. Transport"): it is done only over wss with the parent's
 * certificate pinned at enrollment, and the request — and so these bytes — leaves only once the
 * handshake has shown the pinned certificate (tls-client.ts holdUntilPinned / wsOnConnected):
 * only the holder of that certificate can read them. And only towards a parent this process has
 * already linked to with the current protocol (links.ts), so a parent of an earlier version,
 * which answers the proof with 401 and wants its challenge first, never sees them. Nothing is
 * lost if the parent refuses: the outbox advances only on the parent's ack.
 */
import { randomFillSync } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { encodeMessage, WINDOW_FRAMES, type LinkFrame } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'
import { Outbox } from './outbox.ts'
import { helloOf, readFrame, WINDOW_BYTES, type Pipelined } from './session.ts'
import type { LinkStats } from './status.ts'

/**
 * One WebSocket binary message as a client sends it (RFC 6455 §5.2: FIN, opcode 2, masked with a
 * fresh random key, as `ws`'s own Sender does; its `Sender.frame` has no published types).
 */
export function clientMessage(bytes: Uint8Array): Buffer {
  const n = bytes.byteLength
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10
  const out = Buffer.allocUnsafe(head + 4 + n)
  out[0] = 0x82
  if (n < 126) out[1] = 0x80 | n
  else if (n < 65536) {
    out[1] = 0x80 | 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 0x80 | 127
    out.writeUInt32BE(0, 2)
    out.writeUInt32BE(n, 6)
  }
  const mask = out.subarray(head, head + 4)
  randomFillSync(mask)
  for (let i = 0; i < n; i++) out[head + 4 + i] = bytes[i] ^ mask[i & 3]
  return out
}

export class FirstFrames {
  private socket: Duplex | null = null
  private handed = false
  private streamId = 0
  /** Messages ready and not yet written (the hello first). */
  private readonly queue: { wire: Buffer[]; bytes: number; lastSeq: number | null; scannedTo: number }[] = []
  private readonly written: { lastSeq: number; bytes: number }[] = []
  private helloWritten = false
  private start = 0
  private sentTo = 0
  /** Bytes written behind the upgrade (for the log and tests). */
  bytesWritten = 0

  constructor(
    private readonly node: TongbanNode,
    private readonly stats: LinkStats,
    private readonly parent: string,
  ) {}

  private helloReady: Promise<number> | null = null
  private reading: Pipelined['reading'] = null
  private framesStarted = false

  /**
   * Reads the hello (a few small queries) while TLS is in flight; the request being out, it
   * follows at once.
   */
  prepare(): Promise<number> {
    this.helloReady ??= (async () => {
      const cur = await this.stats.cursor(this.parent)
      const hello = await helloOf(this.node, this.stats, this.parent, false)
      this.start = this.sentTo = cur.acked
      this.push(hello, null, cur.acked)
      return cur.acked
    })()
    return this.helloReady
  }

  /**
   * Reads the first window from the outbox, from the cursor the parent acknowledged last, each
   * frame written as soon as it is read and compressed. Started once the upgrade request is
   * out, not before: reading a window from PGlite and deflating it holds this thread for tens
   * to hundreds of ms at a village, and the request (and, on a fresh connection, the TLS
   * handshake) must not wait behind it. The frames are read while the request is in flight.
   */
  private async frames(): Promise<void> {
    const outbox = new Outbox(this.node.db, this.parent, false)
    let after = await this.prepare()
    let frames = 0
    let bytes = 0
    while (!this.handed && frames < WINDOW_FRAMES && bytes < WINDOW_BYTES) {
      await new Promise<void>((r) => setImmediate(r)) // the parent's answer is handled between frames
      if (this.handed) break
      // The read under way when the parent answers is the session's first (handOver `reading`).
      const reading = readFrame(outbox, after)
      reading.catch(() => {})
      this.reading = { from: after, frame: reading }
      const next = await reading
      this.reading = null
      if (this.handed) break
      if (!next.frame) {
        if (next.scannedTo === after) break
        after = next.scannedTo
        continue
      }
      bytes += this.push(next.frame, next.lastSeq, next.scannedTo)
      frames++
      after = next.scannedTo
    }
  }

  private push(f: LinkFrame, lastSeq: number | null, scannedTo: number): number {
    if (this.handed) return 0
    const messages = encodeMessage(f, (this.streamId = (this.streamId + 1) % 1_000_000))
    const bytes = messages.reduce((a, m) => a + m.length, 0)
    this.queue.push({ wire: messages.map(clientMessage), bytes, lastSeq, scannedTo })
    this.flush()
    return bytes
  }

  /** The upgrade request has been written to `socket`: what is ready follows it now, the rest when ready. */
  attach(socket: Duplex, log: (msg: string) => void): void {
    if (this.handed || this.socket) return
    this.socket = socket
    ;(socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true)
    this.flush()
    if (this.framesStarted) return
    this.framesStarted = true
    this.frames().catch((e) => log(`could not read the first frames for the parent: ${(e as Error)?.message ?? String(e)}`))
  }

  private flush(): void {
    const s = this.socket
    if (!s || this.handed || s.destroyed || !s.writable) return
    if (!this.queue.length) return
    s.cork()
    for (const m of this.queue.splice(0)) {
      for (const w of m.wire) s.write(w)
      this.stats.countOut(this.parent, m.bytes)
      this.bytesWritten += m.bytes
      if (m.lastSeq === null) this.helloWritten = true
      else {
        this.written.push({ lastSeq: m.lastSeq, bytes: m.bytes })
        this.sentTo = m.scannedTo
      }
    }
    s.uncork()
  }

  /**
   * The parent answered (101 or a refusal): nothing more is written here. Returns what the
   * session goes on from, or null when not even the hello went out (the session sends its own).
   */
  handOver(): (Pipelined & { frames: number }) | null {
    this.handed = true
    this.queue.length = 0
    if (!this.helloWritten) return null
    return { start: this.start, sentTo: this.sentTo, inflight: [...this.written], streamId: this.streamId, frames: this.written.length, reading: this.reading }
  }
}
