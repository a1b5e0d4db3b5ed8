/**
 * The real CLI on a temp data dir: `tongban start`, `tongban user add`, a restart, and the
 * refusals (bad flags, a code that does not fit the level, a data dir already in use).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/template.ts'
import { killAll, loginAt, runCli, startArgs, startNodeProcess, type NodeProcess, type NodeSpec, type Remote } from '../helpers/process.ts'

const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
const COUNTY = '511302000000'
const tmp = tempDir('tongban-cli-')
afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

describe('tongban --help and refused flags', { timeout: 300_000 }, () => {
  it('--help exits 0 and explains every flag', async () => {
    const r = await runCli(['--help'], 60_000)
    expect(r.code).toBe(0)
    for (const flag of ['--level', '--code', '--name', '--port', '--data', '--catalogue', '--parent', '--token', '--host', '--database-url', '--role', '--password']) {
      expect(r.stdout, flag).toContain(flag)
    }
    for (const cmd of ['start', 'user add']) expect(r.stdout).toContain(cmd)
    // `start --help` is the same help.
    const sub = await runCli(['start', '--help'], 60_000)
    expect(sub.code).toBe(0)
    expect(sub.stdout).toBe(r.stdout)
  })

  it('a bad flag exits 2 naming it', async () => {
    const data = join(tmp.dir, 'bad-flag')
    const r = await runCli(['start', '--level', 'village', '--code', VILLAGE, '--name', '长青村', '--data', data, '--colour', 'red'], 60_000)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^tongban: .*--colour/m)
    expect(r.stderr).toContain('--help')
    expect(r.stderr).not.toMatch(/\n\s+at /) // one line, not a stack trace
    expect(existsSync(data)).toBe(false)
  })

  it('a code that does not fit the level exits 2 saying so', async () => {
    const data = join(tmp.dir, 'bad-code')
    const r = await runCli(['start', '--level', 'village', '--code', COUNTY, '--name', '长青村', '--data', data], 60_000)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--code: code 511302000000 is a county code, not a village code/)
    expect(existsSync(data)).toBe(false)

    const notDigits = await runCli(['start', '--level', 'county', '--code', '5113-02', '--name', 'x', '--data', data], 60_000)
    expect(notDigits.code).toBe(2)
    expect(notDigits.stderr).toMatch(/12 digits/)

    const badLevel = await runCli(['start', '--level', 'province', '--code', COUNTY, '--name', 'x', '--data', data], 60_000)
    expect(badLevel.code).toBe(2)
    expect(badLevel.stderr).toMatch(/--level must be one of city, county, township, village/)

    const missing = await runCli(['start', '--level', 'village', '--code', VILLAGE, '--data', data], 60_000)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/--name is required/)
  })
})

describe('a village node from the CLI, with the sample catalogue', { timeout: 600_000 }, () => {
  const spec: NodeSpec = { level: 'village', code: VILLAGE, name: '长青村', data: join(tmp.dir, 'village'), catalogue: 'sample' }
  let node: NodeProcess
  let agent: Remote
  const taken: { instant?: any; promised?: any; third?: any } = {}
  const PASSWORD = 'agent-secret-1'

  it('first start creates the store; a clean stop exits 0', async () => {
    node = await startNodeProcess(spec)
    expect(node.port).toBeGreaterThan(0)
    const health = await (await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(120_000) })).json()
    expect(health).toMatchObject({ level: 'village', code: VILLAGE, name: '长青村', parent: TOWNSHIP })
    expect(await node.stop(), node.output()).toBe(0)
    expect(existsSync(join(spec.data, 'pgdata'))).toBe(true)
    expect(existsSync(join(spec.data, 'tongban.lock'))).toBe(false)
  })

  it('child add prints a one-time token; child revoke retires the child; codes not enrolled or not below are refused', async () => {
    // Both work from the data dir's files while the node runs: a township's node.json suffices here.
    const town = join(tmp.dir, 'town-enrol')
    mkdirSync(town, { recursive: true })
    writeFileSync(join(town, 'node.json'), JSON.stringify({ level: 'township', code: TOWNSHIP, name: '潆溪镇' }))
    const added = await runCli(['child', 'add', '--data', town, '--code', VILLAGE])
    expect(added.code, added.stderr).toBe(0)
    const token = added.stdout.trim()
    expect(token.startsWith(`${VILLAGE}.`)).toBe(true)
    expect(readFileSync(join(town, 'enrollments.json'), 'utf8')).not.toContain(token.split('#')[0].split('.')[1]) // only its hash
    const revoked = await runCli(['child', 'revoke', '--data', town, '--code', VILLAGE])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(town, 'enrollments.json'), 'utf8'))).toEqual([expect.objectContaining({ code: VILLAGE, revoked: true, key: null, tokenHash: null })])
    const unknown = await runCli(['child', 'revoke', '--data', town, '--code', '511302101299'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/not enrolled/)
    const notBelow = await runCli(['child', 'add', '--data', town, '--code', '511302102201'])
    expect(notBelow.code).toBe(2)
    expect(notBelow.stderr).toMatch(/not directly below/)
  })

  it('user add creates an agent in the stopped node\'s data dir', async () => {
    const r = await runCli(['user', 'add', '--data', spec.data, '--name', 'agent1', '--role', 'agent', '--password', PASSWORD])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/user agent1 \(agent\) added to village 511302101201/)
    const badRole = await runCli(['user', 'add', '--data', spec.data, '--name', 'x', '--role', 'mayor', '--password', PASSWORD])
    expect(badRole.code).toBe(2)
    expect(badRole.stderr).toMatch(/role/)
  })

  it('started again, it logs the agent in over HTTP and takes in a village instant case and a county promised case', async () => {
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    agent = await loginAt(node.url, 'agent1', PASSWORD)
    const items = (await agent('GET', '/api/catalogue')).body.items as any[]
    expect(items.length).toBeGreaterThanOrEqual(40)
    const instant = items.find((i) => i.level === 'village' && i.kind === 'instant')
    const promised = items.find((i) => i.level === 'county' && i.kind === 'promised')
    expect(instant && promised).toBeTruthy()
    const applicant = { name: '李四', idType: 'resident-id', idNumber: '511302198001011235', phone: '13900000000' }
    const required = (i: any) => i.materials.filter((m: any) => m.required).map((m: any) => m.name)

    const a = await agent('POST', '/api/cases', { itemCode: instant.code, applicant, materials: required(instant) })
    expect(a.status, JSON.stringify(a.body)).toBe(201)
    expect(a.body).toMatchObject({ status: 'accepted', handlerCode: VILLAGE })
    expect(a.body.dueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    const b = await agent('POST', '/api/cases', { itemCode: promised.code, applicant, materials: required(promised) })
    expect(b.status, JSON.stringify(b.body)).toBe(201)
    expect(b.body).toMatchObject({ status: 'submitted', handlerCode: COUNTY, dueDate: null })
    for (const r of [a, b]) expect(r.body.id).toMatch(new RegExp(`^${VILLAGE}-\\d{8}-\\d{4,6}$`))
    taken.instant = (await agent('GET', `/api/cases/${a.body.id}`)).body
    taken.promised = (await agent('GET', `/api/cases/${b.body.id}`)).body
    expect(taken.instant.events.map((e: any) => e.type)).toEqual(['accepted'])
  })

  it('a second process on the same data dir is refused while the first runs', async () => {
    const r = await runCli(startArgs(spec))
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/in use by process \d+/)
    // The running node is untouched.
    expect((await agent('GET', '/api/cases')).body.total).toBe(2)
  })

  it('user add works while the node runs: the new user logs in at once, and acts under their display name', async () => {
    const userAdd = await runCli(['user', 'add', '--data', spec.data, '--name', 'agent2', '--role', 'agent', '--password', PASSWORD, '--display-name', '李秀兰', '--phone', '0817-2221234'])
    expect(userAdd.code, userAdd.stderr).toBe(0)
    expect(userAdd.stdout).toMatch(/user agent2 \(agent\) added to the running village 511302101201/)
    const again = await runCli(['user', 'add', '--data', spec.data, '--name', 'agent2', '--role', 'agent', '--password', PASSWORD])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/agent2/)
    const badPhone = await runCli(['user', 'add', '--data', spec.data, '--name', 'agent3', '--role', 'agent', '--password', PASSWORD, '--phone', '12345'])
    expect(badPhone.code).toBe(2)
    expect(badPhone.stderr).toMatch(/--phone/)
    // 并联审批: a staff user's department, whose opinions they give.
    const staff = await runCli(['user', 'add', '--data', spec.data, '--name', 'staff2', '--role', 'staff', '--password', PASSWORD, '--department', '民政办'])
    expect(staff.code, staff.stderr).toBe(0)
    const badDepartment = await runCli(['user', 'add', '--data', spec.data, '--name', 'staff3', '--role', 'staff', '--password', PASSWORD, '--department', '部'.repeat(41)])
    expect(badDepartment.code).toBe(2)
    expect(badDepartment.stderr).toMatch(/--department/)
    expect((await (await loginAt(node.url, 'staff2', PASSWORD))('GET', '/api/users/me')).body.department).toBe('民政办')
    const agent2 = await loginAt(node.url, 'agent2', PASSWORD)
    expect((await agent2('GET', '/api/users/me')).body).toMatchObject({ name: 'agent2', role: 'agent', displayName: '李秀兰', phone: '0817-2221234' })
    const instant = ((await agent2('GET', '/api/catalogue')).body.items as any[]).find((i) => i.level === 'village' && i.kind === 'instant')
    const c = await agent2('POST', '/api/cases', {
      itemCode: instant.code, materials: instant.materials.filter((m: any) => m.required).map((m: any) => m.name),
      applicant: { name: '王五', idType: 'resident-id', idNumber: '11010519491231002X', phone: '13900000001' },
    })
    expect(c.status, JSON.stringify(c.body)).toBe(201)
    const held = (await agent2('GET', `/api/cases/${c.body.id}`)).body
    expect(held.createdBy).toBe('李秀兰（agent2）')
    expect(held.events[0].user).toBe('李秀兰（agent2）')
    expect(existsSync(join(spec.data, 'user-requests'))).toBe(true)
    // A request file is checked like a body: a forged role or a hash with a huge scrypt cost (every
    // login would exhaust memory) is answered with why, and nothing is added.
    const { leaveUserRequest, awaitUserAnswer } = await import('../../nodes/core/services/user-requests.ts')
    for (const [forged, why] of [
      [{ name: 'boss', role: 'root', passwordHash: 'x' }, /role/],
      [{ name: 'boss', role: 'admin', passwordHash: 'scrypt$1048576$8$1$CAcfZRDSFY2Rq+Gug/XnOA==$yz0BWTcOW+YKa7Feri0EHv7Et2YadDBi1zwADu4PoHc=' }, /password hash/],
    ] as const) {
      const answer = await awaitUserAnswer(leaveUserRequest(spec.data, forged as never), 60_000)
      expect(answer).toMatchObject({ ok: false, message: expect.stringMatching(why) })
    }
    expect((await agent2('GET', '/api/users/me')).status).toBe(200)
    taken.third = held
  })

  it('after a restart the cases read back as they were, and the public address is remembered', async () => {
    expect(await node.stop(), node.output()).toBe(0)
    const loopback = await runCli([...startArgs(spec), '--public-url', 'http://127.0.0.1:8080'])
    expect(loopback.code).toBe(2)
    expect(loopback.stderr).toMatch(/--public-url: .*loopback/)
    node = await startNodeProcess({ ...spec, catalogue: undefined, extra: ['--public-url', 'https://zwfw.example.gov.cn/'] })
    expect((await (await fetch(node.url + '/healthz', { signal: AbortSignal.timeout(120_000) })).json()).publicUrl).toBe('https://zwfw.example.gov.cn')
    expect(await node.stop(), node.output()).toBe(0)
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    expect((await (await fetch(node.url + '/healthz', { signal: AbortSignal.timeout(120_000) })).json()).publicUrl).toBe('https://zwfw.example.gov.cn')
    agent = await loginAt(node.url, 'agent1', PASSWORD)
    for (const before of [taken.instant, taken.promised, taken.third]) {
      const r = await agent('GET', `/api/cases/${before.id}`)
      expect(r.status).toBe(200)
      expect(r.body).toEqual(before)
    }
    expect(taken.instant).toMatchObject({ status: 'accepted', handlerCode: VILLAGE, originCode: VILLAGE })
    expect(taken.promised).toMatchObject({ status: 'submitted', handlerCode: COUNTY, originCode: VILLAGE })
    const list = await agent('GET', '/api/cases')
    expect(list.body.cases.map((c: any) => c.id).sort()).toEqual([taken.instant.id, taken.promised.id, taken.third.id].sort())
    expect(await node.stop(), node.output()).toBe(0)
  })
})
