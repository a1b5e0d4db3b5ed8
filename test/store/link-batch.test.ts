/**
 * A link's batch at the receiver (DocStore.applyBatch with the scope check): its cost is per
 * batch, not per case — the held documents read in one query, the case updates stored in one
 * statement, each case projected once — and every rule still holds per update: a case and an
 * event on it in the same batch, a resend in the batch, a forged case among good ones (refused,
 * no trace), an event checked against a case read back from the store, 并联 opinions in the
 * projection's statement, a batch declined by its count of new documents (the link's quota), and
 * the store's warm-up at start (nothing kept).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { insertedValues, makeRefuse } from '../../nodes/core/link/scope-check.ts'
import { foldDoc } from '../../nodes/core/docs/case-doc.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import type { Queryable } from '../../nodes/core/store/db.ts'
import { WorkingDays, type Application } from '../../protocol/index.ts'
import { caseUpdate, enroll, identity, signedApplication, signedEvent, type Identity } from '../helpers/link-client.ts'
import { applicant } from '../helpers/node.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'

const tmp = tempDir('tongban-link-batch-')
const TOWN = '511302101000'
let town: RunningNode
let village: Identity
let refuse: ReturnType<typeof makeRefuse>
const origin = () => `child:${village.code}` as const

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  village = identity('511302101201')
  const r = await enroll(town.url, village, enrollChild(join(tmp.dir, 'town'), TOWN, village.code))
  if (r.status !== 200) throw new Error(`enrollment refused (${r.status})`)
  refuse = makeRefuse(TOWN, village.code, true, town.node.trust, town.node.docs)
}, 300_000)

afterAll(async () => {
  await town?.stop()
  tmp.cleanup()
})

function application(n: number, signer = village.keys): Application {
  return signedApplication({
    id: `${village.code}-20261123-${String(n).padStart(4, '0')}`, itemCode: 'T-001', itemVersion: 1, applicant, materials: [],
    originCode: village.code, handlerCode: TOWN, createdAt: new Date().toISOString(), createdBy: 'agent', kind: 'promised', promisedDays: 5,
  } as never, signer)
}

function newCase(n: number, signer = village.keys, parallel?: { department: string; days: number }[]): { docId: string; update: Uint8Array; state: Uint8Array } {
  const app = parallel ? signedApplication({ ...application(n, signer), sig: undefined, parallel } as never, signer) : application(n, signer)
  return { docId: `case:${app.id}`, ...caseUpdate((d) => d.getMap('case').set('application', app)) }
}

const attached = (lamport: number) => signedEvent({ type: 'attached', hash: 'a'.repeat(64), size: 10, mime: 'image/jpeg', name: '申请表.jpg', lamport, author: village.code, user: 'agent', at: new Date().toISOString() } as never, village.keys)

/** The statements of the store's transaction that read `docId` (the batch's own, not the publishers' running beside it). */
async function statementsOf<T>(docId: string, fn: () => Promise<T>): Promise<{ out: T; statements: number }> {
  const db = town.node.db
  const original = db.transaction
  const txs: { sql: string; params?: unknown[] }[][] = []
  db.transaction = ((work: (tx: Queryable) => Promise<unknown>) => {
    const seen: { sql: string; params?: unknown[] }[] = []
    txs.push(seen)
    return original.call(db, (tx: Queryable) => work({
      query: (sql: string, params?: unknown[]) => {
        seen.push({ sql, params })
        return tx.query(sql, params)
      },
    } as Queryable))
  }) as typeof db.transaction
  try {
    const out = await fn()
    const mine = txs.filter((t) => t.some((q) => JSON.stringify(q.params ?? []).includes(docId)))
    expect(mine).toHaveLength(1)
    return { out, statements: mine[0].length }
  } finally {
    db.transaction = original
  }
}

const caseRows = async (ids: string[]) => (await town.node.db.query<{ id: string }>('SELECT id FROM cases WHERE id = ANY($1::text[])', [ids])).map((r) => r.id)

describe("a link's batch at the receiver", () => {
  it('stores and projects a batch of new cases in as many statements for 40 cases as for 8', async () => {
    const small = Array.from({ length: 8 }, (_, i) => newCase(100 + i))
    const large = Array.from({ length: 40 }, (_, i) => newCase(200 + i))
    const a = await statementsOf(small[0].docId, () => town.node.docs.applyBatch(small, origin(), { refuse }))
    const b = await statementsOf(large[0].docId, () => town.node.docs.applyBatch(large, origin(), { refuse }))
    expect(a.out.refused).toEqual([])
    expect(b.out.refused).toEqual([])
    expect(a.out.stored).toHaveLength(8)
    expect(b.out.stored).toHaveLength(40)
    // In order: the sequence follows the batch.
    expect(b.out.stored.map((s) => s.docId)).toEqual(large.map((c) => c.docId))
    expect(b.statements).toBe(a.statements)
    expect(b.statements).toBeLessThanOrEqual(4)
    expect((await caseRows(large.map((c) => c.docId.slice(5)))).length).toBe(40)
    const routes = await town.node.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM doc_routes WHERE doc_id = ANY($1::text[])`, [large.map((c) => c.docId)])
    expect(routes[0].n).toBe(40)
  })

  it("projects each 并联 department's opinion of a batch in the batch's statements, beside cases without any", async () => {
    const plain = Array.from({ length: 6 }, (_, i) => newCase(1100 + i))
    const depts = [{ department: '自然资源所', days: 5 }, { department: '农业服务中心', days: 3 }]
    const mixed = [newCase(1200), newCase(1201, village.keys, depts), newCase(1202), newCase(1203, village.keys, depts.slice(1)), newCase(1204), newCase(1205)]
    const a = await statementsOf(plain[0].docId, () => town.node.docs.applyBatch(plain, origin(), { refuse }))
    const b = await statementsOf(mixed[0].docId, () => town.node.docs.applyBatch(mixed, origin(), { refuse }))
    expect(b.out.refused).toEqual([])
    expect(b.out.stored).toHaveLength(6)
    // No statement more for the opinions: they ride in the projection's.
    expect(b.statements).toBe(a.statements)
    expect((await caseRows(mixed.map((c) => c.docId.slice(5)))).length).toBe(6)
    const opinions = await town.node.db.query<{ case_id: string; department: string; agree: boolean | null; open: boolean }>(
      'SELECT case_id, department, agree, open FROM case_opinions WHERE case_id = ANY($1::text[]) ORDER BY case_id, department', [mixed.map((c) => c.docId.slice(5))])
    expect(opinions.map((o) => `${o.case_id.slice(-4)} ${o.department} ${o.agree} ${o.open}`)).toEqual([
      '1201 农业服务中心 null false', '1201 自然资源所 null false', '1203 农业服务中心 null false',
    ])
  })

  it("admits a batch by the documents it would create, read with the held ones: declined, nothing of it is applied", async () => {
    const known = newCase(1300)
    expect((await town.node.docs.applyBatch([known], origin(), { refuse })).refused).toEqual([])
    town.node.docs.clearCache() // read back from the store, as after a restart
    const batch = [newCase(1301), { docId: known.docId, update: caseUpdate((d) => d.getArray('events').push([attached(1)]), known.state).update }, newCase(1302)]
    const told: string[][] = []
    const declined = await statementsOf(batch[0].docId, () => town.node.docs.applyBatch(batch, origin(), { refuse, admit: (fresh) => (told.push(fresh), false) }))
    expect(told).toEqual([[batch[0].docId, batch[2].docId]]) // the held case is not new
    expect(declined.out).toMatchObject({ stored: [], refused: [], declined: true })
    expect(await caseRows([batch[0].docId.slice(5), batch[2].docId.slice(5)])).toEqual([])
    expect(await town.node.docs.has(batch[0].docId)).toBe(false)
    const events = await town.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM case_events WHERE case_id = $1', [known.docId.slice(5)])
    expect(events[0].n).toBe(0)
    // Admitted: applied, and the answer names the documents it created.
    const admitted = await town.node.docs.applyBatch(batch, origin(), { refuse, admit: () => true })
    expect(admitted.stored).toHaveLength(3)
    expect(admitted.fresh).toEqual([batch[0].docId, batch[2].docId])
  })

  it('warms up the receive path in a transaction rolled back: the projection ran, and nothing is kept', async () => {
    const db = town.node.db
    const count = async () => (await db.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM cases) || '/' || (SELECT count(*) FROM case_opinions) || '/' || (SELECT count(*) FROM doc_routes) || '/' ||
        (SELECT coalesce(sum(n), 0) FROM case_tally) || '/' || (SELECT count(*) FROM doc_updates) AS n`))[0].n
    const before = await count()
    const original = db.transaction
    const seen: { sql: string; cases?: number; seq: string }[] = []
    // The sequence moves outside transactions (a row rolled back keeps its number taken): read it in the warm-up's own.
    const seqNow = async (tx: Queryable) => (await tx.query<{ s: string }>(`SELECT last_value || '/' || is_called AS s FROM doc_updates_seq_seq`))[0].s
    db.transaction = ((work: (tx: Queryable) => Promise<unknown>) => original.call(db, async (tx: Queryable) => {
      const seq0 = await seqNow(tx)
      return work({
        query: async (sql: string, params?: unknown[]) => {
          const rows = await tx.query(sql, params)
          // Inside the warm-up's transaction, right after each statement: the projection's case is there, no number taken.
          seen.push({ sql, cases: sql.includes('jsonb_populate_record') ? (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM cases'))[0].n : undefined, seq: `${seq0} ${await seqNow(tx)}` })
          return rows
        },
      } as Queryable)
    })) as typeof db.transaction
    try {
      await town.node.docs.warm()
    } finally {
      db.transaction = original
    }
    const projection = seen.find((q) => q.sql.includes('jsonb_populate_record'))
    expect(projection?.cases).toBe(Number(before.split('/')[0]) + 1)
    for (const q of seen) expect(q.seq.split(' ')[1]).toBe(q.seq.split(' ')[0])
    expect(await count()).toBe(before)
  })

  it('projects a batch without reading every route held: the routes it holds are looked up by key', async () => {
    const batch = Array.from({ length: 8 }, (_, i) => newCase(900 + i))
    const seen: { sql: string; params?: unknown[] }[] = []
    const db = town.node.db
    const original = db.transaction
    db.transaction = ((work: (tx: Queryable) => Promise<unknown>) => original.call(db, (tx: Queryable) => work({
      query: (sql: string, params?: unknown[]) => {
        seen.push({ sql, params })
        return tx.query(sql, params)
      },
    } as Queryable))) as typeof db.transaction
    try {
      expect((await town.node.docs.applyBatch(batch, origin(), { refuse })).refused).toEqual([])
    } finally {
      db.transaction = original
    }
    const projection = seen.find((q) => q.sql.trimStart().startsWith('WITH input AS'))!
    expect(projection).toBeDefined()
    const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${projection.sql}`, projection.params)).map((r) => r['QUERY PLAN']).join('\n')
    expect(plan).toContain('doc_routes')
    expect(plan).not.toMatch(/Seq Scan on doc_routes/)
  })

  it('takes a case and an event on it in one batch, and stores a resend in the same batch once', async () => {
    const c = newCase(300)
    const ev = caseUpdate((d) => d.getArray('events').push([attached(1)]), c.state)
    const { stored, refused } = await town.node.docs.applyBatch([c, { docId: c.docId, update: ev.update }, c], origin(), { refuse })
    expect(refused).toEqual([])
    expect(stored.map((s) => s.docId)).toEqual([c.docId, c.docId])
    const rows = await town.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM doc_updates WHERE doc_id = $1', [c.docId])
    expect(rows[0].n).toBe(2)
    // The event is folded into the case row's projection (the attachment lane reads it there).
    const events = await town.node.db.query<{ type: string }>('SELECT type FROM case_events WHERE case_id = $1', [c.docId.slice(5)])
    expect(events.map((e) => e.type)).toEqual(['attached'])
    // The whole batch again: nothing new.
    const again = await town.node.docs.applyBatch([c, { docId: c.docId, update: ev.update }], origin(), { refuse })
    expect(again.stored).toEqual([])
    expect(again.refused).toEqual([])
  })

  it('refuses a forged case among good ones and leaves no trace of it', async () => {
    const good = [newCase(400), newCase(401)]
    const forged = newCase(402, identity('511302101299').keys)
    const { stored, refused } = await town.node.docs.applyBatch([good[0], forged, good[1]], origin(), { refuse })
    expect(stored.map((s) => s.docId)).toEqual(good.map((c) => c.docId))
    expect(refused).toHaveLength(1)
    expect(refused[0].docId).toBe(forged.docId)
    expect(refused[0].reason).toMatch(/signature/)
    expect(await town.node.docs.has(forged.docId)).toBe(false)
    expect(await caseRows([forged.docId.slice(5)])).toEqual([])
  })

  it('checks an event against the case as stored, when the case is no longer in memory', async () => {
    const c = newCase(500)
    const first = caseUpdate((d) => d.getArray('events').push([attached(2)]), c.state)
    expect((await town.node.docs.applyBatch([c, { docId: c.docId, update: first.update }], origin(), { refuse })).refused).toEqual([])
    town.node.docs.clearCache()
    // Back-dated: the village's own earlier event on this case has Lamport clock 2.
    const late = caseUpdate((d) => d.getArray('events').push([attached(1)]), first.state)
    const { stored, refused } = await town.node.docs.applyBatch([{ docId: c.docId, update: late.update }], origin(), { refuse })
    expect(stored).toEqual([])
    expect(refused[0].reason).toMatch(/Lamport clock 1, not above/)
  })

  it('checks each signature of a batch once: the projection believes the values the link checked', async () => {
    const batch = Array.from({ length: 4 }, (_, i) => newCase(700 + i))
    const withEvents = batch.map((c, i) => ({ docId: c.docId, update: caseUpdate((d) => d.getArray('events').push([attached(1 + i)]), c.state).update }))
    const entries = batch.flatMap((c, i) => [c, withEvents[i]])
    const sigs = new Set<string>()
    for (const e of entries) for (const v of insertedValues(e.update)) sigs.add((v as { sig: string }).sig)
    expect(sigs.size).toBe(8)
    const trust = town.node.trust
    const { verify, verifyAhead } = trust
    const seen = new Map<string, number>()
    const count = (sig: string) => void (sigs.has(sig) && seen.set(sig, (seen.get(sig) ?? 0) + 1))
    trust.verify = (key, text, sig) => {
      count(sig)
      return verify.call(trust, key, text, sig)
    }
    // Verified ahead on the thread pool (one key each here), or on this thread: once either way.
    trust.verifyAhead = (kind, value, author, sig) => {
      const started = verifyAhead.call(trust, kind, value, author, sig)
      if (started) count(sig)
      return started
    }
    try {
      const { stored, refused } = await town.node.docs.applyBatch(entries, origin(), { refuse, applied: refuse.applied, announce: false })
      expect(refused).toEqual([])
      expect(stored).toHaveLength(8)
    } finally {
      trust.verify = verify
      trust.verifyAhead = verifyAhead
    }
    // Once each, at the link's check: the projection's fold asked for none of them again.
    expect([...seen.values()]).toEqual(Array(8).fill(1))
    const rows = await town.node.db.query<{ flagged: number }>('SELECT flagged FROM cases WHERE id = ANY($1::text[])', [batch.map((c) => c.docId.slice(5))])
    expect(rows.map((r) => r.flagged)).toEqual([0, 0, 0, 0])
  })

  it('does not take a good value sent again at the id of a forged one held as believed', async () => {
    const c = newCase(800)
    expect((await town.node.docs.applyBatch([c], origin(), { refuse })).refused).toEqual([])
    const good = attached(1)
    const forged = { ...good, name: '伪造.jpg' } // its id and signature copied: the id is not the hash of this content
    // Two writers with one Yjs client id: the same (client, clock) holds the forged value in one, the good one in the other.
    const at = (value: unknown) => caseUpdate((d) => {
      d.clientID = 4242
      d.getArray('events').push([value])
    }, c.state)
    // Held from before the checks (stored without them), and flagged by the fold.
    await town.node.docs.applyBatch([{ docId: c.docId, update: at(forged).update }], origin())
    const fold = async () => foldDoc(await town.node.docs.get(c.docId), town.node.trust, new WorkingDays([]))!.folded.flagged.map((f) => f.eventId)
    expect(await fold()).toEqual([good.id])
    const { refused } = await town.node.docs.applyBatch([{ docId: c.docId, update: at(good).update }], origin(), { refuse, applied: refuse.applied })
    expect(refused).toEqual([])
    // The document still holds the forged value at that id (Yjs keeps what it had), and it is still not believed.
    expect((await town.node.docs.get(c.docId)).getArray('events').toArray()).toEqual([forged])
    expect(await fold()).toEqual([good.id])
  })

  it('tells the listeners only when announced, once for each stored update', async () => {
    const heard: string[] = []
    const on = (u: { docId: string }) => void (u.docId.startsWith('case:') && heard.push(u.docId)) // the statistics publisher writes too
    town.node.docs.on('update', on)
    try {
      const batch = [newCase(600), newCase(601)]
      const { stored } = await town.node.docs.applyBatch(batch, origin(), { refuse, announce: false })
      expect(heard).toEqual([])
      await town.node.docs.announce(stored)
      expect(heard).toEqual(batch.map((c) => c.docId))
    } finally {
      town.node.docs.off('update', on)
    }
  })

  it("verifies a batch's signatures on the thread pool, with the verdicts of this thread's check", async () => {
    const stranger = identity('511302101299')
    const outside = identity('511302102201') // another township's village: outside this child's subtree
    const batch = [
      newCase(1000), newCase(1001, stranger.keys), newCase(1002),
      // Well formed and signed by its origin, but not this child's to send.
      (() => {
        const app = signedApplication({ ...application(1003), id: `${outside.code}-20261123-1003`, originCode: outside.code } as never, outside.keys)
        return { docId: `case:${app.id}`, ...caseUpdate((d) => d.getMap('case').set('application', app)) }
      })(),
      // Malformed: no signature at all.
      (() => {
        const { sig: _sig, ...app } = application(1004)
        return { docId: `case:${app.id}`, ...caseUpdate((d) => d.getMap('case').set('application', app)) }
      })(),
      newCase(1005),
    ]
    const trust = town.node.trust
    const verify = trust.verify
    let onThisThread = 0
    trust.verify = (key, text, sig) => {
      onThisThread++
      return verify.call(trust, key, text, sig)
    }
    let pooled: Awaited<ReturnType<typeof town.node.docs.applyBatch>>
    try {
      pooled = await town.node.docs.applyBatch(batch, origin(), { refuse, applied: refuse.applied })
    } finally {
      trust.verify = verify
    }
    // Every signature checked was answered by the pool: none on this thread.
    expect(onThisThread).toBe(0)
    expect(pooled.stored.map((s) => s.docId)).toEqual([batch[0], batch[2], batch[5]].map((c) => c.docId))
    // The same batch checked on this thread alone (a check without `prepare`) refuses the same updates, for the same reasons.
    const plainRefuse = makeRefuse(TOWN, village.code, true, town.node.trust, town.node.docs)
    const plain = await town.node.docs.applyBatch(batch, origin(), { refuse: (e, tx, held) => plainRefuse(e, tx, held) })
    expect(plain.refused).toEqual(pooled.refused)
    expect(pooled.refused.map((r) => r.docId)).toEqual([batch[1], batch[3], batch[4]].map((c) => c.docId))
    expect(pooled.refused[0].reason).toMatch(/signature is not/)
    expect(pooled.refused[1].reason).toMatch(/outside/)
    expect(pooled.refused[2].reason).toMatch(/malformed application/)
  })
})
