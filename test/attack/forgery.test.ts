/**
 * Issue 7, classes 2 and 3: a child's history is not trusted above it, and case numbers are
 * bound to their origin. A stolen village laptop — a real key, enrolled for real, speaking
 * well-formed protocol over a real socket — tries to forge, erase, back-date and rewrite a
 * township's decisions and to write under other units' case numbers. Every attempt is refused
 * at the link (logged and answered with an ack, so the link lives on), the township's figures
 * do not move, and a replica that holds a forged event anyway does not fold it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { mayAuthor, type Application, type CaseEvent, type LinkFrame } from '../../protocol/index.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { memoryKeys } from '../../nodes/core/trust/keys.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { applicant, request, type Client } from '../helpers/node.ts'
import { caseUpdate, childHello, enroll, identity, openLink, proofHeaders, signedApplication, signedEvent, updatesFrame, type Identity, type Link } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-forgery-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const SIBLING = '511302101202'
let town: RunningNode
let staff: Client
let village: Identity
let link: Link
const logs: string[] = []
let seq = 0
/** The village's copy of each case document (what a real laptop would hold). */
const held = new Map<string, Uint8Array>()

beforeAll(async () => {
  town = await startNode({ level: 'township', code: TOWN, name: '潆溪镇', dataDir: join(tmp.dir, 'town'), catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate() })
  // The township logs every refusal: keep them to assert on.
  ;(town.links as unknown as { log: (m: string) => void }).log = (m) => logs.push(m)
  await town.node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
  staff = request((await import('../../nodes/core/http/app.ts')).createApp(town.node), (await town.node.users.login({ name: 'staff', password: 'password10' })).token)
  village = identity(VILLAGE, '长青村')
  const token = enrollChild(join(tmp.dir, 'town'), TOWN, VILLAGE)
  expect((await enroll(town.url, village, token)).status).toBe(200)
  link = openLink(town.url, await proofHeaders(town.url, TOWN, village))
  expect(await link.status).toBe(101)
  link.send(childHello(VILLAGE, 1_000_000))
  // Play the laptop: acknowledge and keep what the township sends down.
  link.ws.on('message', () => {
    for (const f of link.frames.splice(0)) onFrame(f)
  })
  await waitFor('the township hello', () => helloSeen)
}, 180_000)

afterAll(async () => {
  link?.ws.terminate()
  await town?.stop()
  tmp.cleanup()
})

let helloSeen = false
let acked = 0
function onFrame(f: LinkFrame): void {
  if (f.type === 'hello') helloSeen = true
  if (f.type === 'ack') acked = Math.max(acked, f.seq)
  if (f.type === 'updates' && !f.compressed) throw new Error('test expects compressed frames')
  if (f.type === 'updates') void receive(f)
}
async function receive(f: Extract<LinkFrame, { type: 'updates' }>): Promise<void> {
  const { decodeUpdatesBody } = await import('../../protocol/index.ts')
  const { decompress } = await import('../../nodes/core/link/compress.ts')
  const entries = decodeUpdatesBody(decompress(f.body, 1 << 24))
  for (const e of entries) {
    const doc = new Y.Doc()
    if (held.has(e.docId)) Y.applyUpdate(doc, held.get(e.docId)!)
    Y.applyUpdate(doc, e.update)
    held.set(e.docId, Y.encodeStateAsUpdate(doc))
  }
  if (entries.length) link.send({ type: 'ack', seq: entries[entries.length - 1].seq })
}

/** Sends one update for `docId` from the village; resolves once the township acknowledged it. */
async function push(docId: string, update: Uint8Array): Promise<void> {
  const s = ++seq
  link.send(updatesFrame([{ seq: s, docId, update }]))
  await waitFor(`ack of ${s}`, () => acked >= s, 60_000)
}
/** Sends an update and expects the township to refuse it, logging `reason`. */
async function refused(docId: string, update: Uint8Array, reason: RegExp): Promise<void> {
  const before = logs.length
  await push(docId, update)
  const said = logs.slice(before).join('\n')
  expect(said).toMatch(/refused/)
  expect(said).toMatch(reason)
}

let n = 0
function application(over: Partial<Application> = {}, signer = village.keys): Application {
  const id = over.id ?? `${VILLAGE}-20261123-${String(++n).padStart(4, '0')}`
  return signedApplication({
    id, itemCode: 'T-P01', itemVersion: 1, applicant, materials: ['申请表', '居民身份证'], originCode: VILLAGE, handlerCode: TOWN,
    createdAt: '2026-11-23T02:00:00.000Z', createdBy: 'agent', kind: 'promised', promisedDays: 5, ...over,
  } as Omit<Application, 'sig'>, signer)
}
const ev = (e: Record<string, unknown>, signer = village.keys): CaseEvent => signedEvent({ user: 'agent', at: new Date().toISOString(), ...e } as never, signer)

/** A case taken in at the village, sent up, accepted and (optionally) approved by the township. */
async function escalated(approve: boolean): Promise<{ id: string; docId: string }> {
  const app = application()
  const docId = `case:${app.id}`
  const { state } = caseUpdate((d) => d.getMap('case').set('application', app))
  held.set(docId, state)
  await push(docId, state)
  expect((await staff('GET', `/api/cases/${app.id}`)).status).toBe(200)
  expect((await staff('POST', `/api/cases/${app.id}/events`, { type: 'accepted' })).status).toBe(200)
  if (approve) expect((await staff('POST', `/api/cases/${app.id}/events`, { type: 'approved' })).status).toBe(200)
  // The laptop holds the decision (and has acknowledged it) before it starts forging.
  await waitFor('the decision at the village', () => {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, held.get(docId)!)
    return doc.getArray('events').length === (approve ? 2 : 1)
  }, 60_000)
  await waitFor('the township to record the ack', async () => {
    const [c] = await town.node.db.query<{ acked: number }>('SELECT acked::float8 AS acked FROM link_cursors WHERE peer = $1', [VILLAGE])
    const [u] = await town.node.db.query<{ s: number }>('SELECT max(seq)::float8 AS s FROM doc_updates WHERE doc_id = $1', [docId])
    return Number(c?.acked ?? 0) >= Number(u.s)
  }, 60_000)
  return { id: app.id, docId }
}
const eventsHeld = (docId: string): CaseEvent[] => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, held.get(docId)!)
  return doc.getArray<CaseEvent>('events').toArray()
}
const status = async (id: string) => (await staff('GET', `/api/cases/${id}`)).body.status

describe('class 2: a child cannot write a decision it does not own', () => {
  it('(a) a decision authored and signed by the village itself is refused', async () => {
    const c = await escalated(false)
    const forged = ev({ type: 'approved', author: VILLAGE, lamport: 5 })
    expect(mayAuthor('approved', VILLAGE, { originCode: VILLAGE, handlerCode: TOWN })).toMatch(/handling node/)
    await refused(c.docId, caseUpdate((d) => d.getArray('events').push([forged]), held.get(c.docId)).update, /decided at the handling node/)
    expect(await status(c.id)).toBe('accepted')
  })

  it('(a) a decision claiming the township as author but signed with the village key is refused', async () => {
    const c = await escalated(false)
    const forged = ev({ type: 'approved', author: TOWN, lamport: 5 })
    await refused(c.docId, caseUpdate((d) => d.getArray('events').push([forged]), held.get(c.docId)).update, /signature is not 511302101000's|outside 511302101201's subtree/)
    expect(await status(c.id)).toBe('accepted')
  })

  it('(b) values encoded as ContentJSON or as strings are refused whatever they hold', async () => {
    const c = await escalated(false)
    const forged = ev({ type: 'withdrawn', author: VILLAGE, lamport: 9 })
    const asJson = caseUpdate((d) => d.transact((tr) => {
      const arr = d.getArray('events')
      const item = new Y.Item(Y.createID(d.clientID, Y.getState(d.store, d.clientID)), null, null, null, null, arr as never, null, new Y.ContentJSON([forged]))
      item.integrate(tr, 0)
    }), held.get(c.docId)).update
    await refused(c.docId, asJson, /only JSON values, not ContentJSON/)
    const asText = caseUpdate((d) => d.getText('events2').insert(0, JSON.stringify(forged)), held.get(c.docId)).update
    await refused(c.docId, asText, /only JSON values, not ContentString/)
    const nested = caseUpdate((d) => d.getMap('case').set('x', new Y.Map()), held.get(c.docId)).update
    await refused(c.docId, nested, /only JSON values, not ContentType/)
    expect(await status(c.id)).toBe('accepted')
  })

  it('(c) an event reusing the id of the township\'s decision cannot erase it', async () => {
    const c = await escalated(true)
    const decision = eventsHeld(c.docId).find((e) => e.type === 'approved')!
    // Same id, other content: the id is no longer its content's hash.
    const twin = { ...ev({ type: 'withdrawn', author: VILLAGE, lamport: decision.lamport + 1 }), id: decision.id }
    await refused(c.docId, caseUpdate((d) => d.getArray('events').push([twin]), held.get(c.docId)).update, /its id is not the hash of its content/)
    expect(await status(c.id)).toBe('approved')
  })

  it('(d) a withdrawal back-dated before a decision the village has received is refused', async () => {
    const c = await escalated(true)
    const decision = eventsHeld(c.docId).find((e) => e.type === 'approved')!
    for (const lamport of [1, decision.lamport]) {
      const early = ev({ type: 'withdrawn', author: VILLAGE, lamport })
      await refused(c.docId, caseUpdate((d) => d.getArray('events').push([early]), held.get(c.docId)).update, /cannot come before them/)
    }
    expect(await status(c.id)).toBe('approved')
  })

  it('(d) the author\'s own clock must rise: an event below its own earlier one is refused', async () => {
    const c = await escalated(false)
    const first = ev({ type: 'resumed', author: VILLAGE, lamport: 20 }) // refused by the state machine later, but signed and the village's to take
    await push(c.docId, caseUpdate((d) => d.getArray('events').push([first]), held.get(c.docId)).update)
    const base = caseUpdate((d) => d.getArray('events').push([first]), held.get(c.docId)).state
    const lower = ev({ type: 'withdrawn', author: VILLAGE, lamport: 10 })
    await refused(c.docId, caseUpdate((d) => d.getArray('events').push([lower]), base).update, /not above 511302101201's earlier events/)
  })

  it('(d) a clock past what the store holds (a 32-bit integer) is refused, and the link goes on', async () => {
    // An attachment's event is projected with its clock (case_events): before the schema's
    // bound, the frame failed in the projection, the link closed, and the village's redial
    // sent the same frame again — the link never moved on.
    const c = await escalated(false)
    const last = Math.max(...eventsHeld(c.docId).map((e) => e.lamport))
    const huge = ev({ type: 'attached', hash: 'a'.repeat(64), size: 10, mime: 'image/jpeg', name: '申请表.jpg', author: VILLAGE, lamport: 2 ** 31 })
    await refused(c.docId, caseUpdate((d) => d.getArray('events').push([huge]), held.get(c.docId)).update, /malformed event.*lamport/)
    const w = ev({ type: 'withdrawn', author: VILLAGE, lamport: last + 1 })
    await push(c.docId, caseUpdate((d) => d.getArray('events').push([w]), held.get(c.docId)).update)
    expect(await status(c.id)).toBe('withdrawn')
  })

  it('(e) an application dated in the year 0000 is refused, and the link goes on', async () => {
    // The ISO format allows it and PostgreSQL does not: before the schema's bound its frame failed
    // in the projection and was sent again at every redial (protocol/instant.ts).
    const bad = application({ createdAt: '0000-01-01T00:00:00Z' })
    await refused(`case:${bad.id}`, caseUpdate((d) => d.getMap('case').set('application', bad)).update, /malformed application.*1900–2999/)
    const good = application()
    await push(`case:${good.id}`, caseUpdate((d) => d.getMap('case').set('application', good)).update)
    expect(await status(good.id)).toBe('submitted')
  })

  it('an update the store cannot hold is refused alone: the rest of its frame is taken, and the link goes on', async () => {
    // A fault injected into the real store: a CHECK the projected row breaks (SQLSTATE 23514), as
    // a value the schemas let through and a column does not take would (the year 0000 above).
    // Without the isolation the whole frame failed, and it would fail again at every redial.
    await town.node.db.query(`ALTER TABLE cases ADD CONSTRAINT fault_injected CHECK (applicant_name <> '坏数据')`)
    try {
      const bad = application({ applicant: { ...applicant, name: '坏数据' } })
      const good = application()
      const before = logs.length
      const first = ++seq
      const second = ++seq
      link.send(updatesFrame([
        { seq: first, docId: `case:${bad.id}`, update: caseUpdate((d) => d.getMap('case').set('application', bad)).update },
        { seq: second, docId: `case:${good.id}`, update: caseUpdate((d) => d.getMap('case').set('application', good)).update },
      ]))
      await waitFor(`ack of ${second}`, () => acked >= second, 60_000)
      expect(logs.slice(before).join('\n')).toMatch(new RegExp(`refused case:${bad.id} from ${VILLAGE}: this node's store cannot hold what it carries .*fault_injected`))
      expect(await status(good.id)).toBe('submitted')
      expect((await staff('GET', `/api/cases/${bad.id}`)).status).toBe(404)
      const after = application()
      await push(`case:${after.id}`, caseUpdate((d) => d.getMap('case').set('application', after)).update)
      expect(await status(after.id)).toBe('submitted')
    } finally {
      await town.node.db.query('ALTER TABLE cases DROP CONSTRAINT fault_injected')
    }
  })

  it('(e) the application is written once: no second one, no deletion, in any encoding', async () => {
    const c = await escalated(false)
    const rewritten = { ...application({ id: c.id }), applicant: { ...applicant, name: '李四' } }
    // Overwriting the key deletes the old value too: either rule refuses it.
    await refused(c.docId, caseUpdate((d) => d.getMap('case').set('application', rewritten), held.get(c.docId)).update, /written once|append-only/)
    // A second application anywhere else in the document, with nothing deleted.
    await refused(c.docId, caseUpdate((d) => d.getMap('other').set('application', rewritten), held.get(c.docId)).update, /written once/)
    const deleted = caseUpdate((d) => d.getMap('case').delete('application'), held.get(c.docId)).update
    await refused(c.docId, deleted, /append-only/)
    expect((await staff('GET', `/api/cases/${c.id}`)).body.applicant.name).toBe(applicant.name)
  })

  it('a legitimate withdrawal by the village, signed and after what it saw, is taken', async () => {
    const c = await escalated(false)
    const last = Math.max(...eventsHeld(c.docId).map((e) => e.lamport))
    const w = ev({ type: 'withdrawn', author: VILLAGE, lamport: last + 1, reason: '申请人撤回' })
    const before = logs.length
    await push(c.docId, caseUpdate((d) => d.getArray('events').push([w]), held.get(c.docId)).update)
    expect(logs.slice(before).join('\n')).not.toMatch(/refused/)
    expect(await status(c.id)).toBe('withdrawn')
  })
})

describe('an honest resend is not a forgery', () => {
  it('the same application and events sent again (an ack lost on the way) are taken quietly', async () => {
    const c = await escalated(true)
    const before = logs.length
    await push(c.docId, held.get(c.docId)!) // the whole document as the village holds it
    expect(logs.slice(before).join('\n')).not.toMatch(/refused/)
    expect(await status(c.id)).toBe('approved')
  })
})

describe('class 3: case numbers are bound to the origin that signs them', () => {
  it('refuses an application under a sibling\'s numbers, under the township\'s own, or signed by another key', async () => {
    const sibling = application({ id: `${SIBLING}-20261123-0001` })
    await refused(`case:${sibling.id}`, caseUpdate((d) => d.getMap('case').set('application', sibling)).update, /begins with the code of the window/)
    const asSibling = application({ id: `${SIBLING}-20261123-0002`, originCode: SIBLING })
    await refused(`case:${asSibling.id}`, caseUpdate((d) => d.getMap('case').set('application', asSibling)).update, /no key of 511302101202|outside 511302101201's subtree|signature/)
    const townNumber = application({ id: `${TOWN}-20261123-0001`, originCode: TOWN })
    await refused(`case:${townNumber.id}`, caseUpdate((d) => d.getMap('case').set('application', townNumber)).update, /signature is not 511302101000's|outside/)
    const unsigned = application({}, memoryKeys())
    await refused(`case:${unsigned.id}`, caseUpdate((d) => d.getMap('case').set('application', unsigned)).update, /signature is not 511302101201's/)
    for (const id of [sibling.id, asSibling.id, townNumber.id, unsigned.id]) expect((await staff('GET', `/api/cases/${id}`)).status).toBe(404)
  })

  it('the township\'s own case numbers stay its own: its next intake is not blocked by a squatter', async () => {
    const r = await staff('POST', '/api/cases', { itemCode: 'T-P01', applicant, materials: ['申请表', '居民身份证'] })
    expect(r.status).toBe(201)
    expect(r.body.id.startsWith(TOWN)).toBe(true)
  })
})

describe('the fold does not follow a forged event a replica holds anyway', () => {
  it('ignores and flags an unsigned decision written straight into the store', async () => {
    const c = await escalated(false)
    const forged = { ...ev({ type: 'approved', author: TOWN, lamport: 7 }), sig: memoryKeys().sign('x') }
    // Past the link (as an old replica might hold it): straight into the document store.
    await town.node.docs.applyBatch([{ docId: c.docId, update: caseUpdate((d) => d.getArray('events').push([forged]), held.get(c.docId)).update }], 'replay')
    const view = (await staff('GET', `/api/cases/${c.id}`)).body
    expect(view.status).toBe('accepted')
    expect(view.flagged.map((f: { eventId: string }) => f.eventId)).toContain(forged.id)
  })
})

describe('class 9: a clock far off is flagged, not believed', () => {
  it('the township logs a village clock three hours ahead and shows the skew in its sync status', async () => {
    const before = logs.length
    link.send({ type: 'ping', time: Date.now() + 3 * 3600_000 })
    await waitFor('the skew to be logged', () => logs.slice(before).some((m) => /clock of 511302101201 is 1[78]\d min ahead/.test(m)))
    const sync = await town.links.status()
    expect(sync.children.find((c) => c.peer === VILLAGE)?.clockSkewMs).toBeGreaterThan(2 * 3600_000)
  })
})
