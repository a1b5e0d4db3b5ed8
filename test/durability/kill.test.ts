/**
 * A case acknowledged with 201 is durable: kill -9 the node process the moment the replies
 * arrive (no shutdown code runs), start it again, and every acknowledged case is there.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { applicant } from '../helpers/node.ts'
import { killAll, loginAt, startNodeProcess, type NodeSpec } from '../helpers/process.ts'
import { tempDir } from '../helpers/template.ts'
import { COUNTY, FIXTURE_CATALOGUE, VILLAGE, requiredOf } from '../fixtures/catalogue.ts'

const tmp = tempDir('tongban-kill-')
afterAll(async () => {
  await killAll()
  tmp.cleanup()
})
const PASSWORD = 'agent-secret-1'

describe('kill -9 right after a 201', { timeout: 600_000 }, () => {
  it('every acknowledged case and action is there after a restart', async () => {
    const spec: NodeSpec = { level: 'village', code: VILLAGE, name: '长青村', data: join(tmp.dir, 'village'), catalogue: FIXTURE_CATALOGUE }
    mkdirSync(spec.data)
    // Users provisioned with the data dir, read at first start (as the demo does).
    writeFileSync(join(spec.data, 'users.seed.json'), JSON.stringify([{ name: 'agent', role: 'agent', password: PASSWORD }]))
    let node = await startNodeProcess(spec)
    let agent = await loginAt(node.url, 'agent', PASSWORD)

    // One case with an action on it, acknowledged before the burst.
    const first = await agent('POST', '/api/cases', { itemCode: 'V-I01', applicant, materials: requiredOf('V-I01') })
    expect(first.status).toBe(201)
    expect((await agent('POST', `/api/cases/${first.body.id}/events`, { type: 'approved' })).status).toBe(200)

    // A burst of intakes; the process dies the moment the 8th 201 arrives, others still in flight.
    const acked: { id: string; itemCode: string; status: string }[] = []
    let killed: Promise<void> | null = null
    const burst = Array.from({ length: 24 }, (_, i) => {
      const itemCode = i % 2 ? 'C-P01' : 'V-P01'
      return agent('POST', '/api/cases', { itemCode, applicant, materials: requiredOf(itemCode) }).then(
        (r) => {
          if (r.status !== 201) throw new Error(`intake answered ${r.status}: ${JSON.stringify(r.body)}`)
          if (killed) return // arrived after the kill was sent: not counted as acknowledged before it
          acked.push({ id: r.body.id, itemCode, status: r.body.status })
          if (acked.length === 8) killed = node.kill9()
        },
        () => {}, // cut off by the kill: never acknowledged
      )
    })
    await Promise.all(burst)
    expect(acked.length).toBe(8)
    await killed
    expect(node.proc.signalCode).toBe('SIGKILL')
    expect(existsSync(join(spec.data, 'tongban.lock')), 'the dead process left its lock').toBe(true)

    // The restart takes over the stale lock and finds everything acknowledged.
    node = await startNodeProcess({ ...spec, catalogue: undefined })
    agent = await loginAt(node.url, 'agent', PASSWORD)
    const one = await agent('GET', `/api/cases/${first.body.id}`)
    expect(one.status).toBe(200)
    expect(one.body.status).toBe('approved')
    expect(one.body.events.map((e: any) => e.type)).toEqual(['accepted', 'approved'])
    for (const a of acked) {
      const r = await agent('GET', `/api/cases/${a.id}`)
      expect(r.status, a.id).toBe(200)
      expect(r.body).toMatchObject({ id: a.id, itemCode: a.itemCode, status: a.status, handlerCode: a.itemCode === 'C-P01' ? COUNTY : VILLAGE })
    }
    const list = await agent('GET', '/api/cases?limit=1000')
    const ids = list.body.cases.map((c: any) => c.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual(expect.arrayContaining([first.body.id, ...acked.map((a) => a.id)]))
    expect(await node.stop(), node.output()).toBe(0)
  })
})
