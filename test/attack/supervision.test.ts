/**
 * 电子监察 and 督办 against hostile children (issue 9, practice 6). A real county node (顺庆区)
 * with two enrolled townships played by real keys over real sockets, 潆溪镇 (T1) and 芦溪镇
 * (T2). Each hostile move is refused at the link, logged, and acked, and the county's copy does
 * not move:
 * - a township writes the warnings document (`watch:`) of another unit, or a warning carrying a
 *   field beyond WarningSchema (an applicant's name riding up), or naming another unit;
 * - a township forges a notice "from the county" (notices come down, signed by their issuer);
 * - a township replies to a notice addressed to its neighbour, or answers for a unit it is not
 *   (a reply signed by another key, or authored as another unit);
 * - a township deletes from a notice (append-only).
 * And the honest way works: the county's supervisor issues a 督办 to 潆溪镇, it goes down to 潆溪镇
 * only, 潆溪镇's signed reply comes up, and the supervisor reads it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { signingText, type Notice, type NoticeReply, type Warning } from '../../protocol/index.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { request, type Client } from '../helpers/node.ts'
import { caseUpdate, identity, type Identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { hostileChildren, type Child } from './children.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-supervision-')
const COUNTY = '511302000000'
const T1 = '511302101000'
const T2 = '511302102000'
let county: RunningNode
let supervisor: Client

const { listen, connect, push, refused } = hostileChildren(() => county, join(tmp.dir, 'county'))
const children = new Map<string, Child>()

const warning = (unit: string, over: Partial<Warning> = {}): Warning => ({
  caseId: `${unit.slice(0, 9)}201-20261123-0001`, itemCode: 'T-P01', itemName: '个体工商户登记', unit, type: 'overdue', level: 'red', since: '2026-11-27', ...over,
})
const watchUpdate = (unit: string, w: object) => caseUpdate((d) => {
  d.getMap('warnings').set(`${(w as Warning).caseId}|${(w as Warning).type}`, w)
  d.getMap('meta').set('name', '潆溪镇')
}).update

function reply(noticeId: string, author: string, signer: Identity, text = '已督促窗口三日内办结'): NoticeReply {
  const r = { noticeId, author, user: '李四（staff）', text, at: new Date().toISOString() }
  return { ...r, sig: signer.keys.sign(signingText('notice-reply', r)) }
}

beforeAll(async () => {
  county = await startNode({ level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, 'county'), catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate() })
  listen()
  await county.node.users.add({ name: 'jd', role: 'supervisor', password: 'password10' })
  supervisor = request(createApp(county.node), (await county.node.users.login({ name: 'jd', password: 'password10' })).token)
  for (const [code, name] of [[T1, '潆溪镇'], [T2, '芦溪镇']]) children.set(code, await connect(identity(code, name)))
}, 180_000)

afterAll(async () => {
  for (const c of children.values()) c.link.ws.terminate()
  await county?.stop()
  tmp.cleanup()
})

describe('warnings (watch:) from below', () => {
  it('a township\'s own warnings reach the county supervisor\'s list, named', async () => {
    await push(children.get(T1)!, `watch:${T1}`, watchUpdate(T1, warning(T1)))
    const list = (await supervisor('GET', '/api/supervision')).body
    expect(list.warnings).toEqual([expect.objectContaining({ caseId: warning(T1).caseId, unit: T1, unitName: '潆溪镇', type: 'overdue', typeName: '超期', level: 'red', itemName: '个体工商户登记' })])
    expect(list.red).toBe(1)
  })

  it('a township cannot write another unit\'s warnings, nor carry personal fields, nor name another unit', async () => {
    const t1 = children.get(T1)!
    await refused(t1, `watch:${T2}`, watchUpdate(T2, warning(T2)), /warnings of 511302102000 are not in 511302101000's subtree/)
    await refused(t1, `watch:${T1}`, watchUpdate(T1, { ...warning(T1, { type: 'flow' }), applicant: '张三 13800000000' }), /malformed value in watch:511302101000/)
    await refused(t1, `watch:${T1}`, watchUpdate(T1, warning(T2, { type: 'flow' })), /a warning of 511302102000 in the warnings document of 511302101000/)
    expect(await county.node.docs.has(`watch:${T2}`)).toBe(false)
    const list = (await supervisor('GET', '/api/supervision')).body
    expect(list.warnings.map((w: Warning) => `${w.unit} ${w.type}`)).toEqual([`${T1} overdue`])
  })
})

describe('督办 notices', () => {
  let notice: Notice
  let state: Uint8Array

  beforeAll(async () => {
    const r = await supervisor('POST', '/api/notices', { target: T1, caseId: warning(T1).caseId, type: 'overdue', text: '该件已超期，请于期限内办结并回复', deadline: '2099-12-31' })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ issuer: COUNTY, target: T1, targetName: '潆溪镇', reply: null, late: false })
    const t1 = children.get(T1)!
    const docId = `notice:${r.body.id}`
    await waitFor('the notice at 潆溪镇', () => t1.received.has(docId), 60_000)
    const doc = new Y.Doc()
    for (const u of t1.received.get(docId)!) Y.applyUpdate(doc, u)
    notice = doc.getMap('notice').get('notice') as Notice
    state = Y.encodeStateAsUpdate(doc)
    expect(notice).toMatchObject({ id: r.body.id, issuer: COUNTY, target: T1 })
  })

  it('goes down to its target only, never to the neighbour', async () => {
    await new Promise((r) => setTimeout(r, 500))
    expect(children.get(T2)!.received.has(`notice:${notice.id}`)).toBe(false)
  })

  it('a supervisor issues only to a unit of the subtree, and with a deadline not already past', async () => {
    const outside = await supervisor('POST', '/api/notices', { target: '511303101000', text: '请办理', deadline: '2099-12-31' })
    expect(outside.status).toBe(400)
    expect(outside.body.error.message).toMatch(/督办只能发给本级及下辖单位/)
    const past = await supervisor('POST', '/api/notices', { target: T1, text: '请办理', deadline: '2020-01-01' })
    expect(past.status).toBe(400)
    expect(past.body.error.message).toMatch(/办理期限不能早于今天/)
  })

  it('a township cannot forge a notice from above, reply for its neighbour, or answer with another key or name', async () => {
    const t1 = children.get(T1)!
    const t2 = children.get(T2)!
    // A notice "from the county" to 潆溪镇, made and signed by 潆溪镇 itself.
    const fake = { ...notice, id: `${COUNTY}-${T1}-forgedforged`, text: '无需办理' }
    const forged = { ...fake, sig: t1.who.keys.sign(signingText('notice', fake)) }
    await refused(t1, `notice:${fake.id}`, caseUpdate((d) => d.getMap('notice').set('notice', forged)).update, /a notice comes down from its issuer 511302000000, not up from below/)
    // 潆溪镇 answers the notice addressed to it but says it is 芦溪镇's answer, or 芦溪镇 answers it.
    await refused(t1, `notice:${notice.id}`, caseUpdate((d) => d.getArray('replies').push([reply(notice.id, T2, t1.who)]), state).update, /only 511302101000, the unit the notice is addressed to, replies/)
    await refused(t2, `notice:${notice.id}`, caseUpdate((d) => d.getArray('replies').push([reply(notice.id, T1, t2.who)]), state).update, /does not pass 511302102000 → 511302000000/)
    // A reply in 潆溪镇's name but signed with another key.
    await refused(t1, `notice:${notice.id}`, caseUpdate((d) => d.getArray('replies').push([reply(notice.id, T1, t2.who)]), state).update, /signature is not 511302101000's/)
    // Deleting the notice from the document.
    const gone = (() => {
      const d = new Y.Doc()
      Y.applyUpdate(d, state)
      const sv = Y.encodeStateVector(d)
      d.getMap('notice').delete('notice')
      return Y.encodeStateAsUpdate(d, sv)
    })()
    await refused(t1, `notice:${notice.id}`, gone, /a notice is append-only/)
    const view = (await supervisor('GET', '/api/notices?box=out')).body.notices.find((x: { id: string }) => x.id === notice.id)
    expect(view).toMatchObject({ reply: null, replies: 0 })
  })

  it('the target\'s signed reply comes up and the supervisor reads it, on time', async () => {
    const t1 = children.get(T1)!
    await push(t1, `notice:${notice.id}`, caseUpdate((d) => d.getArray('replies').push([reply(notice.id, T1, t1.who)]), state).update)
    const out = (await supervisor('GET', '/api/notices?box=out')).body
    const view = out.notices.find((x: { id: string }) => x.id === notice.id)
    expect(view).toMatchObject({ replies: 1, reply: { text: '已督促窗口三日内办结', user: '李四（staff）' }, late: false })
    expect(out.awaiting).toBe(0)
    // The county's supervisor is not the unit addressed: it cannot reply itself.
    expect((await supervisor('POST', `/api/notices/${notice.id}/reply`, { text: '代答' })).status).toBe(403)
  })
})
