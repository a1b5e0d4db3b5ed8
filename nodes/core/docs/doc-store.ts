/**
 * The Yjs document registry and its persistence. Every update a node stores — made here, or
 * received from the parent, a child, or a browser — goes through `commit`: in one transaction
 * it is stored under a new local sequence number and projected into relational rows; then it
 * is journaled (durable) and announced to listeners (the link, live views) with its origin, so
 * no listener sends it back where it came from.
 */
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import * as Y from 'yjs'
import { planOnce, type Db, type Queryable } from '../store/db.ts'
import type { Journal } from '../store/journal.ts'

/** Where a change came from: made here, from the parent, from a child (by code), from a live browser view, or a journal replay. */
export type Origin = 'local' | 'parent' | `child:${string}` | 'live' | 'replay'

export interface StoredUpdate {
  seq: number
  docId: string
  update: Uint8Array
  origin: Origin
}

/**
 * Projects a document into rows after an update, inside the same transaction. `widened`: the
 * document's path grew (a case transferred), so peers newly on it are owed all of it.
 */
export type Projector = ((docId: string, doc: Y.Doc, tx: Queryable) => Promise<{ widened?: boolean } | void>) & {
  /** Case documents of one batch, each once, in one statement; returns the indexes whose path grew. */
  cases?: (docs: Y.Doc[], tx: Queryable) => Promise<Set<number>>
  /** Projects a made-up case, for `DocStore.warm` (which rolls it back). */
  warm?: (tx: Queryable) => Promise<void>
}

/**
 * A link frame's statements, run with the same shape every frame: planned once (`planOnce`,
 * store/db.ts), their plans do not depend on the values (arrays unnested, keys looked up in
 * their indexes).
 */
const READ_HELD = planOnce('SELECT doc_id, seq::float8 AS seq, update FROM doc_updates WHERE doc_id = ANY($1::text[]) ORDER BY doc_id, seq')
/**
 * The updates go as one bytea of them all and each one's length, cut apart by the statement: as
 * hex text (twice the bytes) PGlite's JavaScript measured and copied each character.
 */
const INSERT_CASES = planOnce(`INSERT INTO doc_updates (doc_id, update, origin, uid)
  SELECT d, substring($2::bytea FROM (sum(l) OVER (ORDER BY n) - l + 1)::int FOR l), $3, k
  FROM unnest($1::text[], $5::int[], $4::text[]) WITH ORDINALITY AS t(d, l, k, n) ORDER BY n
  ON CONFLICT (uid) DO NOTHING RETURNING seq::float8 AS seq, uid`)

/** Thrown to roll the warm-up's transaction back. */
const WARMED = Symbol('warmed')
/** A document id no store holds (a case number's date is never 2000-01-01): the warm-up's read finds nothing. */
const WARM_DOC = 'case:000000000000-20000101-0000'

/**
 * The document cache: at most CACHE_DOCS documents and about CACHE_BYTES of their stored
 * updates (a case is ~1–2 KB; a city's statistics documents are far larger, so a count alone
 * would not bound the heap). Large enough that a link's catch-up of thousands of cases, and the
 * supervision pass right behind it, read each case from memory rather than the store.
 */
const CACHE_DOCS = 4096
const CACHE_BYTES = 8 * 1024 * 1024
const COMPACT_ROWS = 200

/**
 * Several processes may share one PostgreSQL store (a city that outgrows one process). There,
 * every write to a document takes this per-document advisory lock for its transaction and first
 * catches the cached doc up with what the others stored, so the projection is computed from the
 * whole document; and with writes to a document serialised, its updates commit in `seq` order,
 * so a reader catches up with `seq > last seen`. PGlite has one process: none of this applies.
 */
const DOC_LOCK = 'SELECT pg_advisory_xact_lock(7411002, hashtext(id)) FROM (SELECT DISTINCT unnest($1::text[]) AS id ORDER BY 1) ids'

/**
 * Shared store: each write NOTIFYs this channel with `<process mark>:<seq>` (delivered at
 * COMMIT), so every other process of the node announces it to its own listeners — its links
 * send it to the peers they hold, its live views to their browsers (hearOtherProcesses).
 */
const NOTIFY_CHANNEL = 'tongban_doc_updates'
/** Notified rows read in one query at most; a longer backlog is read as a gap. */
const HEARD_BATCH = 500

export class DocStore extends EventEmitter<{ update: [StoredUpdate] }> {
  private readonly cache = new Map<string, Y.Doc>()
  /** Bytes of stored updates each cached document was built from (its weight in the cache). */
  private readonly weight = new Map<string, number>()
  private cacheBytes = 0
  /** Documents the running write holds: never evicted under it (writes are serial, see `serial`). */
  private readonly pinned = new Set<string>()
  /** Shared store: marks this process's own notifications (its listeners heard of those already). */
  private readonly mark = randomBytes(6).toString('hex')
  private heard: number[] = []
  private reading = false
  /** Shared store only: the highest `seq` applied to each cached doc. */
  private readonly seen = new Map<string, number>()
  private readonly shared: boolean
  /** Writes waiting their turn (see `serial`): the node's own first, then what links brought. */
  private readonly waiting = { own: [] as (() => Promise<void>)[], link: [] as (() => Promise<void>)[] }
  private writingNow = false

  constructor(
    private readonly db: Db,
    private readonly journal: Journal | null,
    private readonly project: Projector,
  ) {
    super()
    this.shared = db.kind === 'pg'
    // The embedded store pays its first link frame's cold costs here, at start (see `warm`).
    if (!this.shared) void this.warm()
  }

  /** The document as stored (a cached instance: read it, don't change it outside `change`). */
  async get(docId: string, q: Queryable = this.db): Promise<Y.Doc> {
    const hit = this.cache.get(docId)
    if (hit) {
      this.cache.delete(docId) // LRU: re-insert at the end
      this.cache.set(docId, hit)
      if (this.shared) await this.catchUp(docId, hit, q)
      return hit
    }
    const rows = await q.query<{ seq: number; update: Uint8Array }>('SELECT seq::float8 AS seq, update FROM doc_updates WHERE doc_id = $1 ORDER BY seq', [docId])
    return this.build(docId, rows)
  }

  /** A cached document from its stored rows, oldest first. */
  private build(docId: string, rows: { seq: number; update: Uint8Array }[]): Y.Doc {
    const doc = new Y.Doc({ gc: true, guid: docId }) // a guid of our own: Yjs makes a random one with 31 calls to the system's RNG
    // One transaction for all rows (Y.mergeUpdates is slow for many small updates).
    doc.transact(() => {
      for (const r of rows) Y.applyUpdate(doc, r.update)
    })
    if (this.shared) this.seen.set(docId, rows.length ? Number(rows[rows.length - 1].seq) : 0)
    this.remember(docId, doc, rows.reduce((n, r) => n + r.update.length, 0))
    return doc
  }

  private fresh(docId: string): Y.Doc {
    this.evict(docId)
    const doc = new Y.Doc({ gc: true, guid: docId }) // a guid of our own: Yjs makes a random one with 31 calls to the system's RNG
    this.remember(docId, doc, 0)
    return doc
  }

  private remember(docId: string, doc: Y.Doc, bytes: number): void {
    this.cache.set(docId, doc)
    this.weigh(docId, bytes)
  }

  /** Adds `bytes` to a cached document's weight, then evicts the least recently used beyond the bounds. */
  private weigh(docId: string, bytes: number): void {
    this.weight.set(docId, (this.weight.get(docId) ?? 0) + bytes)
    this.cacheBytes += bytes
    if (this.cache.size <= CACHE_DOCS && this.cacheBytes <= CACHE_BYTES) return
    for (const id of this.cache.keys()) {
      if (this.cache.size <= CACHE_DOCS && this.cacheBytes <= CACHE_BYTES) break
      if (!this.pinned.has(id) && id !== docId) this.evict(id)
    }
  }

  /**
   * The documents of a batch this node holds, by id — cached ones as they are, the others read
   * in one query; an id missing from the answer is a document this node does not hold (a new
   * case: nothing to read).
   */
  private async holdMany(docIds: string[], tx: Queryable): Promise<Map<string, Y.Doc>> {
    const held = new Map<string, Y.Doc>()
    const missing: string[] = []
    for (const id of docIds) {
      if (this.cache.has(id)) held.set(id, await this.get(id, tx))
      else missing.push(id)
    }
    if (!missing.length) return held
    const rows = await tx.query<{ doc_id: string; seq: number; update: Uint8Array }>(
      READ_HELD, [missing])
    for (let at = 0; at < rows.length;) {
      let end = at
      while (end < rows.length && rows[end].doc_id === rows[at].doc_id) end++
      held.set(rows[at].doc_id, this.build(rows[at].doc_id, rows.slice(at, end)))
      at = end
    }
    return held
  }

  async has(docId: string): Promise<boolean> {
    if (this.cache.has(docId)) return true
    return (await this.db.query('SELECT 1 FROM doc_updates WHERE doc_id = $1 LIMIT 1', [docId])).length > 0
  }

  /**
   * Applies `mutate` to the document locally and commits the resulting update.
   * `beforeCommit` runs in the same transaction (e.g. to take a case number).
   * Returns null when the mutation changed nothing.
   */
  change<T>(docId: string, mutate: (doc: Y.Doc, tx: Queryable) => Promise<T> | T, origin: Origin = 'local', opts: { fresh?: boolean } = {}): Promise<{ result: T; stored: StoredUpdate | null }> {
    return this.serial(priorityOf(origin), async () => {
      try {
        return await this.transaction(async (tx) => {
          await this.lock(tx, [docId])
          // A document just named (a new case number) has no rows to read: skip the query.
          const doc = opts.fresh && !this.shared ? this.fresh(docId) : await this.get(docId, tx)
          const before = Y.encodeStateVector(doc)
          const deleted = watchDeletes(doc)
          let result: T
          try {
            result = await mutate(doc, tx)
          } finally {
            deleted.stop()
          }
          // A change that only deletes (a statistics key emptied) moves no state vector: it is a change all the same.
          if (!deleted.any && sameBytes(before, Y.encodeStateVector(doc))) return { result, stored: null }
          const update = Y.encodeStateAsUpdate(doc, before)
          this.weigh(docId, update.length)
          const stored = await this.store(tx, docId, doc, update, origin)
          return { result, stored }
        })
      } catch (e) {
        this.evict(docId) // the in-memory doc may hold a change the store refused
        throw e
      }
    }).then(async (out) => {
      if (out.stored) await this.after(out.stored)
      return out
    })
  }

  /**
   * Applies a batch of received updates in one transaction, in order. `refuse` inspects each
   * before it touches the document and returns a reason to skip it (scopes); it is given the
   * document as held here (null: not held — it must leave no trace). `inTx` runs in the same
   * transaction (the link's cursor), so data and sync position commit together. `announce:
   * false` leaves the journal sync and the listeners to the caller (`announce`), so a link
   * applying one frame in several slices syncs once for the frame.
   *
   * The cost is per batch, not per update: the held documents are read in one query (a new
   * case is read from nowhere), case updates are stored in one statement and each case
   * document is projected once, all cases in one statement. Updates of other documents are
   * stored and projected one by one as they come, in order: a directory entry must be
   * believed before the cases in the same batch that its key signed are checked.
   */
  applyBatch(
    entries: { docId: string; update: Uint8Array }[], origin: Origin,
    opts: {
      refuse?: ((e: { docId: string; update: Uint8Array }, tx: Queryable, held: Y.Doc | null) => Promise<string | null>) & {
        /**
         * Runs first, before the transaction: the check's work on the batch that needs no store
         * and may go on beside it (the link's check starts its signature checks on the thread
         * pool here, so they run while the held documents are read and the first updates checked).
         */
        prepare?: (entries: { docId: string; update: Uint8Array }[]) => void
      }
      /**
       * Told of each update `refuse` let through, once it is in the document; `before`: the
       * document's state vector before it, client → clock (what is at or above it came with this
       * update). Not told when the document held pending structs (they may integrate with it).
       */
      applied?: (e: { docId: string; update: Uint8Array }, doc: Y.Doc, before: ReadonlyMap<number, number>) => void
      inTx?: (tx: Queryable) => Promise<void>
      announce?: boolean
      /**
       * Told, once the held documents are read and before anything is checked or applied, of
       * the batch's documents this node does not hold yet (ids, each once, in batch order);
       * false declines the whole batch: nothing is applied (`declined` in the answer). The
       * link's quota of new documents, taken from this one read of the store rather than a
       * query of its own before the transaction (PGlite's cost is per statement).
       */
      admit?: (fresh: string[]) => boolean
    } = {},
  ): Promise<{ stored: StoredUpdate[]; refused: { docId: string; reason: string }[]; fresh: string[]; declined?: true }> {
    const touched = new Set<string>()
    return this.serial(priorityOf(origin), async () => {
      opts.refuse?.prepare?.(entries)
      const ids = [...new Set(entries.map((e) => e.docId))]
      for (const id of ids) this.pinned.add(id)
      try {
        return await this.transaction(async (tx) => {
          await this.lock(tx, ids)
          const held = await this.holdMany(ids, tx)
          // Not held: no row read, or a cached document that holds nothing (read for a look, never stored).
          const fresh = ids.filter((id) => !(held.get(id)?.store.clients.size))
          if (opts.admit && !opts.admit(fresh)) return { stored: [], refused: [], fresh: [], declined: true as const }
          const stored: StoredUpdate[] = []
          const refused: { docId: string; reason: string }[] = []
          const cases: { docId: string; doc: Y.Doc; update: Uint8Array }[] = []
          for (const e of entries) {
            const reason = await opts.refuse?.(e, tx, held.get(e.docId) ?? null)
            if (reason) {
              refused.push({ docId: e.docId, reason })
              continue
            }
            let doc = held.get(e.docId)
            if (!doc) held.set(e.docId, (doc = this.fresh(e.docId))) // created by this update: nothing to read
            touched.add(e.docId)
            // As a Map, not encoded: two encodings and a decoding an update were ~5 % of the apply path.
            const before = stateOf(doc)
            const settled = doc.store.pendingStructs === null && doc.store.pendingDs === null
            const deleted = watchDeletes(doc)
            try {
              Y.applyUpdate(doc, e.update, origin)
            } finally {
              deleted.stop()
            }
            if (settled) opts.applied?.(e, doc, before)
            const pending = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
            if (!pending && !deleted.any && sameState(before, doc)) continue
            this.weigh(e.docId, e.update.length)
            if (e.docId.startsWith('case:') && this.project.cases) cases.push({ docId: e.docId, doc, update: e.update })
            else {
              const s = await this.store(tx, e.docId, doc, e.update, origin)
              if (s) stored.push(s)
            }
          }
          stored.push(...(await this.storeCases(tx, cases, origin)))
          await opts.inTx?.(tx)
          return { stored, refused, fresh }
        })
      } catch (err) {
        for (const id of touched) this.evict(id)
        throw err
      } finally {
        for (const id of ids) this.pinned.delete(id)
        // A document made for an update that changed nothing holds nothing: not a document held here.
        for (const id of touched) if (this.cache.get(id)?.store.clients.size === 0) this.evict(id)
      }
    }).then(async (out) => {
      if (opts.announce !== false) await this.announce(out.stored)
      return out
    })
  }

  /**
   * Stores case updates of one batch in one statement (in order; one already stored — same
   * bytes, same document — is skipped), journals them, and projects each document once.
   */
  private async storeCases(tx: Queryable, cases: { docId: string; doc: Y.Doc; update: Uint8Array }[], origin: Origin): Promise<StoredUpdate[]> {
    if (!cases.length) return []
    const uids = cases.map((c) => uidOf(c.docId, c.update))
    const rows = await this.insertCases(tx, cases, uids, origin)
    const seqOf = new Map(rows.map((r) => [r.uid, Number(r.seq)]))
    const stored: StoredUpdate[] = []
    const docs = new Map<string, Y.Doc>()
    cases.forEach((c, i) => {
      const seq = seqOf.get(uids[i])
      if (seq === undefined) return
      seqOf.delete(uids[i]) // the same update twice in one batch is stored once
      stored.push({ seq, docId: c.docId, update: c.update, origin })
      docs.set(c.docId, c.doc)
    })
    stored.sort((a, b) => a.seq - b.seq)
    if (this.shared && stored.length) {
      for (const s of stored) this.seen.set(s.docId, Math.max(this.seen.get(s.docId) ?? 0, s.seq))
      await tx.query('SELECT pg_notify($1, m) FROM unnest($2::text[]) AS m', [NOTIFY_CHANNEL, stored.map((s) => `${this.mark}:${s.seq}`)])
    }
    const ids = [...docs.keys()]
    const widened = await this.project.cases!(ids.map((id) => docs.get(id)!), tx)
    // Written to the journal before COMMIT, synced after it (see `store`).
    if (this.journal && origin !== 'replay') this.journal.writeMany(stored.map((s) => ({ docId: s.docId, origin, update: s.update })))
    // A path that grew: the whole document again, after these (see `store`).
    for (const i of widened) {
      const doc = docs.get(ids[i])!
      const again = await this.store(tx, ids[i], doc, Y.encodeStateAsUpdate(doc), origin === 'replay' ? 'local' : origin)
      if (again) stored.push(again)
    }
    return stored
  }

  /**
   * Runs a link's receive path once on a made-up case (the projector's `sample`), in a
   * transaction rolled back: nothing is kept, journaled or announced. A node's first frame from
   * a child paid for this itself — PostgreSQL opening the tables' and indexes' files, planning,
   * compiling the triggers' plpgsql, and the WASM and JavaScript of the path running for the
   * first time. Queued like a link's batch: the node's own writes go first, and a link's first
   * frame waits behind it.
   */
  warm(): Promise<void> {
    const project = this.project.warm
    if (!project) return Promise.resolve()
    return this.serial('link', async () => {
      try {
        await this.transaction(async (tx) => {
          await this.holdMany([WARM_DOC], tx)
          // No row: a row rolled back would still take a sequence number (a gap in `seq`).
          await this.insertCases(tx, [], [], 'replay')
          await project(tx)
          throw WARMED
        })
      } catch (e) {
        if (e !== WARMED) console.error(`warming the store up failed (no harm done): ${(e as Error)?.message ?? String(e)}`)
      }
    })
  }

  /** Inserts case updates in one statement, in order; those already stored (by uid) are skipped. */
  private insertCases(tx: Queryable, cases: { docId: string; update: Uint8Array }[], uids: string[], origin: Origin): Promise<{ seq: number; uid: string }[]> {
    return tx.query<{ seq: number; uid: string }>(
      INSERT_CASES,
      [cases.map((c) => c.docId), Buffer.concat(cases.map((c) => c.update)), origin, uids, cases.map((c) => c.update.length)],
    )
  }

  /**
   * Syncs the journal once for `stored` and tells the listeners (links, live views, the
   * statistics and supervision publishers) of each update. Throws, after telling them, when the
   * sync failed: committed, but not known to be on disk.
   */
  async announce(stored: StoredUpdate[]): Promise<void> {
    if (!stored.length) return
    let unsynced: unknown = null
    if (this.journal && stored.some((s) => s.origin !== 'replay')) await this.journal.sync().catch((e) => (unsynced = e))
    for (const s of stored) this.told(s)
    if (unsynced) throw unsynced
  }

  /** Updates stored after `seq`, oldest first, at most `limit`. */
  async since(seq: number, limit: number, filter?: (docId: string) => boolean): Promise<StoredUpdate[]> {
    const rows = await this.db.query<{ seq: number; doc_id: string; update: Uint8Array; origin: Origin }>(
      'SELECT seq::float8 AS seq, doc_id, update, origin FROM doc_updates WHERE seq > $1 ORDER BY seq LIMIT $2',
      [seq, limit],
    )
    return rows
      .map((r) => ({ seq: Number(r.seq), docId: r.doc_id, update: r.update, origin: r.origin }))
      .filter((u) => !filter || filter(u.docId))
  }

  async latestSeq(): Promise<number> {
    const [r] = await this.db.query<{ s: number | null }>('SELECT max(seq)::float8 AS s FROM doc_updates')
    return Number(r?.s ?? 0)
  }

  private async store(tx: Queryable, docId: string, doc: Y.Doc, update: Uint8Array, origin: Origin): Promise<StoredUpdate | null> {
    const uid = uidOf(docId, update)
    // The bytes as they are: the store's wrapper sends a bytea parameter in the binary format
    // (PGlite's own query() wrote it as hex a byte at a time in JavaScript, ~0.5 µs a byte).
    const [row] = await tx.query<{ seq: number }>(
      'INSERT INTO doc_updates (doc_id, update, origin, uid) VALUES ($1, $2::bytea, $3, $4) ON CONFLICT (uid) DO NOTHING RETURNING seq::float8 AS seq',
      [docId, Buffer.from(update.buffer, update.byteOffset, update.byteLength), origin, uid],
    )
    if (!row) return null
    if (this.shared) {
      this.seen.set(docId, Math.max(this.seen.get(docId) ?? 0, Number(row.seq)))
      await tx.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, `${this.mark}:${row.seq}`])
    }
    const projected = await this.project(docId, doc, tx)
    // Written to the journal before COMMIT (a full disk rolls the change back: "not stored");
    // synced after it, grouped (`after`). A replay is already in the journal.
    if (this.journal && origin !== 'replay') this.journal.write({ docId, origin, update })
    // A path that grew (a transfer): the peers now on it skipped the document's earlier updates
    // (they were not in scope then), so the whole document is stored again as one update, after
    // this one. The link sends it to every peer in scope; those that hold it already skip it
    // (Yjs), and it is not echoed to where this update came from.
    if (projected?.widened) await this.store(tx, docId, doc, Y.encodeStateAsUpdate(doc), origin === 'replay' ? 'local' : origin)
    return { seq: Number(row.seq), docId, update, origin }
  }

  /** A store transaction whose journal records are cut off again if it rolls back. */
  private async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const mark = this.journal?.mark()
    try {
      return await this.db.transaction(fn)
    } catch (e) {
      if (mark) this.journal!.undo(mark)
      throw e
    }
  }

  /**
   * Shared store: announces what the other processes of this node store, as if stored here —
   * read back from `doc_updates` by sequence, in order, with the origin they were stored with
   * (so a link still never echoes an update to the peer it came from). After a gap (the
   * listening connection was lost) the newest row is announced: links resume from their own
   * cursors on any announcement, so they send whatever the gap hid.
   */
  async hearOtherProcesses(): Promise<void> {
    if (!this.shared || !this.db.listen) return
    await this.db.listen(NOTIFY_CHANNEL, (payload) => {
      const [mark, seq] = payload.split(':')
      if (mark === this.mark || !/^\d{1,15}$/.test(seq ?? '')) return
      this.heard.push(Number(seq))
      void this.readHeard()
    }, () => void this.announceNewest())
  }

  private async readHeard(): Promise<void> {
    if (this.reading) return
    this.reading = true
    try {
      while (this.heard.length) {
        if (this.heard.length > HEARD_BATCH * 4) {
          this.heard = []
          await this.announceNewest()
          break
        }
        const seqs = this.heard.splice(0, HEARD_BATCH)
        const rows = await this.db.query<{ seq: number; doc_id: string; update: Uint8Array; origin: Origin }>(
          'SELECT seq::float8 AS seq, doc_id, update, origin FROM doc_updates WHERE seq = ANY($1::bigint[]) ORDER BY seq', [seqs])
        for (const r of rows) this.emit('update', { seq: Number(r.seq), docId: r.doc_id, update: r.update, origin: r.origin })
      }
    } catch (e) {
      console.error(`reading what other processes stored failed: ${(e as Error).message}`)
    } finally {
      this.reading = false
    }
  }

  private async announceNewest(): Promise<void> {
    const [r] = await this.db.query<{ seq: number; doc_id: string; update: Uint8Array; origin: Origin }>(
      'SELECT seq::float8 AS seq, doc_id, update, origin FROM doc_updates ORDER BY seq DESC LIMIT 1').catch(() => [])
    if (r) this.emit('update', { seq: Number(r.seq), docId: r.doc_id, update: r.update, origin: r.origin })
  }

  /** Resolves once every change committed so far is on disk (a retried request answers only then). */
  async durable(): Promise<void> {
    await this.journal?.sync()
  }

  private async after(stored: StoredUpdate): Promise<void> {
    let unsynced: unknown = null
    if (this.journal && stored.origin !== 'replay') await this.journal.sync().catch((e) => (unsynced = e))
    // Committed either way: listeners hear of it; the caller learns it is not known to be on disk.
    this.told(stored)
    if (unsynced) throw unsynced
  }

  private told(stored: StoredUpdate): void {
    this.emit('update', stored)
    // Warnings (电子监察, `watch:`) are rewritten as cases change, like statistics.
    if (stored.docId.startsWith('stats:') || stored.docId.startsWith('watch:')) this.maybeCompact(stored.docId, stored.origin)
  }

  private readonly rowCounts = new Map<string, number>()

  /**
   * Statistics documents are rewritten on every change of their counts, so their update rows
   * pile up (and a doc loads row by row). Past COMPACT_ROWS, the rows are replaced by the doc
   * re-encoded as one update (design.md: not Y.mergeUpdates). The new row keeps the origin, so
   * it is not echoed to where the doc came from; elsewhere it is a harmless resend.
   */
  private maybeCompact(docId: string, origin: Origin): void {
    const n = (this.rowCounts.get(docId) ?? 0) + 1
    this.rowCounts.set(docId, n)
    if (n < COMPACT_ROWS) return
    this.rowCounts.set(docId, 0)
    void this.compact(docId, origin).catch((e) => console.error(`compacting ${docId} failed:`, e))
  }

  /** Replaces a document's stored rows with one update holding its whole state. */
  compact(docId: string, origin: Origin): Promise<StoredUpdate | null> {
    return this.serial(priorityOf(origin), async () => {
      const stored = await this.transaction(async (tx) => {
        await this.lock(tx, [docId])
        const doc = await this.get(docId, tx)
        const whole = Y.encodeStateAsUpdate(doc)
        await tx.query('DELETE FROM doc_updates WHERE doc_id = $1', [docId])
        return this.store(tx, docId, doc, whole, origin)
      })
      // Journaled like any write (in store): the delete and the insert must survive a power cut together.
      if (stored && this.journal) await this.journal.sync()
      return stored
    })
  }

  /**
   * One write at a time: PGlite is one connection, and a doc's in-memory state must follow
   * commit order. The node's own writes (intake at the window, a browser) go before waiting
   * link batches, so one peer's flood cannot queue the window behind it (issue 7, class 7);
   * each queue keeps its order, and a link batch is at most one slice (the session cuts
   * frames into slices), so a local write waits for at most one slice. Yjs updates commute:
   * letting a local write pass a waiting link batch changes no document's outcome.
   */
  private serial<T>(priority: WritePriority, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting[priority].push(() => Promise.resolve().then(fn).then(resolve, reject))
      this.nextWrite()
    })
  }

  private nextWrite(): void {
    if (this.writingNow) return
    const run = this.waiting.own.shift() ?? this.waiting.link.shift()
    if (!run) return
    this.writingNow = true
    void run().finally(() => {
      this.writingNow = false
      this.nextWrite()
    })
  }

  evict(docId: string): void {
    this.cache.get(docId)?.destroy()
    this.cache.delete(docId)
    this.cacheBytes -= this.weight.get(docId) ?? 0
    this.weight.delete(docId)
    this.seen.delete(docId)
  }

  /** Shared store: locks `docIds` for the transaction (in one order everywhere: no deadlock). */
  private async lock(tx: Queryable, docIds: string[]): Promise<void> {
    if (this.shared && docIds.length) await tx.query(DOC_LOCK, [docIds])
  }

  /** Shared store: applies what other processes stored for a cached doc since it was read. */
  private async catchUp(docId: string, doc: Y.Doc, q: Queryable): Promise<void> {
    const rows = await q.query<{ seq: number; update: Uint8Array }>(
      'SELECT seq::float8 AS seq, update FROM doc_updates WHERE doc_id = $1 AND seq > $2 ORDER BY seq', [docId, this.seen.get(docId) ?? 0])
    if (!rows.length) return
    doc.transact(() => {
      for (const r of rows) Y.applyUpdate(doc, r.update, 'store')
    })
    this.seen.set(docId, Math.max(this.seen.get(docId) ?? 0, Number(rows[rows.length - 1].seq)))
  }

  clearCache(): void {
    for (const id of [...this.cache.keys()]) this.evict(id)
  }
}

type WritePriority = 'own' | 'link'

/** What a link brought waits behind the node's own writes (a journal replay runs alone at start). */
function priorityOf(origin: Origin): WritePriority {
  return origin === 'parent' || origin.startsWith('child:') ? 'link' : 'own'
}

/** Notes whether any transaction on `doc` deletes something until `stop()`. */
function watchDeletes(doc: Y.Doc): { readonly any: boolean; stop(): void } {
  const seen = { any: false, stop: () => doc.off('afterTransaction', on) }
  const on = (tr: Y.Transaction) => {
    if (tr.deleteSet.clients.size > 0) seen.any = true
  }
  doc.on('afterTransaction', on)
  return seen
}

/** An update's identity: the same bytes for the same document are stored once. */
function uidOf(docId: string, update: Uint8Array): string {
  return createHash('sha256').update(docId).update('\0').update(update).digest('base64url')
}

/** A document's state vector (client → next clock), as Yjs encodes it in `encodeStateVector`. */
function stateOf(doc: Y.Doc): Map<number, number> {
  const sv = new Map<number, number>()
  doc.store.clients.forEach((structs, client) => {
    const last = structs[structs.length - 1]
    sv.set(client, last.id.clock + last.length)
  })
  return sv
}

/** Whether `doc` is still at state vector `sv`. */
function sameState(sv: ReadonlyMap<number, number>, doc: Y.Doc): boolean {
  if (sv.size !== doc.store.clients.size) return false
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]
    if (sv.get(client) !== last.id.clock + last.length) return false
  }
  return true
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
