/**
 * Per-link quotas: what one peer may make this node do in an hour (issue 7, class 7). A child
 * once stored 2,000 new case documents in 25 s, and a hello with a fresh epoch made its parent
 * send 2,018 state vectors, as often as it liked. Each peer gets a token bucket per resource,
 * holding an hour's worth and refilling at that rate: a legitimate burst (a village back after
 * a week offline) passes, a sustained flood is refused. Over quota, the link is closed with
 * 4429 `quota_exceeded` after an error frame saying which quota and when it frees up (the close
 * reason begins with that time, protocol `quotaRefusalText`: the peer dials again then); the
 * refused frame is neither applied nor acked (the peer resends it later from its cursor), and
 * a refusal takes nothing from the bucket, so a frame that fits the quota always passes once
 * enough has refilled.
 *
 * The figures are in one place, LINK_QUOTAS, by the level of the peer (a township's link
 * carries its villages' traffic). TONGBAN_LINK_QUOTA_SCALE multiplies them all for a process
 * (a benchmark that pushes 5,000 cases through one village); tests may change LINK_QUOTAS.
 */
import { levelOfCode, quotaRefusalText, type Level } from '../../../protocol/index.ts'

export interface LinkQuota {
  /** Documents this node did not hold before, created by the peer's updates or repairs. */
  newDocsPerHour: number
  /** Bytes the peer sends: every wire frame, plus what a compressed body inflates to. */
  bytesPerHour: number
  /**
   * Repair passes (a state-vector exchange of every document in scope) started by an epoch
   * change. A pass cut short and taken up again where it stopped is not charged again
   * (session.ts `repair`: it only moves on, so however often the peer drops the link it gets
   * one pass in all, plus again what was unanswered at each drop); a pass refused stays owed
   * and runs once this frees up.
   */
  repairsPerHour: number
  /** sync-step1 frames the peer may ask this node to answer (each costs a state-as-update). */
  stateVectorsPerHour: number
}

const MiB = 1024 * 1024

/**
 * Quotas by the level of the peer. A village takes in tens of cases a day; 1,500 new documents
 * an hour covers a week's backlog at once. Bytes: a case is ~1 KB, but its scans (附件) are
 * 150–300 KB each, pulled within 3/4 of this quota (attachment-lane.ts): 128 MiB an hour lets a
 * village catch up ~400 scans an hour after days offline (a 1 Mbit/s line carries ~450 MB an
 * hour), while a stolen laptop still cannot send the township more than ~300 kbit/s on average. A legitimate node needs one
 * repair pass after its store is rebuilt; an epoch change more often than hourly is an attack.
 */
export const LINK_QUOTAS: Record<Level, LinkQuota> = {
  village: { newDocsPerHour: 1_500, bytesPerHour: 128 * MiB, repairsPerHour: 1, stateVectorsPerHour: 5_000 },
  township: { newDocsPerHour: 15_000, bytesPerHour: 256 * MiB, repairsPerHour: 1, stateVectorsPerHour: 50_000 },
  county: { newDocsPerHour: 100_000, bytesPerHour: 1024 * MiB, repairsPerHour: 1, stateVectorsPerHour: 200_000 },
  city: { newDocsPerHour: 100_000, bytesPerHour: 1024 * MiB, repairsPerHour: 1, stateVectorsPerHour: 200_000 },
}

/** The repair pass sends this many state vectors, then waits for their answers before the next page. */
export const REPAIR_PAGE = 64
/** …or at most this long per page, so a peer that never answers stalls only its own pass. */
export const REPAIR_PAGE_WAIT_MS = 10_000

const HOUR_MS = 3_600_000

export type QuotaKind = keyof LinkQuota

class Bucket {
  private tokens: number
  private at = Date.now()
  constructor(private readonly perHour: number) {
    this.tokens = perHour
  }
  private refill(now: number): void {
    this.tokens = Math.min(this.perHour, this.tokens + ((now - this.at) * this.perHour) / HOUR_MS)
    this.at = now
  }
  /** Takes `n` if there are; else returns the ms until there will be (∞ if never: n over the hour's quota). */
  take(n: number, now = Date.now()): number {
    this.refill(now)
    if (n <= this.tokens) {
      this.tokens -= n
      return 0
    }
    if (n > this.perHour) return Infinity
    return Math.ceil(((n - this.tokens) * HOUR_MS) / this.perHour)
  }
}

/**
 * One peer's buckets; kept for the life of the process, so reconnecting does not refill them.
 * A child re-enrolled with a new key (a replaced laptop, `tongban child add` on this node) gets
 * new ones: the replaced laptop's store is new, its first link owes a repair pass, and the lost
 * one's hour (say a restore of this node) must not close the new one's link for the rest of it.
 * Only this node's administrator can give a child a new key, so a peer cannot refill them at will.
 */
export class PeerQuota {
  private readonly buckets: Record<QuotaKind, Bucket>
  /** The child's enrolled public key these buckets count for (undefined: not told yet). */
  key: string | undefined
  constructor(readonly peer: string, readonly limits: LinkQuota) {
    this.buckets = {
      newDocsPerHour: new Bucket(limits.newDocsPerHour),
      bytesPerHour: new Bucket(limits.bytesPerHour),
      repairsPerHour: new Bucket(limits.repairsPerHour),
      stateVectorsPerHour: new Bucket(limits.stateVectorsPerHour),
    }
  }

  /** Takes `n` of `kind`; null when within quota, else the refusal to log and send. */
  take(kind: QuotaKind, n = 1): string | null {
    if (n <= 0) return null
    const wait = this.buckets[kind].take(n)
    if (wait === 0) return null
    const what = `${kind.replace(/PerHour$/, '').replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}`
    return quotaRefusalText(Number.isFinite(wait) ? wait : null, `${this.peer} may use ${this.limits[kind]} ${what} per hour on this link; this needs ${n} more`)
  }
}

function scaled(q: LinkQuota): LinkQuota {
  const scale = Number(process.env.TONGBAN_LINK_QUOTA_SCALE ?? 1)
  if (!(scale > 0) || scale === 1) return { ...q }
  return Object.fromEntries(Object.entries(q).map(([k, v]) => [k, Math.max(1, Math.round(v * scale))])) as unknown as LinkQuota
}

/** Per node (an object: tests run several nodes in one process), per peer. */
const registry = new WeakMap<object, Map<string, PeerQuota>>()

/**
 * The quota of `peer` on a link of `node`, made on first use from LINK_QUOTAS by the peer's level;
 * made anew when `key` (a child's enrolled public key) is not the one it counted for (PeerQuota).
 */
export function quotaOf(node: object, peer: string, key?: string): PeerQuota {
  let m = registry.get(node)
  if (!m) registry.set(node, (m = new Map()))
  let q = m.get(peer)
  if (q && key !== undefined && q.key !== undefined && q.key !== key) q = undefined
  if (!q) {
    const level = levelOfCode(peer)
    m.set(peer, (q = new PeerQuota(peer, scaled(LINK_QUOTAS[typeof level === 'string' ? level : 'village']))))
  }
  if (key !== undefined) q.key = key
  return q
}

/** Forgets every peer's buckets of `node` (tests). */
export function resetQuotas(node: object): void {
  registry.delete(node)
}
