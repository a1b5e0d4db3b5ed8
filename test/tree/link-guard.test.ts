/**
 * The parent's side of a link holds against bad children: no enrollment, a code not directly
 * below, malformed frames, and updates outside the child's scope (the catalogue, another
 * village's case, an event authored above it) — refused, logged, and the node keeps serving.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { decodeFrame, encodeFrame, encodeUpdatesBody, type LinkFrame } from '../../protocol/index.ts'
import { compress } from '../../nodes/core/link/compress.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { applicant } from '../helpers/node.ts'

const tmp = tempDir('tongban-guard-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const OTHER_VILLAGE = '511302101202'
let town: RunningNode
let token: string

beforeAll(async () => {
  writeFileSync(join(tmp.dir, 'cat.json'), JSON.stringify({ items: [], calendars: [] }))
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  token = enrollChild(join(tmp.dir, 'town'), TOWN, VILLAGE)
}, 120_000)

afterAll(async () => {
  await town.stop()
  tmp.cleanup()
})

/** Opens a raw link as `code`; resolves with the socket and a queue of decoded frames. */
function dial(code: string, tok: string) {
  const ws = new WebSocket(town.url.replace('http', 'ws') + '/link', { headers: { authorization: `Bearer ${tok}`, 'x-tongban-code': code } })
  const frames: LinkFrame[] = []
  ws.on('message', (d: Buffer) => frames.push(decodeFrame(new Uint8Array(d))))
  const result = new Promise<{ opened: boolean; status?: number; closeCode?: number }>((resolve) => {
    ws.on('unexpected-response', (_q, res) => resolve({ opened: false, status: res.statusCode }))
    ws.on('close', (c) => resolve({ opened: true, closeCode: c }))
    ws.on('error', () => {})
  })
  const opened = new Promise<void>((r) => ws.on('open', () => r()))
  return { ws, frames, result, opened }
}

const hello = (code: string): LinkFrame => ({ type: 'hello', code, role: 'child', received: 0, latest: 4, epoch: 'test-epoch', peerEpoch: '' })

function caseUpdate(id: string, origin: string, handler: string, events: object[] = []): Uint8Array {
  const doc = new Y.Doc()
  doc.getMap('case').set('application', { id, itemCode: 'T-001', itemVersion: 1, applicant, materials: [], originCode: origin, handlerCode: handler, createdAt: new Date().toISOString(), createdBy: 'x', kind: 'promised', promisedDays: 5 })
  for (const e of events) doc.getArray('events').push([e])
  return Y.encodeStateAsUpdate(doc)
}

function updatesFrame(entries: { seq: number; docId: string; update: Uint8Array }[]): Uint8Array {
  return encodeFrame({ type: 'updates', compressed: true, body: compress(encodeUpdatesBody(entries)) })
}

async function healthy() {
  const r = await fetch(`${town.url}/healthz`)
  expect(r.status).toBe(200)
}

describe('link admission and frame checks', () => {
  it('refuses a child that is not enrolled, and a code not directly below', async () => {
    expect((await dial(OTHER_VILLAGE, 'nope').result).status).toBe(401)
    expect((await dial('511302102201', token).result).status).toBe(403)
    expect((await dial(VILLAGE, token + 'x').result).status).toBe(401)
    await healthy()
  })

  it('closes the link with 4400 on a malformed frame and keeps serving', async () => {
    const c = dial(VILLAGE, token)
    await c.opened
    c.ws.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))
    expect((await c.result).closeCode).toBe(4400)
    await healthy()
  })

  it('closes the link with 4413 on an oversized frame', async () => {
    const c = dial(VILLAGE, token)
    await c.opened
    c.ws.send(encodeFrame(hello(VILLAGE)))
    c.ws.send(new Uint8Array(70 * 1024))
    const r = await c.result
    expect([4413, 1009]).toContain(r.closeCode)
    await healthy()
  })

  it('refuses out-of-scope updates but applies the rest of the frame', async () => {
    const c = dial(VILLAGE, token)
    await c.opened
    c.ws.send(encodeFrame(hello(VILLAGE)))
    const cat = new Y.Doc()
    cat.getMap('items').set('X-1', { code: 'X-1' })
    const good = `${VILLAGE}-20261123-0001`
    const foreign = `${OTHER_VILLAGE}-20261123-0001`
    const forged = `${VILLAGE}-20261123-0002`
    c.ws.send(updatesFrame([
      { seq: 1, docId: 'catalogue:511300000000', update: Y.encodeStateAsUpdate(cat) }, // never up
      { seq: 2, docId: `case:${foreign}`, update: caseUpdate(foreign, OTHER_VILLAGE, TOWN) }, // another village's case
      { seq: 3, docId: `case:${forged}`, update: caseUpdate(forged, VILLAGE, TOWN, [{ type: 'approved', id: 'e1', lamport: 1, author: TOWN, user: 'x', at: new Date().toISOString() }]) }, // an event "by" the township
      { seq: 4, docId: `case:${good}`, update: caseUpdate(good, VILLAGE, TOWN) },
    ]))
    const deadline = Date.now() + 5_000
    while (!c.frames.some((f) => f.type === 'ack') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(c.frames.find((f) => f.type === 'ack')).toMatchObject({ type: 'ack', seq: 4 })
    expect(await town.node.docs.has(`case:${good}`)).toBe(true)
    expect(await town.node.docs.has(`case:${foreign}`)).toBe(false)
    expect(await town.node.docs.has(`case:${forged}`)).toBe(false)
    expect(await town.node.docs.has('catalogue:511300000000')).toBe(false)
    c.ws.close()
    await healthy()
  })
})
