/**
 * `tongban start --province-url --province-credentials`: refused with one line and exit code 2
 * when the credentials are missing or unreadable (never quoting the file: it holds the secret),
 * when the address would send them in clear text, and at a level that does not push.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readProvinceCredentials } from '../../nodes/core/province/config.ts'
import { tempDir } from '../helpers/template.ts'
import { killAll, runCli } from '../helpers/process.ts'

const COUNTY = '511302000000'
const TOWNSHIP = '511302101000'
const SECRET = 'do-not-print-7f3a9c'
const tmp = tempDir('p4-province-cli-')
afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

const good = join(tmp.dir, 'good.json')
writeFileSync(good, JSON.stringify({ clientId: 'sc-511302', clientSecret: SECRET }))
const start = (level: string, code: string, ...more: string[]) =>
  runCli(['start', '--level', level, '--code', code, '--name', '测试', '--data', join(tmp.dir, `${code}-${more.length}`), '--insecure-http', ...more], 60_000)

describe('--province-url and --province-credentials', { timeout: 300_000 }, () => {
  it('needs credentials, and says where to give them', async () => {
    const r = await start('county', COUNTY, '--province-url', 'https://zwfw.example.gov.cn/exchange/v1')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^tongban: --province-url needs credentials: --province-credentials FILE or TONGBAN_PROVINCE_CREDENTIALS/m)
  })

  it('a credentials file that is not JSON, or lacks a field, is refused without quoting it', async () => {
    const broken = join(tmp.dir, 'broken.json')
    writeFileSync(broken, `clientId=sc-511302 clientSecret=${SECRET}`)
    const r = await start('county', COUNTY, '--province-url', 'https://zwfw.example.gov.cn/exchange/v1', '--province-credentials', broken)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('is not JSON')
    expect(r.stderr + r.stdout).not.toContain(SECRET)
    const half = join(tmp.dir, 'half.json')
    writeFileSync(half, JSON.stringify({ clientSecret: SECRET }))
    const h = await start('county', COUNTY, '--province-url', 'https://zwfw.example.gov.cn/exchange/v1', '--province-credentials', half)
    expect(h.code).toBe(2)
    expect(h.stderr).toContain('clientId is required')
    expect(h.stderr + h.stdout).not.toContain(SECRET)
  })

  it('plain http to another machine, or a township, is refused', async () => {
    const http = await start('county', COUNTY, '--province-url', 'http://zwfw.example.gov.cn/exchange/v1', '--province-credentials', good)
    expect(http.code).toBe(2)
    expect(http.stderr).toContain('clear text')
    const township = await start('township', TOWNSHIP, '--province-url', 'https://zwfw.example.gov.cn/exchange/v1', '--province-credentials', good)
    expect(township.code).toBe(2)
    expect(township.stderr).toContain('runs at the city or a county')
    for (const r of [http, township]) expect(r.stderr + r.stdout).not.toContain(SECRET)
  })

  it('the environment can hold the credentials instead of a file', () => {
    expect(readProvinceCredentials(undefined, { TONGBAN_PROVINCE_CREDENTIALS: JSON.stringify({ clientId: 'a', clientSecret: 'b' }) })).toEqual({ credentials: { clientId: 'a', clientSecret: 'b' } })
    const bad = readProvinceCredentials(undefined, { TONGBAN_PROVINCE_CREDENTIALS: `{"clientId": "a", "clientSecret": ${SECRET}` })
    expect(bad).toEqual({ problem: expect.stringContaining('TONGBAN_PROVINCE_CREDENTIALS is not JSON') })
    expect(JSON.stringify(bad)).not.toContain(SECRET)
  })
})
