/**
 * Issue 7, class 8 (storage faults), on the real PGlite store on disk:
 * - a flipped byte in the middle record of the journal after a power cut: every other record
 *   is replayed, the bad one is reported, and the start refuses to go on silently (it names
 *   what it skipped; --accept-journal-loss proceeds and keeps the damaged file);
 * - a full disk under the journal (ENOSPC injected into its write, or its sync): the answer and
 *   the store agree — a 503 "nothing was stored" stores nothing, even after a restart; an
 *   unconfirmed sync is answered as such, and the retry with the same Idempotency-Key answers
 *   the first result once the disk has room;
 * - a retry with the same Idempotency-Key stores once (intake and actions, sequential and
 *   concurrent), and a key cannot name a different request.
 * The power cut is simulated as in test/durability: the store as the disk had it is a copy of
 * pgdata taken after a clean stop, the journal is what was on disk when the process died.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../nodes/core/http/app.ts'
import { JournalLossError, openNode, type NodeConfig, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { defaultJournalIo, encodeRecord, Journal, parseRecords, type JournalIo, type JournalRecord } from '../../nodes/core/store/journal.ts'
import { applicant, TEST_PASSWORD } from '../helpers/node.ts'
import { runCli, startArgs } from '../helpers/process.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'
import { failOnUnhandled } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-storage-')
afterAll(() => tmp.cleanup())
let n = 0
const freshDir = () => join(tmp.dir, `d${++n}`)

const rec = (i: number): JournalRecord => ({ docId: `case:doc-${i}`, origin: 'local', update: new Uint8Array([1, 2, 3, i, 5, 6, 7, 8]) })

describe('journal records are checked one by one: a bad one is skipped and reported, the rest kept', () => {
  const three = () => Buffer.concat([1, 2, 3].map((i) => encodeRecord(rec(i))))
  const middle = (buf: Buffer) => ({ start: encodeRecord(rec(1)).length, end: encodeRecord(rec(1)).length + encodeRecord(rec(2)).length })
  const cases: [string, (b: Buffer) => void][] = [
    ['a flipped byte in its body', (b) => { b[middle(b).start + 20] ^= 0x01 }],
    ['a flipped byte in its length', (b) => { b[middle(b).start + 4] ^= 0x40 }],
    ['a flipped byte in its marker', (b) => { b[middle(b).start] ^= 0x01 }],
    ['a flipped byte in its header checksum', (b) => { b[middle(b).start + 13] ^= 0x80 }],
    ['zeros over it', (b) => { b.fill(0, middle(b).start, middle(b).end) }],
  ]
  for (const [what, damage] of cases) {
    it(`the middle record with ${what}: records 1 and 3 read, the middle reported`, () => {
      const buf = three()
      damage(buf)
      const r = parseRecords(buf, 'journal.0')
      expect(r.records.map((x) => x.docId)).toEqual(['case:doc-1', 'case:doc-3'])
      expect(r.damage).toHaveLength(1)
      expect(r.damage[0]).toMatchObject({ file: 'journal.0', offset: middle(buf).start, length: middle(buf).end - middle(buf).start, followedByGood: true })
    })
  }

  it('a legible document id in the bad record is reported as a hint', () => {
    const buf = three()
    buf[middle(buf).end - 5] ^= 0x01 // in the base64 of the update
    expect(parseRecords(buf).damage[0].docId).toBe('case:doc-2')
  })

  it('the constructor cuts only a torn tail; bad bytes followed by good records stay for the start-up to report', () => {
    const dir = freshDir()
    const buf = three()
    buf[middle(buf).start + 20] ^= 0x01
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'journal.0'), Buffer.concat([buf, encodeRecord(rec(4)).subarray(0, 30)]))
    const j = new Journal(dir)
    expect(j.cut.map((d) => d.followedByGood)).toEqual([false])
    const scan = j.scan()
    expect(scan.records.map((r) => r.docId)).toEqual(['case:doc-1', 'case:doc-3'])
    expect(scan.damage.map((d) => d.followedByGood)).toEqual([true])
    j.close()
    expect(readFileSync(join(dir, 'journal.0')).length).toBe(buf.length)
  })

  it('a journal in the previous framing (no marker) is still read', () => {
    const legacy = (r: JournalRecord) => {
      const body = Buffer.from(JSON.stringify({ d: r.docId, o: r.origin, u: Buffer.from(r.update).toString('base64') }))
      const head = Buffer.alloc(8)
      head.writeUInt32LE(body.length, 0)
      head.writeUInt32LE(crc32(body), 4)
      return Buffer.concat([head, body])
    }
    const r = parseRecords(Buffer.concat([legacy(rec(1)), legacy(rec(2)), encodeRecord(rec(3))]))
    expect(r.records.map((x) => x.docId)).toEqual(['case:doc-1', 'case:doc-2', 'case:doc-3'])
    expect(r.damage).toEqual([])
  })
})

const config = (dataDir: string, more: Partial<NodeConfig> = {}): NodeConfig => ({
  level: 'village', code: VILLAGE, name: '长青村', dataDir, catalogue: FIXTURE_CATALOGUE, checkpointMs: 3_600_000, ...more,
})
const agent = { name: 'agent', role: 'agent' as const }
const intake = (node: TongbanNode, itemCode = 'V-P01') => node.cases.intake({ itemCode, applicant, materials: requiredOf(itemCode) }, agent)

describe('a power cut, then one flipped byte in the middle case record', { timeout: 300_000 }, () => {
  let node: TongbanNode | null = null
  afterEach(async () => {
    await node?.close().catch(() => {})
    node = null
  })

  it('the start refuses, naming the record; with --accept-journal-loss the other cases are back and the damaged journal is kept', async () => {
    const dir = freshDir()
    // The store as the disk had it: after a clean stop, before any case.
    node = await openNode(config(dir, { loadDataDir: await pgliteTemplate() }))
    await node.close()
    cpSync(join(dir, 'pgdata'), join(tmp.dir, `${n}-disk`), { recursive: true })
    // Three cases acknowledged; the journal on disk holds them when the power goes.
    node = await openNode(config(dir))
    const ids = [(await intake(node)).id, (await intake(node)).id, (await intake(node)).id]
    const journal = Buffer.from(readFileSync(join(dir, readdirSync(dir).filter((f) => /^journal\.\d$/.test(f))[0])))
    await node.close()
    node = null
    rmSync(join(dir, 'pgdata'), { recursive: true, force: true })
    cpSync(join(tmp.dir, `${n}-disk`), join(dir, 'pgdata'), { recursive: true })
    for (const f of readdirSync(dir).filter((f) => /^journal\.\d$/.test(f))) rmSync(join(dir, f))

    // One flipped byte in the body of the middle case's record.
    const { records } = parseRecords(journal)
    expect(records.map((r) => r.docId)).toEqual(expect.arrayContaining(ids.map((id) => `case:${id}`)))
    const at = journal.indexOf(`"d":"case:${ids[1]}"`)
    expect(at).toBeGreaterThan(0)
    journal[at + 40] ^= 0x04
    writeFileSync(join(dir, 'journal.0'), journal)

    // 1. Refused, not silent: the message names the bytes skipped and the case they seem to hold.
    const refused = await openNode(config(dir)).then(() => null, (e) => e)
    expect(refused).toBeInstanceOf(JournalLossError)
    expect(refused.message).toContain(`case:${ids[1]}, which the store does NOT hold`)
    expect(refused.message).toContain('--accept-journal-loss')
    expect(refused.message).toMatch(/journal\.0 bytes \d+–\d+/)
    expect(readFileSync(join(dir, 'journal.0')), 'a refused start leaves the journal as it was').toEqual(journal)

    // 2. The CLI says the same and exits 2 (no stack trace).
    const cli = await runCli(startArgs({ level: 'village', code: VILLAGE, name: '长青村', data: dir, extra: ['--insecure-http'] }))
    expect(cli.code, cli.stdout + cli.stderr).toBe(2)
    expect(cli.stderr).toContain('--accept-journal-loss')
    expect(cli.stderr).toContain(`case:${ids[1]}`)

    // 3. With the flag: the good records are replayed (cases 1 and 3), the skipped one is logged, the files are kept.
    const logged: string[] = []
    const spy = console.error
    console.error = (...a: unknown[]) => void logged.push(a.map(String).join(' '))
    try {
      node = await openNode(config(dir, { acceptJournalLoss: true }))
    } finally {
      console.error = spy
    }
    expect(await node.cases.get(ids[0])).toMatchObject({ id: ids[0], itemCode: 'V-P01', applicant })
    expect(await node.cases.get(ids[2])).toMatchObject({ id: ids[2], itemCode: 'V-P01', applicant })
    expect(await node.cases.get(ids[1])).toBeNull()
    expect(logged.join('\n')).toContain(`case:${ids[1]}`)
    const kept = readdirSync(dir).filter((f) => f.includes('.damaged-'))
    expect(kept).toHaveLength(1)
    expect(readFileSync(join(dir, kept[0]))).toEqual(journal)
    // A new case after it gets a number after every one given out (case 2's is not reused).
    const next = (await intake(node)).id
    expect(Number(next.split('-')[2])).toBeGreaterThan(Number(ids[2].split('-')[2]))
  })

  it('a torn tail alone (nothing good after it) is cut and the node starts: it was never acknowledged', async () => {
    const dir = freshDir()
    node = await openNode(config(dir, { loadDataDir: await pgliteTemplate() }))
    const id = (await intake(node)).id
    await node.close()
    node = null
    writeFileSync(join(dir, 'journal.0'), Buffer.concat([encodeRecord({ docId: `case:${id}`, origin: 'local', update: new Uint8Array([0]) }).subarray(0, 25)]))
    node = await openNode(config(dir))
    expect(await node.cases.get(id)).toMatchObject({ id })
  })
})

/** The journal's file operations with a switchable full disk. */
function fullDisk(): { io: JournalIo; on: { write: boolean; partial: boolean; sync: boolean }; writes: number } {
  const state = { io: null as unknown as JournalIo, on: { write: false, partial: false, sync: false }, writes: 0 }
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 })
  state.io = {
    write(fd, buf, pos) {
      state.writes++
      if (state.on.partial && buf.length > 8) {
        // Half the bytes make it, then the disk is full (as write(2) may do).
        defaultJournalIo.write(fd, buf.subarray(0, buf.length >> 1), pos)
        throw enospc()
      }
      if (state.on.write) throw enospc()
      return defaultJournalIo.write(fd, buf, pos)
    },
    sync(fd, done) {
      if (state.on.sync) return setImmediate(() => done(Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' })))
      defaultJournalIo.sync(fd, done)
    },
  }
  return state
}

describe('a full disk under the journal: the answer and the store agree', { timeout: 300_000 }, () => {
  let node: TongbanNode | null = null
  afterEach(async () => {
    await node?.close().catch(() => {})
    node = null
  })

  async function serve(dir: string, io?: JournalIo, template = true) {
    node = await openNode(config(dir, { journalIo: io, ...(template ? { loadDataDir: await pgliteTemplate() } : {}) }))
    if (!(await node.users.list()).some((u) => u.name === 'agent')) await node.users.add({ name: 'agent', role: 'agent', password: TEST_PASSWORD })
    const { token } = await node.users.login({ name: 'agent', password: TEST_PASSWORD })
    const app = createApp(node, { extend: PRESETS.village.extend })
    return async (method: string, path: string, body?: unknown, key?: string) => {
      const res = await app.request(path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() as any, replayed: res.headers.get('idempotent-replayed') === 'true' }
    }
  }
  const application = (itemCode = 'V-P01') => ({ itemCode, applicant, materials: requiredOf(itemCode) })
  const journalDamage = (dir: string) => readdirSync(dir).filter((f) => /^journal\.\d$/.test(f)).flatMap((f) => parseRecords(readFileSync(join(dir, f))).damage)

  for (const mode of ['write', 'partial'] as const) {
    it(`ENOSPC on the journal ${mode === 'write' ? 'write' : 'write after half the bytes'}: 503 "nothing was stored", and nothing is — before and after a restart`, async () => {
      const dir = freshDir()
      const disk = fullDisk()
      const api = await serve(dir, disk.io)
      const before = await api('POST', '/api/cases', application())
      expect(before.status).toBe(201)

      disk.on[mode] = true
      const r = await api('POST', '/api/cases', application(), 'k-full-1')
      expect(r.status, JSON.stringify(r.body)).toBe(503)
      expect(r.body.error.details).toEqual({ stored: false })
      expect(r.body.error.message).toMatch(/ENOSPC.*nothing was stored/)
      const act = await api('POST', `/api/cases/${before.body.id}/events`, { type: 'approved' })
      expect(act.status).toBe(503)

      // The store agrees: no new case, no event, and no torn bytes left in the journal.
      const list = await api('GET', '/api/cases')
      expect(list.body.cases.map((c: any) => c.id)).toEqual([before.body.id])
      expect((await api('GET', `/api/cases/${before.body.id}`)).body.events.map((e: any) => e.type)).not.toContain('approved')
      expect(journalDamage(dir)).toEqual([])

      // Room again: the same key was never recorded, so the retry stores the case now — once.
      disk.on[mode] = false
      const retry = await api('POST', '/api/cases', application(), 'k-full-1')
      expect(retry.status).toBe(201)
      expect(retry.replayed).toBe(false)
      const again = await api('POST', '/api/cases', application(), 'k-full-1')
      expect(again).toMatchObject({ status: 201, replayed: true, body: retry.body })

      // And after a restart, the same two cases.
      await node!.close()
      node = null
      const api2 = await serve(dir, undefined, false)
      expect((await api2('GET', '/api/cases')).body.cases.map((c: any) => c.id).sort()).toEqual([before.body.id, retry.body.id].sort())
    })
  }

  it('ENOSPC on the sync: 503 "unconfirmed"; the retry with the same key answers the first case once the disk has room, and the journal holds it', async () => {
    const dir = freshDir()
    const disk = fullDisk()
    const api = await serve(dir, disk.io)
    disk.on.sync = true
    const first = await api('POST', '/api/cases', application(), 'k-sync-1')
    expect(first.status, JSON.stringify(first.body)).toBe(503)
    expect(first.body.error.details).toEqual({ stored: 'unconfirmed' })
    expect(first.body.error.message).toContain('same Idempotency-Key')

    // Still full: the retry cannot confirm either, and says so again (it stores nothing new).
    const still = await api('POST', '/api/cases', application(), 'k-sync-1')
    expect(still.status).toBe(503)

    disk.on.sync = false
    const retry = await api('POST', '/api/cases', application(), 'k-sync-1')
    expect(retry.status).toBe(201)
    expect(retry.replayed).toBe(true)
    const list = (await api('GET', '/api/cases')).body.cases
    expect(list.map((c: any) => c.id)).toEqual([retry.body.id])
    // What a power cut now would replay holds the case, readably, with no damage.
    const files = readdirSync(dir).filter((f) => /^journal\.\d$/.test(f))
    const replay = files.flatMap((f) => parseRecords(readFileSync(join(dir, f))).records.map((r) => r.docId))
    expect(replay).toContain(`case:${retry.body.id}`)
    expect(journalDamage(dir)).toEqual([])
  })
})

describe('Idempotency-Key: a retry stores once', { timeout: 300_000 }, () => {
  let node: TongbanNode | null = null
  afterAll(async () => node?.close())

  it('intake and action retried, sequentially and concurrently; a key cannot name another request; keys are per user', async () => {
    node = await openNode(config(freshDir(), { loadDataDir: await pgliteTemplate() }))
    for (const name of ['agent', 'agent2']) await node.users.add({ name, role: 'agent', password: TEST_PASSWORD })
    const app = createApp(node, { extend: PRESETS.village.extend })
    const tokens = Object.fromEntries(await Promise.all(['agent', 'agent2'].map(async (u) => [u, (await node!.users.login({ name: u, password: TEST_PASSWORD })).token])))
    const call = async (user: string, method: string, path: string, body: unknown, key?: string) => {
      const res = await app.request(path, { method, headers: { authorization: `Bearer ${tokens[user]}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) }, body: JSON.stringify(body) })
      return { status: res.status, body: (await res.json()) as any }
    }
    const app1 = { itemCode: 'V-P01', applicant, materials: requiredOf('V-P01') }

    const a = await call('agent', 'POST', '/api/cases', app1, 'intake-1')
    const b = await call('agent', 'POST', '/api/cases', app1, 'intake-1')
    expect(a.status).toBe(201)
    expect(b).toEqual(a)

    // Concurrent twins: one case.
    const twins = await Promise.all([1, 2, 3].map(() => call('agent', 'POST', '/api/cases', app1, 'intake-2')))
    expect(twins.map((t) => t.status)).toEqual([201, 201, 201])
    expect(new Set(twins.map((t) => t.body.id)).size).toBe(1)

    // The same key for another request: refused, nothing stored.
    const other = await call('agent', 'POST', '/api/cases', { ...app1, itemCode: 'V-I01', materials: requiredOf('V-I01') }, 'intake-1')
    expect(other.status).toBe(409)
    expect(other.body.error.message).toMatch(/different request/)

    // Another user's key of the same name is their own.
    const mine = await call('agent2', 'POST', '/api/cases', app1, 'intake-1')
    expect(mine.status).toBe(201)
    expect(mine.body.id).not.toBe(a.body.id)

    // An action retried: one event (a second `approved` would be refused by the state machine without the key).
    const act1 = await call('agent', 'POST', `/api/cases/${a.body.id}/events`, { type: 'approved' }, 'act-1')
    const act2 = await call('agent', 'POST', `/api/cases/${a.body.id}/events`, { type: 'approved' }, 'act-1')
    expect(act1.status).toBe(200)
    expect(act2.status).toBe(200)
    expect(act2.body.status).toBe('approved')
    expect(act2.body.events.filter((e: any) => e.type === 'approved')).toHaveLength(1)

    const all = await call('agent', 'GET' as any, '/api/cases', undefined)
    expect(all.body.total).toBe(3)
    expect(existsSync(node.config.dataDir)).toBe(true)
  })
})
