/**
 * A hostile client against the public progress lookup (issue 7, class 9): guessing a case's
 * phone from many source addresses meets a per-case limit, X-Forwarded-For buys nothing, and a
 * phone must have digits ("- - -" is not a phone and matches nothing).
 *
 * Real HTTP to a real node; each request's source address is a different 127.0.0.x loopback
 * address (Linux routes all of 127/8 to lo), which is how the node sees a client's address.
 */
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApplicantSchema } from '../../protocol/index.ts'
import { phoneHash, phoneMatches } from '../../nodes/core/services/progress.ts'
import type { RunningNode } from '../../nodes/core/start.ts'
import { tempDir } from '../helpers/template.ts'
import { startOneItemTownship } from '../helpers/township.ts'
import { login, type Remote } from '../helpers/remote.ts'
import { applicant } from '../helpers/node.ts'

const tmp = tempDir('tongban-attack-lookup-')
let running: RunningNode
let staff: Remote

beforeAll(async () => {
  running = await startOneItemTownship(tmp.dir)
  await running.node.users.add({ name: 'staff', role: 'staff', password: 'password1' })
  staff = await login(running.url, 'staff', 'password1')
}, 300_000)

afterAll(async () => {
  await running?.stop()
  tmp.cleanup()
})

/** GET `path` from source address `from`, with extra headers. */
function getFrom(from: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; retryAfter?: string }> {
  const url = new URL(path, running.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, localAddress: from, headers, timeout: 120_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, retryAfter: res.headers['retry-after'] as string | undefined }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} from ${from} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

const lookup = (from: string, id: string, phone: string) => getFrom(from, `/api/public/progress?id=${encodeURIComponent(id)}&phone=${encodeURIComponent(phone)}`)

async function newCase(phone = '138 0000-0000'): Promise<string> {
  const made = await staff('POST', '/api/cases', { itemCode: 'T-001', applicant: { ...applicant, phone }, materials: ['申请书'] })
  expect(made.status, JSON.stringify(made.body)).toBe(201)
  return made.body.id
}

describe('per-case limit across rotating source addresses', () => {
  it('guesses at one case from a new address each time meet a 429 after the limit; the right phone then waits too', async () => {
    const id = await newCase()
    const other = await newCase()
    const statuses: number[] = []
    for (let i = 0; i < 15; i++) statuses.push((await lookup(`127.0.0.${20 + i}`, id, `1390000${String(i).padStart(4, '0')}`)).status)
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(404))
    expect(statuses.slice(10)).toEqual(Array(5).fill(429))

    const right = await lookup('127.0.0.60', id, '13800000000')
    expect(right.status).toBe(429)
    expect(right.body.error.code).toBe('rate_limited')
    expect(right.body.error.message).toMatch(/此办件/)
    expect(Number(right.retryAfter)).toBeGreaterThan(0)
    // Another case is untouched.
    expect((await lookup('127.0.0.61', other, '13800000000')).status).toBe(200)
  })

  it('an unknown case number is limited the same way, so the 429 does not tell which numbers exist', async () => {
    const ghost = '511302101000-20200101-9999'
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) statuses.push((await lookup(`127.0.0.${70 + i}`, ghost, `1390000${String(i).padStart(4, '0')}`)).status)
    expect(statuses).toEqual([...Array(10).fill(404), 429, 429])
  })
})

describe('per-address limit', () => {
  it('holds, and X-Forwarded-For does not reset it', async () => {
    const id = await newCase()
    const from = '127.0.0.100'
    const statuses: number[] = []
    let last: Awaited<ReturnType<typeof getFrom>> | undefined
    for (let i = 0; i < 32; i++) {
      // Right phone every time: only the address limit can refuse these.
      last = await getFrom(from, `/api/public/progress?id=${id}&phone=13800000000`, { 'x-forwarded-for': `10.9.${i}.1`, 'x-real-ip': `10.9.${i}.1` })
      statuses.push(last.status)
    }
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(200))
    expect(statuses.slice(30)).toEqual([429, 429])
    expect(last!.body.error.message).toMatch(/十分钟后再试/)
    expect(Number(last!.retryAfter)).toBeGreaterThan(0)
    expect((await lookup('127.0.0.101', id, '13800000000')).status).toBe(200)
  })
})

describe('phones are compared as digits, and must have some', () => {
  it('intake refuses a phone without 5 digits, with a message naming the field', async () => {
    for (const phone of ['- - -', '+++++', '1-2-3-4', '     ']) {
      const r = await staff('POST', '/api/cases', { itemCode: 'T-001', applicant: { ...applicant, phone }, materials: ['申请书'] })
      expect(r.status, phone).toBe(400)
      expect(r.body.error.code).toBe('invalid_input')
      expect(r.body.error.message).toMatch(/phone/)
    }
    expect(ApplicantSchema.safeParse({ ...applicant, phone: '- - -' }).success).toBe(false)
    expect(ApplicantSchema.safeParse({ ...applicant, phone: '138 0000-0000' }).success).toBe(true)
  })

  it('the lookup refuses a phone without digits (400), and matches the same digits however written', async () => {
    const id = await newCase('138 0000-0000')
    const bad = await lookup('127.0.0.110', id, '+++++')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/5 digits/)
    expect((await lookup('127.0.0.111', id, '13800000000')).status).toBe(200)
    expect((await lookup('127.0.0.112', id, '138-0000-0000')).status).toBe(200)
    expect((await lookup('127.0.0.113', id, '13800000001')).status).toBe(404)
  })

  it('a stored phone without digits (taken in before the rule) matches nothing', () => {
    const ID = '511302101201-20261130-0001'
    const samePhone = (stored: string, given: string) => phoneMatches(stored, ID, phoneHash(ID, given))
    expect(samePhone('- - -', '+++++')).toBe(false)
    expect(samePhone('', '')).toBe(false)
    expect(samePhone('138 0000-0000', '13800000000')).toBe(true)
    expect(samePhone('1380', '1380')).toBe(false)
  })
})
