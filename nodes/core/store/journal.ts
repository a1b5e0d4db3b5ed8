/**
 * The durability journal. PGlite on Node writes its files but never fsyncs them, so a power
 * cut can lose what a 201 acknowledged. Every stored update is also written here and
 * fdatasync'd before the reply (group commit: one sync for all writes waiting). A checkpoint
 * (Postgres CHECKPOINT + fsync of the data dir) makes the store itself durable; then the
 * journal files it covers are deleted. On start, whatever journal is left is replayed —
 * idempotently, since each update is stored once by its uid.
 *
 * Two files alternate: a checkpoint switches writes to the other file first, so records
 * written while it runs are never dropped with the old one.
 *
 * Commit order (what an error answer means). The record is *written* inside the store's
 * transaction, before COMMIT (`write`, called by DocStore): if the write fails — a full disk
 * (ENOSPC), an I/O error — the transaction rolls back and the answer means "not stored". A
 * partial write is cut off at once, so the file stays well framed. The *sync* runs after
 * COMMIT, grouped (`sync`). If it fails, the change is in the store but not known to be on disk:
 * the answer says so (503, "unconfirmed"), the bytes are kept and written again at the same
 * offsets before the next sync (after a failed fsync the kernel may have dropped the dirty
 * pages while marking them clean, so a later fsync alone would prove nothing), and a retry with
 * the same Idempotency-Key answers the first result once a sync succeeds.
 *
 * Record framing (version 2), 16-byte header then the body:
 *   magic F5 7B 4A 32 • u32 body length • u32 crc32(body) • u32 crc32(the 12 bytes before)
 *   body: JSON {d: docId, o: origin, u: base64 update}
 * Every record is checkable on its own: the header's checksum makes its length trustworthy, the
 * body's checksum its content. 0xF5 never occurs in UTF-8, so the magic never occurs inside a
 * body: a reader that meets a bad record scans forward to the next magic whose header and body
 * both check, reports the bytes it skipped, and keeps every good record after them.
 * Files written by the previous framing (u32 length • u32 crc32 • body, no magic) are still
 * read: their records come first in a file, and v2 records may follow them.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

export interface JournalRecord {
  docId: string
  origin: string
  update: Uint8Array
}

/** Bytes a reader had to skip. */
export interface JournalDamage {
  file: string
  offset: number
  length: number
  reason: string
  /**
   * True when good records follow the bad bytes in the same file. Those records were synced
   * after the bad bytes were written, so the bad bytes were on disk when a reply was sent: they
   * may have held an acknowledged change. False for a torn tail: the write a crash interrupted,
   * whose sync never returned, so nothing in it was acknowledged.
   */
  followedByGood: boolean
  /** The document the bad bytes seem to name, when their JSON is still legible (a hint, not a fact). */
  docId?: string
}

/** What a reader found: the good records of both files (older first) and what it skipped. */
export interface JournalScan {
  records: JournalRecord[]
  damage: JournalDamage[]
}

/** The file operations the journal uses: tests wrap them to inject faults (a full disk). */
export interface JournalIo {
  /** Writes `buf` at `position`; returns bytes written (may be fewer, as write(2) may). */
  write(fd: number, buf: Buffer, position: number): number
  /** fdatasync, off the event loop. */
  sync(fd: number, done: (err: Error | null) => void): void
}

export const defaultJournalIo: JournalIo = {
  write: (fd, buf, position) => writeSync(fd, buf, 0, buf.length, position),
  sync: (fd, done) => fdatasync(fd, (e) => done(e ?? null)),
}

/** Writing a record failed (e.g. ENOSPC): the transaction it belonged to rolled back — nothing was stored. */
export class JournalWriteError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(`the journal could not be written (${cause.code ?? cause.message}): nothing was stored`)
  }
}

/** Syncing failed after the store committed: stored, but not known to be on disk. */
export class JournalSyncError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(`the journal could not be synced (${cause.code ?? cause.message}): the change is stored but not yet known to be on disk`)
  }
}

/** Where the journal's end was; `undo` cuts back to it. */
export interface JournalMark {
  gen: number
  size: number
}

const MAGIC = Buffer.from([0xf5, 0x7b, 0x4a, 0x32])
const HEAD = 16

export class Journal {
  private fd: number
  private active: 0 | 1
  /** Bumped at every switch of files: a mark from before a switch cannot cut the new file. */
  private gen = 0
  /** Where the next record goes in the active file. */
  private size: number
  /** Written but not yet known to be synced, per fd, with their offsets (rewritten after a failed sync). */
  private unsynced: { fd: number; off: number; buf: Buffer }[] = []
  private rewrite = false
  private waiting: { done: () => void; fail: (e: Error) => void }[] = []
  private syncing = false
  /** The sync that is running, if any (a checkpoint waits for it before closing a file). */
  private inflight: Promise<void> = Promise.resolve()
  private checkpointing: Promise<void> = Promise.resolve()
  /** What the constructor cut off the ends of the files (torn tails), for the start-up report. */
  readonly cut: JournalDamage[] = []

  constructor(private readonly dir: string, private readonly io: JournalIo = defaultJournalIo) {
    // A crash may have torn the last write of either file. Cut it off now: a record appended
    // after torn bytes would follow garbage. (Bad bytes *followed by* good records stay: the
    // start-up reports them, see node.ts recover.)
    for (const n of [0, 1] as const) this.cut.push(...cutTornTail(this.path(n)))
    this.active = existsSync(this.path(1)) && !existsSync(this.path(0)) ? 1 : 0
    this.fd = this.openActive()
    this.size = fstatSync(this.fd).size
  }

  /** Opens the active file for writing at offsets we track; a new file's directory entry is fsync'd too, or a power cut could lose the file itself. */
  private openActive(): number {
    const fresh = !existsSync(this.path(this.active))
    const fd = openSync(this.path(this.active), fresh ? 'w+' : 'r+')
    if (fresh) {
      const dirFd = openSync(this.dir, 'r')
      try {
        fsyncSync(dirFd)
      } finally {
        closeSync(dirFd)
      }
    }
    return fd
  }

  private path(n: 0 | 1): string {
    return join(this.dir, `journal.${n}`)
  }

  /** The end of the journal now: `undo(mark)` cuts back to it if the transaction fails. */
  mark(): JournalMark {
    return { gen: this.gen, size: this.size }
  }

  /**
   * Writes a record (not yet synced). Called inside the store's transaction, before COMMIT: a
   * failure throws JournalWriteError and the transaction rolls back. A partial write is cut off.
   */
  write(rec: JournalRecord): void {
    this.writeMany([rec])
  }

  /**
   * Writes records as `write` does, all in one write(2): a batch of a link's frame is one
   * system call, not one per update. A failure cuts all of them off (the transaction that
   * wrote them rolls back as a whole anyway).
   */
  writeMany(recs: JournalRecord[]): void {
    if (!recs.length) return
    const buf = recs.length === 1 ? encodeRecord(recs[0]) : Buffer.concat(recs.map(encodeRecord))
    const off = this.size
    try {
      let done = 0
      while (done < buf.length) {
        const n = this.io.write(this.fd, buf.subarray(done), off + done)
        if (n <= 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' })
        done += n
      }
    } catch (e) {
      this.cutBack(off)
      throw new JournalWriteError(e as NodeJS.ErrnoException)
    }
    this.size = off + buf.length
    this.unsynced.push({ fd: this.fd, off, buf })
  }

  /** The transaction that wrote since `mark` rolled back: cut its records off (same file only; after a switch the checkpoint covers the store, and the old file goes). */
  undo(mark: JournalMark): void {
    if (mark.gen !== this.gen || mark.size >= this.size) return
    this.unsynced = this.unsynced.filter((u) => u.fd !== this.fd || u.off < mark.size)
    this.cutBack(mark.size)
  }

  private cutBack(size: number): void {
    try {
      ftruncateSync(this.fd, size)
      this.size = size
    } catch (e) {
      // Could not cut: leave the bytes (a reader skips and reports them) and write after them.
      console.error(`journal: could not cut back to ${size} bytes:`, e)
      this.size = fstatSync(this.fd).size
    }
  }

  /** Resolves once everything written before the call is on disk; JournalSyncError if the sync failed. */
  sync(): Promise<void> {
    return new Promise((done, fail) => {
      this.waiting.push({ done, fail })
      if (!this.syncing) queueMicrotask(() => this.flush())
    })
  }

  /** Writes (to their first place) and syncs a record: write + sync, for callers outside a transaction. */
  async append(rec: JournalRecord): Promise<void> {
    this.write(rec)
    await this.sync()
  }

  /**
   * One sync for everyone waiting, off the event loop (libuv's pool): while it runs, new waiters
   * gather for the next — group commit that overlaps the database.
   */
  private flush(): void {
    if (this.syncing || this.waiting.length === 0) return
    this.syncing = true
    const batch = this.waiting
    this.waiting = []
    const covered = this.unsynced
    const fds = [...new Set([...covered.map((u) => u.fd), this.fd])]
    this.inflight = new Promise<void>((resolve) => {
      const finish = (err: Error | null) => {
        if (err) this.rewrite = true
        else {
          this.unsynced = this.unsynced.filter((u) => !covered.includes(u))
          this.rewrite = false
        }
        const e = err && new JournalSyncError(err as NodeJS.ErrnoException)
        for (const b of batch) (e ? b.fail(e) : b.done())
        this.syncing = false
        resolve()
        if (this.waiting.length) setImmediate(() => this.flush())
      }
      try {
        // After a failed sync the same bytes go again to the same places: no duplicate, no gap.
        if (this.rewrite) for (const u of covered) writeAll(this.io, u.fd, u.buf, u.off)
      } catch (e) {
        return finish(e as Error)
      }
      const next = (i: number) => (i === fds.length ? finish(null) : this.io.sync(fds[i], (e) => (e ? finish(e) : next(i + 1))))
      next(0)
    })
  }

  /** Every intact record in both files, older file first; bad bytes are skipped (see `scan`). */
  readAll(): JournalRecord[] {
    return this.scan().records
  }

  /** The intact records of both files, older first, and every run of bytes that had to be skipped. */
  scan(): JournalScan {
    const other = (1 - this.active) as 0 | 1
    const out: JournalScan = { records: [], damage: [] }
    for (const n of [other, this.active]) {
      const p = this.path(n)
      if (!existsSync(p)) continue
      const r = parseRecords(readFileSync(p), `journal.${n}`)
      out.records.push(...r.records)
      out.damage.push(...r.damage)
    }
    return out
  }

  /** Keeps a copy of both files beside them (`journal.N.damaged-<stamp>`), for whoever investigates a loss. */
  preserve(stamp: string): string[] {
    const kept: string[] = []
    for (const n of [0, 1] as const) {
      const p = this.path(n)
      if (!existsSync(p)) continue
      const to = `${p}.damaged-${stamp}`
      writeAllFile(to, readFileSync(p))
      kept.push(to)
    }
    return kept
  }

  /**
   * Runs `checkpoint` (which must make every commit so far durable in the store) and then drops
   * the journal it covers. Writes go to the other file meanwhile.
   */
  checkpoint(checkpoint: () => Promise<void>): Promise<void> {
    // One at a time: a slow checkpoint still running when the next is due would otherwise have
    // the next switch back to the file the slow one is about to delete, with new records in it.
    // With none running, the switch is at once: whatever is written after this call goes to
    // the file the checkpoint keeps.
    const now = this.queued === 0 ? this.switchFiles() : null
    this.queued++
    const run = this.checkpointing.then(() => this.checkpointNow(checkpoint, now ?? this.switchFiles()))
    this.checkpointing = run.catch(() => {}).finally(() => this.queued--)
    return run
  }

  private queued = 0

  private switchFiles(): { old: 0 | 1; oldFd: number } {
    const old = this.active
    this.active = (1 - old) as 0 | 1
    const oldFd = this.fd
    this.fd = this.openActive()
    this.size = fstatSync(this.fd).size
    this.gen++
    return { old, oldFd }
  }

  private async checkpointNow(checkpoint: () => Promise<void>, { old, oldFd }: { old: 0 | 1; oldFd: number }): Promise<void> {
    // Records written to the old file and not yet synced are synced now (whoever waits for
    // them learns the outcome); the checkpoint below covers them anyway.
    if (this.unsynced.some((u) => u.fd === oldFd)) await this.sync().catch(() => {})
    await this.inflight
    this.unsynced = this.unsynced.filter((u) => u.fd !== oldFd)
    closeSync(oldFd)
    await checkpoint()
    try {
      unlinkSync(this.path(old))
    } catch {
      /* nothing to drop */
    }
  }

  /** Drops both files; used after a replay has been checkpointed. */
  async reset(checkpoint: () => Promise<void>): Promise<void> {
    await this.checkpoint(checkpoint)
    await this.checkpoint(async () => {})
  }

  /** Syncs what is still unsynced, then closes (call after the last write has settled). */
  close(): void {
    if (this.rewrite) for (const u of this.unsynced) writeAll(this.io, u.fd, u.buf, u.off)
    for (const fd of new Set(this.unsynced.map((u) => u.fd))) fdatasyncSync(fd)
    this.unsynced = []
    fdatasyncSync(this.fd)
    const waiting = this.waiting
    this.waiting = []
    for (const w of waiting) w.done()
    closeSync(this.fd)
  }
}

function writeAll(io: JournalIo, fd: number, buf: Buffer, off: number): void {
  let done = 0
  while (done < buf.length) {
    const n = io.write(fd, buf.subarray(done), off + done)
    if (n <= 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' })
    done += n
  }
}

function writeAllFile(path: string, data: Buffer): void {
  const fd = openSync(path, 'w')
  try {
    writeSync(fd, data)
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function encodeRecord(rec: JournalRecord): Buffer {
  const body = Buffer.from(JSON.stringify({ d: rec.docId, o: rec.origin, u: Buffer.from(rec.update).toString('base64') }))
  const head = Buffer.alloc(HEAD)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(body.length, 4)
  head.writeUInt32LE(crc32(body), 8)
  head.writeUInt32LE(crc32(head.subarray(0, 12)), 12)
  return Buffer.concat([head, body])
}

/** The record at `off`, if a whole v2 record that checks starts there. */
function recordAt(buf: Buffer, off: number): { rec: JournalRecord; end: number } | { bad: string } {
  if (off + HEAD > buf.length) return { bad: 'cut short in its header' }
  if (!buf.subarray(off, off + 4).equals(MAGIC)) return { bad: 'no record marker' }
  if (crc32(buf.subarray(off, off + 12)) !== buf.readUInt32LE(off + 12)) return { bad: 'header checksum fails' }
  const len = buf.readUInt32LE(off + 4)
  if (len === 0) return { bad: 'empty record' }
  if (off + HEAD + len > buf.length) return { bad: 'cut short in its body' }
  const body = buf.subarray(off + HEAD, off + HEAD + len)
  if (crc32(body) !== buf.readUInt32LE(off + 8)) return { bad: 'body checksum fails' }
  const rec = decodeBody(body)
  return rec ? { rec, end: off + HEAD + len } : { bad: 'body is not a journal record' }
}

function decodeBody(body: Buffer): JournalRecord | null {
  try {
    const j = JSON.parse(body.toString()) as { d: unknown; o: unknown; u: unknown }
    if (typeof j.d !== 'string' || typeof j.o !== 'string' || typeof j.u !== 'string') return null
    return { docId: j.d, origin: j.o, update: new Uint8Array(Buffer.from(j.u, 'base64')) }
  } catch {
    return null
  }
}

/** Records in the previous framing (u32 length • u32 crc32 • body) at the start of a file written before v2. */
function legacyPrefix(buf: Buffer): { records: JournalRecord[]; end: number } {
  const records: JournalRecord[] = []
  let off = 0
  while (off + 8 <= buf.length && !buf.subarray(off, off + 4).equals(MAGIC)) {
    const len = buf.readUInt32LE(off)
    const body = buf.subarray(off + 8, off + 8 + len)
    if (len === 0 || body.length < len || crc32(body) !== buf.readUInt32LE(off + 4)) break
    const rec = decodeBody(body)
    if (!rec) break
    records.push(rec)
    off += 8 + len
  }
  return { records, end: off }
}

/** A document id legible in damaged bytes, if any (a hint for the report). */
function docHint(bytes: Buffer): string | undefined {
  const m = /"d":"([^"\\]{1,200})"/.exec(bytes.toString('latin1'))
  return m?.[1]
}

/**
 * Every good record in a file, resyncing past bad bytes: at a bad record, the next offset where
 * a whole record checks is found by its marker; the bytes between are reported, never silently
 * dropped. `end` is where the last good record ends.
 */
export function parseRecords(buf: Buffer, file = 'journal'): { records: JournalRecord[]; damage: JournalDamage[]; end: number } {
  const legacy = legacyPrefix(buf)
  const records = legacy.records
  const damage: JournalDamage[] = []
  let off = legacy.end
  let end = off
  while (off < buf.length) {
    const r = recordAt(buf, off)
    if ('rec' in r) {
      records.push(r.rec)
      off = end = r.end
      continue
    }
    // Resync: the next marker where a whole record checks.
    let next = -1
    for (let p = buf.indexOf(MAGIC, off + 1); p !== -1; p = buf.indexOf(MAGIC, p + 1)) {
      if ('rec' in recordAt(buf, p)) {
        next = p
        break
      }
    }
    const stop = next === -1 ? buf.length : next
    const bytes = buf.subarray(off, stop)
    // Zeros alone at the end: a file extended whose blocks were never written (a torn write).
    const reason = next === -1 && bytes.every((b) => b === 0) ? 'zeros' : r.bad
    damage.push({ file, offset: off, length: stop - off, reason, followedByGood: next !== -1, docId: docHint(bytes) })
    off = stop
  }
  return { records, damage, end }
}

/** Truncates a journal file to its last good record (durably), if torn bytes follow it; returns what was cut. */
function cutTornTail(path: string): JournalDamage[] {
  if (!existsSync(path)) return []
  const buf = readFileSync(path)
  const { end, damage } = parseRecords(buf, path.slice(path.lastIndexOf('/') + 1))
  if (end === buf.length) return []
  const tail = damage.filter((d) => !d.followedByGood)
  if (!tail.length) return []
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, tail[0].offset)
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return tail
}
