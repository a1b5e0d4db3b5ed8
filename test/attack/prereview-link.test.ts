/**
 * 网上预审 holds personal data on its own node only: a real county node (顺庆区) with an enrolled
 * township (潆溪镇, played over a real link by its own key) below it. An applicant makes a
 * pre-review on the county's public page, the county's staff answer it and take it in as a
 * county case; then the county publishes a catalogue change, which does go down the link. By the
 * time the township has that change, it has received nothing of the pre-review: not its number,
 * not the applicant's name, id number or phone — in no document.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeUpdatesBody, type LinkFrame } from '../../protocol/index.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import { decompress } from '../../nodes/core/link/compress.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { FIXTURE_CATALOGUE } from '../fixtures/catalogue.ts'
import { request, type Client } from '../helpers/node.ts'
import { childHello, enroll, identity, openLink, proofHeaders, type Link } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-prereview-')
const COUNTY = '511302000000'
const T1 = '511302101000'
let county: RunningNode
let staff: Client
let admin: Client
let link: Link
/** Every update the township received, by document. */
const received = new Map<string, Uint8Array[]>()

const who = { name: '孙秀梅', idType: 'resident-id' as const, idNumber: '511302197506150033', phone: '13655556666' }

beforeAll(async () => {
  county = await startNode({ level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, 'county'), catalogue: FIXTURE_CATALOGUE, loadDataDir: await pgliteTemplate() })
  await county.node.users.add({ name: 'staff', role: 'staff', password: 'password10' })
  await county.node.users.add({ name: 'admin', role: 'admin', password: 'password10' })
  const app = createApp(county.node)
  staff = request(app, (await county.node.users.login({ name: 'staff', password: 'password10' })).token)
  admin = request(app, (await county.node.users.login({ name: 'admin', password: 'password10' })).token)
  const t1 = identity(T1, '潆溪镇')
  expect((await enroll(county.url, t1, enrollChild(join(tmp.dir, 'county'), COUNTY, T1))).status).toBe(200)
  link = openLink(county.url, await proofHeaders(county.url, COUNTY, t1))
  expect(await link.status).toBe(101)
  link.send(childHello(T1, 1_000_000))
  link.ws.on('message', () => {
    for (const f of link.frames.splice(0)) onFrame(f)
  })
}, 180_000)

afterAll(async () => {
  link?.ws.terminate()
  await county?.stop()
  tmp.cleanup()
})

function onFrame(f: LinkFrame): void {
  const add = (docId: string, u: Uint8Array) => received.set(docId, [...(received.get(docId) ?? []), u])
  if (f.type === 'sync-step2') add(f.docId, f.update)
  if (f.type === 'updates' && f.compressed) {
    const entries = decodeUpdatesBody(decompress(f.body, 1 << 24))
    for (const e of entries) add(e.docId, e.update)
    if (entries.length) link.send({ type: 'ack', seq: entries[entries.length - 1].seq })
  }
}

const receivedText = () => [...received].map(([doc, us]) => doc + '\n' + us.map((u) => Buffer.from(u).toString('utf8')).join('\n')).join('\n')

describe('a pre-review at the county, with a township linked below', () => {
  it('never goes down the link: the township gets a later catalogue change and nothing of the pre-review', async () => {
    const res = await fetch(`${county.url}/api/public/prereviews`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ itemCode: 'C-I01', applicant: who, materials: ['居民身份证'] }),
    })
    expect(res.status).toBe(201)
    const { no } = (await res.json()) as { no: string }
    expect((await staff('POST', `/api/prereviews/${no}/answer`, { result: 'passed' })).status).toBe(200)
    const made = await staff('POST', `/api/prereviews/${no}/intake`, { itemCode: 'C-I01', applicant: who, materials: ['居民身份证'] })
    expect(made.status, JSON.stringify(made.body)).toBe(201)

    // A change that does go down, made after all of the above: once it has arrived, so would have anything before it.
    const local = { code: 'L-PR1', name: '预审后发布的本地事项', department: '县政务服务中心', level: 'township', kind: 'instant', legalDays: 0, promisedDays: 0, materials: [{ name: '居民身份证', required: true }] }
    expect((await admin('POST', '/api/catalogue/items', local)).status).toBe(201)
    await waitFor('the catalogue change at the township', () => receivedText().includes('预审后发布的本地事项'), 60_000)

    const text = receivedText()
    for (const secret of [no, who.name, who.idNumber, who.phone, made.body.id]) expect(text).not.toContain(secret)
  }, 300_000)
})
