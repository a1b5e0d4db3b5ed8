/**
 * /api/cases/:id/attachments at a village: a scanned page added to a case is stored once by its
 * hash, named by a signed `attached` event that keeps the status, listed as held and read back
 * byte for byte; a file that is not PDF/JPEG/PNG is refused (415) whatever it claims to be; the
 * per-file and per-case limits answer 413 in Chinese and English; a supervisor may not add one.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIECE_BYTES } from '../../protocol/index.ts'
import { applicant, testNode, TEST_PASSWORD, type Client, type TestNode } from '../helpers/node.ts'
import { FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

let t: TestNode
let agent: Client
let token: string

beforeAll(async () => {
  t = await testNode({ level: 'village', code: VILLAGE, catalogue: FIXTURE_CATALOGUE })
  agent = await t.as('agent', 'agent')
  token = (await t.node.users.login({ name: 'agent', password: TEST_PASSWORD })).token
}, 300_000)
afterAll(async () => t?.close())

/** A JPEG-looking file of `size` bytes (its first bytes are what a JPEG starts with). */
function jpeg(size: number): Uint8Array<ArrayBuffer> {
  const b = randomBytes(size)
  b.set([0xff, 0xd8, 0xff, 0xe0])
  return new Uint8Array(b)
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function upload(id: string, bytes: Uint8Array<ArrayBuffer>, name = '身份证正面.jpg', opts: { mime?: string; tok?: string } = {}) {
  const res = await t.app.request(`/api/cases/${id}/attachments?name=${encodeURIComponent(name)}&material=${encodeURIComponent('居民身份证')}`, {
    method: 'POST', headers: { authorization: `Bearer ${opts.tok ?? token}`, 'content-type': opts.mime ?? 'image/jpeg' }, body: bytes,
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

async function takeIn(): Promise<string> {
  const r = await agent('POST', '/api/cases', { itemCode: 'C-P01', applicant, materials: requiredOf('C-P01') })
  expect(r.status).toBe(201)
  return r.body.id
}

describe('attachments at the window', () => {
  it('a scan is stored by its hash, named by a signed event, and read back intact; the status stays', async () => {
    const id = await takeIn()
    const file = jpeg(3 * PIECE_BYTES + 123)
    const r = await upload(id, file)
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ hash: sha(file), size: file.length, mime: 'image/jpeg', name: '身份证正面.jpg', material: '居民身份证', state: 'held', author: VILLAGE })

    const view = (await agent('GET', `/api/cases/${id}`)).body
    expect(view.status).toBe('submitted')
    expect(view.events.map((e: any) => e.type)).toEqual(['attached'])
    expect(view.events[0]).toMatchObject({ hash: sha(file), size: file.length, mime: 'image/jpeg', sig: expect.any(String) })

    const list = await agent('GET', `/api/cases/${id}/attachments`)
    expect(list.status).toBe(200)
    expect(list.body.attachments).toHaveLength(1)
    expect(list.body.attachments[0]).toMatchObject({ state: 'held', heldBytes: file.length })

    const res = await t.app.request(`/api/cases/${id}/attachments/${sha(file)}`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/jpeg')
    expect(res.headers.get('cache-control')).toMatch(/no-store/)
    expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(file))

    // The same file again is the same attachment: stored once, no second event.
    const again = await upload(id, file, '又一次.jpg')
    expect(again.status).toBe(200)
    expect(again.body.name).toBe('身份证正面.jpg')
    expect((await agent('GET', `/api/cases/${id}`)).body.events).toHaveLength(1)
    const [{ n }] = await t.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM attachment_pieces WHERE hash = $1', [sha(file)])
    expect(n).toBe(4)
  })

  it('PDF and PNG are taken; anything else is refused by its bytes, whatever its content type says', async () => {
    const id = await takeIn()
    expect((await upload(id, new TextEncoder().encode('%PDF-1.4\n1 0 obj'), '申请表.pdf', { mime: 'application/pdf' })).body.mime).toBe('application/pdf')
    expect((await upload(id, Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3), '户口簿.png', { mime: 'image/png' })).body.mime).toBe('image/png')
    const html = await upload(id, new TextEncoder().encode('<html><script>alert(1)</script>'), '伪装.jpg', { mime: 'image/jpeg' })
    expect(html.status).toBe(415)
    expect(html.body.error.code).toBe('unsupported_type')
    expect(html.body.error.message).toMatch(/只接受 PDF、JPEG、PNG/)
    const empty = await upload(id, new Uint8Array(0))
    expect(empty.status).toBe(400)
    const noName = await t.app.request(`/api/cases/${id}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: jpeg(100) })
    expect(noName.status).toBe(400)
    expect((await noName.json()).error.message).toMatch(/文件名/)
    expect((await agent('GET', `/api/cases/${id}/attachments`)).body.attachments).toHaveLength(2)
  })

  it('over the per-file or per-case limit: 413 saying the limit, in Chinese and English; nothing stored', async () => {
    const id = await takeIn()
    const saved = { ...process.env }
    try {
      process.env.TONGBAN_ATTACHMENT_MAX_FILE_BYTES = String(50_000)
      process.env.TONGBAN_ATTACHMENT_MAX_CASE_BYTES = String(80_000)
      const big = await upload(id, jpeg(50_001))
      expect(big.status).toBe(413)
      expect(big.body.error.code).toBe('payload_too_large')
      expect(big.body.error.message).toMatch(/文件太大.*每个附件最多/)
      expect(big.body.error.message).toMatch(/per file|over 50000 bytes/)
      expect((await upload(id, jpeg(40_000))).status).toBe(201)
      const second = await upload(id, jpeg(40_001), '第二页.jpg')
      expect(second.status).toBe(413)
      expect(second.body.error.message).toMatch(/本件附件合计.*每件最多/)
      expect(second.body.error.message).toMatch(/per case/)
      expect((await agent('GET', `/api/cases/${id}/attachments`)).body.attachments).toHaveLength(1)
    } finally {
      process.env.TONGBAN_ATTACHMENT_MAX_FILE_BYTES = saved.TONGBAN_ATTACHMENT_MAX_FILE_BYTES
      process.env.TONGBAN_ATTACHMENT_MAX_CASE_BYTES = saved.TONGBAN_ATTACHMENT_MAX_CASE_BYTES
      if (saved.TONGBAN_ATTACHMENT_MAX_FILE_BYTES === undefined) delete process.env.TONGBAN_ATTACHMENT_MAX_FILE_BYTES
      if (saved.TONGBAN_ATTACHMENT_MAX_CASE_BYTES === undefined) delete process.env.TONGBAN_ATTACHMENT_MAX_CASE_BYTES
    }
  })

  it('unknown cases, unknown files, bad hashes, no login, and a supervisor are refused', async () => {
    const id = await takeIn()
    expect((await upload(`${VILLAGE}-20200101-0999`, jpeg(100))).status).toBe(404)
    expect((await agent('GET', `/api/cases/${id}/attachments/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await agent('GET', `/api/cases/${id}/attachments/not-a-hash`)).status).toBe(400)
    expect((await t.app.request(`/api/cases/${id}/attachments`)).status).toBe(401)
    await t.as('sup', 'supervisor')
    const sup = (await t.node.users.login({ name: 'sup', password: TEST_PASSWORD })).token
    const r = await upload(id, jpeg(100), 'x.jpg', { tok: sup })
    expect(r.status).toBe(403)
  })
})
