/**
 * A closed case compacted and packed (issue 11, goal 3) still reaches a new peer on its path,
 * with real node processes: a village takes in a township's case with a scan; the township
 * decides it, the village delivers it and the applicant rates it. The township, stopped, has it
 * compacted as the retention job would 40 days on (its rows merged into one, stored packed),
 * and starts again: the case page and the scan read the same. Then the village laptop is lost
 * and restored on a new data dir from the township: the case comes back whole from the packed
 * row, with its full timeline, and the scan follows over the attachment lane (which reads the
 * `attached` event the township kept in case_events).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compactClosedCases } from '../../nodes/core/docs/compact-cases.ts'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { residentIdCheck } from '../../protocol/people.ts'
import { FIXTURE_CATALOGUE, requiredOf, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'
import { eventually } from '../helpers/remote.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess, type Remote } from '../helpers/process.ts'
import { tempDir } from '../helpers/template.ts'
import { distrustNode } from '../helpers/tls.ts'

const PASSWORD = 'compact-secret-1'
const APPLICANT = { name: '钱大伟', idType: 'resident-id' as const, idNumber: '51130219900505201' + residentIdCheck('51130219900505201'), phone: '13566667777' }
const tmp = tempDir('bytes-compact-')
const townData = join(tmp.dir, 'township')
const oldData = join(tmp.dir, 'village-old')
const newData = join(tmp.dir, 'village-new')
let township: NodeProcess
let village: NodeProcess
let agent: Remote
let staff: Remote
let recoveryCode = ''
let caseId = ''
const scan = new Uint8Array(randomBytes(48_000))
scan.set([0xff, 0xd8, 0xff, 0xe0])
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
let atVillage: any
let atTownship: any

const seedUsers = (dir: string, name: string, role: string) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'users.seed.json'), JSON.stringify([{ name, role, password: PASSWORD }]))
}
const childToken = async () => {
  const r = await runCli(['child', 'add', '--data', townData, '--code', VILLAGE], 60_000)
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}
/** The scan's bytes as a node serves them (null: not there). */
const fetchScan = async (url: string): Promise<Uint8Array | null> => {
  const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: url === township.url ? 'staff' : 'agent', password: PASSWORD }) })
  const { token } = (await res.json()) as { token: string }
  const r = await fetch(`${url}/api/cases/${caseId}/attachments/${sha(scan)}`, { headers: { authorization: `Bearer ${token}` } })
  return r.status === 200 ? new Uint8Array(await r.arrayBuffer()) : null
}
const settled = async () => {
  const h = (await (await fetch(`${village.url}/healthz`, { signal: AbortSignal.timeout(120_000) })).json()) as any
  return h.sync.parent?.connected === true && h.sync.parent.waitingUp === 0
}

afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

describe('a closed case compacted at the township reaches a restored village whole', { timeout: 900_000 }, () => {
  beforeAll(async () => {
    seedUsers(townData, 'staff', 'staff')
    township = await startNodeProcess({ level: 'township', code: TOWNSHIP, name: '潆溪镇', data: townData, catalogue: FIXTURE_CATALOGUE })
    seedUsers(oldData, 'agent', 'agent')
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: oldData, extra: ['--parent', township.url, '--token', await childToken()] })
    recoveryCode = /recovery code ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/.exec(village.output())![1]
    agent = await loginAt(village.url, 'agent', PASSWORD)
    staff = await loginAt(township.url, 'staff', PASSWORD)
  }, 600_000)

  it('takes in, scans, decides, delivers and rates a case across the link', async () => {
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items?.some((i: any) => i.code === 'T-P01'), 120_000, 'the catalogue at the village', 500)
    const r = await agent('POST', '/api/cases', { itemCode: 'T-P01', applicant: APPLICANT, materials: requiredOf('T-P01') })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    caseId = r.body.id
    const res = await fetch(`${village.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'agent', password: PASSWORD }) })
    const { token } = (await res.json()) as { token: string }
    const up = await fetch(`${village.url}/api/cases/${caseId}/attachments?name=${encodeURIComponent('申请表.jpg')}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: scan })
    expect(up.status).toBe(201)
    await eventually(async () => (await staff('GET', `/api/cases/${caseId}`)).status === 200, 300_000, 'the case at the township', 500)
    for (const type of ['accepted', 'approved']) expect((await staff('POST', `/api/cases/${caseId}/events`, { type })).status).toBe(200)
    await eventually(async () => (await agent('GET', `/api/cases/${caseId}`)).body.status === 'approved', 300_000, 'the decision at the village', 500)
    expect((await agent('POST', `/api/cases/${caseId}/events`, { type: 'delivered' })).status).toBe(200)
    expect((await agent('POST', `/api/cases/${caseId}/events`, { type: 'rated', rating: 5 })).status).toBe(200)
    await eventually(async () => (await staff('GET', `/api/cases/${caseId}`)).body.rating === 5, 300_000, 'the rating at the township', 500).catch((e) => {
      throw new Error(`${e.message}\nvillage:\n${village.output()}\ntownship:\n${township.output()}`)
    })
    await eventually(async () => (await fetchScan(township.url)) !== null, 300_000, 'the scan at the township', 500)
    await eventually(settled, 300_000, 'nothing waiting to go up', 500)
    atVillage = (await agent('GET', `/api/cases/${caseId}`)).body
    atTownship = (await staff('GET', `/api/cases/${caseId}`)).body
    expect(atTownship.events.map((e: any) => e.type)).toEqual(expect.arrayContaining(['attached', 'accepted', 'approved', 'delivered', 'rated']))
  })

  it('compacted and packed at the township (40 days on), it reads the same after a restart', async () => {
    expect(await township.stop(), township.output()).toBe(0)
    const db = await openPglite(join(townData, 'pgdata'))
    try {
      const r = await compactClosedCases(db, { retentionDays: 30, now: new Date(Date.now() + 40 * 86_400_000) })
      expect(r.merged).toBe(1)
      const rows = await db.query<{ head: Uint8Array }>('SELECT substring(update from 1 for 5) AS head FROM doc_updates WHERE doc_id = $1', [`case:${caseId}`])
      expect(rows.map((x) => [...x.head])).toEqual([[0x00, 0x00, 0x74, 0x62, 0x01]])
      expect((await db.query('SELECT type FROM case_events WHERE case_id = $1', [caseId])).map((x: any) => x.type)).toEqual(['attached'])
    } finally {
      await db.close()
    }
    township = await startNodeProcess({ level: 'township', code: TOWNSHIP, name: '潆溪镇', data: townData, catalogue: FIXTURE_CATALOGUE })
    staff = await loginAt(township.url, 'staff', PASSWORD)
    expect((await staff('GET', `/api/cases/${caseId}`)).body).toEqual(atTownship)
    expect(sha((await fetchScan(township.url))!)).toBe(sha(scan))
  })

  it('the village, lost and restored from the township, gets the case whole and its scan', async () => {
    await village.kill9()
    distrustNode(oldData)
    rmSync(oldData, { recursive: true, force: true })
    const token = await childToken()
    const r = await runCli(['restore', '--data', newData, '--parent', township.url, '--token', token, '--name', '长青村', '--recovery-code', recoveryCode], 600_000)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/from the parent: 1 cases? on this unit's path/)
    seedUsers(newData, 'agent', 'agent')
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: newData })
    agent = await loginAt(village.url, 'agent', PASSWORD)
    expect((await agent('GET', `/api/cases/${caseId}`)).body).toEqual(atVillage)
    const got = await eventually(() => fetchScan(village.url), 300_000, 'the scan back at the village', 500)
    expect(sha(got)).toBe(sha(scan))
  })
})
