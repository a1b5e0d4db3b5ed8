/**
 * A village laptop destroyed and restored (issue 10, part 3), with real node processes: a
 * township and its village; the village takes in cases that go up to the township and its own
 * 即办件 that never leave it (escrowed to the township, sealed); once all is acknowledged it is
 * killed (kill -9) and its data dir deleted. `tongban restore` on a fresh dir with a new token
 * and the recovery code brings every case back, and the village works on. The township's data
 * dir holds none of the village-only applicants' fields in the clear. Then `tongban backup` and
 * `tongban restore --from` of a whole data dir, and a damaged backup refused.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentIdCheck } from '../../protocol/people.ts'
import { FIXTURE_CATALOGUE, requiredOf, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'
import { eventually } from '../helpers/remote.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess, type Remote } from '../helpers/process.ts'
import { tempDir } from '../helpers/template.ts'
import { distrustNode } from '../helpers/tls.ts'

const withCheck = (first17: string) => first17 + residentIdCheck(first17)
const PASSWORD = 'agent-secret-1'
/** Applicants of the village's own cases: these must never be legible at the township. */
const OWN = [
  { name: '赵小凤', idType: 'resident-id' as const, idNumber: withCheck('51130219850203124'), phone: '13712345678' },
  { name: '孙德胜', idType: 'resident-id' as const, idNumber: withCheck('51130219720911003'), phone: '13698765432' },
]
/** The applicant of the cases that go up: the township holds them (the grep's positive control). */
const UP = { name: '钱大伟', idType: 'resident-id' as const, idNumber: withCheck('51130219900505201'), phone: '13566667777' }

const tmp = tempDir('p6-restore-')
const townData = join(tmp.dir, 'township')
const oldData = join(tmp.dir, 'village-old')
const newData = join(tmp.dir, 'village-new')
let township: NodeProcess
let village: NodeProcess
let agent: Remote
let recoveryCode = ''
/** Every case as the village read it before the loss, by id. */
const before = new Map<string, any>()

afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

const health = async (url: string) => (await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(120_000) })).json()) as any
/** Everything the village holds has reached the township: nothing waits to go up, nothing waits to be sealed. */
const settled = async () => {
  const h = await health(village.url)
  if (h.sync.parent?.connected === true && h.sync.parent.waitingUp === 0 && h.escrow?.pending === 0) return true
  throw new Error(`not yet: ${JSON.stringify({ sync: h.sync, escrow: h.escrow })}`)
}
const seedUsers = (dir: string) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'users.seed.json'), JSON.stringify([{ name: 'agent', role: 'agent', password: PASSWORD }]))
}
const childToken = async () => {
  const r = await runCli(['child', 'add', '--data', townData, '--code', VILLAGE], 60_000)
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

describe('a village laptop destroyed and restored from its township', { timeout: 900_000 }, () => {
  beforeAll(async () => {
    township = await startNodeProcess({ level: 'township', code: TOWNSHIP, name: '潆溪镇', data: townData, catalogue: FIXTURE_CATALOGUE })
    seedUsers(oldData)
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: oldData, extra: ['--parent', township.url, '--token', await childToken()] })
    agent = await loginAt(village.url, 'agent', PASSWORD)
  }, 600_000)

  it('prints a recovery code at its first start, once', async () => {
    const m = /recovery code ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/.exec(village.output())
    expect(m, village.output()).toBeTruthy()
    recoveryCode = m![1]
    expect(village.output()).toMatch(/keep it away from this laptop/)
  })

  it('takes in cases of both kinds and waits until the township has them all', async () => {
    const take = async (itemCode: string, applicant: object) => {
      const r = await agent('POST', '/api/cases', { itemCode, applicant, materials: requiredOf(itemCode) })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      return r.body.id as string
    }
    // The catalogue comes down from the township.
    await eventually(async () => (await agent('GET', '/api/catalogue')).body.items?.some((i: any) => i.code === 'V-I01'), 120_000, 'the catalogue at the village', 500)
    const own = [await take('V-I01', OWN[0]), await take('V-I01', OWN[1])]
    const up = [await take('T-P01', UP), await take('C-P01', UP)]
    // A change after intake on a village-only case: escrowed too.
    expect((await agent('POST', `/api/cases/${own[0]}/events`, { type: 'approved' })).status).toBe(200)
    for (const id of [...own, ...up]) before.set(id, (await agent('GET', `/api/cases/${id}`)).body)
    expect(before.get(own[0])).toMatchObject({ handlerCode: VILLAGE, status: 'approved' })
    expect(before.get(up[0])).toMatchObject({ handlerCode: TOWNSHIP })
    await eventually(settled, 300_000, 'every case and the escrow at the township', 500).catch((e) => {
      throw new Error(`${e.message}\nvillage:\n${village.output()}\ntownship:\n${township.output()}`)
    })
  })

  it('killed (kill -9) and its data dir deleted, it is restored on a new laptop with a new token and the recovery code', async () => {
    await village.kill9()
    const { rmSync } = await import('node:fs')
    distrustNode(oldData)
    rmSync(oldData, { recursive: true, force: true })
    // The township re-enrols the unit: the old laptop's key is retired by the new token.
    const token = await childToken()
    const wrong = await runCli(['restore', '--data', newData, '--parent', township.url, '--token', token, '--name', '长青村', '--recovery-code', 'not-a-code'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/--recovery-code is 24 letters and digits/)
    expect(existsSync(newData)).toBe(false) // refused before anything was made

    // A code that is well formed but not this village's: the cases on its path are back, the
    // escrow does not open, and the restore says so; run again on the same dir with the right one.
    const other = recoveryCode.startsWith('0') ? `1${recoveryCode.slice(1)}` : `0${recoveryCode.slice(1)}`
    const first = await runCli(['restore', '--data', newData, '--parent', township.url, '--token', token, '--name', '长青村', '--recovery-code', other], 600_000)
    expect(first.code, first.stdout + first.stderr).toBe(2)
    expect(first.stdout).toMatch(/from the parent: 2 cases on this unit's path/)
    expect(first.stderr).toMatch(/the recovery code does not open this unit's escrow \(\d+ sealed entries at the parent\)/)
    const r = await runCli(['restore', '--data', newData, '--recovery-code', recoveryCode.toLowerCase()], 600_000)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/from the parent: 2 cases on this unit's path/)
    expect(r.stdout).toMatch(/from the escrow: 2 of this unit's own cases/)
    expect(r.stdout).toMatch(/Not recoverable: whatever the lost laptop took in or changed after its last contact with the parent/)
  })

  it('the restored village holds every case as it was, and keeps working', async () => {
    seedUsers(newData) // users stay on the laptop: the administrator adds them again
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: newData })
    expect(village.output()).not.toMatch(/recovery code/) // the restored key is kept: no new code
    agent = await loginAt(village.url, 'agent', PASSWORD)
    for (const [id, was] of before) {
      const now = await agent('GET', `/api/cases/${id}`)
      expect(now.status, id).toBe(200)
      expect(now.body, id).toEqual(was)
    }
    const list = (await agent('GET', '/api/cases?limit=100')).body.cases.map((c: any) => c.id)
    expect(list.sort()).toEqual([...before.keys()].sort())
    // New intake: a fresh number (the day's sequence realigned past the restored cases), and
    // both kinds reach the township (the case) and its escrow (the village's own), under the new key.
    const own = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant: OWN[1], materials: requiredOf('V-I01') })
    const up = await agent('POST', '/api/cases', { itemCode: 'T-P01', applicant: UP, materials: requiredOf('T-P01') })
    for (const r of [own, up]) {
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      expect(before.has(r.body.id)).toBe(false)
    }
    const upId = [...before.values()].find((c) => c.handlerCode === TOWNSHIP).id
    expect((await agent('POST', `/api/cases/${own.body.id}/events`, { type: 'approved' })).status).toBe(200)
    await eventually(settled, 300_000, 'the restored village synced with the township', 500)
    expect(village.output()).not.toMatch(/refused .* from 511302101000/)
    expect((await agent('GET', `/api/cases/${upId}`)).body.status).toBe(before.get(upId).status)
  })

  it('the township\'s data dir holds no applicant field of the village\'s own cases in the clear', async () => {
    expect(await township.stop(), township.output()).toBe(0) // everything on disk
    const files: string[] = []
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : e.isFile() && files.push(join(d, e.name)))
    }
    walk(townData)
    const found = (s: string) => files.filter((f) => statSync(f).size > 0 && readFileSync(f).includes(Buffer.from(s, 'utf8')))
    // Positive controls: the search finds what the township does hold (the cases that went up,
    // and the village's escrow document).
    expect(found(UP.idNumber).length).toBeGreaterThan(0)
    expect(found(UP.name).length).toBeGreaterThan(0)
    expect(found(`escrow:${VILLAGE}`).length).toBeGreaterThan(0)
    for (const a of OWN) {
      for (const field of [a.name, a.idNumber, a.phone]) expect(found(field), field).toEqual([])
    }
  })

  it('backup of a whole data dir to one file and back; a damaged file is refused', async () => {
    const file = join(tmp.dir, 'village.tbak')
    const whileRunning = await runCli(['backup', '--data', newData, '--out', file])
    expect(whileRunning.code).toBe(2)
    expect(whileRunning.stderr).toMatch(/is running \(process \d+\): stop it first/)
    expect(await village.stop(), village.output()).toBe(0)

    const b = await runCli(['backup', '--data', newData, '--out', file])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout).toMatch(/backed up village 511302101201 \(长青村\): \d+ files/)

    const copy = join(tmp.dir, 'village-copy')
    const notEmpty = await runCli(['restore', '--data', newData, '--from', file])
    expect(notEmpty.code).toBe(2)
    expect(notEmpty.stderr).toMatch(/is not empty: .*--force/)

    // Damaged in the middle, or cut short: refused before anything is written.
    const bytes = readFileSync(file)
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(bytes.length / 2)] ^= 0xff
    writeFileSync(join(tmp.dir, 'flipped.tbak'), flipped)
    writeFileSync(join(tmp.dir, 'cut.tbak'), bytes.subarray(0, bytes.length - 100))
    for (const bad of ['flipped.tbak', 'cut.tbak']) {
      const r = await runCli(['restore', '--data', copy, '--from', join(tmp.dir, bad)])
      expect(r.code, bad).toBe(2)
      expect(r.stderr).toMatch(/is not a usable backup: its checksum does not match/)
      expect(existsSync(copy)).toBe(false)
    }

    const r = await runCli(['restore', '--data', copy, '--from', file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/restored village 511302101201 \(长青村\)/)
    // The copy runs as the village did (its parent is down now: it works offline), with every case.
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: copy })
    agent = await loginAt(village.url, 'agent', PASSWORD)
    for (const [id, was] of before) expect((await agent('GET', `/api/cases/${id}`)).body.id).toBe(was.id)
    expect((await agent('GET', '/api/cases?limit=100')).body.total).toBe(before.size + 2)
    expect(await village.stop(), village.output()).toBe(0)

    // --force replaces a stopped node's data dir.
    const forced = await runCli(['restore', '--data', copy, '--from', file, '--force'])
    expect(forced.code, forced.stderr).toBe(0)
  })
})
