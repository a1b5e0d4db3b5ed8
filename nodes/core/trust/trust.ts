/**
 * What this node believes about signatures: its own key, the root key and parent key pinned at
 * enrollment, and the unit directory resolved from them. Everything that reads or receives a
 * signed value asks here: `checkApplication`, `checkEvent`, `signApplication`, `signEvent`.
 */
import { hash } from 'node:crypto'
import {
  ApplicationSchema, eventCaseProblem, eventIdText, resolveDirectory, signingText, unboundUntil,
  type Application, type CaseEvent, type DirectoryEntry, type NodeKeyRef, type UnitKeys,
} from '../../../protocol/index.ts'
import type { Queryable } from '../store/db.ts'
import { contentId, verifySignature, verifySignatureOffThread, type NodeKeys } from './keys.ts'

/** An event before it has its id and signature (Omit over each member of the union). */
export type UnsignedEvent = CaseEvent extends infer E ? (E extends unknown ? Omit<E, 'id' | 'sig'> : never) : never

export interface PinnedKey extends NodeKeyRef {
  code: string
}

/** Signature checks are repeated on every fold of a case: remember the answers (bounded). */
const VERIFIED_CACHE = 50_000

/**
 * A signature being checked ahead of its value's check (`verifyAhead`): the signed text as built
 * from the value, and per key (`alg:publicKey`) the answer once the pool has it.
 */
interface Ahead {
  kind: 'application' | 'event'
  text: string
  sig: string
  answers: Map<string, boolean>
}

export class Trust {
  private units = new Map<string, UnitKeys>()
  private entries: DirectoryEntry[] = []
  private root: PinnedKey | null
  private readonly verified = new Map<string, boolean>()
  /**
   * Values (an application, an event, as a case document holds them) already found good, and
   * under which resolved directory (`units` is replaced on every change): the scope check, the
   * projection and the supervision pass fold the same objects of a case in turn, and the schema
   * parse and canonical text cost more than the cached signature check itself. A value held in
   * a Yjs document is never changed in place, so its identity stands for its content.
   */
  private readonly good = new WeakMap<object, { units: Map<string, UnitKeys>; activeOnly: boolean }>()
  /** Values whose signature `verifyAhead` is checking, or has checked, on libuv's pool: the answers go with the value object. */
  private readonly ahead = new WeakMap<object, Ahead>()
  /** Entries the directory holds but does not believe (unknown voucher, bad signature), for the status page. */
  ignored: { code: string; reason: string }[] = []

  constructor(
    readonly self: { code: string; name: string },
    readonly keys: NodeKeys,
    pins: { root: PinnedKey | null; parent: PinnedKey | null; chain: DirectoryEntry[] },
    /** When this store took signed case binding (node_meta `events_bound_since`); null: now. */
    eventsBoundSince: string | null = null,
  ) {
    this.unboundUntil = unboundUntil(eventsBoundSince ?? new Date().toISOString())
    this.root = pins.root
    this.parentKey = pins.parent
    this.chain = pins.chain
    this.resolve()
  }

  parentKey: PinnedKey | null
  private chain: DirectoryEntry[]
  /** The latest date of an event that names no case this node still believes (protocol/event-binding.ts). */
  private readonly unboundUntil: number

  /** Pins the root and parent keys (at enrollment) and re-resolves the directory. */
  pin(p: { root: PinnedKey | null; parent: PinnedKey | null; chain: DirectoryEntry[] }): void {
    this.root = p.root
    this.parentKey = p.parent
    this.chain = p.chain
    this.resolve()
  }

  private direct: { code: string; name: string | null; key: NodeKeyRef | null; retired: NodeKeyRef[] }[] = []

  /**
   * The keys of this node's enrolled children, known first-hand from their enrollment (so a
   * parent that is not yet linked to the root still knows whom it enrolled).
   */
  setChildren(children: { code: string; name: string | null; key: NodeKeyRef | null; retired: NodeKeyRef[] }[]): void {
    this.direct = children
    this.resolve()
  }

  get rootKey(): PinnedKey | null {
    return this.root
  }

  /** The directory document changed: re-resolve from its entries. */
  setEntries(entries: DirectoryEntry[]): void {
    this.entries = entries
    this.resolve()
  }

  private resolve(): void {
    const units = new Map<string, UnitKeys>()
    this.ignored = []
    if (this.root) {
      const r = resolveDirectory([...this.chain, ...this.entries], this.root, (k, t, s) => this.verify(k, t, s))
      for (const [code, u] of r.units) units.set(code, u)
      this.ignored = r.ignored.map((i) => ({ code: i.entry.code, reason: i.reason }))
    }
    // First-hand keys: its own (a village takes in cases offline from its first start, before
    // anyone has vouched for it), its parent's as pinned, its children's as enrolled.
    const know = (code: string, name: string | null, key: NodeKeyRef, active: boolean) => {
      const u = units.get(code) ?? { code, name: name ?? code, keys: [] }
      if (name && u.name === u.code) u.name = name // resolved without a name (the pinned root): its own is known here
      const k = u.keys.find((x) => x.publicKey === key.publicKey)
      if (k) k.active = active
      else u.keys.push({ alg: key.alg, publicKey: key.publicKey, active })
      units.set(code, u)
    }
    know(this.self.code, this.self.name, this.keys, true)
    if (this.parentKey) know(this.parentKey.code, null, this.parentKey, true)
    for (const c of this.direct) {
      for (const k of c.retired) know(c.code, c.name, k, false)
      if (c.key) know(c.code, c.name, c.key, true)
    }
    this.units = units
  }

  /** The unit directory as resolved (code → name and keys). */
  unit(code: string): UnitKeys | undefined {
    return this.units.get(code)
  }

  /** Every unit the directory resolves (for the unit picker). */
  allUnits(): UnitKeys[] {
    return [...this.units.values()]
  }

  unitCount(): number {
    return this.units.size
  }

  /** Cached signature check. */
  verify(key: NodeKeyRef, text: string, sig: string): boolean {
    const k = cacheKey(key, text, sig)
    const hit = this.verified.get(k)
    if (hit !== undefined) return hit
    const ok = verifySignature(key, text, sig)
    this.remember(k, ok)
    return ok
  }

  private remember(k: string, ok: boolean): void {
    if (this.verified.size >= VERIFIED_CACHE) this.verified.delete(this.verified.keys().next().value as string)
    this.verified.set(k, ok)
  }

  /** Signs with this node's key; what it signed needs no verifying when it is read back. */
  private sign(text: string): string {
    const sig = this.keys.sign(text)
    this.remember(cacheKey(this.keys, text, sig), true)
    return sig
  }

  /**
   * Null when `sig` over `text` is `author`'s, else why not. `activeOnly` (at a link): only keys
   * not revoked; reading what is stored accepts any key ever vouched for the author, so a
   * replaced laptop's earlier events stay valid. `ahead`: the answers the pool gave for this very
   * text and signature (`verifyAhead`); a key it has no answer for is checked here.
   */
  checkSigned(author: string, text: string, sig: string, activeOnly: boolean, ahead?: Ahead): string | null {
    const u = this.units.get(author)
    if (!u || !u.keys.length) return `no key of ${author} in the unit directory`
    const keys = activeOnly ? u.keys.filter((k) => k.active) : u.keys
    if (!keys.length) return `every key of ${author} is revoked`
    return keys.some((k) => {
      const answer = ahead?.answers.get(`${k.alg}:${k.publicKey}`)
      if (answer === undefined) return this.verify(k, text, sig)
      this.remember(cacheKey(k, text, sig), answer)
      return answer
    }) ? null : `the signature is not ${author}'s`
  }

  /**
   * Starts checking the signature of `value` (an application or an event about to be checked at a
   * link) against each key its `author` holds now, on libuv's thread pool; resolves once all are
   * answered. The value's own `checkApplication`/`checkEvent`, called after that, takes these
   * answers instead of verifying on this thread: every signature is still verified, once, for
   * the very text and signature checked; the rest of the check (schema, content id, which keys
   * count, revocation) is unchanged, and a key the answers lack (the directory changed since, or
   * the pool has not answered yet) is verified then, here. Null when there is nothing to start (no Ed25519 key of the
   * author, a value that has no signed text): the check then verifies as it always did.
   */
  verifyAhead(kind: 'application' | 'event', value: object, author: string, sig: string): Promise<unknown> | null {
    const keys = this.units.get(author)?.keys.filter((k) => k.alg === 'ed25519')
    if (!keys?.length || typeof sig !== 'string') return null
    let text: string
    try {
      text = signingText(kind, value)
    } catch {
      return null // not canonical JSON: the check refuses it
    }
    const ahead: Ahead = { kind, text, sig, answers: new Map() }
    this.ahead.set(value, ahead)
    return Promise.all(keys.map((k) => verifySignatureOffThread(k, text, sig).then((ok) => void ahead.answers.set(`${k.alg}:${k.publicKey}`, ok))))
  }

  /** The answers `verifyAhead` gave for `value` signed as `kind` with `sig`. */
  private aheadOf(value: object, kind: Ahead['kind'], sig: string): Ahead | undefined {
    const a = this.ahead.get(value)
    return a && a.kind === kind && a.sig === sig ? a : undefined
  }

  /** `parsed`: the caller has just checked `app` against ApplicationSchema (the link's check): not parsed twice. */
  checkApplication(app: Application, activeOnly = false, parsed = false): string | null {
    if (this.knownGood(app, activeOnly)) return null
    if (!parsed && !ApplicationSchema.safeParse(app).success) return 'the application does not match its schema'
    const ahead = this.aheadOf(app, 'application', app.sig)
    const why = this.checkSigned(app.originCode, ahead?.text ?? signingText('application', app), app.sig, activeOnly, ahead)
    if (!why) this.good.set(app, { units: this.units, activeOnly })
    return why && `application ${app.id}: ${why}`
  }

  checkEvent(e: CaseEvent, activeOnly = false): string | null {
    if (this.knownGood(e, activeOnly)) return null
    if (contentId(eventIdText(e)) !== e.id) return `event ${e.id}: its id is not the hash of its content`
    const ahead = this.aheadOf(e, 'event', e.sig)
    const why = this.checkSigned(e.author, ahead?.text ?? signingText('event', e), e.sig, activeOnly, ahead)
    if (!why) this.good.set(e, { units: this.units, activeOnly })
    return why && `event ${e.id}: ${why}`
  }

  /**
   * `e` as an event of case `app`: signed for it (or an older unbound event within the limits of
   * protocol/event-binding.ts), and by its author (`checkEvent`). Every event read from a case
   * document is checked here: a signature alone does not say which case it was given for.
   */
  checkEventOf(e: CaseEvent, app: Application, activeOnly = false): string | null {
    return this.caseProblem(e, app) ?? this.checkEvent(e, activeOnly)
  }

  /** Why `e` may not stand in case `app` whoever signed it (protocol/event-binding.ts), or null. */
  caseProblem(e: CaseEvent, app: Application): string | null {
    return eventCaseProblem(e, app, this.unboundUntil)
  }

  /**
   * `same` holds what `checked` holds (a copy decoded from the same bytes: the document's value
   * of an update the link's check found good): it is known good as `checked` is, no more.
   */
  sameAs(checked: unknown, same: unknown): void {
    if (typeof checked !== 'object' || checked === null || typeof same !== 'object' || same === null) return
    const m = this.good.get(checked)
    if (m) this.good.set(same, m)
  }

  /**
   * Found good before, under the directory resolved now, and at least as strictly (see `good`).
   * Every caller of checkEvent has checked the event's schema first, so a good event is well formed.
   */
  knownGood(v: object, activeOnly: boolean): boolean {
    const m = typeof v === 'object' && v !== null ? this.good.get(v) : undefined
    return !!m && m.units === this.units && (m.activeOnly || !activeOnly)
  }

  /** Signs a 督办 notice or reply (protocol/notice.ts) as this node. */
  signAs<T extends object>(kind: 'notice' | 'notice-reply', value: T): T & { sig: string } {
    return { ...value, sig: this.sign(signingText(kind, value)) }
  }

  signApplication(app: Omit<Application, 'sig'>): Application {
    return { ...app, sig: this.sign(signingText('application', app)) } as Application
  }

  /** Gives an event its content id and this node's signature (the event names its case: `case`). */
  signEvent(e: UnsignedEvent): CaseEvent {
    const withId = { ...e, id: contentId(eventIdText(e)) }
    return { ...withId, sig: this.sign(signingText('event', withId)) } as CaseEvent
  }

  /** A directory entry for `unit`, vouched for by this node (its parent). */
  vouch(unit: { code: string; name: string } & NodeKeyRef, status: 'active' | 'revoked', serial: number, at: string): DirectoryEntry {
    const e = { code: unit.code, name: unit.name, alg: unit.alg, publicKey: unit.publicKey, status, serial, at, vouchedBy: this.self.code }
    return { ...e, sig: this.keys.sign(signingText('directory', e)) }
  }
}

// crypto.hash: one call, no Hash object (a third of createHash's cost for a short text).
const cacheKey = (key: NodeKeyRef, text: string, sig: string) => `${key.alg}:${key.publicKey}:${sig}:${hash('sha256', text, 'base64url')}`

/** When the store took signed case binding (migration 024). */
export async function loadEventsBoundSince(db: Queryable): Promise<string | null> {
  const [row] = await db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'events_bound_since'`)
  return row?.value ?? null
}

/** The pins a node keeps in `node_meta` (set at enrollment; the city pins itself). */
export async function loadPins(db: Queryable): Promise<{ root: PinnedKey | null; parent: PinnedKey | null; chain: DirectoryEntry[] }> {
  const rows = await db.query<{ key: string; value: string }>(`SELECT key, value FROM node_meta WHERE key IN ('root_key', 'parent_key', 'trust_chain')`)
  const m = Object.fromEntries(rows.map((r) => [r.key, r.value]))
  return {
    root: m.root_key ? JSON.parse(m.root_key) : null,
    parent: m.parent_key ? JSON.parse(m.parent_key) : null,
    chain: m.trust_chain ? JSON.parse(m.trust_chain) : [],
  }
}

export async function savePins(db: Queryable, p: { root: PinnedKey | null; parent: PinnedKey; chain: DirectoryEntry[] }): Promise<void> {
  const rows: [string, string][] = [['parent_key', JSON.stringify(p.parent)], ['trust_chain', JSON.stringify(p.chain)]]
  if (p.root) rows.push(['root_key', JSON.stringify(p.root)])
  for (const [key, value] of rows) {
    await db.query('INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value])
  }
}
