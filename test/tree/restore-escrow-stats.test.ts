/**
 * A township restored from a backup older than some of its village's escrow writes and some of
 * its own statistics (issue 11 follow-up: what the restore tests never checked). Real node
 * processes: a county, a township, a village, each on its own PGlite store.
 *
 * 1. Escrow: the village escrows its own cases (即办件) to the township; the township is backed
 *    up, the village escrows more, the township is restored from the older backup. The
 *    village's stream and repair pass give the township the lost entries back: a village laptop
 *    lost after that and restored from the restored township with its recovery code gets every
 *    one of its own cases back, those escrowed after the backup too.
 * 2. Statistics: the township takes in a case at its own window after the backup (its path is the
 *    township alone: it is lost with the restore, nothing can bring it back). Its statistics
 *    had gone up to the county; statistics never go down, so the restored township cannot build
 *    on what it lost. Once the links settle, the county's figures for the township and its
 *    village are the township's own — by origin and by handler, before and after new intake at
 *    its window — and the county refuses none of what the restored township publishes.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'
import { eventually } from '../helpers/remote.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess, type Remote } from '../helpers/process.ts'
import { health, PASSWORD, seedUsers, startRestoreTree, startTownship, take } from '../helpers/restore-tree.ts'
import { tempDir } from '../helpers/template.ts'
import { distrustNode } from '../helpers/tls.ts'

const SETTLE_MS = 300_000

// Two repair passes on the village's link within the hour (the township's restore, then the new
// laptop's first contact with a township that knew the old one's epoch): the quota allows one an
// hour (link/quotas.ts), so the processes here get three times every quota.
process.env.TONGBAN_LINK_QUOTA_SCALE = '3'

const tmp = tempDir('restore-escrow-stats-')
const dirs = { county: join(tmp.dir, 'county'), town: join(tmp.dir, 'town'), village: join(tmp.dir, 'village'), village2: join(tmp.dir, 'village-new') }
const backupFile = join(tmp.dir, 'town.tbak')
let county: NodeProcess
let town: NodeProcess
let village: NodeProcess
let townPort = 0
let townToken = ''
let recoveryCode = ''
const as: Record<'county' | 'town' | 'agent', Remote> = {} as never
/** The village's own cases (escrowed, never leaving it), as the village read them. */
const own = new Map<string, any>()

const dump = () => `\ncounty:\n${county.output().slice(-6000)}\ntownship:\n${town.output().slice(-8000)}\nvillage:\n${village.output().slice(-6000)}`

async function startTown(): Promise<void> {
  ;({ town, as: as.town } = await startTownship(dirs.town, county.url, townToken, townPort))
  townPort = town.port
}
async function act(at: Remote, id: string, type: string): Promise<void> {
  const r = await at('POST', `/api/cases/${id}/events`, { type })
  expect(r.status, `${type} ${id}: ${JSON.stringify(r.body)}`).toBe(200)
}
/** Accepted where it is handled (taken in at its handler's own window, it is accepted on the spot). */
async function accept(at: Remote, id: string): Promise<void> {
  if ((await at('GET', `/api/cases/${id}`)).body.status === 'submitted') await act(at, id, 'accepted')
}
/** Everything the village holds has reached the township: nothing waits to go up, nothing to be sealed. */
async function villageSettled(): Promise<boolean> {
  const h = await health(village.url)
  return h.sync?.parent?.connected === true && h.sync.parent.waitingUp === 0 && h.escrow?.pending === 0
}

/** The figures of the township's subtree, as the township holds them and as the county holds them. */
async function figures(by: 'origin' | 'handler'): Promise<{ town: string; county: string }> {
  const strip = (b: any) => JSON.stringify({ rows: b.rows, totals: b.totals, skipped: b.skipped })
  const t = await as.town('GET', `/api/stats?groupBy=child&by=${by}`)
  const c = await as.county('GET', `/api/stats?groupBy=child&by=${by}&under=${TOWNSHIP}`)
  expect(t.status, JSON.stringify(t.body)).toBe(200)
  expect(c.status, JSON.stringify(c.body)).toBe(200)
  return { town: strip(t.body), county: strip(c.body) }
}
/** Until the county's figures for the township's subtree are the township's own, both dimensions. */
async function figuresAgree(what: string): Promise<void> {
  let last = ''
  await eventually(async () => {
    for (const by of ['origin', 'handler'] as const) {
      const f = await figures(by)
      if (f.town !== f.county) {
        last = `by ${by}:\n  township ${f.town}\n  county   ${f.county}`
        return false
      }
    }
    return true
  }, SETTLE_MS, `${what}: the county's figures for the township are the township's`, 2000).catch((e) => {
    throw new Error(`${e.message}\n${last}${dump()}`)
  })
}

afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

describe('a township restored from an older backup: its village\'s escrow and its own statistics', { timeout: 1_800_000 }, () => {
  beforeAll(async () => {
    const tree = await startRestoreTree(dirs, [{ name: 'staff', role: 'staff' }])
    ;({ county, town, village, townToken } = tree)
    townPort = town.port
    Object.assign(as, tree.as)
    const m = /recovery code ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/.exec(village.output())
    expect(m, village.output()).toBeTruthy()
    recoveryCode = m![1]
    await eventually(async () => (await health(town.url)).sync?.parent?.connected === true && (await villageSettled()) &&
      ((await as.agent('GET', '/api/catalogue')).body.items ?? []).some((i: any) => i.code === 'V-I01'), SETTLE_MS, 'the tree linked and the catalogue at the village', 500)
  }, 900_000)

  it('before the backup: the village escrows a case of its own, a case goes up; the township is backed up', async () => {
    const first = await take(as.agent, 'V-I01')
    own.set(first, null)
    await take(as.agent, 'T-P01')
    await eventually(villageSettled, SETTLE_MS, 'the village settled with the township', 500)
    await figuresAgree('before the backup')
    expect(await town.stop(), town.output()).toBe(0)
    const b = await runCli(['backup', '--data', dirs.town, '--out', backupFile])
    expect(b.code, b.stderr).toBe(0)
    await startTown()
  })

  it('after the backup: the village escrows more, the township takes in and accepts a case at its own window', async () => {
    for (let i = 0; i < 2; i++) own.set(await take(as.agent, 'V-I01'), null)
    const [a] = [...own.keys()]
    await act(as.agent, a, 'approved') // a change on a case escrowed before the backup
    const up = await take(as.agent, 'T-P01')
    const lost = await take(as.town, 'T-P01') // the township alone holds it: lost with the restore
    await accept(as.town, lost)
    await eventually(async () => (await as.town('GET', `/api/cases/${up}`)).status === 200, SETTLE_MS, 'the village case at the township', 500)
    await accept(as.town, up)
    for (const id of own.keys()) own.set(id, (await as.agent('GET', `/api/cases/${id}`)).body)
    await eventually(villageSettled, SETTLE_MS, 'the village settled with the township', 500)
    await figuresAgree('after the backup')
    const f = await figures('origin')
    expect(JSON.parse(f.town).rows.find((r: any) => r.key === TOWNSHIP), f.town).toMatchObject({ accepted: 1 })
  })

  it('restored from the backup, the township\'s figures at the county come right, and the county refuses none of them', async () => {
    expect(await town.stop(), town.output()).toBe(0)
    const r = await runCli(['restore', '--data', dirs.town, '--from', backupFile, '--force'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const countyBefore = county.output().length
    await startTown()
    await eventually(async () => (await health(town.url)).sync?.parent?.connected === true && (await health(village.url)).sync?.parent?.connected === true,
      SETTLE_MS, 'both links of the restored township', 500)
    // The case taken in at the township's window after the backup is gone (nothing holds it but the township).
    const mine = (await as.town('GET', '/api/stats?groupBy=child&by=origin')).body.rows.find((r: any) => r.key === TOWNSHIP)
    expect(mine?.accepted ?? 0).toBe(0)
    await figuresAgree('after the restore')
    // New intake at the township's window after the restore: counted at the county too.
    await accept(as.town, await take(as.town, 'T-P01'))
    await eventually(async () => JSON.parse((await figures('origin')).town).rows.find((r: any) => r.key === TOWNSHIP)?.accepted >= 1, SETTLE_MS, 'the new case in the township\'s figures', 1000)
    await figuresAgree('after new intake at the restored township')
    // No update of its statistics refused (the repair pass's "refused state vector for stats:…;
    // asked back" lines are the pass at work: statistics never go down, so the county asks back).
    expect(county.output().slice(countyBefore)).not.toMatch(/refused (repair of )?stats:/)
  })

  it('the village laptop lost after that comes back whole from the restored township: every own case, those escrowed after the backup too', async () => {
    // Settled: nothing waits to go up nor to be sealed. (The township's repair pass gave the
    // village case updates of the parent's: before escrow/writer.ts passed on those too, they
    // stayed counted as waiting to be sealed until the village's next change of its own.)
    await eventually(villageSettled, SETTLE_MS, 'the village settled with the restored township', 500).catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify((await health(village.url)).escrow)}`)
    })
    await village.kill9()
    distrustNode(dirs.village)
    rmSync(dirs.village, { recursive: true, force: true })
    const t = await runCli(['child', 'add', '--data', dirs.town, '--code', VILLAGE], 60_000)
    expect(t.code, t.stderr).toBe(0)
    const r = await runCli(['restore', '--data', dirs.village2, '--parent', town.url, '--token', t.stdout.trim(), '--name', '长青村', '--recovery-code', recoveryCode], 600_000)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`from the escrow: ${own.size} of this unit's own cases`))
    seedUsers(dirs.village2, [{ name: 'agent', role: 'agent' }])
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: dirs.village2 })
    as.agent = await loginAt(village.url, 'agent', PASSWORD)
    for (const [id, was] of own) expect((await as.agent('GET', `/api/cases/${id}`)).body, id).toEqual(was)
  })
})
