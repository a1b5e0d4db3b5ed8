/**
 * Does the repair pass repair? (issue 11 follow-up.) A county, a township and a village, real
 * node processes on loopback, each on its own PGlite store. The township is backed up
 * (`tongban backup`), then the tree works on: the village takes in cases (one the township
 * decides, one the county decides), the township decides one of the village's cases and takes
 * in a county case at its own window, the county decides a village case and adds an item to its
 * local list. The township is then restored from the older backup (`tongban restore --from`, a
 * new epoch). Checked, once the links settle, at the restored township:
 *
 * 1. a plain restore: every case as the village or the county holds it (its events by id, its
 *    status), and the county's catalogue change — what the village sends again from the
 *    township's cursor (the rewind), what the county streams again, and what only a repair pass
 *    brings: the township's own cases and events that had gone up or down (never echoed back).
 *    Its own events come back from the village because each is signed for its case
 *    (protocol/event-binding.ts): the village can hand them back, not move them to another case.
 * 2. a restore where no stream can help: the restored store keeps the cursors it held just
 *    before the loss (as if only the documents were lost), so neither the village nor the county
 *    sends anything again from its outbox — only the repair passes of the new epoch can bring
 *    the lost documents back.
 * 3. a restore while the village is away, the township accepting again a case whose decision it
 *    lost: the village's repair pass brings the lost events back, and the township takes them
 *    (its own, below the one it signed since), so the case is decided there as at the village;
 *    and the village takes the new one (above the restore's Lamport floor): the same events at both.
 *
 * Then the township works on: a new intake at its window gets a number of its own (not that of
 * its case the county sent back), and reaches the county. Every wait is bounded.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite } from '../../nodes/core/store/pglite.ts'
import { COUNTY, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'
import { eventually } from '../helpers/remote.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess, type Remote } from '../helpers/process.ts'
import { health, PASSWORD, startRestoreTree, startTownship, take } from '../helpers/restore-tree.ts'
import { tempDir } from '../helpers/template.ts'

/** The county's local item added after the backup (its catalogue document goes down to the township and village). */
const LOCAL_ITEM = { code: 'C-901', name: '顺庆区本地事项', department: '顺庆区行政审批局', level: 'county', kind: 'instant', legalDays: 0, promisedDays: 0, materials: [{ name: '申请书', required: true }] }
const SETTLE_MS = 240_000

// Three restores within the hour are three repair passes on each of the township's links: the
// quota allows one an hour (quotas.ts), so the processes here get three times every quota.
process.env.TONGBAN_LINK_QUOTA_SCALE = '3'

const tmp = tempDir('restore-repair-')
const dirs = { county: join(tmp.dir, 'county'), town: join(tmp.dir, 'town'), village: join(tmp.dir, 'village') }
const backupFile = join(tmp.dir, 'town.tbak')
let county: NodeProcess
let town: NodeProcess
let village: NodeProcess
let townPort = 0
let townToken = ''
const as: Record<'county' | 'countyAdmin' | 'town' | 'agent', Remote> = {} as never
/** Every case of the test, by the name the test gives it. */
const ids: Record<string, string> = {}
/** Each case as the node that holds it whole saw it once the tree settled after the backup. */
const truth = new Map<string, { status: string; events: string[] }>()

const view = (c: any) => ({ status: c.status as string, events: ((c.events ?? []) as any[]).map((e) => e.id as string).sort() })
const dump = () => `\ncounty:\n${county.output().slice(-6000)}\ntownship:\n${town.output().slice(-10000)}\nvillage:\n${village.output().slice(-6000)}`

async function startTown(): Promise<void> {
  ;({ town, as: as.town } = await startTownship(dirs.town, county.url, townToken, townPort))
  townPort = town.port
}

async function decide(at: Remote, id: string): Promise<void> {
  for (const type of ['accepted', 'approved']) {
    const r = await at('POST', `/api/cases/${id}/events`, { type })
    expect(r.status, `${type} ${id}: ${JSON.stringify(r.body)}`).toBe(200)
  }
}
/** The case at `at` once it matches `want` (events by id, status). */
async function holds(at: Remote, id: string, want: { status: string; events: string[] }): Promise<boolean> {
  const r = await at('GET', `/api/cases/${id}`)
  return r.status === 200 && JSON.stringify(view(r.body)) === JSON.stringify(want)
}
/** What `at` holds of the case, for a message. */
async function seen(at: Remote, id: string): Promise<string> {
  const r = await at('GET', `/api/cases/${id}`)
  return r.status === 200 ? JSON.stringify(view(r.body)) : `${r.status}`
}
const hasItem = async (at: Remote, code: string) => ((await at('GET', '/api/catalogue')).body.items ?? []).some((i: any) => i.code === code)

/** Both of the township's links are up. */
async function townLinked(): Promise<boolean> {
  const [t, v] = await Promise.all([health(town.url), health(village.url)])
  return t.sync?.parent?.connected === true && v.sync?.parent?.connected === true
}

/** The restored township holds every case as it was and the county's local item. */
async function everythingBack(what: string): Promise<void> {
  await eventually(townLinked, SETTLE_MS, `${what}: both links of the township up`, 500).catch((e) => {
    throw new Error(`${e.message}${dump()}`)
  })
  const missing = async () => {
    const out: string[] = []
    for (const [name, want] of truth) if (!(await holds(as.town, ids[name], want))) out.push(`${name} ${ids[name]}: ${await seen(as.town, ids[name])} not ${JSON.stringify(want)}`)
    if (!(await hasItem(as.town, LOCAL_ITEM.code))) out.push(`the county's item ${LOCAL_ITEM.code}`)
    return out
  }
  let last: string[] = []
  await eventually(async () => !(last = await missing()).length, SETTLE_MS, `${what}: everything at the township`, 1000).catch((e) => {
    throw new Error(`${e.message}\nstill missing:\n${last.join('\n')}${dump()}`)
  })
}

/** Stops the township and restores the backup into its data dir; `keep` copies the cursors it held before the loss into the restored store. */
async function restoreTown(keepCursors: boolean): Promise<void> {
  expect(await town.stop(), town.output()).toBe(0)
  let cursors: { peer: string; received: number; acked: number; peer_epoch: string }[] = []
  if (keepCursors) {
    const db = await openPglite(join(dirs.town, 'pgdata'))
    cursors = await db.query(`SELECT peer, received::float8 AS received, acked::float8 AS acked, peer_epoch FROM link_cursors`)
    await db.close()
    expect(cursors.map((c) => c.peer).sort()).toEqual([COUNTY, VILLAGE].sort())
  }
  const r = await runCli(['restore', '--data', dirs.town, '--from', backupFile, '--force'])
  expect(r.code, r.stdout + r.stderr).toBe(0)
  if (keepCursors) {
    const db = await openPglite(join(dirs.town, 'pgdata'))
    for (const c of cursors) {
      await db.query(`UPDATE link_cursors SET received = $2, acked = $3, peer_epoch = $4 WHERE peer = $1`, [c.peer, c.received, c.acked, c.peer_epoch])
    }
    await db.checkpoint()
    await db.close()
  }
  await startTown()
}

afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

describe('a township restored from an older backup gets everything back over its links', { timeout: 1_800_000 }, () => {
  beforeAll(async () => {
    const tree = await startRestoreTree(dirs, [{ name: 'staff', role: 'staff' }, { name: 'admin', role: 'admin' }])
    ;({ county, town, village, townToken } = tree)
    townPort = town.port
    Object.assign(as, tree.as)
    as.countyAdmin = await loginAt(county.url, 'admin', PASSWORD)
    await eventually(async () => (await townLinked()) && hasItem(as.agent, 'C-P01'), SETTLE_MS, 'the tree linked and the catalogue at the village', 500)
  }, 900_000)

  it('before the backup: two of the village\'s cases reach the township and the county', async () => {
    ids.townOld = await take(as.agent, 'T-P01') // decided at the township after the backup
    ids.countyOld = await take(as.agent, 'C-P01') // decided at the county after the backup
    await eventually(async () => (await as.county('GET', `/api/cases/${ids.countyOld}`)).status === 200 && (await as.town('GET', `/api/cases/${ids.townOld}`)).status === 200, SETTLE_MS, 'the cases up the tree', 500)
    // The township stopped cleanly and backed up: the copy it will be restored from.
    expect(await town.stop(), town.output()).toBe(0)
    const b = await runCli(['backup', '--data', dirs.town, '--out', backupFile])
    expect(b.code, b.stderr).toBe(0)
    await startTown()
  })

  it('after the backup: the tree works on, and every node settles', async () => {
    ids.townNew = await take(as.agent, 'T-P01') // path village–township: only the village holds it but the township
    ids.countyNew = await take(as.agent, 'C-P01') // path village–township–county
    await eventually(async () => (await as.town('GET', `/api/cases/${ids.townOld}`)).status === 200, SETTLE_MS, 'the link back after the backup', 500)
    await decide(as.town, ids.townOld) // the township's own events on a village case that never goes above it
    ids.townOwn = await take(as.town, 'C-P01') // taken in at the township's window: path township–county
    await eventually(async () => (await as.county('GET', `/api/cases/${ids.countyOld}`)).status === 200, SETTLE_MS, 'the county case', 500)
    await decide(as.county, ids.countyOld) // the county's decision on a village case, down through the township
    expect((await as.countyAdmin('POST', '/api/catalogue/items', LOCAL_ITEM)).status).toBe(201)
    // Settled: each case as it stands where it is decided, and the same at every node on its path.
    const whole: Record<string, Remote[]> = {
      townOld: [as.agent, as.town], townNew: [as.agent, as.town], countyOld: [as.agent, as.town, as.county],
      countyNew: [as.agent, as.town, as.county], townOwn: [as.town, as.county],
    }
    for (const [name, at] of Object.entries(whole)) {
      const want = view((await at[0]('GET', `/api/cases/${ids[name]}`)).body)
      await eventually(async () => {
        for (const n of at) if (!(await holds(n, ids[name], want))) return false
        return true
      }, SETTLE_MS, `${name} the same along its path`, 500).catch((e) => {
        throw new Error(`${e.message}${dump()}`)
      })
      truth.set(name, want)
    }
    expect(truth.get('townOld')!.status).toBe('approved')
    expect(truth.get('countyOld')!.status).toBe('approved')
    await eventually(async () => (await hasItem(as.town, LOCAL_ITEM.code)) && hasItem(as.agent, LOCAL_ITEM.code), SETTLE_MS, 'the county item down the tree', 500)
  })

  it('restored from the backup (a new epoch): everything comes back, from the village and from the county', async () => {
    await restoreTown(false)
    await everythingBack('a plain restore')
  })

  it('restored again, its cursors kept as before the loss: the streams send nothing again, the repair passes bring everything', async () => {
    await restoreTown(true)
    await everythingBack('a restore the streams cannot help')
  })

  it('restored while the village is away, it acts again on a case whose decision it lost: the village brings the lost events back, and the case is decided there as at the village', async () => {
    expect(await village.stop(), village.output()).toBe(0)
    await restoreTown(false)
    // The township's acceptance and approval of this case went with its store: as at the backup.
    expect(view((await as.town('GET', `/api/cases/${ids.townOld}`)).body)).toEqual({ status: 'submitted', events: [] })
    const again = await as.town('POST', `/api/cases/${ids.townOld}/events`, { type: 'accepted' })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: dirs.village })
    as.agent = await loginAt(village.url, 'agent', PASSWORD)
    // The township takes its own lost events back although they are below the one it signed
    // since (it signed them all): its case is decided as the village's is. The village takes the
    // new one too: signed above the restore's Lamport floor (services/lamport-floor.ts), it is
    // not back-dated there — both hold the same events (the state machine sets it aside alike).
    const lost = truth.get('townOld')!.events
    let last = ''
    await eventually(async () => {
      const [t, v] = [await seen(as.town, ids.townOld), await seen(as.agent, ids.townOld)]
      last = `township ${t}, village ${v}`
      return t === v && lost.every((e) => t.includes(e)) && JSON.parse(t).events.length === lost.length + 1 && JSON.parse(t).status === 'approved'
    }, SETTLE_MS, 'the lost decision back at the township', 1000).catch((e) => {
      throw new Error(`${e.message}: ${last}${dump()}`)
    })
    truth.set('townOld', view((await as.town('GET', `/api/cases/${ids.townOld}`)).body))
    await everythingBack('a restore with a decision taken again')
  })

  it('the restored township takes in a case with a number of its own, and it reaches the county', async () => {
    const id = await take(as.town, 'C-P01')
    expect(Object.values(ids)).not.toContain(id)
    await eventually(async () => (await as.county('GET', `/api/cases/${id}`)).status === 200, SETTLE_MS, 'the new case at the county', 500)
    await everythingBack('after new intake')
  })
})
