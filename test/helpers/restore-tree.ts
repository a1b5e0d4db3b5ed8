/**
 * The set-up shared by the tests that back up a township of a real three-node tree (county,
 * township, village processes) and restore it: test/tree/restore-repair.test.ts and
 * restore-escrow-stats.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { residentIdCheck } from '../../protocol/people.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { COUNTY, FIXTURE_CATALOGUE, requiredOf, TOWNSHIP, VILLAGE } from '../fixtures/catalogue.ts'
import { loginAt, startNodeProcess, type NodeProcess, type Remote } from './process.ts'

export const PASSWORD = 'restore-secret-1'
const withCheck = (first17: string) => first17 + residentIdCheck(first17)
export const APPLICANT = { name: '钱大伟', idType: 'resident-id' as const, idNumber: withCheck('51130219900505201'), phone: '13566667777' }

/** Users a node creates at its first start (users.seed.json), all with PASSWORD. */
export function seedUsers(dir: string, users: { name: string; role: string }[]): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'users.seed.json'), JSON.stringify(users.map((u) => ({ ...u, password: PASSWORD }))))
}

export const health = async (url: string) => (await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(60_000) })).json()) as any

/** A case of `itemCode` for APPLICANT with the item's required materials, taken in at `at`; its id. */
export async function take(at: Remote, itemCode: string): Promise<string> {
  const r = await at('POST', '/api/cases', { itemCode, applicant: APPLICANT, materials: requiredOf(itemCode) })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.id as string
}

/**
 * The township (潆溪镇) under `countyUrl`, on `port` when it has had one (a restart keeps its
 * address, so its village redials the same URL); logged in as its staff.
 */
export async function startTownship(data: string, countyUrl: string, token: string, port: number): Promise<{ town: NodeProcess; as: Remote }> {
  const town = await startNodeProcess({ level: 'township', code: TOWNSHIP, name: '潆溪镇', data, extra: ['--parent', countyUrl, '--token', token, ...(port ? ['--port', String(port)] : [])] })
  return { town, as: await loginAt(town.url, 'staff', PASSWORD) }
}

export interface RestoreTree {
  county: NodeProcess
  town: NodeProcess
  village: NodeProcess
  /** The township's token at the county, for its restarts. */
  townToken: string
  as: { county: Remote; town: Remote; agent: Remote }
}

/**
 * The county (顺庆区, the fixture catalogue, `countyUsers`), the township enrolled under it and
 * the village enrolled under the township, each started and logged in (county and township as
 * `staff`, the village as `agent`). The caller waits for the links.
 */
export async function startRestoreTree(dirs: { county: string; town: string; village: string }, countyUsers: { name: string; role: string }[]): Promise<RestoreTree> {
  seedUsers(dirs.county, countyUsers)
  seedUsers(dirs.town, [{ name: 'staff', role: 'staff' }])
  seedUsers(dirs.village, [{ name: 'agent', role: 'agent' }])
  const county = await startNodeProcess({ level: 'county', code: COUNTY, name: '顺庆区', data: dirs.county, catalogue: FIXTURE_CATALOGUE })
  const asCounty = await loginAt(county.url, 'staff', PASSWORD)
  const townToken = pinToken(enrollChild(dirs.county, COUNTY, TOWNSHIP), dirs.county)
  const { town, as: asTown } = await startTownship(dirs.town, county.url, townToken, 0)
  const villageToken = pinToken(enrollChild(dirs.town, TOWNSHIP, VILLAGE), dirs.town)
  const village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: dirs.village, extra: ['--parent', town.url, '--token', villageToken] })
  return { county, town, village, townToken, as: { county: asCounty, town: asTown, agent: await loginAt(village.url, 'agent', PASSWORD) } }
}
