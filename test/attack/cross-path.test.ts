/**
 * Issue 8 on the rules of issue 7: a case decided in another subtree is relayed by the units
 * between (the lowest common ancestor and those on the way), which may act on nothing, and it
 * reaches no node off its path. A real county node (顺庆区) with two enrolled townships played by
 * real keys over real sockets: 潆溪镇 (T1, with its village 长青村 vouched in the directory) and
 * 芦溪镇 (T2). Each hostile move is refused at the link, logged, and answered (acked), and the
 * county's copy does not move:
 * - a relaying node authors a decision or a transfer on a case it only relays;
 * - a child sends a case whose path does not include the receiver, or one taken in outside its
 *   subtree;
 * - a node off the path asks for the case by state vector (the repair pass's question).
 * And the honest path works: the county relays the case down to the handler's township.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { signingText, type Application, type CaseEvent, type DirectoryEntry } from '../../protocol/index.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { applicant, request, type Client } from '../helpers/node.ts'
import { caseUpdate, identity, signedApplication, signedEvent, type Identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { hostileChildren, type Child } from './children.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-cross-')
const COUNTY = '511302000000'
const T1 = '511302101000'
const T2 = '511302102000'
const T3 = '511302103000'
const V1 = '511302101201'
let county: RunningNode
let staff: Client

const { logs, listen, connect, push, refused } = hostileChildren(() => county, join(tmp.dir, 'county'))
const children = new Map<string, Child>()
const v1 = identity(V1, '长青村')

function entry(code: string, name: string, who: Identity, voucher: Identity): DirectoryEntry {
  const e = { code, name, alg: who.keys.alg, publicKey: who.keys.publicKey, status: 'active' as const, serial: 1, at: new Date().toISOString(), vouchedBy: voucher.code }
  return { ...e, sig: voucher.keys.sign(signingText('directory', e)) }
}

let n = 0
function application(over: Partial<Application>, signer: Identity): Application {
  return signedApplication({
    id: `${over.originCode}-20261123-${String(++n).padStart(4, '0')}`, itemCode: 'T-P01', itemVersion: 1, applicant,
    materials: ['申请表', '居民身份证'], createdAt: '2026-11-23T02:00:00.000Z', createdBy: 'agent', kind: 'promised', promisedDays: 5,
    ...over,
  } as Omit<Application, 'sig'>, signer.keys)
}
const ev = (e: Record<string, unknown>, signer: Identity): CaseEvent => signedEvent({ user: 'x', at: new Date().toISOString(), author: signer.code, ...e } as never, signer.keys)
const held = (docId: string) => county.node.docs.has(docId)

beforeAll(async () => {
  county = await startNode({ level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, 'county'), catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate() })
  listen()
  await county.node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
  staff = request(createApp(county.node), (await county.node.users.login({ name: 'staff', password: 'password10' })).token)
  for (const [code, name] of [[T1, '潆溪镇'], [T2, '芦溪镇'], [T3, '搬罾镇']]) children.set(code, await connect(identity(code, name)))
  // 潆溪镇 vouches for its village in the directory, as an honest township does at enrollment.
  const t1 = children.get(T1)!
  await push(t1, 'directory:tree', caseUpdate((d) => d.getArray('entries').push([entry(V1, '长青村', v1, t1.who)])).update)
  await waitFor('the county to believe 长青村', () => !!county.node.trust.unit(V1), 60_000)
}, 180_000)

afterAll(async () => {
  for (const c of children.values()) c.link.ws.terminate()
  await county?.stop()
  tmp.cleanup()
})

describe('a case decided in another subtree (长青村 → 潆溪镇 → 顺庆区 → 芦溪镇)', () => {
  let app: Application
  let docId: string
  let state: Uint8Array

  beforeAll(async () => {
    app = application({ originCode: V1, handlerCode: T2 }, v1)
    docId = `case:${app.id}`
    state = caseUpdate((d) => d.getMap('case').set('application', app)).state
    await push(children.get(T1)!, docId, state)
  })

  it('is taken by the county and relayed down to the handler’s township, not back to the sender', async () => {
    expect(await held(docId)).toBe(true)
    await waitFor('the case relayed to 芦溪镇', () => children.get(T2)!.received.has(docId), 60_000)
    expect(children.get(T1)!.received.has(docId)).toBe(false)
    expect((await staff('GET', `/api/cases/${app.id}`)).body.currentHandlerCode).toBe(T2)
  })

  it('the relaying township cannot author a decision or a transfer on it', async () => {
    const t1 = children.get(T1)!
    for (const type of ['accepted', 'approved'] as const) {
      await refused(t1, docId, caseUpdate((d) => d.getArray('events').push([ev({ type, lamport: 3 }, t1.who)]), state).update, /decided at the handling node 511302102000, not at 511302101000/)
    }
    await refused(t1, docId, caseUpdate((d) => d.getArray('events').push([ev({ type: 'transferred', to: '511302103000', reason: '截留', lamport: 3 }, t1.who)]), state).update, /transferred is decided at the handling node/)
    expect((await staff('GET', `/api/cases/${app.id}`)).body.events).toEqual([])
  })

  it('nor can the relaying county, through its own API', async () => {
    for (const body of [{ type: 'accepted' }, { type: 'transferred', to: T1, reason: '本级截留' }]) {
      const r = await staff('POST', `/api/cases/${app.id}/events`, body)
      expect(r.status).toBe(403)
      expect(r.body.error.message).toMatch(/handling node 511302102000/)
    }
  })

  it('the handler decides, and the decision goes up through the county back to the origin’s side', async () => {
    const t2 = children.get(T2)!
    const accepted = ev({ type: 'accepted', lamport: 2 }, t2.who)
    const after = caseUpdate((d) => d.getArray('events').push([accepted]), state)
    await push(t2, docId, after.update)
    expect((await staff('GET', `/api/cases/${app.id}`)).body.status).toBe('accepted')
    await waitFor('the acceptance relayed to 潆溪镇', () => (children.get(T1)!.received.get(docId)?.length ?? 0) >= 1, 60_000)
    state = after.state
  })

  it('a transfer by the handler widens the path: the county sends the whole case to the new handler’s side', async () => {
    const t2 = children.get(T2)!
    // 芦溪镇 hands it to 潆溪镇 (the township of the origin): the path becomes the union of both routes.
    const moved = ev({ type: 'transferred', to: T1, reason: '属潆溪镇办理', lamport: 3 }, t2.who)
    const after = caseUpdate((d) => d.getArray('events').push([moved]), state)
    await push(t2, docId, after.update)
    const view = (await staff('GET', `/api/cases/${app.id}`)).body
    expect(view.currentHandlerCode).toBe(T1)
    expect(view.handlers).toEqual([T2, T1])
    // Now 潆溪镇 decides, and 芦溪镇 (the first handler) may not any more.
    await refused(t2, docId, caseUpdate((d) => d.getArray('events').push([ev({ type: 'approved', lamport: 4 }, t2.who)]), after.state).update, /handling node/)
    state = after.state
  })
})

describe('a path that grows at the relay', () => {
  it('a transfer sent as one event makes the county send the whole case to the township newly on the path', async () => {
    const t1 = children.get(T1)!
    const t2 = children.get(T2)!
    const t3 = children.get(T3)!
    // Taken in at 潆溪镇 for 搬罾镇: 潆溪镇 → 顺庆区 → 搬罾镇; 芦溪镇 is off the path.
    const c = application({ originCode: T1, handlerCode: T3 }, t1.who)
    const docId = `case:${c.id}`
    const made = caseUpdate((d) => d.getMap('case').set('application', c))
    await push(t1, docId, made.update)
    await waitFor('the case at 搬罾镇', () => t3.received.has(docId), 60_000)
    expect(t2.received.has(docId)).toBe(false)
    // 搬罾镇 transfers it to 芦溪镇, sending only its new event (the county holds the rest).
    const moved = caseUpdate((d) => d.getArray('events').push([ev({ type: 'transferred', to: T2, reason: '属芦溪镇', lamport: 1 }, t3.who)]), made.state)
    await push(t3, docId, moved.update)
    await waitFor('the whole case at 芦溪镇', () => {
      const doc = new Y.Doc()
      for (const u of t2.received.get(docId) ?? []) Y.applyUpdate(doc, u)
      return !!doc.getMap('case').get('application') && doc.getArray('events').length === 1
    }, 60_000)
    expect((await staff('GET', `/api/cases/${c.id}`)).body.handlers).toEqual([T3, T2])
  })
})

describe('a child cannot push a case whose path does not include the receiver', () => {
  it('a township matter decided by the township itself never goes up', async () => {
    const t1 = children.get(T1)!
    const own = application({ originCode: T1, handlerCode: T1 }, t1.who)
    await refused(t1, `case:${own.id}`, caseUpdate((d) => d.getMap('case').set('application', own)).update, /511302000000 is not on the path of the case/)
    expect(await held(`case:${own.id}`)).toBe(false)
  })

  it('a case taken in outside the sender’s subtree is refused, even when its path crosses the county', async () => {
    const t2 = children.get(T2)!
    const foreign = application({ originCode: V1, handlerCode: T2 }, v1) // 长青村 is 潆溪镇's, not 芦溪镇's
    await refused(t2, `case:${foreign.id}`, caseUpdate((d) => d.getMap('case').set('application', foreign)).update, /outside 511302102000's subtree/)
    expect(await held(`case:${foreign.id}`)).toBe(false)
  })
})

describe('a node off the path asks for the case', () => {
  it('gets the same empty answer as for a case that does not exist, and the refusal is logged', async () => {
    const t1 = children.get(T1)!
    const t2 = children.get(T2)!
    // A county matter taken in at 潆溪镇: its path is 潆溪镇 → 顺庆区; 芦溪镇 is off it.
    const c = application({ originCode: T1, handlerCode: COUNTY, itemCode: 'C-P01' }, t1.who)
    await push(t1, `case:${c.id}`, caseUpdate((d) => d.getMap('case').set('application', c)).update)
    expect(await held(`case:${c.id}`)).toBe(true)
    const missing = `case:${T1}-20261123-9999`
    const before = logs.length
    for (const docId of [`case:${c.id}`, missing]) t2.link.send({ type: 'sync-step1', docId, stateVector: Y.encodeStateVector(new Y.Doc()) })
    await waitFor('both answers', () => t2.step2.has(`case:${c.id}`) && t2.step2.has(missing), 60_000)
    expect([...t2.step2.get(`case:${c.id}`)!]).toEqual([...t2.step2.get(missing)!])
    const doc = new Y.Doc()
    Y.applyUpdate(doc, t2.step2.get(`case:${c.id}`)!)
    expect(doc.getMap('case').get('application')).toBeUndefined()
    expect(logs.slice(before).join('\n')).toMatch(new RegExp(`refused state vector for case:${c.id} from 511302102000`))
    expect(t2.received.has(`case:${c.id}`)).toBe(false)
    // The link lives on: the county still answers 芦溪镇.
    await push(t2, 'directory:tree', new Uint8Array([0, 0]))
  })
})
