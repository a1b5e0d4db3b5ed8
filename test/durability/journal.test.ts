/**
 * The durability journal (nodes/core/store/journal.ts) at a crash: a torn tail record — the
 * write the power cut interrupted, never acknowledged — is ignored, the records before it are
 * replayed, and what is appended after a restart stays readable.
 */
import { appendFileSync, copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { openNode, type TongbanNode } from '../../nodes/core/node.ts'
import { defaultJournalIo, Journal, JournalWriteError, type JournalRecord } from '../../nodes/core/store/journal.ts'
import { applicant } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

const dirs: { cleanup(): void }[] = []
const fresh = () => {
  const d = tempDir('tongban-journal-')
  dirs.push(d)
  return d.dir
}
afterAll(() => dirs.forEach((d) => d.cleanup()))

const rec = (i: number): JournalRecord => ({ docId: `case:doc-${i}`, origin: 'local', update: new Uint8Array([1, 2, 3, i]) })
const docIds = (rs: JournalRecord[]) => rs.map((r) => r.docId)
/** Reads a journal the way a restart would, from a copy, so the original is left as it is. */
function readCopy(dir: string): JournalRecord[] {
  const copy = fresh()
  for (const f of readdirSync(dir).filter((f) => f.startsWith('journal.'))) copyFileSync(join(dir, f), join(copy, f))
  const j = new Journal(copy)
  try {
    return j.readAll()
  } finally {
    j.close()
  }
}
/** The file appends currently go to. */
const activeFile = (dir: string) => join(dir, readdirSync(dir).filter((f) => f.startsWith('journal.')).sort()[0])

describe('Journal: a torn tail record is ignored', () => {
  async function written(n: number): Promise<string> {
    const dir = fresh()
    const j = new Journal(dir)
    for (let i = 1; i <= n; i++) await j.append(rec(i))
    j.close()
    return dir
  }
  const whole = (dir: string) => readFileSync(activeFile(dir))
  /** One more record's bytes, as append would write it. */
  async function recordBytes(i: number): Promise<Buffer> {
    const dir = await written(0)
    const j = new Journal(dir)
    await j.append(rec(i))
    j.close()
    return whole(dir)
  }

  it('reads back every record appended', async () => {
    const dir = await written(3)
    expect(docIds(readCopy(dir))).toEqual(['case:doc-1', 'case:doc-2', 'case:doc-3'])
    expect(readCopy(dir)[2].update).toEqual(new Uint8Array([1, 2, 3, 3]))
  })

  const tails: [string, () => Promise<Buffer>][] = [
    ['half a header', async () => (await recordBytes(4)).subarray(0, 5)],
    ['a header and half the body', async () => { const b = await recordBytes(4); return b.subarray(0, b.length - 7) }],
    ['a whole record with a flipped byte (checksum fails)', async () => { const b = Buffer.from(await recordBytes(4)); b[b.length - 3] ^= 0xff; return b }],
    ['zeros (a file extended but its blocks never written)', async () => Buffer.alloc(64)],
    ['a length far past the end of the file', async () => Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5])],
  ]
  for (const [what, tail] of tails) {
    it(`ignores ${what} at the end`, async () => {
      const dir = await written(3)
      appendFileSync(activeFile(dir), await tail())
      expect(docIds(readCopy(dir))).toEqual(['case:doc-1', 'case:doc-2', 'case:doc-3'])
    })
  }

  it('a record appended after a restart over a torn tail is readable by the next restart', async () => {
    const dir = await written(2)
    appendFileSync(activeFile(dir), (await recordBytes(3)).subarray(0, 20))
    const j = new Journal(dir) // the restart
    expect(docIds(j.readAll())).toEqual(['case:doc-1', 'case:doc-2'])
    await j.append(rec(4)) // acknowledged after the restart
    j.close()
    expect(docIds(readCopy(dir))).toEqual(['case:doc-1', 'case:doc-2', 'case:doc-4'])
  })
})

describe('Journal: a batch of records in one write', () => {
  it('writeMany writes the records in order with one write(2), each readable on its own', async () => {
    const dir = fresh()
    const writes: number[] = []
    const io = { ...defaultJournalIo, write: (fd: number, buf: Buffer, position: number) => (writes.push(buf.length), defaultJournalIo.write(fd, buf, position)) }
    const j = new Journal(dir, io)
    j.write(rec(1))
    j.writeMany([rec(2), rec(3), rec(4)])
    j.writeMany([])
    await j.sync()
    j.close()
    expect(writes.length).toBe(2)
    expect(docIds(readCopy(dir))).toEqual(['case:doc-1', 'case:doc-2', 'case:doc-3', 'case:doc-4'])
  })

  it('a batch whose write fails is cut off whole; what came before stays, what comes after is readable', async () => {
    const dir = fresh()
    let fail = false
    let calls = 0
    const io = {
      ...defaultJournalIo,
      // Failing: the first write(2) is short (half the bytes land), the next finds the disk full.
      write: (fd: number, buf: Buffer, position: number) => {
        if (!fail) return defaultJournalIo.write(fd, buf, position)
        if (calls++ === 0) return defaultJournalIo.write(fd, buf.subarray(0, buf.length >> 1), position)
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
      },
    }
    const j = new Journal(dir, io)
    j.write(rec(1))
    fail = true
    expect(() => j.writeMany([rec(2), rec(3)])).toThrow(JournalWriteError)
    fail = false
    j.writeMany([rec(4), rec(5)])
    await j.sync()
    j.close()
    expect(docIds(readCopy(dir))).toEqual(['case:doc-1', 'case:doc-4', 'case:doc-5'])
  })
})

describe('Journal: checkpoints', () => {
  it('drops what a checkpoint covered, keeps what came after', async () => {
    const dir = fresh()
    const j = new Journal(dir)
    await j.append(rec(1))
    await j.checkpoint(async () => {})
    await j.append(rec(2))
    expect(docIds(readCopy(dir))).toEqual(['case:doc-2'])
    j.close()
  })

  it('a record appended while a checkpoint runs survives it', async () => {
    const dir = fresh()
    const j = new Journal(dir)
    await j.append(rec(1))
    let release!: () => void
    const running = j.checkpoint(() => new Promise<void>((r) => (release = r)))
    await j.append(rec(2)) // its commit may not be in the checkpoint that is running
    release()
    await running
    expect(docIds(readCopy(dir))).toEqual(['case:doc-2'])
    j.close()
  })

  it('overlapping checkpoints (a slow one still running when the next is due) drop nothing written after they began', async () => {
    const dir = fresh()
    const j = new Journal(dir)
    await j.append(rec(1))
    const releases: (() => void)[] = []
    const slow = () => new Promise<void>((r) => releases.push(r))
    const started = async (n: number) => {
      const deadline = Date.now() + 60_000
      while (releases.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      expect(releases.length, `checkpoint ${n} running`).toBeGreaterThanOrEqual(n)
    }
    const first = j.checkpoint(slow)
    const second = j.checkpoint(slow) // due while the first still runs
    await started(1)
    await j.append(rec(2)) // written after the first began: it may not cover it
    releases[0]()
    await first
    expect(docIds(readCopy(dir))).toEqual(['case:doc-2'])
    await started(2)
    releases[1]()
    await second
    j.close()
  })
})

describe('a node restarting over a journal with a torn tail', { timeout: 300_000 }, () => {
  const open = (dataDir: string, loadDataDir?: Blob) =>
    openNode({ level: 'village', code: VILLAGE, name: '长青村', dataDir, catalogue: FIXTURE_CATALOGUE, loadDataDir, checkpointMs: 3_600_000 })
  let node: TongbanNode | null = null
  afterEach(async () => {
    await node?.close()
    node = null
  })

  it('replays the intact records and starts; the torn one is dropped', async () => {
    // The store as the disk had it: after a clean stop, before the case. (The same data dir,
    // so the same node key: the replayed application is this node's own, signed by it.)
    const b = fresh()
    node = await open(b, await pgliteTemplate())
    await node.close()
    const disk = fresh()
    cpSync(join(b, 'pgdata'), join(disk, 'pgdata'), { recursive: true })
    // A node takes in a case; its journal (copied while it runs) is what survived a power cut…
    node = await open(b)
    const id = (await node.cases.intake({ itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') }, { name: 'agent', role: 'agent' })).id
    const journal = readFileSync(activeFile(b))
    expect(journal.length).toBeGreaterThan(0)
    await node.close()
    node = null

    // …while the store lost everything since (pgdata as the disk had it).
    rmSync(join(b, 'pgdata'), { recursive: true, force: true })
    cpSync(join(disk, 'pgdata'), join(b, 'pgdata'), { recursive: true })
    for (const f of readdirSync(b).filter((f) => /^journal\.\d$/.test(f))) rmSync(join(b, f))
    writeFileSync(join(b, 'journal.0'), Buffer.concat([journal, journal.subarray(0, 30)])) // the last write torn
    node = await open(b)
    const view = await node.cases.get(id)
    expect(view).toMatchObject({ id, status: 'accepted', itemCode: 'V-I01', applicant })
    // Replayed, then checkpointed: the journal starts over empty.
    const left = readdirSync(b).filter((f) => f.startsWith('journal.')).map((f) => readFileSync(join(b, f)).length)
    expect(left.every((n) => n === 0)).toBe(true)
  })

  it('a journal holding only a torn record: the node starts, and what it acknowledges next is journaled readably', async () => {
    const dir = fresh()
    node = await open(dir, await pgliteTemplate())
    await node.close()
    writeFileSync(join(dir, 'journal.0'), Buffer.from([40, 0, 0, 0, 9, 9, 9, 9, 123, 34])) // a header and two bytes of body
    node = await open(dir)
    const { id } = await node.cases.intake({ itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') }, { name: 'agent', role: 'agent' })
    // What a restart after a power cut now would replay:
    const replay = readCopy(dir)
    expect(replay.map((r) => r.docId)).toContain(`case:${id}`)
    expect(existsSync(join(dir, 'journal.0')) || existsSync(join(dir, 'journal.1'))).toBe(true)
  })
})
