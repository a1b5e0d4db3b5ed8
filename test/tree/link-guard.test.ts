/**
 * The parent's side of a link holds against bad children: no enrollment, a code not directly
 * below, a proof not made with the enrolled key, malformed frames, and updates outside the
 * child's scope (the catalogue, another village's case, an event authored above it, the
 * township's own decision moved to another case) — refused, logged, and the node keeps serving;
 * the township's own decision signed for its case is taken back (a restored store lost it). The child is played for real (test/helpers/link-client.ts):
 * it enrolls its key with the one-time token and opens the link by challenge–response, and the
 * out-of-scope cases it sends are validly signed, so what refuses them is the scope.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import type { Application } from '../../protocol/index.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { applicant } from '../helpers/node.ts'
import { fixtureItem } from '../fixtures/catalogue.ts'
import {
  caseUpdate, childHello, enroll, identity, openLink, proofHeaders, signedApplication, signedEvent, updatesFrame, type Identity,
} from '../helpers/link-client.ts'

const tmp = tempDir('tongban-guard-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const OTHER_VILLAGE = '511302101202'
const NOT_ENROLLED = '511302101203'
let town: RunningNode
const village = identity(VILLAGE, '村')
const other = identity(OTHER_VILLAGE, '邻村')

beforeAll(async () => {
  writeFileSync(join(tmp.dir, 'cat.json'), JSON.stringify({ items: [], calendars: [] }))
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  // Both villages exchange their one-time tokens for their keys: the township knows each one's
  // key, so a case the other village signed verifies — and is still not this village's to send.
  for (const who of [village, other]) {
    const r = await enroll(town.url, who, enrollChild(join(tmp.dir, 'town'), TOWN, who.code))
    expect(r.status).toBe(200)
  }
}, 300_000)

afterAll(async () => {
  await town.stop()
  tmp.cleanup()
})

/** Opens the link as `who`, after a fresh challenge answered with its enrolled key. */
async function dial(who: Identity) {
  const link = openLink(town.url, await proofHeaders(town.url, TOWN, who))
  expect(await link.status).toBe(101)
  return link
}

/** An upgrade with headers of our choosing; resolves with the HTTP status. */
const upgradeStatus = (headers: Record<string, string>) => openLink(town.url, headers).status

function application(id: string, origin: Identity, handler: string): Application {
  return signedApplication({
    id, itemCode: 'T-001', itemVersion: 1, applicant, materials: [], originCode: origin.code, handlerCode: handler,
    createdAt: new Date().toISOString(), createdBy: 'x', kind: 'promised', promisedDays: 5,
  }, origin.keys)
}

async function healthy() {
  const r = await fetch(`${town.url}/healthz`)
  expect(r.status).toBe(200)
}

describe('link admission and frame checks', () => {
  it('refuses a child that is not enrolled, a code not directly below, and a wrong proof', async () => {
    // Not enrolled: no challenge is given, and an upgrade without one is refused.
    const stranger = identity(NOT_ENROLLED)
    await expect(proofHeaders(town.url, TOWN, stranger)).rejects.toThrow(/\(401\)/)
    const fake = { 'x-tongban-code': NOT_ENROLLED, 'x-tongban-nonce': 'n'.repeat(32), 'x-tongban-proof': stranger.keys.sign('anything') }
    expect(await upgradeStatus(fake)).toBe(401)
    // A code not directly below, even carrying a valid proof of an enrolled village.
    expect(await upgradeStatus({ ...(await proofHeaders(town.url, TOWN, village)), 'x-tongban-code': '511302102201' })).toBe(403)
    // A fresh challenge answered with a key other than the one enrolled.
    expect(await upgradeStatus(await proofHeaders(town.url, TOWN, village, identity(VILLAGE).keys))).toBe(401)
    await healthy()
  })

  it('closes the link with 4400 on a malformed frame and keeps serving', async () => {
    const c = await dial(village)
    c.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))
    expect((await c.closed).code).toBe(4400)
    await healthy()
  })

  it('closes the link with 4413 on an oversized frame', async () => {
    const c = await dial(village)
    c.send(childHello(VILLAGE, 4))
    c.send(new Uint8Array(70 * 1024))
    expect([4413, 1009]).toContain((await c.closed).code)
    await healthy()
  })

  it('refuses out-of-scope updates but applies the rest of the frame', async () => {
    const logged: string[] = []
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')))
    try {
      const c = await dial(village)
      c.send(childHello(VILLAGE, 4))
      const cat = new Y.Doc()
      cat.getMap('items').set('V-I01', { ...fixtureItem('V-I01'), version: 2 }) // a well-formed item
      const good = `${VILLAGE}-20261123-0001`
      const foreign = `${OTHER_VILLAGE}-20261123-0001`
      const forged = `${VILLAGE}-20261123-0002`
      // Each signed by whom it claims: the other village's case by the other village, the
      // approval by the township's own key (a decision the village relays up on a case of its own).
      const approval = signedEvent({ type: 'approved', lamport: 1, author: TOWN, user: 'x', at: new Date().toISOString() }, town.node.trust.keys)
      c.send(updatesFrame([
        { seq: 1, docId: 'catalogue:511300000000', update: Y.encodeStateAsUpdate(cat) }, // never up
        { seq: 2, docId: `case:${foreign}`, update: caseUpdate((d) => d.getMap('case').set('application', application(foreign, other, TOWN))).update }, // another village's case
        { seq: 3, docId: `case:${forged}`, update: caseUpdate((d) => { // an event by the township
          d.getMap('case').set('application', application(forged, village, TOWN))
          d.getArray('events').push([approval])
        }).update },
        { seq: 4, docId: `case:${good}`, update: caseUpdate((d) => d.getMap('case').set('application', application(good, village, TOWN))).update },
      ]))
      const deadline = Date.now() + 60_000
      while (!c.frames.some((f) => f.type === 'ack') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      expect(c.frames.find((f) => f.type === 'ack')).toMatchObject({ type: 'ack', seq: 4 })
      expect(await town.node.docs.has(`case:${good}`)).toBe(true)
      expect(await town.node.docs.has(`case:${foreign}`)).toBe(false)
      expect(await town.node.docs.has(`case:${forged}`)).toBe(false)
      expect(await town.node.docs.has('catalogue:511300000000')).toBe(false)
      // Refused for the scope (logged), not for a signature.
      const why = (docId: string) => logged.find((l) => l.includes(`refused ${docId} from ${VILLAGE}`)) ?? `(nothing logged for ${docId})`
      expect(why(`case:${foreign}`)).toMatch(/outside 511302101201's subtree/)
      expect(why(`case:${forged}`)).toMatch(/authored at 511302101000, outside 511302101201's subtree/)
      expect(why('catalogue:511300000000')).toMatch(/never sends catalogue/)
      c.ws.close()
    } finally {
      spy.mockRestore()
    }
    await healthy()
  })

  it('takes back its own decision signed for the case, never one signed for another case', async () => {
    const logged: string[] = []
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')))
    try {
      // The other village: a new epoch asks for a repair pass, and the first village has used its hour's.
      const c = await dial(other)
      c.send(childHello(OTHER_VILLAGE, 4))
      const mine = `${OTHER_VILLAGE}-20261124-0001`
      const moved = `${OTHER_VILLAGE}-20261124-0002`
      // The township's acceptance of `mine`, as a village holds it (a store restored from a
      // backup lost it): signed by the township's own key, for that case.
      const accepted = signedEvent({ type: 'accepted', lamport: 1, author: TOWN, user: 'x', at: new Date().toISOString(), case: mine }, town.node.trust.keys)
      c.send(updatesFrame([
        { seq: 1, docId: `case:${moved}`, update: caseUpdate((d) => { // the same acceptance, copied into another case
          d.getMap('case').set('application', application(moved, other, TOWN))
          d.getArray('events').push([accepted])
        }).update },
        { seq: 2, docId: `case:${mine}`, update: caseUpdate((d) => {
          d.getMap('case').set('application', application(mine, other, TOWN))
          d.getArray('events').push([accepted])
        }).update },
      ]))
      const deadline = Date.now() + 60_000
      while (!c.frames.some((f) => f.type === 'ack') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      expect(c.frames.find((f) => f.type === 'ack'), logged.join('\n')).toMatchObject({ type: 'ack', seq: 2 })
      expect(await town.node.docs.has(`case:${moved}`)).toBe(false)
      expect(logged.find((l) => l.includes(`refused case:${moved} from ${OTHER_VILLAGE}`))).toMatch(new RegExp(`signed for case ${mine}, not for ${moved}`))
      expect((await town.node.cases.get(mine))?.status).toBe('accepted')
      c.ws.close()
    } finally {
      spy.mockRestore()
    }
    await healthy()
  })
})
