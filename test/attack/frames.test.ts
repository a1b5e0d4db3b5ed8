/**
 * Class 1 of issue 7: one frame must not end a node, both ways. A hostile child dials a real
 * township, a hostile parent is dialled by a real village, each over real sockets; every
 * hostile frame gets the link closed with its named code and a close reason within 123 bytes
 * of UTF-8, an error frame the peer can decode, and the node goes on serving. Any unhandled
 * rejection or uncaught exception in this file fails it.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as encoding from 'lib0/encoding'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { compress } from '../../nodes/core/link/compress.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { LINK_CLOSE_CODES, LINK_FRAME_TYPES, MAX_CLOSE_REASON_BYTES, MAX_ERROR_MESSAGE_BYTES, encodeFrame } from '../../protocol/index.ts'
import { enroll, identity } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'
import { childHello, dialAsChild, fakeParent, parentHello, type RawLink } from './peers.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-frames-')
const TOWN = '511302101000'
const VILLAGE = '511302101201'
const C = LINK_CLOSE_CODES
let town: RunningNode
/** The hostile child: an enrolled village gone bad (its key registered with the one-time token). */
const village = identity(VILLAGE, '村')

beforeAll(async () => {
  writeFileSync(join(tmp.dir, 'cat.json'), JSON.stringify({ items: [], calendars: [] }))
  town = await startNode({ level: 'township', code: TOWN, name: '镇', dataDir: join(tmp.dir, 'town'), loadDataDir: await pgliteTemplate() })
  const r = await enroll(town.url, village, enrollChild(join(tmp.dir, 'town'), TOWN, VILLAGE))
  if (r.status !== 200) throw new Error(`enrollment refused (${r.status})`)
}, 300_000)

afterAll(async () => {
  await town?.stop()
  tmp.cleanup()
})

// --- hostile frames, written byte by byte where the codec's writers would refuse them -------

const raw = (write: (e: encoding.Encoder) => void) => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}
/** A doc id of 62 UTF-8 bytes (within the codec's 64) that quotes into a long error message. */
const LONG_UTF8_DOC_ID = 'case:' + '文'.repeat(19)
const syncStep1LongId = raw((e) => {
  encoding.writeVarUint(e, LINK_FRAME_TYPES['sync-step1'])
  encoding.writeVarString(e, LONG_UTF8_DOC_ID)
  encoding.writeVarUint8Array(e, new Uint8Array([0]))
})
const updatesLongId = raw((e) => {
  encoding.writeVarUint(e, LINK_FRAME_TYPES.updates)
  encoding.writeUint8(e, 0)
  encoding.writeVarUint8Array(e, raw((b) => {
    encoding.writeVarUint(b, 1)
    encoding.writeVarUint(b, 1)
    encoding.writeVarString(b, '案'.repeat(21))
    encoding.writeVarUint8Array(b, new Uint8Array([0, 0]))
  }))
})
const helloUtf8Code = raw((e) => {
  encoding.writeVarUint(e, LINK_FRAME_TYPES.hello)
  encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, '文文文文') // 12 bytes, not 12 digits
  encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, 'x')
  encoding.writeVarString(e, '')
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 0)
})
/** 20 MB of zeros deflate to ~20 KB: one frame that inflates past MAX_MESSAGE_BYTES. */
const deflateBomb = () => encodeFrame({ type: 'updates', compressed: true, body: compress(new Uint8Array(20 * 1024 * 1024)) })
const longErrorFrame = encodeFrame({ type: 'error', code: 4400, message: '错'.repeat(2000) })
const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 0xe6, 0x96])

interface Attack { name: string; afterHello: boolean; frame: () => Uint8Array | string; code: number }
const ATTACKS: Attack[] = [
  { name: 'a sync-step1 whose document id is long in UTF-8', afterHello: true, frame: () => syncStep1LongId, code: C.malformed_frame },
  { name: 'an updates entry whose document id is long in UTF-8', afterHello: true, frame: () => updatesLongId, code: C.malformed_frame },
  { name: 'a hello whose code is UTF-8 text', afterHello: false, frame: () => helloUtf8Code, code: C.malformed_frame },
  { name: 'a deflate bomb', afterHello: true, frame: deflateBomb, code: C.frame_too_large },
  { name: 'garbage before hello', afterHello: false, frame: () => garbage, code: C.malformed_frame },
  { name: 'garbage after hello', afterHello: true, frame: () => garbage, code: C.malformed_frame },
  { name: 'a text message', afterHello: true, frame: () => '文'.repeat(100), code: C.malformed_frame },
]

/** What must hold of every refusal: the named code, a reason within the WebSocket limit, and an error frame that decodes. */
async function expectRefused(link: RawLink, code: number) {
  const closed = await link.closed
  expect(closed.code).toBe(code)
  expect(closed.reason.length).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES)
  expect(link.frames.filter((f) => f.type === 'undecodable')).toEqual([])
  const err = link.frames.find((f) => f.type === 'error')
  if (err && err.type === 'error') {
    expect(err.code).toBe(code)
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES)
  }
}

async function serving(url: string) {
  const r = await fetch(`${url}/healthz`)
  expect(r.status).toBe(200)
}

describe('a hostile child cannot end the township', () => {
  for (const a of ATTACKS) {
    it(`${a.name}: closed with ${a.code}, still serving`, async () => {
      const link = await dialAsChild(town.url, TOWN, village)
      await link.opened
      if (a.afterHello) {
        link.send(childHello(VILLAGE))
        await waitFor('the township hello', () => link.frames.some((f) => f.type === 'hello'))
      }
      const f = a.frame()
      if (typeof f === 'string') link.ws.send(f)
      else link.send(f)
      await expectRefused(link, a.code)
      await serving(town.url)
    })
  }

  it('an error frame with a long UTF-8 message is logged, not fatal', async () => {
    const link = await dialAsChild(town.url, TOWN, village)
    await link.opened
    link.send(childHello(VILLAGE))
    link.send(longErrorFrame)
    link.send({ type: 'ping', time: 1 }) // after an error frame the session is over: ignored
    await new Promise((r) => setTimeout(r, 200))
    link.ws.close()
    await link.closed
    await serving(town.url)
  })
})

describe('a hostile parent cannot end the village', () => {
  it('every hostile frame closes the link with its code; the village redials and keeps serving', async () => {
    const results: { name: string; code: number; reasonBytes: number; undecodable: number }[] = []
    const queue = [...ATTACKS, { name: 'a long UTF-8 error frame', afterHello: true, frame: () => longErrorFrame, code: -1 }]
    let next = 0
    // An enrolled township gone bad: the village enrolls with it and pins its key, checks its
    // signature on every challenge, then meets its frames.
    const bad = identity(TOWN, '镇')
    const parent = await fakeParent(bad, (link) => {
      const a = queue[next++]
      if (!a) return void link.ws.close(1000, 'done')
      if (a.afterHello) link.send(parentHello(TOWN))
      const f = a.frame()
      if (typeof f === 'string') link.ws.send(f)
      else link.send(f)
      if (a.code === -1) setTimeout(() => link.ws.close(1000, 'done'), 100)
      void link.closed.then((c) => results.push({ name: a.name, code: c.code, reasonBytes: c.reason.length, undecodable: link.frames.filter((x) => x.type === 'undecodable').length }))
    })
    const node = await startNode({
      level: 'village', code: VILLAGE, name: '村', dataDir: join(tmp.dir, 'village'), loadDataDir: await pgliteTemplate(),
      parentUrl: parent.url, token: 'hostile-parent-token',
    })
    try {
      // Each close makes the village redial (backoff up to 30 s, jittered): allow for it.
      await waitFor('every attack to be met', () => results.length >= queue.length, 120_000)
      for (const a of queue.filter((q) => q.code !== -1)) {
        const r = results.find((x) => x.name === a.name)!
        expect({ name: r.name, code: r.code }).toEqual({ name: a.name, code: a.code })
        expect(r.reasonBytes).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES)
        expect(r.undecodable).toBe(0)
      }
      expect(parent.enrollments).toBe(1) // the key pinned once, then a challenge before every dial
      expect(node.node.trust.parentKey?.publicKey).toBe(bad.keys.publicKey)
      await serving(node.url)
    } finally {
      await node.stop()
      await parent.close()
    }
  }, 180_000)
})
