/**
 * Issue 7, class 5 (the link's half): credentials that can be contained. The enrollment token
 * is a one-time secret exchanged once for the child's public key and never stored in the
 * clear; links open by challenge–response, so a recorded handshake cannot be replayed; and
 * `child revoke` or a re-enrollment cuts a link that is open, at once, with 4401.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LINK_CLOSE_CODES } from '../../protocol/index.ts'
import { enrollChild, enrollmentsFile, revokeChild } from '../../nodes/core/link/enrollment.ts'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { memoryKeys } from '../../nodes/core/trust/keys.ts'
import { childHello, enroll, identity, openLink, proofHeaders } from '../helpers/link-client.ts'
import { pgliteTemplate, tempDir } from '../helpers/template.ts'
import { failOnUnhandled, waitFor } from './guard.ts'

failOnUnhandled()
const tmp = tempDir('tongban-attack-enroll-')
const CITY = '511300000000'
const COUNTY = '511302000000'
const OTHER_COUNTY = '511303000000'
const THIRD_COUNTY = '511304000000'
const cityDir = join(tmp.dir, 'city')
let city: RunningNode
let county: RunningNode
let countyToken: string

const parentLinkUp = async (n: RunningNode) => (await n.links.status()).parent?.connected === true

beforeAll(async () => {
  const template = await pgliteTemplate()
  city = await startNode({ level: 'city', code: CITY, name: '南充市', dataDir: cityDir, loadDataDir: template })
  countyToken = enrollChild(cityDir, CITY, COUNTY)
  county = await startNode({ level: 'county', code: COUNTY, name: '顺庆区', dataDir: join(tmp.dir, 'county'), parentUrl: city.url, token: countyToken, loadDataDir: template })
  await waitFor('the county to link to the city', () => parentLinkUp(county), 120_000)
}, 240_000)

afterAll(async () => {
  await county?.stop()
  await city?.stop()
  tmp.cleanup()
})

describe('enrollment is a one-time exchange for a key', () => {
  it('keeps no replayable secret on either side once the key is registered', async () => {
    expect(readFileSync(enrollmentsFile(cityDir), 'utf8')).not.toContain(countyToken.split('.')[1])
    expect(await county.node.db.query(`SELECT 1 FROM node_meta WHERE key = 'parent_token'`)).toEqual([])
    expect(county.node.trust.rootKey?.publicKey).toBe(city.node.trust.keys.publicKey)
    // The city vouched for the county's key in the directory; the county holds that entry too.
    await waitFor('the county entry at the county', () => county.node.trust.unit(COUNTY)?.name === '顺庆区')
  })

  it('refuses the used token from a second client with another key, and answers a retry by the same key', async () => {
    const thief = identity(COUNTY, '顺庆区')
    const r = await enroll(city.url, thief, countyToken)
    expect(r.status).toBe(401)
    expect(r.body.error.message).toMatch(/already used by another key/)
    const same = await enroll(city.url, { code: COUNTY, name: '顺庆区', keys: county.node.trust.keys }, countyToken)
    expect(same.status).toBe(200)
  })

  it('refuses a wrong token, a code that is not a child, and malformed bodies with 4xx', async () => {
    const other = identity(OTHER_COUNTY)
    expect((await enroll(city.url, other, 'nope.nope-nope-nope')).status).toBe(401)
    expect((await enroll(city.url, identity('511302101000'), countyToken)).status).toBe(401)
    const bad = await fetch(`${city.url}/link/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":"x"}' })
    expect(bad.status).toBe(400)
    const huge = await fetch(`${city.url}/link/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(64 * 1024) })
    expect(huge.status).toBe(413)
  })
})

describe('links open by challenge–response', () => {
  const other = identity(OTHER_COUNTY, '高坪区')

  beforeAll(async () => {
    expect((await enroll(city.url, other, enrollChild(cityDir, CITY, OTHER_COUNTY))).status).toBe(200)
  })

  it('a recorded handshake cannot be replayed', async () => {
    const headers = await proofHeaders(city.url, CITY, other)
    const first = openLink(city.url, headers)
    expect(await first.status).toBe(101)
    first.ws.close()
    expect(await openLink(city.url, headers).status).toBe(401)
  })

  it('a proof signed with another key is refused, as is a link with no challenge', async () => {
    expect(await openLink(city.url, await proofHeaders(city.url, CITY, other, memoryKeys())).status).toBe(401)
    expect(await openLink(city.url, { 'x-tongban-code': OTHER_COUNTY, 'x-tongban-nonce': 'A'.repeat(32), 'x-tongban-proof': 'B'.repeat(86) }).status).toBe(401)
    expect(await openLink(city.url, { 'x-tongban-code': OTHER_COUNTY }).status).toBe(401)
  })

  it('child revoke cuts the open link with 4401 and refuses the key afterwards', async () => {
    const link = openLink(city.url, await proofHeaders(city.url, CITY, other))
    expect(await link.status).toBe(101)
    link.send(childHello(OTHER_COUNTY))
    revokeChild(cityDir, CITY, OTHER_COUNTY)
    expect((await link.closed).code).toBe(LINK_CLOSE_CODES.unauthorized)
    await expect(proofHeaders(city.url, CITY, other)).rejects.toThrow(/401/)
    // The revocation is published in the directory.
    await waitFor('the revocation in the directory', () => city.node.trust.unit(OTHER_COUNTY)?.keys.every((k) => !k.active) === true)
  })

  it('re-enrolling a unit (a replaced laptop) cuts the old key\'s link, and the old key cannot take the new token', async () => {
    const third = identity(THIRD_COUNTY)
    expect((await enroll(city.url, third, enrollChild(cityDir, CITY, THIRD_COUNTY))).status).toBe(200)
    const link = openLink(city.url, await proofHeaders(city.url, CITY, third))
    expect(await link.status).toBe(101)
    link.send(childHello(THIRD_COUNTY))
    const fresh = enrollChild(cityDir, CITY, THIRD_COUNTY)
    expect((await link.closed).code).toBe(LINK_CLOSE_CODES.unauthorized)
    const r = await enroll(city.url, third, fresh)
    expect(r.status).toBe(401)
    expect(r.body.error.message).toMatch(/retired/)
    expect((await enroll(city.url, identity(THIRD_COUNTY), fresh)).status).toBe(200)
  })
})
