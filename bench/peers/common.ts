/** What every peer of bench/link-peers.ts shares: the profile, the result, bounded waits, the verdict. */
import type { Server } from 'node:net'
import type { LinkProfile, LinkStats } from '../../test/tools/link-emulator.ts'
import type { WorkerLink } from '../lib/link-worker.ts'

export interface PeerProfile extends LinkProfile {
  /** A run that has not synced all N cases by then is stopped and reported as not finished. */
  timeoutMs: number
  /** After the server holds all N, wait this long at most for the traffic to go quiet (echoes, acks). */
  settleMs?: number
}

export interface PeerResult {
  n: number
  /** From the link coming up until the server holds all N cases; null when it did not finish. */
  seconds: number | null
  /** Through the emulator, client → server, counted at the moment the server held all N (or at the timeout). */
  bytesUp: number
  /** Through the emulator, server → client, at the same moment. */
  bytesDown: number
  finished: boolean
  note: string
  /** Sum of the cases' JSON bytes (bench/lib/cases.ts). */
  rawJson: number
  /** Bytes up and down once the traffic went quiet after the finish (or the settle bound). */
  settledUp?: number
  settledDown?: number
  /** TCP connections the client opened through the emulator. */
  connections?: number
  /** Most TCP connections open at the server at once (the emulator paces each connection on its own). */
  maxConcurrent?: number
}

/** Counts the server's open TCP connections and remembers the most at once. */
export function connectionGauge(server: Server): { max(): number } {
  let open = 0
  let max = 0
  server.on('connection', (socket) => {
    open++
    max = Math.max(max, open)
    socket.once('close', () => open--)
  })
  return { max: () => max }
}

export type PeerRun = (n: number, profile: PeerProfile) => Promise<PeerResult>

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `done` every `everyMs` until it is true or `timeoutMs` has passed; true when it was. */
export async function pollUntil(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = performance.now() + timeoutMs
  for (;;) {
    try {
      if (await done()) return true
    } catch {
      // not there yet
    }
    if (performance.now() >= end) return false
    await sleep(Math.min(everyMs, Math.max(0, end - performance.now())))
  }
}

/** Waits until the emulator's byte counts stay unchanged for `quietMs`, at most `boundMs`. */
export async function settle(link: WorkerLink, boundMs: number, quietMs = 3_000): Promise<LinkStats> {
  const end = performance.now() + boundMs
  let last = await link.stats()
  let quietSince = performance.now()
  while (performance.now() < end) {
    await sleep(250)
    const s = await link.stats()
    if (s.bytesUp !== last.bytesUp || s.bytesDown !== last.bytesDown) {
      last = s
      quietSince = performance.now()
    } else if (performance.now() - quietSince >= quietMs) break
  }
  return last
}

export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`

/** The common end of a run: finished with its time, or "did not finish in T s (x% of payload sent)". */
export function verdict(args: {
  n: number; rawJson: number; finished: boolean; t0: number; tDone: number | null; atDone: LinkStats; settled?: LinkStats
  profile: PeerProfile; progress?: string; extra?: string[]; maxConcurrent?: number
}): PeerResult {
  const { n, rawJson, finished, t0, tDone, atDone, settled, profile } = args
  const notes: string[] = []
  if (!finished) {
    notes.push(`did not finish in ${Math.round(profile.timeoutMs / 1000)} s (${(atDone.bytesUp / rawJson * 100).toFixed(0)}% of payload sent${args.progress ? `; ${args.progress}` : ''})`)
  } else if (args.progress) notes.push(args.progress)
  if (atDone.connections > 1) notes.push(`${atDone.connections} connections${args.maxConcurrent && args.maxConcurrent > 1 ? `, up to ${args.maxConcurrent} at once` : ''}`)
  // The emulator paces each TCP connection on its own: connections that overlap (a reconnect while
  // the old socket still drains) get more than the link's rate between them. Say so when it shows.
  const elapsed = ((finished && tDone !== null ? tDone : t0 + profile.timeoutMs) - t0) / 1000
  const upRate = (atDone.bytesUp * 8) / elapsed
  if (upRate > profile.rateBitsPerSec * 1.02) {
    notes.push(`mean up rate ${(upRate / 1000).toFixed(0)} kbit/s, above the ${profile.rateBitsPerSec / 1000} kbit/s link: overlapping connections, each paced alone by the emulator`)
  }
  notes.push(...(args.extra ?? []))
  return {
    n,
    seconds: finished && tDone !== null ? (tDone - t0) / 1000 : null,
    bytesUp: atDone.bytesUp,
    bytesDown: atDone.bytesDown,
    finished,
    note: notes.join('; '),
    rawJson,
    settledUp: settled?.bytesUp,
    settledDown: settled?.bytesDown,
    connections: atDone.connections,
    maxConcurrent: args.maxConcurrent,
  }
}
