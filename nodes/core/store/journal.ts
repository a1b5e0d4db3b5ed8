/**
 * The durability journal. PGlite on Node writes its files but never fsyncs them, so a power
 * cut can lose what a 201 acknowledged. Every stored update is also appended here and
 * fdatasync'd before the reply (group commit: one sync for all writes waiting). A checkpoint
 * (Postgres CHECKPOINT + fsync of the data dir) makes the store itself durable; then the
 * journal files it covers are deleted. On start, whatever journal is left is replayed —
 * idempotently, since each update is stored once by its uid.
 *
 * Two files alternate: a checkpoint switches appends to the other file first, so records
 * written while it runs are never dropped with the old one.
 * Record: u32 length • u32 crc32 • JSON {d: docId, o: origin, u: base64 update}.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

export interface JournalRecord {
  docId: string
  origin: string
  update: Uint8Array
}

export class Journal {
  private fd: number
  private active: 0 | 1
  private pending: { buf: Buffer; done: () => void; fail: (e: Error) => void }[] = []
  private flushing = false

  private checkpointing: Promise<void> = Promise.resolve()

  constructor(private readonly dir: string) {
    // A crash may have torn the last write of either file. Cut it off now: a record appended
    // after torn bytes would be unreadable at the next start, though it was acknowledged.
    for (const n of [0, 1] as const) cutTornTail(this.path(n))
    this.active = existsSync(this.path(1)) && !existsSync(this.path(0)) ? 1 : 0
    this.fd = this.openActive()
  }

  /** Opens the active file for appending; a new file's directory entry is fsync'd too, or a power cut could lose the file itself. */
  private openActive(): number {
    const fresh = !existsSync(this.path(this.active))
    const fd = openSync(this.path(this.active), 'a')
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

  /** Resolves once the record is on disk (fdatasync'd). */
  append(rec: JournalRecord): Promise<void> {
    const body = Buffer.from(JSON.stringify({ d: rec.docId, o: rec.origin, u: Buffer.from(rec.update).toString('base64') }))
    const head = Buffer.alloc(8)
    head.writeUInt32LE(body.length, 0)
    head.writeUInt32LE(crc32(body), 4)
    return new Promise((done, fail) => {
      this.pending.push({ buf: Buffer.concat([head, body]), done, fail })
      if (!this.flushing) queueMicrotask(() => this.flush())
    })
  }

  /** The flush whose fdatasync is running, if any (a checkpoint waits for it before closing the file). */
  private inflight: Promise<void> = Promise.resolve()

  /**
   * Writes what is waiting and syncs it off the event loop (libuv's pool): while one sync runs,
   * new records gather and go together in the next — group commit that overlaps the database.
   */
  private flush(): void {
    if (this.flushing || this.pending.length === 0) return
    this.flushing = true
    const batch = this.pending
    this.pending = []
    const fd = this.fd
    this.inflight = new Promise<void>((resolve) => {
      const finish = (err: Error | null) => {
        for (const b of batch) (err ? b.fail(err) : b.done())
        this.flushing = false
        resolve()
        if (this.pending.length) setImmediate(() => this.flush())
      }
      try {
        writeSync(fd, Buffer.concat(batch.map((b) => b.buf)))
      } catch (e) {
        return finish(e as Error)
      }
      fdatasync(fd, finish)
    })
  }

  /** Every intact record in both files, older file first; a torn tail record is ignored. */
  readAll(): JournalRecord[] {
    const other = (1 - this.active) as 0 | 1
    return [...this.read(this.path(other)), ...this.read(this.path(this.active))]
  }

  private read(path: string): JournalRecord[] {
    return existsSync(path) ? parseRecords(readFileSync(path)).records : []
  }

  /**
   * Runs `checkpoint` (which must make every commit so far durable in the store) and then drops
   * the journal it covers. Appends go to the other file meanwhile.
   */
  checkpoint(checkpoint: () => Promise<void>): Promise<void> {
    // One at a time: a slow checkpoint still running when the next is due would otherwise have
    // the next switch back to the file the slow one is about to delete, with new records in it.
    const run = this.checkpointing.then(() => this.checkpointNow(checkpoint))
    this.checkpointing = run.catch(() => {})
    return run
  }

  private async checkpointNow(checkpoint: () => Promise<void>): Promise<void> {
    const old = this.active
    this.active = (1 - old) as 0 | 1
    const oldFd = this.fd
    this.fd = this.openActive()
    await this.inflight // a sync may still run on the old file
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

  /** Writes and syncs what is still waiting, then closes (call after the last append has settled). */
  close(): void {
    if (this.pending.length) {
      writeSync(this.fd, Buffer.concat(this.pending.map((b) => b.buf)))
      fdatasyncSync(this.fd)
      for (const b of this.pending) b.done()
      this.pending = []
    }
    closeSync(this.fd)
  }
}

/** The intact records at the start of `buf`, and where they end; parsing stops at the first torn one. */
function parseRecords(buf: Buffer): { records: JournalRecord[]; end: number } {
  const records: JournalRecord[] = []
  let off = 0
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32LE(off)
    const crc = buf.readUInt32LE(off + 4)
    const body = buf.subarray(off + 8, off + 8 + len)
    // Torn write at a crash (the rest was never acknowledged). A record is never empty: zeros
    // (a file extended whose blocks were never written) would otherwise pass the checksum.
    if (len === 0 || body.length < len || crc32(body) !== crc) break
    let j: { d: string; o: string; u: string }
    try {
      j = JSON.parse(body.toString()) as { d: string; o: string; u: string }
    } catch {
      break
    }
    records.push({ docId: j.d, origin: j.o, update: new Uint8Array(Buffer.from(j.u, 'base64')) })
    off += 8 + len
  }
  return { records, end: off }
}

/** Truncates a journal file to its intact records (durably), if anything torn follows them. */
function cutTornTail(path: string): void {
  if (!existsSync(path)) return
  const buf = readFileSync(path)
  const { end } = parseRecords(buf)
  if (end === buf.length) return
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, end)
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
